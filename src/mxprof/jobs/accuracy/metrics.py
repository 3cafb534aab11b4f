"""Accuracy and output-equivalence metrics: pure functions over numpy arrays.

Contract: every function takes model outputs (`scores`, shape (N, C) for classifiers, any shape
for other outputs) and returns plain numbers or frozen records; nothing here imports MXNet, so
the analysis runs in the parent process over arrays the workers wrote.

Definitions used in every report:
- max_abs_diff: max |out - ref| over all elements.
- max_rel_diff: max |out - ref| / max(|ref|, floor), floor = 1e-6 * max|ref|. The floor keeps
  near-zero reference elements (common in logits) from turning a 1e-7 absolute wobble into a
  huge relative figure, while staying scale-free.
- within tolerance: |out - ref| <= rtol * |ref| + atol * max|ref| elementwise; defaults
  rtol=1e-3 (MXNet's own subgraph-fusion tests) and atol=1e-4. atol is a fraction of the
  output's largest magnitude, not an absolute number: a randomly initialised mobilenet0.25
  emits logits near 1e-16, where any absolute atol passes everything, while a ResNet-50 with
  He init emits thousands, where rounding noise exceeds it.
- top-k agreement: fraction of inputs whose top-k class *sets* are identical in both outputs
  (k=1: same argmax).
- top-k accuracy: fraction of inputs whose label is among the k highest scores.
"""

from __future__ import annotations

import numpy as np

from mxprof.schema import Record

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-4
_REL_FLOOR = 1e-6


class Tolerance(Record, frozen=True):
    """FP32 equivalence: |out - ref| <= rtol * |ref| + atol * max|ref|, elementwise."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


DEFAULT_TOLERANCE = Tolerance()


class OutputDiff(Record, frozen=True):
    """How far one output tensor of a configuration is from the same output of the reference."""

    index: int
    shape: tuple[int, ...]
    scale: float  # max|ref|: what the absolute difference is small or large against
    max_abs_diff: float
    max_rel_diff: float
    within_tolerance: bool


class Comparison(Record, frozen=True):
    """One configuration against a reference configuration, on the same weights and inputs.

    Its JSON adds the maxima over the outputs (`to_dict`); decoding ignores them (derived)."""

    config: str
    reference: str
    count: int
    outputs: tuple[OutputDiff, ...]
    top1_agreement: float | None
    top5_agreement: float | None
    tolerance: Tolerance

    @property
    def max_abs_diff(self) -> float:
        return max(o.max_abs_diff for o in self.outputs)

    @property
    def max_rel_diff(self) -> float:
        return max(o.max_rel_diff for o in self.outputs)

    @property
    def within_tolerance(self) -> bool:
        return all(o.within_tolerance for o in self.outputs)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "max_abs_diff": self.max_abs_diff,
                "max_rel_diff": self.max_rel_diff, "within_tolerance": self.within_tolerance}


def _as_float(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _scale(ref) -> float:
    ref = np.asarray(ref)
    return float(np.max(np.abs(ref))) if ref.size else 0.0


def _check_same_shape(out: np.ndarray, ref: np.ndarray) -> None:
    if out.shape != ref.shape:
        raise ValueError(f"outputs differ in shape: {out.shape} vs reference {ref.shape}")


def max_abs_diff(out, ref) -> float:
    """Largest elementwise |out - ref|; NaN anywhere gives NaN (a broken kernel must show)."""
    out, ref = _as_float(out), _as_float(ref)
    _check_same_shape(out, ref)
    if out.size == 0:
        return 0.0
    return float(np.max(np.abs(out - ref)))


def max_rel_diff(out, ref) -> float:
    """Largest |out - ref| / max(|ref|, 1e-6 * max|ref|); see the module docstring."""
    out, ref = _as_float(out), _as_float(ref)
    _check_same_shape(out, ref)
    if out.size == 0:
        return 0.0
    scale = float(np.max(np.abs(ref)))
    if scale == 0.0:
        # An all-zero reference: any difference is infinitely relative, none is exactly zero.
        return 0.0 if not np.any(out != ref) else float("inf")
    denom = np.maximum(np.abs(ref), _REL_FLOOR * scale)
    return float(np.max(np.abs(out - ref) / denom))


def within_tolerance(out, ref, tolerance: Tolerance = DEFAULT_TOLERANCE) -> bool:
    """True when every element satisfies |out - ref| <= rtol*|ref| + atol*max|ref| (no NaN)."""
    out, ref = _as_float(out), _as_float(ref)
    _check_same_shape(out, ref)
    if out.size == 0:
        return True
    bound = tolerance.rtol * np.abs(ref) + tolerance.atol * float(np.max(np.abs(ref)))
    return bool(np.all(np.abs(out - ref) <= bound))


# Reference outputs below this magnitude say nothing about the kernels: activations shrank by
# many orders through the layers (random weights), so deeper ones sit near float32's denormal
# range (1.2e-38), which oneDNN flushes to zero and the reference kernels do not.
MEANINGFUL_SCALE = 1e-6


def not_meaningful(comparison: Comparison) -> str | None:
    """Why an equivalence verdict on these outputs means nothing, or None when it does."""
    scales = [o.scale for o in comparison.outputs]
    if not scales or max(scales) >= MEANINGFUL_SCALE:
        return None
    return (f"not meaningful: the reference outputs are at most {max(scales):.1e} in magnitude "
            f"(below {MEANINGFUL_SCALE:g}), so any tolerance passes; use real weights (--params) "
            "or weights initialised so activations stay O(1)")


def topk_indices(scores, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, highest first; shape (N, min(k, C))."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"top-k needs (N, C) scores, got shape {scores.shape}")
    k = min(k, scores.shape[1])
    # Stable sort on the negated scores: ties resolve to the lower class index, the same
    # rule in every configuration, so a tie never reads as a disagreement.
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def topk_agreement(scores, ref_scores, k: int) -> float:
    """Fraction of rows whose top-k class sets are equal in both score arrays."""
    a, b = np.asarray(scores), np.asarray(ref_scores)
    _check_same_shape(a, b)
    if a.shape[0] == 0:
        raise ValueError("top-k agreement over zero inputs is undefined")
    ta = np.sort(topk_indices(a, k), axis=1)
    tb = np.sort(topk_indices(b, k), axis=1)
    return float(np.mean(np.all(ta == tb, axis=1)))


def topk_accuracy(scores, labels, k: int) -> float:
    """Fraction of rows whose integer label is among the k highest scores."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(f"{scores.shape[0]} score rows but {labels.shape[0]} labels")
    if labels.shape[0] == 0:
        raise ValueError("accuracy over zero inputs is undefined")
    hits = np.any(topk_indices(scores, k) == labels[:, None], axis=1)
    return float(np.mean(hits))


