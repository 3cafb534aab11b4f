"""Run the accuracy check: one worker process per configuration, then compare their outputs
(what each worker is given: mxprof.jobs.accuracy.worker_inputs; the report from their
outputs: mxprof.jobs.accuracy.assemble).

Configurations (each in a fresh process, environment set before libmxnet loads):
- mkldnn-off    reference CPU kernels (MXNET_MKLDNN_ENABLED=0), hybridized: the reference.
               For a network with RNN layers it is MKL-DNN with MXNET_USE_MKLDNN_RNN=0 instead
               (RNN layers on MXNet's own kernels): in MXNet 1.9.1 a 2-layer gluon.rnn.LSTM
               aborts with MKL-DNN off ("Check failed: out_data.size() == num_outputs (2 vs.
               1)"); the report's `reference` entry says which path ran and why;
- mkldnn        MKL-DNN kernels, hybridized, no graph fusion;
- mkldnn-fused  MKL-DNN with subgraph fusion (`optimize_for(backend='MKLDNN')`);
- int8-<mode>   quantized with mxnet.contrib.quantization, calibration none/naive/entropy.
The reference runs first; when the weights are random it saves them, and every other
configuration loads that file, so all of them see identical weights and identical inputs.

Latency: with `processes` N > 1, every configuration that ran is timed in N - 1 more worker
processes (timing only, no inputs evaluated), round after round in plan order, so the rounds
interleave A B C A B C (`mxprof.workers.schedule`); each configuration's latency and every
speedup pool its N processes (`mxprof.timing.pooled`: hierarchical bootstrap over processes,
then calls).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from mxprof.events import Note, OnEvent, ignore
from mxprof.files import make_temp_dir
from mxprof.host.environment import probe_onednn_version
from mxprof.jobs.accuracy import metrics as metrics
from mxprof.jobs.accuracy.assemble import (  # noqa: F401 - what callers import from here
    assemble,
    equivalence_summary,
    random_inputs_text,
)
from mxprof.jobs.accuracy.configs import (  # noqa: F401 - what callers import from here
    FP32_CONFIGS,
    RNN_REFERENCE,
    ConfigPlan,
    has_rnn_layers,
    plan_configs,
    reference_for,
)
from mxprof.jobs.accuracy.records import AccuracyReport
from mxprof.jobs.accuracy.worker_inputs import (  # noqa: F401 - calibration_account: callers'
    calibration_account,
    first_specs,
    inputs_spec,
)
from mxprof.workers.executor import Executor, LocalExecutor, renumbered
from mxprof.workers.process import worker_env as process_env
from mxprof.workers.protocol import WorkerResult, WorkerSpec
from mxprof.workers.schedule import interleave

# Inherited settings that would change what a configuration is (MXNET_SUBGRAPH_BACKEND would
# fuse the "unfused" mkldnn configuration); the verbose and MKL-DNN switches always go.
_DROPPED_ENV = ("MXNET_SUBGRAPH_BACKEND",)


def worker_env(plan_env: dict[str, str], threads: int | None,
               wait_policy: str | None = None) -> dict[str, str]:
    """The whole environment of one worker: inherited, minus verbose/MKL-DNN switches, plus ours
    (OpenMP threads and the wait policy the parent resolved)."""
    return process_env(drop=_DROPPED_ENV, threads=threads, extra=plan_env,
                       wait_policy=wait_policy)


def _cell(spec: dict, plan: ConfigPlan, openmp: tuple, timeout: float) -> WorkerSpec:
    """One configuration's worker as a self-contained cell: the spec (with the binding the
    worker applies to itself, `bind`) and the environment of its configuration."""
    return WorkerSpec(module="mxprof.jobs.accuracy.worker", name=spec["config"]["name"],
                      spec=spec, workdir=Path(spec["out_dir"]), env=worker_env(plan.env(), *openmp),
                      timeout=timeout, tail_lines=8)


def _error(res: WorkerResult) -> str:
    """What a failed configuration says: the protocol's one line, then a crash's stderr tail."""
    return f"{res.error}" + (f"\n{res.detail}" if res.detail else "")


def run_accuracy(model: dict, plans: list[ConfigPlan], *, inputs: dict, batch_size: int,
                 calib_count: int, timing: dict, tolerance: metrics.Tolerance,
                 threads: int | None = None, placement: dict | None = None,
                 timeout: float = 1800.0, on_event: OnEvent = ignore,
                 wait_policy: str | None = None, processes: int = 1,
                 executor: Executor | None = None,
                 on_partial: Callable[[AccuracyReport], None] | None = None) -> AccuracyReport:
    """Run every planned configuration and compare it with the reference.

    `inputs` is {"kind": "random", "count": N, "seed": S} or {"kind": "dataset", "path": P,
    "preprocess": Preprocess dict, "limit": N or None}. `placement` (a
    mxprof.cpu.placement.Placement as a dict, None: not bound) is what every worker binds
    itself to before it loads MXNet. `wait_policy`: the
    OpenMP wait policy the parent resolved (mxprof.cpu.openmp.resolve_wait_policy).
    `processes`: timing worker processes per configuration (the first also evaluates the
    inputs; see the module docstring). Workers run as cells of `executor` (default: one after
    another here), reporting through `on_event` (mxprof.events). Interrupted
    (KeyboardInterrupt), `on_partial(report)` gets the report of the configurations that
    finished (the next one "interrupted", the others "not run") before the interrupt goes on,
    so `--json` keeps them.
    """
    from mxprof.cpu.load import LoadMonitor
    work = make_temp_dir("accuracy")
    monitor = LoadMonitor.start()
    plans, reference = reference_for(model, plans)
    try:
        base_spec = {"batch_size": batch_size, "timing": timing, "seed": 0,
                     "placement": placement,
                     "processes": processes if timing.get("iterations") else 1}
        how = _How(openmp=(threads, wait_policy), timeout=timeout, on_event=on_event,
                   executor=executor or LocalExecutor(),
                   total=len(plans) * base_spec["processes"],
                   on_partial=on_partial or (lambda report: None))
        report = _run(work, model, plans, inputs, base_spec, calib_count, tolerance, how)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timed = {**{k: timing.get(k) for k in ("batch", "warmup", "iterations")},
             "processes": processes}
    report = msgspec.structs.replace(report, reference=reference,
                                     timing=timed if timing.get("iterations") else None)
    machine = monitor.stop(f"mxprof accuracy {model.get('name', '?')}") if monitor else None
    if machine is not None:  # the one busy-machine record, kept with the result
        report = msgspec.structs.replace(report, environment={**report.environment,
                                                          "machine_load": machine.to_dict()})
    note = busy_machine_note(machine)
    if note and timing.get("iterations"):
        report = msgspec.structs.replace(report, notes=(*report.notes, note))
    return report


@dataclass
class _How:
    """How the cells of one accuracy run are run: OpenMP (threads, wait policy), the timeout,
    the event sink, the executor, and how many cells were handed over so far of `total`."""

    openmp: tuple
    timeout: float
    on_event: OnEvent
    executor: Executor
    total: int
    on_partial: Callable[[AccuracyReport], None]
    handed: int = 0

    def run(self, cells: list[WorkerSpec], labels: list[str],
            into: dict[str, WorkerResult] | None = None) -> list[WorkerResult]:
        """The cells' results in order (a batch whose cells depend on the batch before);
        each also in `into` by label as it comes (what an interrupt keeps)."""
        events = renumbered(self.on_event, self.handed, max(self.total, self.handed + len(cells)))
        self.handed += len(cells)
        out: list = [None] * len(cells)
        for i, res in self.executor.run(cells, events, labels=labels):
            out[i] = res
            if into is not None:
                into[labels[i]] = res
        return out


def busy_machine_note(machine) -> str | None:
    """The one busy-machine rule (`mxprof.cpu.load`): latencies and speedups are then biased;
    accuracy and equivalence figures are not."""
    if machine is None or not machine.busy:
        return None
    return f"{machine.warning()}; accuracy and equivalence figures are unaffected"


def _run(work, model, plans, inputs, base_spec, calib_count, tolerance,
         how: _How) -> AccuracyReport:
    calibration = inputs_spec(work, model, plans, inputs, base_spec, calib_count)
    specs = first_specs(work, model, plans, inputs, base_spec, calib_count)
    # The reference first, alone: when it saved the weights, every other configuration
    # loads them, so all see identical weights (a failed reference leaves them as they were).
    ref, rest = plans[0], plans[1:]
    first: dict[str, WorkerResult] = {}  # the first processes' results as they come
    try:
        (ref_res,) = how.run([_cell(specs[ref.name], ref, how.openmp, how.timeout)],
                             [ref.name], first)
        model_used = dict(model)
        if ref_res.ok and "save_params" in specs[ref.name]:
            model_used = {**model, "params_path": specs[ref.name]["save_params"]}
        for plan in rest:
            specs[plan.name]["model"] = model_used
        how.run([_cell(specs[p.name], p, how.openmp, how.timeout) for p in rest],
                [p.name for p in rest], first)
        results, errors, samples = _firsts(first)
        failures = _more_timing(work, [p for p in plans if p.name in results], specs,
                                model_used, samples, how)
    except KeyboardInterrupt:
        results, errors, samples = _firsts(first)
        stopped = next((p.name for p in plans if p.name not in first), None)
        if stopped is not None:
            errors[stopped] = "interrupted"
        how.on_partial(assemble(work, model, plans, inputs, results, errors, tolerance,
                                calibration, samples))
        raise
    report = assemble(work, model, plans, inputs, results, errors, tolerance, calibration,
                      samples)
    if failures:
        report = msgspec.structs.replace(report, notes=(*report.notes, *failures))
    if results and not report.environment.get("onednn_version") and any(p.mkldnn for p in plans):
        how.on_event(Note(text="reading the oneDNN version"))
        version = probe_onednn_version()
        report = msgspec.structs.replace(report, environment={**report.environment,
                                                          "onednn_version": version})
    return report


def _firsts(first: dict[str, WorkerResult]) -> tuple[dict, dict, dict]:
    """(results, errors, per-process samples) of the first processes that finished."""
    results = {name: r.data for name, r in first.items() if r.ok}
    errors = {name: _error(r) for name, r in first.items() if not r.ok}
    samples = {name: [r["timing"]["samples_ms"]] for name, r in results.items()}
    return results, errors, samples


def _more_timing(work, plans, specs, model_used, samples, how: _How) -> list[str]:
    """Rounds 2..N of the timing processes (see the module docstring): each configuration's
    per-call ms appended to `samples[name]`; a failed process is left out and named in the
    returned notes (its configuration keeps the processes that ran)."""
    rounds = specs[plans[0].name]["processes"] - 1 if plans else 0
    order = interleave(plans, rounds)
    cells, labels = [], []
    for rnd, plan in order:
        spec = {**specs[plan.name], "model": model_used, "timing_only": True,
                "out_dir": str(work / f"{plan.name}-timing-{rnd + 2}")}
        spec.pop("save_params", None)
        cells.append(_cell(spec, plan, how.openmp, how.timeout))
        labels.append(f"{plan.name} #{rnd + 2}")
    failures = []
    for (_, plan), label, res in zip(order, labels, how.run(cells, labels)):
        if not res.ok:
            failures.append(f"timing process {label} failed, its latency pools the others: "
                            f"{_error(res).splitlines()[0]}")
            continue
        samples[plan.name].append(res.data["timing"]["samples_ms"])
    return failures


def quick_equivalence(model: dict, *, num_inputs: int = 8, batch_size: int = 8,
                      threads: int | None = None, int8: bool = False,
                      timeout: float = 600.0) -> AccuracyReport:
    """The short check `profile` runs: reference vs MKL-DNN vs fused on random inputs.

    `model` is a ModelSpec dict (mxprof.mx.models); the weights are whatever it loads (random init
    included). No timing. With `int8`, a naive-calibrated INT8 configuration joins.
    """
    plans = plan_configs(["mkldnn", "mkldnn-fused"], ["naive"] if int8 else [])
    return run_accuracy(model, plans, inputs={"kind": "random", "count": num_inputs, "seed": 0},
                        batch_size=min(batch_size, num_inputs), calib_count=num_inputs,
                        timing={"batch": 1, "warmup": 0, "iterations": 0},
                        tolerance=metrics.Tolerance(), threads=threads, timeout=timeout)


