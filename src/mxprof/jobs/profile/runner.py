"""Run each RunSpec in its own worker process, bounded by a timeout, one after another.

Workers run sequentially: on a machine with a few cores two workers would time each other.
The environment of each worker is built here (`worker_env`, the pass-specific part over
`mxprof.workers.process.worker_env`) so that MXNet, OpenMP and oneDNN see it when libmxnet loads;
`mxprof.workers.process.run_process` runs it. A worker that crashes (a signal, e.g. SIGSEGV/SIGABRT) or outlives the
timeout becomes a failed `RunResult` carrying its stderr tail; the others go on. `on_result` is
called after every worker, so callers can write partial results as they arrive.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from mxprof.jobs.profile.spec import RunResult, RunSpec, dump_json, load_json
from mxprof.workers.process import python_command, run_process, stderr_tail, thread_env
from mxprof.workers.process import worker_env as process_env

__all__ = ["layer_env", "run_one", "run_specs", "stderr_tail", "thread_env", "worker_env"]

# The operators pass needs un-merged operators (see DESIGN.md): bulk execution off.
_BULK_OFF = {"MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}
_VERBOSE_ON = {"DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1", "MKLDNN_VERBOSE": "1"}


def layer_env() -> dict[str, str]:
    """What per-layer hooks need before libmxnet loads (NaiveEngine, bulk execution off)."""
    from mxprof.mx.layers import LAYER_ENV
    return {str(k): str(v) for k, v in LAYER_ENV.items()}


def worker_env(spec: RunSpec, base: dict[str, str] | None = None,
               python: str | None = None) -> dict[str, str]:
    """The complete environment of the worker for `spec`."""
    extra: dict[str, str] = {}
    if spec.pass_name == "operators":
        extra.update(_BULK_OFF)
    if spec.pass_name in ("layers", "primitives"):
        extra.update(layer_env())
    if spec.pass_name == "primitives":
        extra.update(_VERBOSE_ON)
    return process_env(base=base, drop=("MXNET_EXEC_BULK_EXEC_INFERENCE",), mkldnn=spec.mkldnn,
                       threads=spec.threads, extra=extra, python=python)


def run_one(spec: RunSpec, workdir: Path, *, timeout: float, index: int = 0,
            python: str | None = None, extra_env: dict[str, str] | None = None) -> RunResult:
    """Run one worker to completion or timeout; never raises for worker failures.

    `python` and `extra_env`: another interpreter (a venv with another MXNet build, see
    mxprof.workers.builds) and the variables it needs (a PYTHONPATH that finds only mxprof).
    """
    stem = f"{index:02d}-{spec.config}-{spec.pass_name}"
    spec_path, result_path = workdir / f"{stem}.spec.json", workdir / f"{stem}.result.json"
    err_path, log_path = workdir / f"{stem}.stderr", workdir / f"{stem}.verbose.log"
    dump_json(spec.to_dict(), spec_path)
    env = worker_env(spec, python=python)
    env.update(extra_env or {})
    args = ["-m", "mxprof.jobs.profile.worker", str(spec_path), str(result_path)]
    if spec.pass_name == "primitives":
        args += ["--verbose-log", str(log_path)]
    outcome = run_process(python_command(args, python), env=env, timeout=timeout,
                          stdout=log_path if spec.pass_name == "primitives" else None,
                          stderr=err_path)
    if outcome.status == "timeout":
        return RunResult(spec=spec, status="timeout", wall_s=outcome.wall_s,
                         stderr_tail=outcome.stderr_tail,
                         error=f"no result after the {timeout:g} s timeout: worker killed")
    if result_path.exists():
        return RunResult.from_dict(load_json(result_path))
    return RunResult(spec=spec, status="failed", wall_s=outcome.wall_s,
                     returncode=outcome.returncode, stderr_tail=outcome.stderr_tail,
                     error=f"worker died without a result ({outcome.description})")


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