def is_classifier_output(scores) -> bool:
    """A (N, C) output with C >= 2 is read as class scores; top-k metrics apply only then."""
    shape = np.shape(scores)
    return len(shape) == 2 and shape[1] >= 2


def compare_outputs(config: str, outputs, reference: str, ref_outputs,
                    tolerance: Tolerance = DEFAULT_TOLERANCE) -> Comparison:
    """Compare every output of one configuration with the reference configuration's outputs.

    `outputs` and `ref_outputs` are sequences of arrays in model-output order, the first
    dimension being the input index. Top-k agreement uses the first output when it is a
    classifier's (N, C) scores, and is None otherwise.
    """
    outputs, ref_outputs = list(outputs), list(ref_outputs)
    if len(outputs) != len(ref_outputs):
        raise ValueError(f"{config} has {len(outputs)} outputs, {reference} has {len(ref_outputs)}")
    if not outputs:
        raise ValueError("no outputs to compare")
    diffs = tuple(
        OutputDiff(index=i, shape=tuple(np.shape(o)), scale=_scale(r),
                   max_abs_diff=max_abs_diff(o, r),
                   max_rel_diff=max_rel_diff(o, r),
                   within_tolerance=within_tolerance(o, r, tolerance))
        for i, (o, r) in enumerate(zip(outputs, ref_outputs))
    )
    first, ref_first = outputs[0], ref_outputs[0]
    top1 = top5 = None
    if is_classifier_output(first):
        top1 = topk_agreement(first, ref_first, 1)
        top5 = topk_agreement(first, ref_first, 5)
    return Comparison(config=config, reference=reference, count=int(np.shape(first)[0]),
                      outputs=diffs, top1_agreement=top1, top5_agreement=top5,
                      tolerance=tolerance)
