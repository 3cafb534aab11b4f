"""What `mxprof worker SCHEDULER --class NAME [--cores LIST]` starts on a benchmark host.

One Dask worker process (under Dask's nanny, which restarts it if it dies) with one thread and
the resources `host=1,NAME=1`: a cell asks for both, so Dask never runs two benchmarks on one
host and runs a cell only on its class. It is the plain line

    dask worker tcp://SCHEDULER:8786 --nthreads 1 --nworkers 1 \\
        --resources "host=1,NAME=1" --no-dashboard --name NAME@HOST

plus what keeps the Dask worker's own threads (event loop, the profiler sampling every 10 ms,
the memory monitor) off the benchmark's CPUs:
- with `--cores LIST` and CPUs left over: the worker process is pinned to the CPUs outside LIST
  (sched_setaffinity before it starts; its threads and the nanny inherit it) and cells run on LIST;
- otherwise (no --cores, or LIST is every CPU): cells run on every CPU and the worker's
  profiler is turned off (DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False).
Which of the two was done is in MXPROF_WORKER_HYGIENE and in every record the host writes.

`run_dask_worker` runs that line as a child (not an exec: mxprof stays to end it cleanly). The
child has its own process group, so a terminal's Ctrl-C reaches mxprof alone, which passes the
signal on once (Dask's own graceful close) and waits for it; the child gets SIGTERM if mxprof is
killed (parent-death signal). mxprof relays the child's stderr, and after an interrupt only
Dask's log lines: a start cut short by Ctrl-C otherwise ends in some 80 lines of Dask
traceback. The command then ends as every interrupted mxprof command does (exit 130).

Where it listens: with a scheduler on the loopback the worker binds 127.0.0.1 only; otherwise
Dask binds the interface that reaches the scheduler (never 0.0.0.0 by default), and the
worker's HTTP server stays off (--no-dashboard). TLS: `--tls-ca-file/--tls-cert/--tls-key`
pass to Dask's own options.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence

from mxprof.cluster.remote import BENCH_CPUS_VARIABLE, HYGIENE_VARIABLE, RESERVED_RESOURCES

CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
LOOPBACKS = ("127.0.0.1", "localhost", "::1")


@dataclasses.dataclass(frozen=True)
class WorkerLaunch:
    """argv to run, variables to add, the CPUs to pin the worker process to (None: leave it),
    and what keeps it off the benchmark CPUs."""

    argv: list[str]
    env: dict[str, str]
    worker_cpus: list[int] | None
    hygiene: str

    def shell_line(self) -> str:
        import shlex
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        pin = (f"taskset -c {_fmt(self.worker_cpus)} " if self.worker_cpus else "")
        return f"{env} {pin}{shlex.join(['dask', 'worker', *self.argv[3:]])}".strip()


def _fmt(cpus: Sequence[int]) -> str:
    from mxprof.cpu.cpulist import format_cpu_list
    return format_cpu_list(cpus)


def scheduler_host(address: str) -> str:
    return address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")


def check_scheduler(address: str) -> str:
    """The address with its scheme; ValueError for anything but tcp:// and tls://."""
    if "://" not in address:
        address = f"tcp://{address}"
    if not address.startswith(("tcp://", "tls://")):
        raise ValueError(f"scheduler {address!r}: give tcp://HOST:PORT or tls://HOST:PORT")
    return address


def scheduler_silence(address: str, timeout: float = 3.0) -> str | None:
    """Why no TCP connection to the scheduler at `address` (tcp:// or tls://HOST[:PORT],
    Dask's port 8786 when none is given) opens within `timeout` seconds ('Connection
    refused', 'timed out', a name that does not resolve), or None when one does. Only a hint
    for the user: a worker may well start before its scheduler, and keeps trying."""
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():  # no port (an IPv6 address's colons are bracketed)
        host, port = rest, "8786"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def connect_timeout() -> str:
    """How long `dask worker` keeps trying to reach its scheduler before it gives up: Dask's
    `distributed.comm.timeouts.connect` ('30s' unless configured; $DASK_DISTRIBUTED__...)."""
    import dask.config
    import distributed.config  # noqa: F401  (loads distributed's defaults into dask.config)
    return str(dask.config.get("distributed.comm.timeouts.connect"))


