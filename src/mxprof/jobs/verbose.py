"""`mxprof verbose run -- CMD`: run a command with oneDNN / MKL-DNN verbose output switched on
for every generation (MKLDNN_/DNNL_/ONEDNN_VERBOSE and their timestamps) and keep its log.

    log = open_log("onednn_verbose.log", force=False)   # checked before anything runs
    code, written = capture(["python", "bench.py"], log, level="1", echo=sys.stdout.buffer,
                            on_event=print_note)  # the exit status, the log replaced or not

oneDNN writes its lines to the C stdout, so the command's stdout is read line by line here:
every line goes to the log, the lines that are not verbose lines go on to `echo`. The log is
written beside its target and moved over it only when the command succeeded (or there was no
log before): a failed run leaves the earlier log as it was. The child runs in its own process
group, killed with mxprof (mxprof.workers.process.managed_popen).

`machine()` records this machine beside a log captured here (a pasted log does not say).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from mxprof.errors import UsageError
from mxprof.events import Note, OnEvent, ignore

GENERATIONS = ("MKLDNN", "DNNL", "ONEDNN")  # the variables' prefixes, oldest first


class LogFile(NamedTuple):
    """Where the log goes: the path as given, its real target, the temporary file's fd/path."""

    path: str
    target: Path
    fd: int
    tmp: str


def verbose_env(level: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default this process's environment) with verbose output at `level` ("1": exec
    lines, "2": also creation lines) and timestamps on, for every generation."""
    env = dict(os.environ if base is None else base)
    for prefix in GENERATIONS:
        env[f"{prefix}_VERBOSE"] = level
        env[f"{prefix}_VERBOSE_TIMESTAMP"] = "1"
    return env


def open_log(path: str, *, force: bool = False) -> LogFile:
    """Checks the log path before anything runs and opens a temporary file beside it (the
    existing log is replaced only once the command succeeded, and only when it is an earlier
    verbose log or `force`). Raises UsageError naming the path."""
    target = Path(os.path.realpath(path))  # a link stays a link: the file it names is replaced
    folder = target.parent
    from mxprof.files import OutputFileError, check_replace
    try:
        check_replace("-o", path, "log", "verbose-log", force=force)
    except OutputFileError as exc:
        raise UsageError(str(exc)) from None
    if target.is_dir():
        raise UsageError(f"cannot write the log {path}: it is a folder")
    if target.exists() and not target.is_file():
        # Renaming over /dev/null or a FIFO would replace the node itself; the log is also
        # read back for the summary, which a device cannot give.
        raise UsageError(f"cannot write the log {path}: not a regular file")
    if not folder.is_dir():
        raise UsageError(f"cannot write the log {path}: folder {folder} does not exist")
    if target.exists() and not os.access(target, os.W_OK):  # a log its owner write-protected
        raise UsageError(f"cannot write the log {path}: permission denied")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write the log {path}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the log from other users
    return LogFile(path, target, fd, tmp)




def capture(cmd: Sequence[str], log: LogFile, level: str = "1", *, echo: BinaryIO,
            on_event: OnEvent = ignore) -> tuple[int, bool]:
    """Run `cmd` with verbose output on; its lines go to `log` (replaced only on success),
    the other lines to `echo`. Returns (the command's exit status, whether the log was
    written); a failed command's log is discarded where an earlier log exists, said as a Note. Raises UsageError when the command cannot start or the
    log cannot be written (the earlier log is then left as it was)."""
    from mxprof.workers.process import managed_popen  # killed with mxprof, group and all
    kept = f" ({log.path} was left as it was)" if log.target.exists() else ""
    try:
        with os.fdopen(log.fd, "wb") as out, contextlib.ExitStack() as stack:
            try:
                import subprocess
                proc = stack.enter_context(managed_popen(list(cmd), stdout=subprocess.PIPE,
                                                         env=verbose_env(level)))
            except FileNotFoundError:
                raise UsageError(f"command not found: {cmd[0]}{kept}") from None
            except OSError as exc:
                raise UsageError(f"cannot run {cmd[0]}: {exc.strerror or exc}{kept}") from None
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if b"_verbose," not in line:
                    echo.write(line)
                    echo.flush()
            code = proc.wait()
        if code and log.target.exists():
            # The README's promise: a failed command leaves the earlier log as it was.
            on_event(Note(text=f"the command failed (exit status {code}); {log.path} was left "
                          "as it was, the failed run's log discarded"))
            return code, False
        os.replace(log.tmp, log.target)
    except OSError as exc:  # writing the temporary log failed (disk full, ...)
        raise UsageError(f"cannot write the log {log.path}: {exc.strerror or exc}{kept}") \
            from None
    finally:
        if os.path.exists(log.tmp):
            os.unlink(log.tmp)
    return code, True


def machine() -> dict[str, Any]:
    """This machine, for a log `verbose run` captured here (a pasted log does not say)."""
    from mxprof.host.environment import host_fingerprint
    env = host_fingerprint()
    return {"hostname": env.hostname, "cpu_model": env.cpu_model,
            "physical_cores": env.physical_cores, "logical_cpus": env.logical_cpus,
            "affinity": env.affinity.get("cpus"), "mxnet_installed": env.packages.get("mxnet")}
