"""The one worker protocol of every command: a typed spec -> one subprocess -> a typed result.

Parent side (`run_worker(WorkerSpec) -> WorkerResult`):
1. `<name>.spec.json` is written (strict, atomic: mxprof.jsonio) and any
   `<name>.result.json` already in the work folder is DELETED before the worker starts, so a
   result left by an earlier run (`--workdir` reused, a retry, `compare --fresh`) can never
   stand in for a worker that crashes this time.
2. `python -m <module> SPEC RESULT [args]` runs under `mxprof.workers.process.run_process`:
   its own process group, a timeout, a parent-death signal, the group killed on any exit.
3. The result is read only when the worker exited with status 0 and wrote it. A worker that
   wrote its result and then crashed (a native abort in a thread still running, say) is recorded
   as "crashed" with the result kept in `data`, never as a clean success.

Statuses: ok | failed (a Python exception: exit status 1, the exception line in `error`) |
crashed (a signal, another exit status, or exit 0 without a result) | timeout | error (the
interpreter could not be started).

Worker side (`worker_main(run, argv)`), called by every `mxprof.jobs.*.worker` module: reads the
spec, applies the test fault if one is set, calls `run(spec) -> dict`, writes the result
atomically and exits 0 at once (os._exit: MXNet's teardown costs ~0.5 s a process and is no
part of the result); a Python exception prints its traceback and exits 1 without a result.

Several passes in one worker (`mxprof.jobs.profile.runner.group_specs`): `run` may write the
result file itself after each pass (`checkpoint(spec, data)`, atomically, to the path the spec
carries as `_result`), so a pass that crashes, hangs or raises leaves the results of the passes
before it. The parent then sees a failed or crashed worker *with* data and reports per pass:
what was written is kept, the rest carries the failure (`WorkerResult.data` holds it).

Test seam: `MXPROF_TEST_FAULT=FAULT[@PATTERN]` in a worker's environment (inherited from the
command under test). FAULT is one of `FAULTS`; PATTERN (fnmatch) selects workers by name (the
spec's `name`, e.g. `00-mkldnn-timing`, `unfused`, `mkldnn-off`); without it every worker
faults. Faults act before the job imports MXNet, so tests of the protocol stay fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mxprof import jsonio
from mxprof.errors import WorkerError
from mxprof.workers.process import ProcessOutcome, python_command, run_process

# Bumped when the spec/result exchange changes: part of every compare reuse key.
PROTOCOL_VERSION = 1
FAULT_VARIABLE = "MXPROF_TEST_FAULT"
NAME_VARIABLE = "MXPROF_WORKER_NAME"
# crash-before: SIGABRT before any result; crash-after: SIGABRT right after the result is
# written; hang: sleep until killed; raise: a Python exception; exit:N: exit status N, no result;
# spawn-hang: start processes that leave the worker's group (ESCAPEE_CODE), then hang.
FAULTS = ("crash-before", "crash-after", "hang", "raise", "exit", "spawn-hang")
# A child in its own session that forks a grandchild, which starts another session and is
# orphaned: neither a group kill nor a parent-death signal reaches either (mxprof.workers.guard).
ESCAPEE_CODE = ("import os, time  # mxprof-escapee\n"
                "if os.fork() == 0:\n    os.setsid()\n    if os.fork():\n        os._exit(0)\n"
                "time.sleep(600)\n")


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """One worker process. `spec` is the JSON the worker reads; `name` stems its files."""

    module: str  # run as `python -m module`
    name: str
    spec: Mapping[str, Any]
    workdir: Path
    env: Mapping[str, str]
    timeout: float
    python: str | None = None  # another interpreter (mxprof.host.builds), default this one
    args: tuple[str, ...] = ()  # after SPEC RESULT
    keep_stdout: bool = False  # stdout to <name>.stdout (verbose logs); else discarded
    tail_lines: int = 30

    @property
    def spec_path(self) -> Path:
        return self.workdir / f"{self.name}.spec.json"

    @property
    def result_path(self) -> Path:
        return self.workdir / f"{self.name}.result.json"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.name}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"


@dataclasses.dataclass(frozen=True)
class WorkerResult:
    """How one worker ended and what it wrote (`data`, None when it wrote nothing usable)."""

    spec: WorkerSpec
    status: str  # ok | failed | crashed | timeout | error
    outcome: ProcessOutcome
    data: dict[str, Any] | None
    error: str | None  # one line: what went wrong, None when ok

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def wall_s(self) -> float:
        return self.outcome.wall_s

    @property
    def stderr_tail(self) -> str:
        return self.outcome.stderr_tail

    def stdout_text(self) -> str:
        path = self.spec.stdout_path
        return path.read_text(errors="replace") if path.exists() else ""

    def raise_for_status(self) -> dict[str, Any]:
        """The result data, or WorkerError naming the worker and why (detail: stderr tail)."""
        if self.ok and self.data is not None:
            return self.data
        error = self.error or "wrote no result"
        sep = " " if error.startswith("worker ") else " worker: "
        raise WorkerError(f"{self.spec.name}{sep}{error}", detail=self.detail)

    @property
    def detail(self) -> str:
        """The last stderr lines when the one line cannot say it (a signal, a timeout):
        MXNet's own crash output. Empty for a Python exception, whose line says it."""
        return "" if self.status == "failed" else self.outcome.stderr_tail


