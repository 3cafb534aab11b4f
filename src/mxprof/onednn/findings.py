"""What a oneDNN primitive's fields say about its speed: the tests every diagnosis shares.

Used by `mxprof.jobs.fusion.diagnose` (fused vs unfused graphs) and
`mxprof.jobs.profile.diagnose` (one model on the roofline), so both read layouts, reference
kernels and weight reorders the same way. Also the one `Finding` record both commands emit
(fusion's findings add a severity and the graph they were seen in), and the subnormal-value
count the profile worker runs over every parameter.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from mxprof.onednn.descriptors import memory_tags
from mxprof.schema import Record

# The smallest normal FP32 magnitude, 2**-126 (IEEE 754 binary32): nonzero values below it are
# subnormal, and x86 cores take a microcode assist (tens to hundreds of cycles) on them unless
# FTZ/DAZ is set, which MXNet 1.9.1 never does.
FP32_MIN_NORMAL = float(np.finfo(np.float32).tiny)


class Finding(Record, frozen=True):
    """One cause of lost time: the rule that found it, the layers (graph nodes), the evidence
    from this run, the fix, and its effect ({"ms_per_iter": the time at stake, "estimate": how
    it was estimated, "measured": before/after when the fix was tried}). Where a command ranks
    and compares graphs (fusion), `severity` ("high": costs time now, "medium": likely a slow
    path, "info") and `graph` ("fused" | "unfused" | "machine"); None elsewhere, and then not
    written."""

    rule: str
    title: str
    layers: tuple[str, ...]
    evidence: str
    fix: str
    effect: dict[str, Any] = msgspec.field(default_factory=dict)
    severity: str | None = None
    graph: str | None = None

    @property
    def cost_ms(self) -> float:
        return float(self.effect.get("ms_per_iter") or 0.0)

    # Fusion's names for the same fields, from before the two records were one.
    nodes = property(lambda self: self.layers)
    ms_per_iteration = cost_ms

    def to_dict(self) -> dict[str, Any]:
        # severity and graph only where a command sets them: profile's findings stay as written.
        out = super().to_dict()
        for key in ("severity", "graph"):
            if out.get(key) is None:
                out.pop(key, None)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Also reads a fusion finding written before the one record ({nodes,
        ms_per_iteration} for layers and effect). Raises msgspec.ValidationError naming a
        wrong field."""
        d = dict(d)
        effect = dict(d.get("effect") or {})
        if "ms_per_iteration" in d and "ms_per_iter" not in effect:
            effect["ms_per_iter"] = d.pop("ms_per_iteration")
        d.pop("ms_per_iteration", None)
        if "nodes" in d:
            d.setdefault("layers", d.pop("nodes"))
        d.setdefault("title", d.get("rule"))
        return super().from_dict({**d, "effect": effect})


def is_weight_layout(tag: str) -> bool:
    """Data tensors keep the batch (outermost) dimension unblocked in inference; weight layouts
    block the output channels, which oneDNN writes as an upper-case first letter."""
    return bool(tag) and tag[0].isupper()


def is_weight_reorder(kind: str, mds: str) -> bool:
    return kind == "reorder" and is_weight_layout(memory_tags(mds).get("dst", ""))


def is_plain(tag: str) -> bool:
    """`abcd`, `abcde`: NCHW / OIHW order with nothing blocked (4-D and up)."""
    return len(tag) >= 4 and tag == "abcdefgh"[: len(tag)]


def is_reference_impl(kind: str, impl: str) -> bool:
    """A slow generic path: `ref:*` / `*_ref:*` kernels, `gemm:blas` convolutions (MKL-DNN
    v0.x's im2col + BLAS), and `simple:*` reorders (element by element)."""
    head = impl.split(":")[0]
    if head == "ref" or head.endswith("_ref"):
        return True
    if kind == "reorder":
        return head == "simple"
    return "gemm:blas" in impl and kind in ("convolution", "deconvolution")


def subnormal_count(values: np.ndarray) -> int:
    """Nonzero FP32/FP64 values whose magnitude is below FP32's smallest normal number."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    return int(np.count_nonzero((a > 0) & (a < FP32_MIN_NORMAL)))


def parameter_subnormals(named: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """[{param, subnormal, size, share}] for the float parameters that hold subnormal values."""
    out = []
    for name, value in named.items():
        arr = np.asarray(value)
        if arr.dtype.kind != "f" or arr.size == 0:
            continue
        n = subnormal_count(arr)
        if n:
            out.append({"param": name, "subnormal": n, "size": int(arr.size),
                        "share": n / arr.size})
    return sorted(out, key=lambda d: -d["subnormal"])
