"""`mxprof.profile`, `mxprof.fusion`, `mxprof.accuracy`: the commands as notebook calls.

Each takes `model` (a zoo name, or a Gluon HybridBlock the user holds: exported to a temporary
symbol/params pair, see `mxprof.api.model`), optional `inputs` (an array or shape with a batch
axis; only its shape is used: the workers make their own inputs, as the CLI does) or
`shape=(C, H, W)`, and the options of the command with the same defaults (`python -m mxprof
CMD --help` says what each does). Every configuration runs in its own worker process, exactly
as from the command line. They return a `Report`; progress lines go to `progress` (default
none; pass `print` to follow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mxprof.api.model import model_source
from mxprof.api.report import Report

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def _threads(threads: int | str | None) -> int | None:
    """The count the CLI would give (`mxprof.cpu.openmp.choose_threads`: one per physical core
    of this process's CPUs unless told otherwise)."""
    from mxprof.cpu.openmp import choose_threads
    return choose_threads(threads).threads


def profile(model: Any, inputs: Any = None, *, shape: Any = None, progress: Progress | None = None,
            on_event: Callable[[Any], None] | None = None, **options: Any) -> Report:
    """Where the time of one model goes, MKL-DNN on vs off: `mxprof profile` as a call.

    `options` are the fields of `mxprof.jobs.profile.plan.Options`, with the CLI's defaults
    (the one place they are set): batch_size (8), warmup (5), min_time (1 s), iterations,
    processes (3; fast/rigorous), passes, reference, checks (fusion, equivalence), diagnosis
    (machine ceilings, roofline, findings; on), try_fixes, threads, cores, membind,
    physical_only, wait_policy, timeout... The same plan and run as the command, so the report
    has the same sections: findings, roofline and machine load included. `progress`: a
    function of one line (e.g. `print`); `on_event`: one of typed events (mxprof.events).
    Raises ValueError for bad options or an unknown model ("fusion" is skipped for a
    HybridBlock: it needs a zoo name or an exported pair).
    """
    from mxprof.errors import UsageError
    from mxprof.events import ignore, printer
    from mxprof.jobs.profile.plan import Options, plan
    from mxprof.jobs.profile.run import run

    watch = on_event or (printer(progress) if progress is not None else ignore)
    with model_source(model, inputs, shape) as src:
        try:
            planned = plan(Options(model=src.spec, **options))
        except (UsageError, TypeError) as exc:  # TypeError: an option Options does not have
            raise ValueError(str(exc)) from None
        result = run(planned, watch)
    return Report(result.to_dict())


def fusion(model: Any, inputs: Any = None, *, shape: Any = None, path: str = "gluon",
           static: bool = True, iterations: int = 50, warmup: int = 10, min_time: float = 1.0,
           processes: int = 3, trace_iterations: int = 10,
           switches: Sequence[str] | None = None, threads: int | str | None = None,
           timeout: float = 900.0, progress: Progress = _quiet,
           rounds: int | None = None) -> Report:
    """Which layers MKL-DNN fused into what, and what each fusion bought (`mxprof fusion`).

    `processes`: worker processes per timed configuration and per traced graph (interleaved;
    every interval covers the spread between them); `rounds` is its old name. `switches`:
    fusion switches (MXNET_DISABLE_MKLDNN_FUSE_*) to turn off one at a time; default all four.
    Raises ValueError for processes < 1, mxprof.errors.WorkerError when a worker fails.
    """
    from mxprof.jobs.fusion.run import FusionOptions, run_fusion

    processes = processes if rounds is None else rounds
    if processes < 1:
        raise ValueError("processes must be >= 1")
    with model_source(model, inputs, shape) as src:
        name = src.factory or src.spec.name
        opts = FusionOptions(model=name, shape=(1, *src.spec.input_shape), path=path,
                             static=static, warmup=warmup, iterations=iterations,
                             min_time_s=min_time, trace_iterations=trace_iterations,
                             processes=processes, threads=_threads(threads), timeout_s=timeout,
                             **({} if switches is None else {"switches": tuple(switches)}))
        data = run_fusion(opts, progress=progress)
    if src.factory:
        data["model"] = src.spec.name  # not the temporary factory file, gone by now
    return Report(data)


def accuracy(model: Any, inputs: Any = None, *, shape: Any = None, num_inputs: int = 32,
             batch_size: int = 16, configs: Sequence[str] = ("mkldnn", "mkldnn-fused"),
             int8: Sequence[str] = (), calib_size: int = 64, rtol: float = 1e-3,
             atol: float = 1e-4, timing_batch: int = 1, iterations: int = 20, warmup: int = 5,
             threads: int | str | None = None, timeout: float = 1800.0,
             progress: Progress = _quiet, processes: int = 3) -> Report:
    """MKL-DNN, fused and INT8 (`int8=("naive",)`...) against the reference kernels on random
    inputs (`mxprof accuracy`; labelled data sets are for the command line's --data).

    `processes`: timing worker processes per configuration (the latencies and speedups pool
    them); ignored when `iterations` is 0. Raises ValueError for processes < 1."""
    if processes < 1:
        raise ValueError("processes must be >= 1")
    from mxprof.jobs.accuracy.metrics import Tolerance
    from mxprof.jobs.accuracy.run import plan_configs, run_accuracy

    plans = plan_configs(list(configs), list(int8))
    with model_source(model, inputs, shape) as src:
        report = run_accuracy(
            src.spec.to_dict(), plans, inputs={"kind": "random", "count": num_inputs, "seed": 0},
            batch_size=batch_size, calib_count=calib_size,
            timing={"batch": timing_batch, "warmup": warmup, "iterations": iterations},
            tolerance=Tolerance(rtol=rtol, atol=atol), threads=_threads(threads), timeout=timeout,
            progress=progress, processes=processes if iterations else 1)
    return Report(report.to_dict())
