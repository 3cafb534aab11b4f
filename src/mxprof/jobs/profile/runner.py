"""Run each RunSpec in its own worker process, bounded by a timeout, one after another.

Workers run sequentially: on a machine with a few cores two workers would time each other.
The environment of each worker is built here (`worker_env`, the pass-specific part over
`mxprof.workers.process.worker_env`) so that MXNet, OpenMP and oneDNN see it when libmxnet loads;
the one worker protocol (`mxprof.workers.protocol`) runs it. A worker that crashes (a signal,
e.g. SIGSEGV/SIGABRT), outlives the timeout, or crashes after writing its result becomes a
failed `RunResult` carrying its stderr tail; the others go on. `on_result` is called after every
worker, so callers can write partial results as they arrive.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from mxprof.jobs.profile.spec import RunResult, RunSpec
from mxprof.workers.process import stderr_tail, thread_env
from mxprof.workers.process import worker_env as process_env
from mxprof.workers.protocol import FAULT_VARIABLE, WorkerSpec, run_worker

__all__ = ["layer_env", "run_one", "run_specs", "stderr_tail", "thread_env", "worker_env"]

# The operators pass needs un-merged operators (see DESIGN.md): bulk execution off.
_BULK_OFF = {"MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}
_VERBOSE_ON = {"DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1", "MKLDNN_VERBOSE": "1"}
# RunSpec.test_hook (profile --test-hook) as a fault of the worker protocol.
_HOOK_FAULTS = {"abort": "crash-before", "hang": "hang", "raise": "raise"}


def layer_env() -> dict[str, str]:
    """What per-layer hooks need before libmxnet loads (NaiveEngine, bulk execution off)."""
    from mxprof.mx.layers import LAYER_ENV
    return {str(k): str(v) for k, v in LAYER_ENV.items()}


def worker_env(spec: RunSpec, base: dict[str, str] | None = None,
               python: str | None = None) -> dict[str, str]:
    """The complete environment of the worker for `spec`; `python`: another interpreter
    (a venv with another MXNet build, see mxprof.workers.builds)."""
    extra: dict[str, str] = {}
    if spec.pass_name == "operators":
        extra.update(_BULK_OFF)
    if spec.pass_name in ("layers", "primitives"):
        extra.update(layer_env())
    if spec.pass_name == "primitives":
        extra.update(_VERBOSE_ON)
    if spec.test_hook:
        extra[FAULT_VARIABLE] = _HOOK_FAULTS[spec.test_hook]
    return process_env(base=base, drop=("MXNET_EXEC_BULK_EXEC_INFERENCE",), mkldnn=spec.mkldnn,
                       threads=spec.threads, extra=extra, python=python,
                       foreign=python is not None, wait_policy=spec.wait_policy)


def run_one(spec: RunSpec, workdir: Path, *, timeout: float, index: int = 0,
            python: str | None = None) -> RunResult:
    """Run one worker to completion or timeout; never raises for worker failures."""
    name = f"{index:02d}-{spec.config}-{spec.pass_name}"
    primitives = spec.pass_name == "primitives"
    ws = WorkerSpec(module="mxprof.jobs.profile.worker", name=name, spec=spec.to_dict(),
                    workdir=Path(workdir), env=worker_env(spec, python=python), timeout=timeout,
                    python=python, keep_stdout=primitives,
                    args=("--verbose-log", str(Path(workdir) / f"{name}.stdout"))
                    if primitives else ())
    res = run_worker(ws)
    if res.ok:
        return RunResult.from_dict(res.data)
    status = "timeout" if res.status == "timeout" else "failed"
    return RunResult(spec=spec, status=status, wall_s=res.wall_s,
                     returncode=res.outcome.returncode, stderr_tail=res.stderr_tail,
                     error=res.error)


def run_specs(specs: Sequence[RunSpec], *, timeout: float, workdir: str | os.PathLike | None = None,
              on_result: Callable[[RunResult], None] | None = None,
              progress: bool | None = None) -> list[RunResult]:
    """Run every spec in turn; results in spec order. A progress bar goes to stderr on a TTY."""
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="mxprof-")
        workdir = own_tmp.name
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stderr.isatty()
    results: list[RunResult] = []
    try:
        if progress:
            _run_with_bar(specs, workdir, timeout, results, on_result)
        else:
            for i, spec in enumerate(specs):
                results.append(run_one(spec, workdir, timeout=timeout, index=i))
                if on_result:
                    on_result(results[-1])
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
    return results


def _run_with_bar(specs, workdir, timeout, results, on_result) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} workers"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("profiling", total=len(specs))
        for i, spec in enumerate(specs):
            bar.update(task, description=spec.label)
            result = run_one(spec, workdir, timeout=timeout, index=i)
            results.append(result)
            status = "[green]ok" if result.ok else f"[red]{result.status}"
            console.print(f"  {spec.label}: {status}[/] ({result.wall_s:.1f} s)")
            if on_result:
                on_result(result)
            bar.advance(task)