def check_class(name: str) -> str:
    if not CLASS_NAME.match(name) or name in RESERVED_RESOURCES:
        raise ValueError(f"--class {name!r}: a name of letters, digits, - and _ (not 'host'), "
                         "e.g. xeon or epyc")
    return name


def _hygiene(cores: str | None) -> tuple[list[int] | None, dict[str, str], str]:
    from mxprof.cpu.cpulist import parse_cpu_list
    everything = sorted(os.sched_getaffinity(0))
    bench = parse_cpu_list(cores) if cores else everything
    unknown = sorted(set(bench) - set(everything))
    if unknown:
        raise ValueError(f"--cores {cores}: CPUs {_fmt(unknown)} are not among this process's "
                         f"CPUs ({_fmt(everything)})")
    rest = sorted(set(everything) - set(bench))
    env = {BENCH_CPUS_VARIABLE: _fmt(bench)}
    if rest:
        text = (f"Dask worker pinned to CPUs {_fmt(rest)}, outside the benchmark CPUs "
                f"{_fmt(bench)}")
        return rest, {**env, HYGIENE_VARIABLE: text}, text
    text = (f"Dask worker shares the benchmark CPUs {_fmt(bench)}: its profiler is off "
            "(give --cores to leave it a CPU of its own)")
    return None, {**env, HYGIENE_VARIABLE: text,
                  "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}, text


def worker_launch(scheduler: str, machine_class: str, cores: str | None = None, *,
                  name: str | None = None, host: str | None = None,
                  tls: Sequence[tuple[str, str | None]] = ()) -> WorkerLaunch:
    """The launch of one benchmark host's Dask worker (module docstring); ValueError for a
    bad scheduler address, class name or CPU list."""
    scheduler = check_scheduler(scheduler)
    check_class(machine_class)
    worker_cpus, env, hygiene = _hygiene(cores)
    if host is None and scheduler_host(scheduler) in LOOPBACKS:
        host = "127.0.0.1"
    argv = [sys.executable, "-m", "distributed.cli.dask_worker", scheduler,
            "--nthreads", "1", "--nworkers", "1",
            "--resources", f"host=1,{machine_class}=1", "--no-dashboard",
            "--name", name or f"{machine_class}@{socket.gethostname()}"]
    if host:
        argv += ["--host", host]
    for option, value in tls:
        if value:
            argv += [option, value]
    return WorkerLaunch(argv, env, worker_cpus, hygiene)


# A line of Dask's logging ("2026-12-08 03:36:44,130 - distributed.nanny - INFO - ..."), the
# only stderr relayed after an interrupt (not the traceback of a start cut short).
DASK_LOG_LINE = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - ")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _stop_with_parent():
    """The child's pre-exec step: SIGTERM (Dask's graceful close) when mxprof dies, even by
    SIGKILL, so no worker is left serving a scheduler for a host nobody watches. prctl is
    resolved here, in the parent: between fork and exec the child only calls it."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return arm


def run_dask_worker(launch: WorkerLaunch, err=None) -> int:
    """Run `launch` as a child (module docstring) until it ends; its exit status (128 + N for
    a signal N). Its stderr goes to `err` (bytes; default this process's stderr). On
    KeyboardInterrupt (Ctrl-C; mxprof.cli raises one for SIGTERM and SIGHUP too) the child
    gets that signal, a second one kills it, and the interrupt propagates once the child has
    ended. OSError when the worker cannot start."""
    err = err or sys.stderr.buffer
    if launch.worker_cpus:
        os.sched_setaffinity(0, launch.worker_cpus)  # the child inherits the pinning
    proc = subprocess.Popen(launch.argv, env={**os.environ, **launch.env},
                            stderr=subprocess.PIPE, process_group=0,
                            preexec_fn=_stop_with_parent())
    interrupt: KeyboardInterrupt | None = None
    while True:
        try:
            for line in proc.stderr:
                if interrupt is None or DASK_LOG_LINE.match(line):
                    err.write(line)
                    err.flush()
            break
        except KeyboardInterrupt as exc:
            if interrupt is None:
                name = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "SIGINT"
                proc.send_signal(getattr(signal, name, signal.SIGINT))
                interrupt = exc
            else:  # a second interrupt: no more waiting for Dask's close
                proc.kill()
    proc.stderr.close()
    code = proc.wait()
    if interrupt is not None:
        raise interrupt
    return 128 - code if code < 0 else code
