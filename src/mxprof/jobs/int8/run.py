"""`run(plan, on_event) -> Int8Result`: the FP32 reference, the INT8 analysis, the search.

Order: the FP32 reference (its outputs on the evaluation inputs are computed once and every
candidate is scored against them; random weights are saved so every cell quantizes the same
network); the first INT8 configuration (the user's --exclude) with its per-layer errors; the
per-layer timing pass; then, with a target, the search (mxprof.jobs.int8.search), each
candidate one configuration of `processes` timing processes through the executor; last, the
chosen configuration once more with its exclusion fed back to quantize_net, exported, and its
score recomputed (`reproduced` in the notes). A failed candidate is a failed row with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np

from mxprof.events import Finished, OnEvent, Started, ignore
from mxprof.files import temp_dir
from mxprof.jobs.int8 import cells, search
from mxprof.jobs.int8.numerics import errors
from mxprof.jobs.int8.records import Candidate, Errors, Int8Result, LayerRow, Speedup
from mxprof.jobs.int8.timing import merge_times
from mxprof.workers.executor import LocalExecutor


def _renumber(on_event: OnEvent, total: int) -> OnEvent:
    """The executor counts per batch of cells; the job's display counts over the whole run."""
    count = {"n": 0}

    def relay(event) -> None:
        if isinstance(event, Started):
            count["n"] += 1
            event = msgspec.structs.replace(event, index=count["n"],
                                            total=max(total, count["n"]))
        elif isinstance(event, Finished):
            event = msgspec.structs.replace(event, index=count["n"],
                                            total=max(total, count["n"]))
        on_event(event)

    return relay


