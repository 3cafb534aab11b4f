"""Linux CPU lists ("0-17,36-53"): the notation of sysfs, numactl and taskset.

`parse_cpu_list` and `format_cpu_list` run in the native core; `parse_cpu_list_py` and
`format_cpu_list_py` are their pure-Python twins (same results, same errors; the tests run both).
Falling back to the twin is safe here, so a missing build only costs speed.
"""

from __future__ import annotations

from collections.abc import Iterable

# Same bound as csrc/cpu.cpp: rejects "0-99999999" instead of building a huge list.
MAX_ID = 1 << 16
# The whitespace both parsers tolerate around items (sysfs files end in a newline).
_SPACE = " \t\r\n"


def _bad(text: str, why: str) -> ValueError:
    return ValueError(f"invalid CPU list '{text}': {why}")


def _number(text: str, token: str) -> int:
    token = token.strip(_SPACE)
    if not token:
        raise _bad(text, "empty number")
    # str.isdigit accepts non-ASCII digits ("²"); the kernel and the native parser do not.
    if not all("0" <= ch <= "9" for ch in token):
        raise _bad(text, f"'{token}' is not a number")
    value = int(token)
    if value > MAX_ID:
        raise _bad(text, f"id {token} is larger than {MAX_ID}")
    return value


def parse_cpu_list_py(text: str) -> list[int]:
    """Pure-Python twin of the native `parse_cpu_list`."""
    if not text.strip(_SPACE):
        raise _bad(text, "empty list")
    cpus: set[int] = set()
    for item in text.split(","):
        if not item.strip(_SPACE):
            raise _bad(text, "empty item between commas")
        lo_text, dash, hi_text = item.partition("-")
        if not dash:
            cpus.add(_number(text, item))
            continue
        lo, hi = _number(text, lo_text), _number(text, hi_text)
        if lo > hi:
            raise _bad(text, f"range {item.strip(_SPACE)} runs backwards")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_cpu_list_py(cpus: Iterable[int]) -> str:
    """Pure-Python twin of the native `format_cpu_list`."""
    ids = sorted(set(cpus))
    if ids and ids[0] < 0:
        raise ValueError(f"CPU ids must be >= 0, got {ids[0]}")
    parts: list[str] = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


try:
    from mxprof._core import format_cpu_list as _format_native
    from mxprof._core import parse_cpu_list as _parse_native
except ImportError:  # pragma: no cover - unbuilt source tree: the twins give the same answers
    _parse_native = _format_native = None


def parse_cpu_list(text: str) -> list[int]:
    """Parse "0-3,8,10-11" into sorted unique ids. ValueError names the fault ("3-1", "a", "", ",,")."""
    if _parse_native is None:
        return parse_cpu_list_py(text)
    return list(_parse_native(text))


def format_cpu_list(cpus: Iterable[int]) -> str:
    """Format CPU (or node) ids compactly: [0, 1, 2, 3, 8] -> "0-3,8"."""
    if _format_native is None:
        return format_cpu_list_py(cpus)
    return _format_native([int(c) for c in cpus])


__all__ = [
    "format_cpu_list",
    "format_cpu_list_py",
    "parse_cpu_list",
    "parse_cpu_list_py",
]
