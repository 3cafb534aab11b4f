"""Type stubs for the native core (mxprof._core). Hand-written: keep in step with csrc/."""

# ---- oneDNN verbose scanner (csrc/verbose.cpp; twin: mxprof/_verbose_py.py) ----------------
# Both return {"primitive": table, "graph": table, "stats": dict[str, int | bool],
# "info": list[str]}; a table is {"line_no": int64[n], "timestamp_ms": float64[n] (NaN when
# absent), "time_ms": float64[n], "op": int32[n], "op_strings": list[str], "body": int32[n],
# "body_strings": list[str]}.
from typing import Any

def scan_verbose_buffer(data: bytes | bytearray | memoryview) -> dict[str, Any]: ...
def scan_verbose_file(path: str, chunk_size: int = 1048576) -> dict[str, Any]: ...
