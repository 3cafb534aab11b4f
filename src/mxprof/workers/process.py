"""Run one worker subprocess, bounded by a timeout, and build the environment it starts with.

Every mxprof command measures in fresh processes (the MXNet, OpenMP and oneDNN settings are
read once, when libmxnet loads), so this is the one place that knows how:
- `run_process` starts the command in its own session, waits up to `timeout`, and kills the
  whole process group on a timeout, on an interrupt and after a crash (a worker's threads and
  children go with it). It never raises for a failing command: the `ProcessOutcome` says what
  happened ("killed by signal SIGSEGV", "timed out after 60 s") with the tail of its stderr.
  Every child gets a parent-death signal (prctl PR_SET_PDEATHSIG, SIGKILL) between fork and
  exec, so a parent killed with SIGKILL (a CI job cancelled, an ssh session dropped) leaves no
  worker burning the CPUs of the next measurement; SIGTERM/SIGHUP/SIGINT are turned into an
  exception by `mxprof.cli`, which unwinds through `run_process` and kills the group.
  The child is the guard (mxprof.workers.guard), a subreaper that runs the command: the
  parent-death signal reaches only a direct child, and the guard passes it on to every
  process the worker started, including those that left its process group.
- `worker_env` builds the environment: inherited, minus the variables that must not leak into a
  measurement, plus the MKL-DNN switch, the OpenMP placement for a thread count chosen for the
  OpenMP runtime of the interpreter that runs the worker (mxprof.cpu.openmp; an LD_PRELOADed
  runtime counts) and a PYTHONPATH that finds this mxprof.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mxprof.schema import Record
from mxprof.workers.pythonpath import package_parent, package_path_dir

# Verbose switches flood a worker's output and slow every primitive; MXNET_MKLDNN_ENABLED is
# what a configuration is. Callers add their own (e.g. MXNET_SUBGRAPH_BACKEND).
ALWAYS_DROPPED = ("DNNL_VERBOSE", "DNNL_VERBOSE_TIMESTAMP", "MKLDNN_VERBOSE",
                  "MXNET_MKLDNN_ENABLED")
# Lines MXNet repeats for every operator with MKL-DNN off: noise in a stderr tail.
_NOISE = ("Storage type fallback", "storage types", "params = ", "context.dev_mask",
          "The operator with default storage", "operator = ", "MXNET_MKLDNN_ENABLED flag is off")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
try:
    # Resolved here, in the parent: the child between fork and exec only calls it.
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: no parent-death signal, the handlers still work
    _prctl = None

# The guard (mxprof.workers.guard) runs by path under this interpreter, isolated and without
# site-packages: it needs only the standard library and must start fast.
GUARD = str(Path(__file__).with_name("guard.py"))
# Seconds a guard gets to end its worker's processes after SIGTERM before its group is killed.
GUARD_GRACE_S = 10.0

# Process groups started here and still running: `kill_running` ends them when the parent is
# interrupted while several run at once from threads (only the main thread sees the interrupt).
_running: set[int] = set()
_running_lock = threading.Lock()


class ProcessOutcome(Record, frozen=True):
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
    """`python -m mod ...`: this interpreter unless another is named."""
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
    missing = _exec_error(command, env)
    if missing:
        return ProcessOutcome("error", None, f"could not start {command[0]}: {missing}", "",
                              time.monotonic() - started)
    with _open_out(stdout) as out, _open_err(stderr) as err:
        # An interrupt (SIGTERM turned KeyboardInterrupt) between fork and the `try` below
        # would leave the new worker running: interrupts wait until it is registered.
        mask = _hold_interrupts()
        try:
            proc = subprocess.Popen(guarded(command), stdout=out, stderr=err, env=env, cwd=cwd,
                                    start_new_session=True,
                                    preexec_fn=_die_with_parent(os.getpid(), mask))
        except OSError as exc:
            _release_interrupts(mask)
            return ProcessOutcome("error", None, f"could not start {command[0]}: {exc}", "",
                                  time.monotonic() - started)
        with _running_lock:
            _running.add(proc.pid)
        try:
            _release_interrupts(mask)  # one that arrived meanwhile is raised here
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            # Also after an exit: a crashed worker's children would go on running.
            _end_guarded(proc)
            with _running_lock:
                _running.discard(proc.pid)
        wall = time.monotonic() - started
        err.seek(0)
        tail = stderr_tail(err.read().decode(errors="replace"), tail_lines)
    if code is None:
        return ProcessOutcome("timeout", None, f"timed out after {timeout:g} s", tail, wall)
    return ProcessOutcome("ok" if code == 0 else "crashed", code, describe_exit(code), tail, wall)


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _hold_interrupts():
    """Block the interrupt signals in the main thread (where Python raises them) while a
    worker starts; the mask to restore, or None (another thread: signals are not raised
    there)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)


