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
from mxprof.events import OnEvent

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


def _given(**values: Any) -> dict[str, Any]:
    """The keywords the caller set: the others keep the job's Options default (the CLI's)."""
    return {k: v for k, v in values.items() if v is not None}


def _on_event(on_event: OnEvent | None, progress: Progress | None) -> OnEvent:
    """The job's event sink: `on_event` (typed events), else `progress` (one plain line per
    event, e.g. `print`), else nothing."""
    from mxprof.events import ignore, printer
    return on_event or (printer(progress) if progress is not None else ignore)


def fusion(model: Any, inputs: Any = None, *, shape: Any = None, path: str | None = None,
           static: bool | None = None, iterations: int | None = None,
           warmup: int | None = None, min_time: float | None = None,
           processes: int | None = None, trace_iterations: int | None = None,
           switches: Sequence[str] | None = None, threads: int | str | None = None,
           cores: str | None = None, membind: str | None = None,
           wait_policy: str | None = None, timeout: float | None = None,
           progress: Progress | None = None, on_event: OnEvent | None = None,
           rounds: int | None = None, dry_run: bool = False) -> Report | Any:
    """Which layers MKL-DNN fused into what, and what each fusion bought (`mxprof fusion`).

    The same job as the command (mxprof.jobs.fusion: `plan`, then `run`), with the same
    defaults: every keyword left None keeps the command's (`mxprof.jobs.fusion.Options`).
    `processes`: worker processes per timed configuration and per traced graph (interleaved;
    every interval covers the spread between them); `rounds` is its old name. `switches`:
    fusion switches (MXNET_DISABLE_MKLDNN_FUSE_*) to turn off one at a time; default all four.
    `dry_run`: return the plan (the workers, as `--dry-run` prints them) and run nothing.
    Raises mxprof.errors.UsageError for bad options, WorkerError when an unfused, fused or
    trace worker fails.
    """
    from mxprof.jobs import fusion as job

    with model_source(model, inputs, shape) as src:
        name = src.factory or src.spec.name
        options = job.Options(model=name, shape=(1, *src.spec.input_shape),
                              spec=None if src.factory else src.spec.to_dict(), **_given(
            path=path, static=static, iterations=iterations, warmup=warmup, min_time=min_time,
            processes=processes if rounds is None else rounds,
            trace_iterations=trace_iterations,
            switches=None if switches is None else tuple(switches), threads=threads,
            cores=cores, membind=membind, wait_policy=wait_policy, timeout=timeout))
        plan = job.plan(options)
        if dry_run:
            return plan
        result = job.run(plan, _on_event(on_event, progress))
    if src.factory:  # not the temporary factory file, gone by now
        import msgspec
        result = msgspec.structs.replace(result, model=src.spec.name)
    return Report(result.to_dict())


def accuracy(model: Any, inputs: Any = None, *, shape: Any = None,
             num_inputs: int | None = None, batch_size: int | None = None,
             configs: Sequence[str] | None = None, int8: Sequence[str] | None = None,
             calib_size: int | None = None, rtol: float | None = None,
             atol: float | None = None, timing_batch: int | None = None,
             iterations: int | None = None, warmup: int | None = None,
             threads: int | str | None = None, cores: str | None = None,
             membind: str | None = None, wait_policy: str | None = None,
             timeout: float | None = None, processes: int | None = None,
             progress: Progress | None = None, on_event: OnEvent | None = None,
             dry_run: bool = False) -> Report | Any:
    """MKL-DNN, fused and INT8 (`int8=("naive",)`...) against the reference kernels on random
    inputs (`mxprof accuracy`; labelled data sets are for the command line's --data).

    The same job as the command (mxprof.jobs.accuracy: `plan`, then `run`), with the same
    defaults: every keyword left None keeps the command's (`mxprof.jobs.accuracy.Options`).
    `processes`: timing worker processes per configuration (the latencies and speedups pool
    them); one when `iterations` is 0. `dry_run`: return the plan and run nothing. Raises
    mxprof.errors.UsageError for bad options."""
    from mxprof.jobs import accuracy as job

    with model_source(model, inputs, shape) as src:
        options = job.Options(spec=src.spec.to_dict(), **_given(
            num_inputs=num_inputs, batch_size=batch_size,
            configs=None if configs is None else tuple(configs),
            int8=None if int8 is None else tuple(int8), calib_size=calib_size, rtol=rtol,
            atol=atol, timing_batch=timing_batch, iterations=iterations, warmup=warmup,
            threads=threads, cores=cores, membind=membind, wait_policy=wait_policy,
            timeout=timeout, processes=processes))
        plan = job.plan(options)
        if dry_run:
            return plan
        report = job.run(plan, _on_event(on_event, progress))
    return Report(report.to_dict())
