"""What each worker of one accuracy run is given: the random inputs (or the data set) and the
calibration set written to the work folder, and each configuration's first worker spec (the
one that evaluates the inputs; the reference's also saves random weights for the others).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mxprof.jobs.accuracy.assemble import random_inputs_text
from mxprof.jobs.accuracy.records import REFERENCE
from mxprof.mx.inputs import random_arrays
from mxprof.mx.models import ModelSpec


def calibration_account(source: str, requested: int, batch_size: int) -> dict:
    """What INT8 calibration really sees: mxprof.mx.quantize batches the N examples by
    min(batch, N) and drops a last partial batch (last_batch_handle='discard', so padded
    repeats do not skew the thresholds)."""
    batch = min(batch_size, requested)
    used = (requested // batch) * batch
    account = {"source": source, "count": used, "requested": requested, "batch": batch}
    if used < requested:
        account["source"] = (f"{source}: {used} of {requested} used in batches of {batch}, the "
                             f"last partial batch of {requested - used} dropped")
    else:
        account["source"] = f"{source}: all {used} used in batches of {batch}"
    return account


def inputs_spec(work: Path, model: dict, plans, inputs: dict, base_spec: dict,
                calib_count: int) -> dict | None:
    """Write the random inputs (and calibration set) the workers read, or point them at the
    data set; the calibration account (None without INT8)."""
    int8 = any(p.kind == "int8" for p in plans)
    if inputs["kind"] != "random":
        base_spec["data"] = {"path": inputs["path"], "preprocess": inputs["preprocess"],
                             "limit": inputs.get("limit")}
        return calibration_account(
            f"first {calib_count} records of {inputs['path']} (also part of the evaluation "
            "set)", calib_count, base_spec["batch_size"]) if int8 else None
    # One way to draw inputs in every job: each input's dtype and range (mxprof.mx.inputs).
    specs = ModelSpec.from_dict(model).input_specs
    seed = inputs.get("seed", 0)
    base_spec["inputs_npy"] = []
    for i, array in enumerate(random_arrays(specs, inputs["count"], seed=seed)):
        np.save(work / f"inputs_{i}.npy", array)
        base_spec["inputs_npy"].append(str(work / f"inputs_{i}.npy"))
    if not int8:
        return None
    np.save(work / "calib.npy", random_arrays(specs, calib_count, seed=seed + 1)[0])
    return calibration_account(f"random inputs ({random_inputs_text(model)})", calib_count,
                               base_spec["batch_size"])


def first_specs(work: Path, model: dict, plans, inputs: dict, base_spec: dict,
                calib_count: int) -> dict[str, dict]:
    """Each configuration's first worker spec (the one that evaluates the inputs)."""
    out = {}
    for plan in plans:
        spec = {**base_spec, "model": model, "out_dir": str(work / plan.name),
                "config": {"name": plan.name, "kind": plan.kind, "calib_mode": plan.calib_mode}}
        if plan.kind == "int8" and plan.calib_mode != "none":
            spec["calib"] = ({"npy": str(work / "calib.npy")} if inputs["kind"] == "random"
                             else {"count": calib_count, "start": 0})
        if plan.name == REFERENCE and not model.get("params_path"):
            spec["save_params"] = str(work / "weights.params")
        out[plan.name] = spec
    return out
