"""Run one worker subprocess, bounded by a timeout, and build the environment it starts with.

Every mxprof command measures in fresh processes (the MXNet, OpenMP and oneDNN settings are
read once, when libmxnet loads), so this is the one place that knows how:
- `run_process` starts the command in its own session, waits up to `timeout`, and kills the
  whole process group on a timeout, on an interrupt and after a crash (a worker's threads and
  children go with it). It never raises for a failing command: the `ProcessOutcome` says what
  happened ("killed by signal SIGSEGV", "timed out after 60 s") with the tail of its stderr.
- `worker_env` builds the environment: inherited, minus the variables that must not leak into a
  measurement, plus the MKL-DNN switch, the OpenMP placement for a thread count
  (mxprof.cpu.openmp) and a PYTHONPATH that finds this mxprof.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Verbose switches flood a worker's output and slow every primitive; MXNET_MKLDNN_ENABLED is
# what a configuration is. Callers add their own (e.g. MXNET_SUBGRAPH_BACKEND).
ALWAYS_DROPPED = ("DNNL_VERBOSE", "DNNL_VERBOSE_TIMESTAMP", "MKLDNN_VERBOSE",
                  "MXNET_MKLDNN_ENABLED")
# Lines MXNet repeats for every operator with MKL-DNN off: noise in a stderr tail.
_NOISE = ("Storage type fallback", "storage types", "params = ", "context.dev_mask",
          "The operator with default storage", "operator = ", "MXNET_MKLDNN_ENABLED flag is off")

# Process groups started here and still running: `kill_running` ends them when the parent is
# interrupted while several run at once from threads (only the main thread sees the interrupt).
_running: set[int] = set()
_running_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ProcessOutcome:
    """How a subprocess ended. status: ok | crashed (non-zero exit or a signal) | timeout |
    error (it could not be started); returncode is None unless it exited by itself."""

    status: str
    returncode: int | None
    description: str
    stderr_tail: str
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProcessOutcome:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


def stderr_tail(text: str, lines: int = 30) -> str:
    """The last `lines` non-blank lines, without MXNet's per-operator fallback chatter."""
    kept = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    return "\n".join(kept[-lines:])


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return "exited normally" if code == 0 else f"exited with status {code}"


def python_command(args: Sequence[str], python: str | None = None) -> list[str]:
    """`python -m mod ...` / `python -c code`: this interpreter unless another is named."""
    return [python or sys.executable, *args]


def run_process(command: Sequence[str], *, env: Mapping[str, str] | None, timeout: float,
                cwd: str | os.PathLike | None = None, stdout: str | os.PathLike | None = None,
                stderr: str | os.PathLike | None = None, tail_lines: int = 30
                ) -> ProcessOutcome:
    """Run `command` to completion or `timeout` seconds; never raises for its failure.

    `stdout`/`stderr`: files to keep the streams in (stdout is discarded and stderr kept in a
    temporary file otherwise). Interrupts (KeyboardInterrupt) kill the group and propagate.
    """
    started = time.monotonic()
    with _open_out(stdout) as out, _open_err(stderr) as err:
        try:
            proc = subprocess.Popen(list(command), stdout=out, stderr=err, env=env, cwd=cwd,
                                    start_new_session=True)
        except OSError as exc:
            return ProcessOutcome("error", None, f"could not start {command[0]}: {exc}", "",
                                  time.monotonic() - started)
        with _running_lock:
            _running.add(proc.pid)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            # Also after an exit: a crashed worker's children would go on running.
            _kill_group(proc.pid)
            proc.wait()
            with _running_lock:
                _running.discard(proc.pid)
        wall = time.monotonic() - started
        err.seek(0)
        tail = stderr_tail(err.read().decode(errors="replace"), tail_lines)
    if code is None:
        return ProcessOutcome("timeout", None, f"timed out after {timeout:g} s", tail, wall)
    return ProcessOutcome("ok" if code == 0 else "crashed", code, describe_exit(code), tail, wall)


def _open_out(path):
    return open(path, "wb") if path is not None else open(os.devnull, "wb")


def _open_err(path):
    return open(path, "w+b") if path is not None else tempfile.TemporaryFile()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signal.SIGKILL)


def kill_running() -> None:
    """SIGKILL every process group `run_process` started that is still running."""
    with _running_lock:
        pgids = list(_running)
    for pgid in pgids:
        _kill_group(pgid)


def thread_env(threads: int) -> dict[str, str]:
    """OpenMP variables for `threads` threads, chosen per runtime by mxprof.cpu.openmp."""
    from mxprof.cpu.openmp import detect_openmp_runtime, openmp_env
    return openmp_env(threads, intel_openmp=detect_openmp_runtime() != "gnu")


def package_parent() -> str:
    """The directory holding this mxprof package (src/ of a checkout, or site-packages)."""
    import mxprof

    return str(Path(mxprof.__file__).resolve().parents[1])


def worker_env(*, base: Mapping[str, str] | None = None, drop: Iterable[str] = (),
               mkldnn: bool | None = None, threads: int | None = None,
               extra: Mapping[str, str] | None = None, python: str | None = None
               ) -> dict[str, str]:
    """A worker's whole environment.

    `base` (default os.environ) minus ALWAYS_DROPPED and `drop`; MXNET_MKLDNN_ENABLED from
    `mkldnn` (None: MXNet's default); OpenMP placement for `threads`; then `extra`. The worker
    must import this very mxprof: under this interpreter its parent directory goes first on
    PYTHONPATH; under another one (`python`, a venv with another MXNet) only a directory
    linking the package is used (see mxprof.workers.builds: the parent may be site-packages, whose
    MXNet and numpy the other venv must not see).
    """
    dropped = {*ALWAYS_DROPPED, *drop}
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in dropped}
    env["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"  # one line per operator with MKL-DNN off
    if mkldnn is not None:
        env["MXNET_MKLDNN_ENABLED"] = "1" if mkldnn else "0"
    if threads:
        env.update(thread_env(threads))
    env.update(extra or {})
    # Not realpath: every venv's python links to the same binary.
    if python is not None and os.path.abspath(python) != os.path.abspath(sys.executable):
        from mxprof.workers.builds import package_path_dir

        env.pop("PYTHONHOME", None)
        env["PYTHONPATH"] = str(package_path_dir())
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent(), env.get("PYTHONPATH"))
                                            if p)
    return env