def run_worker(ws: WorkerSpec) -> WorkerResult:
    """Run one worker to completion or timeout; never raises for the worker's failure."""
    ws.workdir.mkdir(parents=True, exist_ok=True)
    _remove(ws.result_path)  # a stale result must never stand in for this run's crash
    jsonio.write_json(ws.spec_path, {**ws.spec, "name": ws.name})
    env = {**ws.env, NAME_VARIABLE: ws.name}
    command = python_command(["-m", ws.module, str(ws.spec_path), str(ws.result_path),
                              *ws.args], ws.python)
    outcome = run_process(command, env=env, timeout=ws.timeout,
                          stdout=ws.stdout_path if ws.keep_stdout else None,
                          stderr=ws.stderr_path, tail_lines=ws.tail_lines)
    data, unreadable = _read_result(ws.result_path)
    status, error = _judge(outcome, data is not None, unreadable, ws.timeout)
    return WorkerResult(ws, status, outcome, data, error)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read_result(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.exists():
        return None, None
    try:
        data = jsonio.read_json(path)
    except (OSError, ValueError) as exc:
        return None, f"its result file is unreadable ({exc})"
    if not isinstance(data, dict):
        return None, "its result file holds no JSON object"
    return data, None


def _judge(outcome: ProcessOutcome, has_result: bool, unreadable: str | None,
           timeout: float) -> tuple[str, str | None]:
    if outcome.status == "error":
        return "error", outcome.description
    if outcome.status == "timeout":
        return "timeout", f"no result after the {timeout:g} s timeout: worker killed"
    if outcome.ok and has_result:
        return "ok", None
    if outcome.ok:
        return "crashed", f"worker exited normally but {unreadable or 'wrote no result'}"
    if has_result:
        return "crashed", f"worker {outcome.description} after writing its result"
    if outcome.returncode == 1:
        return "failed", "worker exited with status 1: " + (
            exception_line(outcome.stderr_tail) or "no error output")
    return "crashed", f"worker {outcome.description}: " + (
        exception_line(outcome.stderr_tail) or "no error output")


def exception_line(stderr: str) -> str | None:
    """The exception message at the end of a worker's stderr, without the traceback."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line):
            return line
    return lines[-1] if lines else None


# ---- worker side ---------------------------------------------------------------------------


def active_fault(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The fault `MXPROF_TEST_FAULT` asks of the worker called `name`, if any."""
    text = (os.environ if environ is None else environ).get(FAULT_VARIABLE, "")
    if not text:
        return None
    fault, _, pattern = text.partition("@")
    if pattern and not fnmatch.fnmatchcase(name, pattern):
        return None
    if fault.split(":")[0] not in FAULTS:
        raise ValueError(f"{FAULT_VARIABLE}={text!r}: faults are {', '.join(FAULTS)}")
    return fault


def checkpoint(spec: Mapping[str, Any], data: dict[str, Any]) -> None:
    """Write the results so far (a worker running several passes, after each pass)."""
    jsonio.write_json(Path(spec["_result"]), data)


def apply_fault(fault: str | None) -> None:
    """Act out `fault` (one of FAULTS, or None for nothing) here and now: a worker running
    several passes injects a pass's fault right before that pass."""
    _fault_before(fault)


def _fault_before(fault: str | None) -> None:
    if fault == "crash-before":
        os.abort()
    if fault == "spawn-hang":
        import subprocess
        subprocess.Popen([sys.executable, "-c", ESCAPEE_CODE], start_new_session=True)
    if fault in ("hang", "spawn-hang"):
        while True:
            time.sleep(60)
    if fault == "raise":
        raise RuntimeError(f"{FAULT_VARIABLE}: deliberate failure")
    if fault and fault.startswith("exit"):
        os._exit(int(fault.partition(":")[2] or 3))


def worker_main(run: Callable[[dict[str, Any]], dict[str, Any]],
                argv: Sequence[str] | None = None, *,
                options: Sequence[str] = ()) -> int:
    """The body of every worker module: `python -m MODULE SPEC RESULT [--option VALUE ...]`.

    `options` names the `--option VALUE` pairs the worker accepts; they reach `run` inside the
    spec under `_options` (e.g. profile's `--verbose-log`), and `_workdir` is the folder of the
    result file (scratch space for the worker).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    extra: dict[str, str] = {}
    for opt in options:
        if opt in args:
            i = args.index(opt)
            extra[opt.lstrip("-").replace("-", "_")] = args[i + 1]
            del args[i:i + 2]
    if len(args) != 2:
        print("usage: python -m WORKER SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec_path, result_path = Path(args[0]), Path(args[1])
    from mxprof.mx import lean_import
    lean_import.install()  # 0.58 s of MXNet's import is scikit-learn, which no worker uses
    spec = jsonio.read_json(spec_path)
    fault = active_fault(spec.get("name") or os.environ.get(NAME_VARIABLE, ""))
    try:
        _fault_before(fault)
        result = run({**spec, "_options": extra, "_workdir": str(result_path.parent),
                      "_result": str(result_path)})
    except Exception:  # noqa: BLE001 - every failure of a job becomes the worker's exit status
        traceback.print_exc()
        return 1
    jsonio.write_json(result_path, result)
    if fault == "crash-after":
        os.abort()
    # The result is on disk (atomically): leave without the interpreter's teardown. Unloading
    # MXNet (its engine threads, storage pool, OpenMP team) took 0.45-0.5 s per process here
    # (resnet18_v1, MXNet 1.9.1, 2 cores: 2.65 s with it, 1.95 s without), about 5 s of a default
    # 11-worker profile, and nothing a worker leaves to exit is part of its result: every file
    # it writes is closed before this point (jsonio writes and renames; fd captures restore).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
