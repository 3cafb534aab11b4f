"""Pure-Python twin of the native layer-hook recorder (csrc/mxhooks.cpp).

Same functions and results as `mxprof._core.hook_*`, with the hook as a ctypes callback. It
runs Python for every hook call (about 2 us per call against 0.6 us for the native recorder,
MXNet's own share included; bench/layer_overhead.py), so it serves tests and installs without
the native build, not measurements. Clocks: time.monotonic_ns / time.time_ns are CLOCK_MONOTONIC / CLOCK_REALTIME.
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np

_PROTOTYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)


class _State:
    def __init__(self) -> None:
        self.lib = None
        self.callback = None  # keeps the ctypes thunk alive while MXNet holds its address
        self.t_ns: list[int] = []
        self.ids: list[int] = []
        self.names: list[str] = []
        self.index: dict[bytes, int] = {}
        self.capacity = 0
        self.dropped = 0
        self.enabled = False


_state = _State()


def _on_op(name: bytes, op: bytes, handle: int) -> None:
    t = time.monotonic_ns()
    s = _state
    if s.enabled:
        if len(s.t_ns) < s.capacity:
            i = s.index.get(name)
            if i is None:
                i = s.index[name] = len(s.names)
                s.names.append(name.decode())
            s.t_ns.append(t)
            s.ids.append(i)
        else:
            s.dropped += 1
    if handle:
        s.lib.MXNDArrayFree(ctypes.c_void_p(handle))


def hook_install(libmxnet_path: str, cached_op_handle: int, capacity: int,
                 monitor_all: bool = True) -> None:
    if not cached_op_handle:
        raise ValueError("cached op handle is null")
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    try:  # the copy `import mxnet` loaded, never a second one (see csrc/mxhooks.cpp)
        lib = ctypes.CDLL(libmxnet_path, mode=os.RTLD_NOW | os.RTLD_NOLOAD)
    except OSError:
        raise RuntimeError(f"{libmxnet_path} is not loaded in this process: import mxnet first "
                           "(the layer hook never loads a second copy of libmxnet)") from None
    _state.lib = lib
    _state.capacity = capacity
    _state.callback = _PROTOTYPE(_on_op)
    hook_clear()
    _state.enabled = False
    rc = lib.MXCachedOpRegisterOpHook(ctypes.c_void_p(cached_op_handle), _state.callback,
                                      ctypes.c_bool(monitor_all))
    if rc != 0:
        lib.MXGetLastError.restype = ctypes.c_char_p
        raise RuntimeError("MXCachedOpRegisterOpHook failed: " + lib.MXGetLastError().decode())


def hook_enable(on: bool) -> None:
    _state.enabled = bool(on)


def hook_clear() -> None:
    _state.t_ns.clear()
    _state.ids.clear()
    _state.dropped = 0


def hook_events() -> tuple[np.ndarray, np.ndarray]:
    return np.array(_state.t_ns, dtype=np.int64), np.array(_state.ids, dtype=np.int32)


def hook_names() -> list[str]:
    return list(_state.names)


def hook_dropped() -> int:
    return _state.dropped


def monotonic_ns() -> int:
    return time.monotonic_ns()


def realtime_ns() -> int:
    return time.time_ns()
