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


def profile(model: Any, inputs: Any = None, *, shape: Any = None, batch_size: int = 8,
            min_time: float = 1.0, iterations: int | None = None, warmup: int = 2,
            passes: Sequence[str] = ("timing", "operators", "layers", "primitives"),
            reference: bool = True, checks: Sequence[str] = ("fusion", "equivalence"),
            threads: int | str | None = None, cores: str | None = None, membind: str | None = None,
            timeout: float = 600.0, progress: Progress = _quiet) -> Report:
    """Where the time of one model goes, MKL-DNN on vs off (`mxprof profile`).

    Latency at batch 1 and throughput at `batch_size` from timed calls filling `min_time`
    seconds (or `iterations` calls); `passes` picks the breakdowns; `checks` the companion
    fusion summary and output-equivalence check ("fusion" is skipped for a HybridBlock: it
    needs a zoo name). `threads`: OpenMP threads per worker, "runtime" for MXNet's own choice,
    default one per physical core. Raises ValueError for bad options or an unknown model.
    """
    from mxprof.jobs.profile.plan import run_profile
    from mxprof.jobs.profile.spec import Protocol

    if batch_size < 1 or min_time <= 0 or (iterations is not None and iterations < 1):
        raise ValueError("batch_size and iterations must be >= 1, min_time > 0")
    with model_source(model, inputs, shape) as src:
        data = run_profile(src.spec, batch_size=batch_size,
                           protocol=Protocol(warmup=warmup, iterations=iterations,
                                             min_time=min_time),
                           passes=passes, reference=reference, checks=checks, threads=threads,
                           cpus=cores, timeout=timeout, membind=membind, progress=progress)
    return Report(data)


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