class _Job:
    def __init__(self, plan, work: Path, on_event: OnEvent, executor) -> None:
        from mxprof.workers.process import worker_env

        self.plan, self.o, self.work = plan, plan.options, work
        self.on_event = on_event
        self.executor = executor or LocalExecutor()
        self.env = worker_env(drop=("MXNET_SUBGRAPH_BACKEND",), threads=self.o.threads,
                              wait_policy=self.o.wait_policy)
        self.inputs = cells.prepare_inputs(plan, work)
        self.model = plan.model
        self.base = cells.base_spec(plan, self.inputs, self.model)
        self.candidates: list[Candidate] = []
        self.fp32_out: list[np.ndarray] = []
        self.fp32_groups: list[np.ndarray] = []
        self.fp32_results: list = []
        self.groups: dict[int, list[np.ndarray]] = {}  # candidate step -> its samples (ns)
        self.analysis: dict | None = None

    def _run(self, specs, env=None) -> list:
        if env is not None:
            specs = [type(s)(**{**s.__dict__, "env": env}) for s in specs]
        results = [None] * len(specs)
        for i, res in self.executor.run(specs, self.on_event, labels=[s.name for s in specs]):
            results[i] = res
        return results

    def reference(self) -> list:
        spec = {**self.base, "task": "reference"}
        if self.model.get("params_path") is None:
            spec["weights_out"] = str(self.work / "weights.params")
        results = self._run(cells.cells(self.plan, self.work, spec, "fp32", self.env))
        first = results[0]
        if first.ok:
            self.fp32_out = cells.outputs(self.work, "fp32", first.data["outputs"])
            if "weights_out" in spec:
                self.model = {**self.model, "params_path": spec["weights_out"]}
                self.base = {**self.base, "model": self.model}
        self.fp32_results = results
        latency, self.fp32_groups = cells.pooled(results)
        self.candidates.append(Candidate(step=0, phase="fp32", excluded=(),
                                         status=first.status, error=first.error,
                                         latency=latency, score=self._fp32_score()))
        return results

    def _fp32_score(self) -> float | None:
        t = self.o.target
        if t is None or not self.fp32_out:
            return None
        if t.metric == "top1" and self.inputs.labels is not None:
            from mxprof.jobs.accuracy.metrics import topk_accuracy
            return topk_accuracy(self.fp32_out[0], self.inputs.labels, 1)
        return 1.0 if t.metric == "agreement" else None

    def scores(self, out: list[np.ndarray]) -> dict:
        from mxprof.jobs.accuracy.metrics import (
            is_classifier_output,
            topk_accuracy,
            topk_agreement,
        )
        ref = self.fp32_out[0]
        s = {"output_sqnr_db": errors(ref, out[0])["sqnr_db"]}
        if is_classifier_output(ref):
            s["top1_agreement"] = topk_agreement(out[0], ref, 1)
            if self.inputs.labels is not None:
                s["top1"] = topk_accuracy(out[0], self.inputs.labels, 1)
        return s

    def _score(self, s: dict) -> tuple[float | None, bool | None]:
        t = self.o.target
        if t is None:
            return None, None
        key = {"top1": "top1", "agreement": "top1_agreement", "sqnr": "output_sqnr_db"}
        value = s.get(key[t.metric])
        if t.metric == "sqnr" and value is None and "output_sqnr_db" in s:
            value = float("inf")  # identical outputs
        return value, (None if value is None else value >= t.value)

    def evaluate(self, excluded: tuple[str, ...], phase: str, *, analyse: bool = False,
                 export: str | None = None, timing_processes: int | None = None,
                 name: str | None = None) -> tuple[Candidate, dict | None]:
        step = len(self.candidates)
        name = name or f"c{step:02d}"
        spec = {**self.base, "task": "candidate",
                "quantize": {**self.base["quantize"], "exclude": list(excluded)}}
        if analyse:
            spec["analyse"] = {"probe": min(self.o.probe, len(self.fp32_out[0]))}
        if export:
            spec["export"] = export
        results = self._run(cells.cells(self.plan, self.work, spec, name, self.env,
                                        processes=timing_processes))
        first = results[0]
        latency, groups = cells.pooled(results)
        if name == f"c{step:02d}":
            self.groups[step] = groups
        fields: dict = {"step": step, "phase": phase, "excluded": tuple(excluded),
                        "status": first.status, "error": first.error, "latency": latency}
        if first.ok:
            s = self.scores(cells.outputs(self.work, name, first.data["outputs"]))
            score, meets = self._score(s)
            fields.update(s, score=score, meets=meets,
                          int8_layers=len(first.data["int8_layers"]),
                          speedup=_speedup(self.fp32_groups, groups))
        return Candidate(**fields), first.data if first.ok else None

    def retime_fp32(self) -> None:
        """One more FP32 timing process after the search, pooled with the first ones, and
        every speedup recomputed: a machine whose load drifts during a long search then
        weighs on both sides of each ratio, not on the INT8 side alone."""
        spec = {**self.base, "task": "reference", "timing_only": True}
        more = self._run(cells.cells(self.plan, self.work, spec, "fp32-end", self.env,
                                     processes=1))
        self.fp32_results = [*self.fp32_results, *more]
        latency, self.fp32_groups = cells.pooled(self.fp32_results)
        self.candidates[0] = msgspec.structs.replace(self.candidates[0], latency=latency)
        for step, groups in self.groups.items():
            self.candidates[step] = msgspec.structs.replace(
                self.candidates[step], speedup=_speedup(self.fp32_groups, groups))

    def add(self, candidate: Candidate) -> Candidate:
        self.candidates.append(candidate)
        return candidate

    def layer_times(self) -> dict | None:
        from mxprof.mx.layers import LAYER_ENV

        spec = {**self.base, "task": "layers",
                "timing": {**self.base["timing"], "iterations": 20}}
        env = {**self.env, **{str(k): str(v) for k, v in LAYER_ENV.items()}}
        res = self._run(cells.cells(self.plan, self.work, spec, "layers", env, processes=1))[0]
        if not res.ok:
            return None
        spec = {**self.base, "task": "primitives"}
        env = {**env, "DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1", "MKLDNN_VERBOSE": "1"}
        prims = self._run(cells.cells(self.plan, self.work, spec, "primitives", env,
                                      processes=1, keep_stdout=True))[0]
        return {**res.data, "primitives": prims.data["nodes"] if prims.ok else None}


def _speedup(base: list[np.ndarray], new: list[np.ndarray]) -> Speedup | None:
    from mxprof.timing.pooled import ratio_of

    r = ratio_of(base, new)
    return None if r is None else Speedup(value=r.value, ci95_low=r.ci95_low,
                                          ci95_high=r.ci95_high, significant=r.significant)