def _release_interrupts(mask) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _die_with_parent(parent: int, mask=None):
    """The child's pre-exec step: the parent's signal mask (`mask`, from `_hold_interrupts`;
    a blocked mask would be inherited across exec), SIGKILL when the parent dies, and exit at
    once if it already died between fork and prctl (the child would then be an orphan nothing
    signals)."""
    def arm() -> None:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return arm


def guarded(command: Sequence[str]) -> list[str]:
    """`command` run under the guard (mxprof.workers.guard), where Linux's prctl is there."""
    if _prctl is None:
        return list(command)
    return [sys.executable, "-I", "-S", GUARD, "--", *command]


def _exec_error(command: Sequence[str], env: Mapping[str, str] | None) -> OSError | None:
    """The error exec would raise for `command` (the guard could only exit 127), or None."""
    path = None if env is None else env.get("PATH", os.defpath)
    if shutil.which(command[0], path=path):
        return None
    if os.sep in command[0] and os.path.exists(command[0]):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), command[0])
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command[0])


def _end_guarded(proc: subprocess.Popen) -> None:
    """Stop a guarded command: SIGTERM lets the guard SIGKILL its worker and every process
    the worker started (also those that left its group); the group's SIGKILL is the backstop."""
    if proc.poll() is None and _prctl is not None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=GUARD_GRACE_S)
    _kill_group(proc.pid)
    proc.wait()


def _open_out(path):
    return open(path, "wb") if path is not None else open(os.devnull, "wb")


def _open_err(path):
    return open(path, "w+b") if path is not None else tempfile.TemporaryFile()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def managed_popen(command: Sequence[str], **kwargs):
    """`subprocess.Popen` for a child whose output the caller streams (`verbose run`): its own
    process group, the parent-death signal, and the whole group killed when the block is left
    early (an interrupt, an exception) or by `kill_running`."""
    missing = _exec_error(command, kwargs.get("env"))
    if missing:
        raise missing
    proc = subprocess.Popen(guarded(command), start_new_session=True,
                            preexec_fn=_die_with_parent(os.getpid()), **kwargs)
    with _running_lock:
        _running.add(proc.pid)
    try:
        with proc:
            try:
                yield proc
            finally:
                if proc.poll() is None:
                    _end_guarded(proc)
    finally:
        with _running_lock:
            _running.discard(proc.pid)


def kill_running() -> None:
    """End every process group `run_process` started that is still running: SIGTERM to its
    guard, which ends all the worker's processes (SIGKILL to the group without a guard)."""
    with _running_lock:
        pgids = list(_running)
    for pgid in pgids:
        if _prctl is None:
            _kill_group(pgid)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pgid, signal.SIGTERM)


_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def thread_env(threads: int | None, runtime: str | None = None,
               wait_policy: str = "auto") -> dict[str, str]:
    """OpenMP variables for `threads` threads, for `runtime` ('intel' | 'gnu' | 'unknown';
    default: the runtime this interpreter's MXNet loads), by mxprof.cpu.openmp. `wait_policy`:
    "active" or "passive" as resolved by the parent (`mxprof.cpu.openmp.resolve_wait_policy`),
    or "auto" to resolve it here. With `threads` None (MXNet picks the count) only the wait
    policy's variables are set."""
    from mxprof.cpu.openmp import detect_openmp_runtime, openmp_env
    runtime = runtime or detect_openmp_runtime()
    env = openmp_env(threads or 2, intel_openmp=runtime != "gnu", wait_policy=wait_policy)
    if threads:
        return env
    # Two threads only to get the policy's variables: a team of one never waits.
    return {k: v for k, v in env.items() if k in _WAIT_VARIABLES}


