"""Type stubs for the native core (mxprof._core). Hand-written: keep in step with csrc/."""

from typing import Any, Callable

import numpy as np
import numpy.typing as npt

# ---- CPU and NUMA binding (csrc/cpu.cpp) ----------------------------------------------------
# Twins: mxprof.cpulist.parse_cpu_list_py/format_cpu_list_py; os.sched_{set,get}affinity.
# set_mempolicy/get_mempolicy have no Python twin (the standard library has no such call).

MPOL_DEFAULT: int
MPOL_PREFERRED: int
MPOL_BIND: int
MPOL_INTERLEAVE: int
MPOL_LOCAL: int
MPOL_MODE_FLAGS: int  # flags the kernel may OR into the mode get_mempolicy returns

def parse_cpu_list(text: str) -> list[int]: ...
def format_cpu_list(cpus: list[int]) -> str: ...
def sched_setaffinity(cpus: list[int], pid: int = 0) -> None: ...  # OSError(errno) on refusal
def sched_getaffinity(pid: int = 0) -> list[int]: ...
def set_mempolicy(mode: int, nodes: list[int]) -> int: ...  # 0 or the errno, never raises for it
def get_mempolicy() -> tuple[int, int, list[int]]: ...  # (errno, mode, nodes) of calling thread

# ---- clock and timing loop (csrc/clock.cpp, csrc/sections.cpp) ---------------------------------

def now_ns() -> int: ...  # ns on CLOCK_MONOTONIC's epoch (TSC where the kernel trusts it)
def timing_loop(  # checks Ctrl-C after any call ending >= 1 ms after the last check
    fn: Callable[[], object],
    max_calls: int,
    target_ns: int = -1,
    min_calls: int = 1,
    limit_ns: int = -1,
) -> npt.NDArray[np.int64]: ...
# keys: source, reason, cpu_invariant_tsc, tsc_hz, calibrated_against, calibration_ms,
# ns_per_tick, resolution_ns, kernel_clocksource, kernel_available_clocksources
def clock_info() -> dict[str, Any]: ...
# twin: mxprof.timing._clock_py.clock_choice; keys: source, reason, cpu_invariant_tsc,
# kernel_clocksource, kernel_available_clocksources (None where unreadable)
def clock_choice(sysfs_root: str = "/sys", cpuinfo: str = "/proc/cpuinfo") -> dict[str, Any]: ...
def clock_ticks_to_ns(ticks: int) -> int: ...  # signed: a negative delta stays negative
def clock_read_cost_ns(pairs: int = 2001) -> float: ...
def clock_select(source: str) -> None: ...  # "tsc", "clock_gettime" or "auto" (import choice)

class Section:
    def __enter__(self) -> Section: ...
    def __exit__(self, *exc_info: object) -> bool: ...

class SectionTable:
    def __init__(self) -> None: ...
    def section(self, name: str) -> Section: ...
    def add(self, name: str, ns: int) -> None: ...
    def snapshot(self) -> dict[str, tuple[int, int, int, int]]: ...
    def clear(self) -> None: ...
# ---- oneDNN verbose scanner (csrc/verbose.cpp; twin: mxprof/onednn/_verbose_py.py) ---------
# Both return {"primitive": table, "graph": table, "stats": dict[str, int | bool],
# "info": list[str], "malformed": list[tuple[int, str, str]] (line number, reason, first 320
# bytes of the line decoded), "layout": str (prefix form of the first timed line, e.g.
# "onednn,v1", "mkldnn"; "" when none)}; a table is {"line_no": int64[n], "timestamp_ms":
# float64[n] (NaN when absent), "time_ms": float64[n], "op": int32[n], "op_strings": list[str],
# "body": int32[n], "body_strings": list[str]}. scan_verbose_buffer raises BufferError for a
# buffer that is not C-contiguous; scan_verbose_file raises what open() raises
# (FileNotFoundError, PermissionError, IsADirectoryError, OSError).

def scan_verbose_buffer(data: bytes | bytearray | memoryview) -> dict[str, Any]: ...
def scan_verbose_file(path: str, chunk_size: int = 1048576) -> dict[str, Any]: ...

# --- mxhooks (csrc/mxhooks.cpp): per-layer timestamps from MXNet's CachedOp monitor hook ---
# hook_install raises RuntimeError when libmxnet_path is not already loaded (import mxnet
# first): it never loads a second copy. Twin: mxprof.mx._hooks_py.
def hook_install(libmxnet_path: str, cached_op_handle: int, capacity: int,
                 monitor_all: bool = True) -> None: ...
def hook_enable(on: bool) -> None: ...
def hook_clear() -> None: ...
def hook_events() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]: ...
def hook_names() -> list[str]: ...
def hook_dropped() -> int: ...
def monotonic_ns() -> int: ...
def realtime_ns() -> int: ...
