"""The guard between mxprof and a worker: no process a worker starts outlives the command.

`run_process` (mxprof.workers.process) runs every worker as
`python -I -S guard.py -- COMMAND...`: this module, by path, importing as little of the standard
library as it can (bench/guard_overhead.py measures what it adds to a worker's start). The guard

- makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, Linux 3.4): a process the
  worker starts and orphans (a daemonised helper, a venv shim's interpreter, anything that left
  the worker's process group with setsid) is re-parented to the guard, not to init, so the
  guard can still find it;
- asks for SIGTERM when mxprof dies (prctl PR_SET_PDEATHSIG). The direct child of a SIGKILLed
  parent is the only process the kernel signals; a catchable signal lets the guard end the rest;
- forks and execs COMMAND, which itself gets SIGKILL when the guard dies;
- when the worker ends, or on SIGTERM/SIGHUP/SIGINT (mxprof's timeout, interrupt or death),
  SIGKILLs every descendant, found from the parent links in /proc/*/stat, and reaps them until
  it has no child left (as a subreaper, every orphan ends up its child, so "no child" means "no
  descendant");
- then ends the way the worker did: the same exit status, or the same signal (core dumps off,
  the worker's own dump is the one that matters), so `ProcessOutcome` describes the worker.

A COMMAND that cannot be executed gives exit status 127 and "mxprof guard: could not start"
on stderr (run_process checks the program exists first, so this is a race or a bad binary).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
EXEC_FAILED = 127  # the shell's "command not found"


class _Stop(Exception):
    """A stop signal, raised in the guard's main loop."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _prctl():
    return ctypes.CDLL(None, use_errno=True).prctl


def descendants(root: int) -> list[int]:
    """Every live process below `root`, from the parent field of /proc/PID/stat (pids only)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone since listdir
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            out.append(pid)
            todo.append(pid)
    return out


def end_all() -> None:
    """SIGKILL every descendant and reap until this process has no child left."""
    me = os.getpid()
    while True:
        for pid in descendants(me):
            try:  # noqa: SIM105 - importing contextlib slows every worker's start
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # ended since the scan
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _start(command: list[str], prctl) -> int:
    guard = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:  # the worker: back to default signals, dead with the guard
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != guard:
            os._exit(1)
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"mxprof guard: could not start {command[0]}: {exc}\n".encode())
    finally:
        os._exit(EXEC_FAILED)


def _wait_for(worker: int) -> int:
    """The worker's wait status; orphans re-parented here meanwhile are reaped as they end."""
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == worker:
            return status


def _end_like(status: int, prctl) -> None:
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        os._exit(code)
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the worker's core file, not the guard's
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    os._exit(128 - code)  # a signal whose default action is not to terminate


def main(argv: list[str]) -> None:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        os.write(2, b"usage: python guard.py -- COMMAND [ARG...]\n")
        os._exit(2)
    prctl = _prctl()
    parent = os.getppid()
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # mxprof died before the signal was armed
            raise _Stop(signal.SIGTERM)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        status = _wait_for(_start(argv, prctl))
    except _Stop as stop:
        status = stop.args[0]  # a wait status "killed by" that signal
    for sig in STOP_SIGNALS:  # nothing may interrupt the clean-up
        signal.signal(sig, signal.SIG_IGN)
    end_all()
    _end_like(status, prctl)


if __name__ == "__main__":
    main(sys.argv[1:])