_INTEL_RUNTIMES = ("libiomp5", "libomp.so", "libomp5")
_GNU_RUNTIMES = ("libgomp",)


def preloaded_runtime(env: Mapping[str, str]) -> str | None:
    """The OpenMP runtime an LD_PRELOAD in `env` forces on every library that loads after it
    (libiomp5 also exports libgomp's GOMP_* entry points, so it serves a libgomp build too)."""
    names = [os.path.basename(p) for p in env.get("LD_PRELOAD", "").replace(":", " ").split()]
    if any(n.startswith(_INTEL_RUNTIMES) for n in names):
        return "intel"
    if any(n.startswith(_GNU_RUNTIMES) for n in names):
        return "gnu"
    return None


def openmp_runtime_for(python: str | None, env: Mapping[str, str]) -> str:
    """'intel' | 'gnu' | 'unknown': the OpenMP runtime a worker run by `python` (None: this
    interpreter) with `env` will use. An LD_PRELOADed runtime wins; else the runtime the MXNet
    of that interpreter links, found without importing MXNet (see mxprof.cpu.openmp)."""
    forced = preloaded_runtime(env)
    if forced:
        return forced
    from mxprof.cpu.openmp import detect_openmp_runtime
    if python is None:
        return detect_openmp_runtime()
    probe_env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # Only mxprof's pure-Python OpenMP detector on the path: the other venv's own MXNet is found.
    probe_env["PYTHONPATH"] = str(package_path_dir())
    try:
        proc = subprocess.run([python, "-m", "mxprof.cpu.openmp_probe"], capture_output=True,
                              text=True, env=probe_env, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    answer = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
    return answer[0] if answer and answer[0] in ("intel", "gnu", "unknown") else "unknown"


def worker_env(*, base: Mapping[str, str] | None = None, drop: Iterable[str] = (),
               mkldnn: bool | None = None, threads: int | None = None,
               extra: Mapping[str, str] | None = None, python: str | None = None,
               foreign: bool = False, wait_policy: str | None = None) -> dict[str, str]:
    """A worker's whole environment.

    `base` (default os.environ) minus ALWAYS_DROPPED and `drop`; MXNET_MKLDNN_ENABLED from
    `mkldnn` (None: MXNet's default); then `extra`; then OpenMP placement for `threads`, chosen
    for the OpenMP runtime of the interpreter that runs the worker (`python`, default this one)
    under this very environment (an LD_PRELOAD in it counts), and the OpenMP wait policy
    `wait_policy` ("active" | "passive", resolved by the parent; None: only with `threads`,
    resolved here as "auto"). The worker must import this very
    mxprof: for this interpreter (`foreign=False`) its parent directory goes first on
    PYTHONPATH; for another one (`foreign=True`: `python` is a venv with another MXNet) only a
    directory linking the package is used (see mxprof.host.builds: the parent may be
    site-packages, whose MXNet and numpy the other venv must not see; mxprof.workers.pythonpath).
    """
    if foreign and python is None:
        raise ValueError("worker_env(foreign=True) needs the other interpreter's path (python=)")
    dropped = {*ALWAYS_DROPPED, *drop}
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in dropped}
    env["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"  # one line per operator with MKL-DNN off
    if not foreign and sys.version_info < (3, 12):
        # MXNet's import reads distutils; setuptools' shim would swap in its own copy, which
        # imports pkg_resources (0.13 s per worker): setuptools' documented switch keeps the
        # standard library's (Python < 3.12 has one). mxprof.mx.lean_import has the figures.
        env.setdefault("SETUPTOOLS_USE_DISTUTILS", "stdlib")
    if mkldnn is not None:
        env["MXNET_MKLDNN_ENABLED"] = "1" if mkldnn else "0"
    env.update(extra or {})
    if threads or wait_policy:
        runtime = openmp_runtime_for(python if foreign else None, env)
        env.update(thread_env(threads, runtime, wait_policy or "auto"))
    if foreign:
        env.pop("PYTHONHOME", None)
        env["PYTHONPATH"] = str(package_path_dir())
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent(), env.get("PYTHONPATH"))
                                            if p)
    return env
