"""The int8 job's cells: inputs on disk, worker specs, and what a finished cell's data means.

- `prepare_inputs(plan, work) -> Inputs`: the evaluation inputs (random of the model's own
  kind, or images of --data with their labels) and the calibration inputs (a separate random
  draw, or the --data images after the evaluated ones), written once as .npy files that every
  cell reads; `Inputs.description` / `calib_source` say which in the report.
- `cells(plan, work, task, name, ...) -> [WorkerSpec]`: one configuration's processes, the
  first evaluating the inputs, the rest timing only (the same protocol for every figure); an
  INT8 configuration is calibrated once, in the first, whose model the others load (the
  processes share the work folder: this machine, or a shared file system).
- `pooled(results) -> (Latency, per-process samples in ns)`: mxprof.timing.pooled over the
  processes that ran.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mxprof.jobs.binding import spec_of
from mxprof.jobs.int8.records import Latency
from mxprof.workers.protocol import WorkerResult, WorkerSpec

WORKER = "mxprof.jobs.int8.worker"


@dataclasses.dataclass(frozen=True)
class Inputs:
    inputs_npy: str
    calib_npy: str
    labels: np.ndarray | None
    description: str
    calib_source: str


def _random(model: dict, count: int, seed: int) -> np.ndarray:
    from mxprof.mx.inputs import random_arrays
    from mxprof.mx.models import ModelSpec

    return random_arrays(ModelSpec.from_dict(model).input_specs, count, seed=seed)[0]


def _dataset(o, model: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    from mxprof.errors import UsageError
    from mxprof.jobs.accuracy.datasets import DatasetError, Preprocess, load_arrays, open_dataset

    try:
        ds = open_dataset(o.data)
        pre = Preprocess.for_input(tuple(model["input_shape"]))
        x, y = load_arrays(ds, pre, limit=o.limit)
        rest = len(ds) - len(x)
        if rest > 0:
            calib, _ = load_arrays(ds, pre, limit=min(o.calib_size, rest), start=len(x))
            how = f"{len(calib)} images of {o.data} after the evaluated ones"
        else:
            calib = x[:o.calib_size]
            how = (f"the first {len(calib)} of the evaluated images ({o.data} has no others): "
                   "the accuracy is measured on calibration images")
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    return x, y, calib, f"{len(x)} labelled images of {o.data}", how


def prepare_inputs(plan, work: Path) -> Inputs:
    o = plan.options
    work.mkdir(parents=True, exist_ok=True)
    if o.data:
        x, labels, calib, what, how = _dataset(o, plan.model)
    else:
        x = _random(plan.model, o.num_inputs, seed=0)
        calib = _random(plan.model, o.calib_size, seed=1)
        labels = None
        what = (f"{o.num_inputs} random inputs of the model's own kind (ImageNet-normalised "
                "uniform images for an image input; seed 0)")
        how = f"{o.calib_size} other random inputs of the same kind (seed 1)"
    np.save(work / "inputs.npy", x)
    np.save(work / "calib.npy", calib)
    if o.calib_mode == "none":
        how = "none: ranges computed at run time on every call"
    return Inputs(str(work / "inputs.npy"), str(work / "calib.npy"), labels, what, how)


def base_spec(plan, inputs: Inputs, model: dict) -> dict:
    o = plan.options
    return {"model": model, "inputs_npy": inputs.inputs_npy, "calib_npy": inputs.calib_npy,
            "batch_size": min(o.batch_size, o.num_inputs if not o.data else o.batch_size),
            "timing": {"batch": o.timing_batch, "warmup": o.warmup, "min_time": o.min_time,
                       "iterations": o.iterations},
            "quantize": {"calib_mode": o.calib_mode, "quantized_dtype": o.quantized_dtype,
                         "exclude": list(o.exclude)},
            "placement": spec_of(plan.placement)}


def cells(plan, work: Path, spec: dict, name: str, env: dict[str, str], *,
          processes: int | None = None, keep_stdout: bool = False) -> list[WorkerSpec]:
    """One configuration's processes: `name`-p1 evaluates and times, the others only time."""
    n = plan.options.processes if processes is None else processes
    out = []
    for p in range(1, n + 1):
        s = {**spec, "out_dir": str(work / name), "timing_only": p > 1 or spec.get("timing_only",
                                                                                     False)}
        if spec.get("task") == "candidate" and n > 1:
            # One calibration per configuration: the first process keeps its model.
            s["save_model" if p == 1 else "import"] = str(work / name / "int8-model")
        if p > 1:
            s.pop("analyse", None)
            s.pop("export", None)
            s.pop("weights_out", None)
        out.append(WorkerSpec(module=WORKER, name=f"{name}-p{p}", spec=s, workdir=work / name,
                              env=env, timeout=plan.options.timeout, tail_lines=8,
                              keep_stdout=keep_stdout))
    return out


def pooled(results: list[WorkerResult]) -> tuple[Latency | None, list[np.ndarray]]:
    from mxprof.timing.pooled import pooled_stats

    groups = [np.asarray(r.data["samples_ms"], dtype=np.float64) * 1e6
              for r in results if r.ok and r.data and r.data.get("samples_ms")]
    stats = pooled_stats(groups)
    if stats is None:
        return None, []
    return Latency(median_ms=stats.median / 1e6,
                   ci95_low_ms=None if stats.ci95_low is None else stats.ci95_low / 1e6,
                   ci95_high_ms=None if stats.ci95_high is None else stats.ci95_high / 1e6,
                   processes=len(groups), calls=stats.n), groups


def outputs(work: Path, name: str, count: int) -> list[np.ndarray]:
    return [np.load(work / name / f"output_{i}.npy") for i in range(count)]
