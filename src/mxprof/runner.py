"""Run each RunSpec in its own worker process, bounded by a timeout, one after another.

Workers run sequentially: on a machine with a few cores two workers would time each other.
The environment of each worker is built here (`worker_env`) so that MXNet, OpenMP and oneDNN see
it when libmxnet loads. A worker that crashes (a signal, e.g. SIGSEGV/SIGABRT) or outlives the
timeout becomes a failed `RunResult` carrying its stderr tail; the others go on. `on_result` is
called after every worker, so callers can write partial results as they arrive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mxprof
from mxprof.runspec import RunResult, RunSpec, dump_json, load_json

# Per-layer collection needs un-merged operators (see DESIGN.md); the layers helper owns the full
# list in mxprof.layers.LAYER_ENV, this is the documented minimum when it is absent.
_BULK_OFF = {"MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}
_VERBOSE_ON = {"DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1", "MKLDNN_VERBOSE": "1"}
_DROPPED = ("DNNL_VERBOSE", "DNNL_VERBOSE_TIMESTAMP", "MKLDNN_VERBOSE",
            "MXNET_EXEC_BULK_EXEC_INFERENCE", "MXNET_MKLDNN_ENABLED")
# Lines MXNet repeats for every operator with MKL-DNN off: noise in a stderr tail.
_NOISE = ("Storage type fallback", "storage types", "params = ", "context.dev_mask",
          "The operator with default storage", "operator = ", "MXNET_MKLDNN_ENABLED flag is off")


def layer_env() -> dict[str, str]:
    try:
        from mxprof.layers import LAYER_ENV
    except ImportError:
        return dict(_BULK_OFF)
    return {str(k): str(v) for k, v in LAYER_ENV.items()}


def thread_env(threads: int) -> tuple[dict[str, str], str | None]:
    """OpenMP variables for `threads` from the cpu helper; plain OMP_NUM_THREADS without it."""
    try:
        from mxprof.openmp import detect_openmp_runtime, openmp_env
    except ImportError:
        return {"OMP_NUM_THREADS": str(threads)}, (
            "OpenMP placement: mxprof.openmp (cpu helper) not available; only OMP_NUM_THREADS set")
    intel = detect_openmp_runtime() != "gnu"
    return openmp_env(threads, intel_openmp=intel), None


def worker_env(spec: RunSpec, base: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The complete environment of the worker for `spec`, and notes about what could not be set."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _DROPPED}
    notes: list[str] = []
    env["MXNET_MKLDNN_ENABLED"] = "1" if spec.mkldnn else "0"
    env["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"
    if spec.threads:
        extra, note = thread_env(spec.threads)
        env.update(extra)
        if note:
            notes.append(note)
    if spec.pass_name == "operators":
        env.update(_BULK_OFF)
    if spec.pass_name in ("layers", "primitives"):
        env.update(layer_env())
    if spec.pass_name == "primitives":
        env.update(_VERBOSE_ON)
    src = str(Path(mxprof.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env, notes


def stderr_tail(text: str, lines: int = 30) -> str:
    kept = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    return "\n".join(kept[-lines:])


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def run_one(spec: RunSpec, workdir: Path, *, timeout: float, index: int = 0,
            python: str | None = None, extra_env: dict[str, str] | None = None) -> RunResult:
    """Run one worker to completion or timeout; never raises for worker failures.

    `python` and `extra_env`: another interpreter (a venv with another MXNet build, see
    mxprof.builds) and the variables it needs (a PYTHONPATH that finds only mxprof).
    """
    stem = f"{index:02d}-{spec.config}-{spec.pass_name}"
    spec_path, result_path = workdir / f"{stem}.spec.json", workdir / f"{stem}.result.json"
    err_path, log_path = workdir / f"{stem}.stderr", workdir / f"{stem}.verbose.log"
    dump_json(spec.to_dict(), spec_path)
    env, notes = worker_env(spec)
    env.update(extra_env or {})
    cmd = [python or sys.executable, "-m", "mxprof.worker", str(spec_path), str(result_path)]
    if spec.pass_name == "primitives":
        cmd += ["--verbose-log", str(log_path)]
    started = time.monotonic()
    with open(err_path, "w") as err, open(
            log_path if spec.pass_name == "primitives" else os.devnull, "w") as out:
        # Own session: a timeout kills the worker and every thread/child it started.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    wall = time.monotonic() - started
    tail = stderr_tail(err_path.read_text(errors="replace"))
    if code is None:
        return RunResult(spec=spec, status="timeout", wall_s=wall, stderr_tail=tail,
                         error=f"no result after the {timeout:g} s timeout: worker killed")
    if result_path.exists():
        result = RunResult.from_dict(load_json(result_path))
        if notes:
            result = RunResult.from_dict({**result.to_dict(),
                                          "notes": [*result.notes, *notes]})
        return result
    return RunResult(spec=spec, status="failed", wall_s=wall, returncode=code, stderr_tail=tail,
                     error=f"worker died without a result ({_describe_exit(code)})")


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