def _rows(data: dict) -> list[LayerRow]:
    def err(d):
        return None if d is None else Errors(**d)
    return [LayerRow(node=r["node"], op=r["op"], role=r["role"], layers=tuple(r["layers"]),
                     layer=r["layer"], accumulated=err(r["accumulated"]), local=err(r["local"]),
                     local_note=r["local_note"]) for r in data.get("layer_errors", [])]


def first_diverging(rows: list[LayerRow], threshold_db: float) -> str | None:
    """The first layer (graph order) whose accumulated SQNR is below `threshold_db`: the first
    FP32 layer its INT8 node absorbed (the conv of a conv+bn+relu), the name exclude takes."""
    for r in rows:
        s = r.accumulated.sqnr_db
        if s is not None and s < threshold_db:
            return r.layers[0]
    return None


def quantize_net_args(o, excluded: tuple[str, ...]) -> str:
    """The call to paste into a script for the chosen configuration."""
    calib = "None" if o.calib_mode == "none" else "calib_iter"
    return (f"quantize_net(net, quantized_dtype={o.quantized_dtype!r}, "
            f"exclude_layers={list(excluded)!r}, calib_mode={o.calib_mode!r}, "
            f"calib_data={calib}, num_calib_examples={o.calib_size}, ctx=mx.cpu())")


def run(plan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[Int8Result], None] | None = None, executor=None) -> Int8Result:
    """Run the plan (see the module docstring); failures are rows, never exceptions. Worker
    files go to `workdir`, or to a temporary folder removed at the end. On KeyboardInterrupt
    the result so far goes to `on_partial`, then the interrupt propagates."""
    if plan.options.workdir:
        return _run(plan, Path(plan.options.workdir), on_event, on_partial, executor)
    with temp_dir("int8") as tmp:
        return _run(plan, Path(tmp), on_event, on_partial, executor)


def _run(plan, work: Path, on_event: OnEvent, on_partial, executor) -> Int8Result:
    began = time.monotonic()
    o = plan.options
    job = _Job(plan, work, _renumber(on_event, plan.workers), executor)
    ref = job.reference()
    result = _header(job)
    if not ref[0].ok:
        return _done(result, job, began, errors=[f"FP32 reference: {ref[0].error}"])
    first, data = job.evaluate(tuple(o.exclude), "all-int8", analyse=True)
    job.add(first)
    if data is None:
        return _done(result, job, began, errors=[f"INT8 ({o.calib_mode}): {first.error}"])
    rows = _rows(data)
    if o.layer_times:
        times = job.layer_times()
        rows = merge_times(rows, times) if times else rows
        if times is None:
            result.notes.append("the per-layer timing pass failed: no per-layer times")
        elif times.get("primitives") is None:
            result.notes.append("the oneDNN primitive pass failed: no reorder times")
    result = msgspec.structs.replace(result, layers=rows,
                                     first_diverging=first_diverging(rows, o.threshold_db))
    if on_partial:
        on_partial(_done(result, job, began))
    try:
        _search(job, result, rows, first, began)
    except KeyboardInterrupt:
        if on_partial:
            on_partial(_done(result, job, began))
        raise
    return _finish(result, job, began)


def _search(job: _Job, result: Int8Result, rows: list[LayerRow], first: Candidate,
            began: float) -> None:
    o = job.o
    if o.target is not None:
        deadline = None if o.budget_s is None else began + o.budget_s

        def evaluate(excluded, phase):
            return job.add(job.evaluate(excluded, phase)[0])

        trace = search.greedy(first, search.rank(rows), evaluate, max_steps=o.max_steps,
                              deadline=deadline)
        _try_cost(job, rows, [first, *trace], evaluate, deadline)
        if deadline is not None and time.monotonic() >= deadline:
            result.notes.append(f"the {o.budget_s:g} s budget ended the search")


def _try_cost(job: _Job, rows: list[LayerRow], ran: list[Candidate], evaluate,
              deadline: float | None) -> None:
    """The best so far plus the layers whose INT8 does not pay in time (search.not_paying),
    once, when that is a set not run yet."""
    index, _ = search.choose(ran)
    extra = search.not_paying(rows)
    if index is None or not extra or (deadline is not None and time.monotonic() >= deadline):
        return
    base = ran[index].excluded
    trial = (*base, *(x for x in extra if x not in base))
    if trial != base and all(c.excluded != trial for c in ran):
        evaluate(trial, "cost")


