"""The errors mxprof raises on purpose, and the exit status each one maps to.

Every command exits with one documented set of codes (README, "Exit codes"):

- 0 (``EXIT_OK``): everything ran and every check passed.
- 1 (``EXIT_FAILED``): a run or a check failed: a crashed or timed-out worker, an
  equivalence check outside tolerance, labelled accuracy below ``--min-top1``.
- 2 (``EXIT_USAGE``): bad input: unknown model, missing or corrupt file, bad flag, an output
  path that cannot be written. Raised as :class:`UsageError` before any worker starts.
- 130 (``EXIT_INTERRUPTED``): interrupted by SIGINT, SIGTERM or SIGHUP; workers are ended.

This module is the bottom of the import graph: every layer may import it, it imports nothing
from mxprof.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class MxprofError(Exception):
    """Base of the errors mxprof raises on purpose (never for a bug)."""


class UsageError(MxprofError):
    """Bad input from the user: printed as ``mxprof: error: ...``, exit status 2."""


class WorkerError(MxprofError):
    """A worker process crashed, timed out or wrote no result: exit status 1.

    `detail`: the worker's last stderr lines when the message cannot say it (a signal, a
    timeout), else empty.
    """

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail


class MissingExtraError(UsageError):
    """A command needs an optional dependency (an extra) that is not installed."""


# extra -> the module whose import proves it is installed.
EXTRAS = {"mxnet": "mxnet", "gluoncv": "gluoncv", "opencv": "cv2", "plot": "matplotlib",
          "cluster": "distributed", "pyperf": "pyperf"}


def require_extra(command: str, extra: str, *, importable: bool = False) -> None:
    """Raise `MissingExtraError` when `extra`'s module cannot be found (without importing it),
    or, with `importable`, when it is found but its import fails (an OpenCV wheel whose
    libGL is missing): for a light module that every worker would otherwise fail on.

    `command` is what the user ran (``"fusion"``); the message says how to get the extra, or,
    for MXNet, to run inside the venv of the MXNet build the user wants to profile.
    """
    import importlib
    import importlib.util

    module = EXTRAS[extra]
    what = {"mxnet": "MXNet", "gluoncv": "GluonCV", "opencv": "OpenCV (cv2)",
            "plot": "matplotlib", "cluster": "Dask distributed", "pyperf": "pyperf"}[extra]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found and importable:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtraError(f"`mxprof {command}` needs {what}, which is installed but "
                                    f"does not import here: {exc}") from None
    if found:
        return
    hint = ", or run inside the venv of your MXNet build" if extra == "mxnet" else ""
    raise MissingExtraError(f"`mxprof {command}` needs {what}: "
                            f"pip install 'mxprof[{extra}]'{hint}")