def _header(job: _Job) -> Int8Result:
    o = job.o
    return Int8Result(model=job.plan.model["name"], weights="random", calib_mode=o.calib_mode,
                      calib_source=job.inputs.calib_source, quantized_dtype=o.quantized_dtype,
                      user_exclude=tuple(o.exclude), inputs=job.inputs.description,
                      target=o.target, threshold_db=o.threshold_db,
                      probe=min(o.probe, o.num_inputs if not o.data else o.probe),
                      protocol={"processes": o.processes, "warmup": o.warmup,
                                "min_time_s": o.min_time, "iterations": o.iterations,
                                "timing_batch": o.timing_batch, "threads": o.threads,
                                "cores": o.cores, "membind": o.membind,
                                "wait_policy": o.wait_policy,
                                "eval_batch": job.base["batch_size"]})


def _finish(result: Int8Result, job: _Job, began: float) -> Int8Result:
    if len(job.candidates) > 2:  # a search ran: FP32 timed again at its end
        job.retime_fp32()
        result.notes.append("FP32 was timed before and after the search (pooled), so load "
                            "drift during the search weighs on both sides of every speedup")
    chosen, met = search.choose(job.candidates)
    if chosen is not None:
        pick = job.candidates[chosen]
        result = msgspec.structs.replace(
            result, chosen=chosen, met=met,
            quantize_net_args=quantize_net_args(job.o, pick.excluded))
        result = _reproduce(result, job, pick)
    if chosen is not None and _slower_than_fp32(job.candidates[chosen]):
        result.notes.append("FP32 is significantly faster than the chosen INT8 configuration "
                            "here: at this batch and size INT8 does not pay")
    if met is False:
        result.notes.append(f"no configuration met {job.o.target.metric} >= "
                            f"{job.o.target.value:g}: the best found is shown")
    return _done(result, job, began)


def _slower_than_fp32(c: Candidate) -> bool:
    return c.speedup is not None and c.speedup.significant and c.speedup.value < 1


def _reproduce(result: Int8Result, job: _Job, pick: Candidate) -> Int8Result:
    """The chosen exclusion fed back to quantize_net once more: same score? export it."""
    again, data = job.evaluate(pick.excluded, "verify", export=job.o.export,
                               timing_processes=1, name="verify")
    if data is None:
        result.notes.append(f"re-quantizing the chosen configuration failed: {again.error}")
        return result
    same = all(getattr(again, k) == getattr(pick, k)
               for k in ("top1_agreement", "top1", "output_sqnr_db"))
    result.notes.append(
        "the chosen exclusion fed back to quantize_net reproduces the reported accuracy"
        if same else "the chosen exclusion fed back to quantize_net gives "
        f"agreement {again.top1_agreement}, top-1 {again.top1}, output SQNR "
        f"{again.output_sqnr_db} (reported {pick.top1_agreement}, {pick.top1}, "
        f"{pick.output_sqnr_db})")
    return msgspec.structs.replace(result, exported=tuple(data.get("exported", ())))


def _done(result: Int8Result, job: _Job, began: float, errors: list[str] | None = None) \
        -> Int8Result:
    on_front = search.front(job.candidates)
    candidates = [msgspec.structs.replace(c, on_front=i in on_front)
                  for i, c in enumerate(job.candidates)]
    env = {}
    weights = result.weights
    for path in sorted(job.work.glob("fp32/*.result.json"))[:1]:
        from mxprof.jsonio import read_json
        data = read_json(path)
        env, weights = data.get("environment", {}), data.get("weights", weights)
    notes = list(result.notes)
    if weights == "random" and not any("random weights" in n for n in notes):
        notes.insert(0, "random weights: the per-layer error pattern and the latencies are "
                        "real, accuracy against labels is not")
    return msgspec.structs.replace(result, candidates=candidates, weights=weights,
                                   environment=env, notes=notes,
                                   errors=errors or result.errors,
                                   wall_s=time.monotonic() - began)
