"""mxprof._core.scan_verbose_file / scan_verbose_buffer called directly."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from mxprof._native import core
from mxprof.onednn import _verbose_py
from scan_compare import assert_same_scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "verbose"
LEVEL2 = FIXTURES / "mxnet191_dnnl_v2.4.4_ts_level2.log"


def test_result_shape_and_dtypes():
    r = core.scan_verbose_file(str(LEVEL2))
    p = r["primitive"]
    assert p["line_no"].dtype == np.int64 and p["time_ms"].dtype == np.float64
    assert p["op"].dtype == np.int32 and p["body"].dtype == np.int32
    n = len(p["time_ms"])
    assert n == 195 and all(len(p[c]) == n for c in ("line_no", "timestamp_ms", "op", "body"))
    assert p["op_strings"] == ["create:cache_miss", "exec", "create:cache_hit"]
    assert p["body"].max() == len(p["body_strings"]) - 1
    assert len(set(p["body_strings"])) == len(p["body_strings"])  # interned: unique
    assert r["stats"]["lines_total"] == 200 and r["stats"]["lines_untimed"] == 5
    assert r["info"][0].startswith("dnnl_verbose,info,oneDNN v2.4.4")
    # line numbers are 1-based positions in the file
    lines = LEVEL2.read_text().splitlines()
    for line_no, ms in zip(p["line_no"], p["time_ms"]):
        assert float(lines[line_no - 1].rsplit(",", 1)[1]) == ms


@pytest.mark.parametrize("chunk", [64, 100, 333, 4096, 1 << 20])
def test_streaming_equals_buffer(chunk, tmp_path):
    data = b"".join(p.read_bytes() for p in sorted(FIXTURES.glob("*.log")))
    path = tmp_path / "all.log"
    path.write_bytes(data * 3)
    whole = core.scan_verbose_buffer(data * 3)
    assert_same_scan(core.scan_verbose_file(str(path), chunk), whole)
    assert_same_scan(_verbose_py.scan_file(path, chunk), whole)
    assert whole["stats"]["lines_total"] == data.count(b"\n") * 3


@pytest.mark.parametrize("chunk", [64, 97, 1 << 20])
def test_streaming_truncated_last_line(chunk, tmp_path):
    data = LEVEL2.read_bytes()
    cut = data[: len(data) - 40]  # the last line loses its end, and its newline
    path = tmp_path / "cut.log"
    path.write_bytes(cut)
    r = core.scan_verbose_file(str(path), chunk)
    assert_same_scan(r, core.scan_verbose_buffer(cut))
    assert r["stats"]["unterminated_last_line"] and r["stats"]["lines_malformed"] == 1
    assert r["stats"]["lines_parsed"] == 194  # 195 timed lines in the whole fixture, less one


def test_line_longer_than_chunk(tmp_path):
    long_problem = "x" * 10_000
    line = f"dnnl_verbose,exec,cpu,eltwise,jit,fwd,data_f32,,alg,{long_problem},1.5\n"
    path = tmp_path / "long.log"
    path.write_text(line * 3)
    r = core.scan_verbose_file(str(path), 64)
    assert list(r["primitive"]["time_ms"]) == [1.5, 1.5, 1.5]
    assert r["primitive"]["body_strings"][0].endswith(long_problem)


def test_empty_and_unterminated():
    empty = core.scan_verbose_buffer(b"")
    assert empty["stats"]["lines_total"] == 0 and len(empty["primitive"]["time_ms"]) == 0
    r = core.scan_verbose_buffer(b"dnnl_verbose,exec,cpu,eltwise,i,p,m,,a,pr,2.5")
    assert r["stats"]["unterminated_last_line"] and list(r["primitive"]["time_ms"]) == [2.5]


@pytest.mark.parametrize("scan", [core.scan_verbose_file, _verbose_py.scan_file],
                         ids=["native", "python"])
def test_unreadable_files_raise_what_open_raises(scan, tmp_path):
    # Both scanners raise the OSError subclass open() raises, with the path (issue 9).
    with pytest.raises(FileNotFoundError, match=r"nope\.log"):
        scan(str(tmp_path / "nope.log"))
    with pytest.raises(IsADirectoryError):
        scan(str(tmp_path))
    locked = tmp_path / "locked.log"
    locked.write_bytes(b"x\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: then the check cannot apply
            assert scan(str(locked))["stats"]["lines_total"] == 1
        else:
            with pytest.raises(PermissionError):
                scan(str(locked))
    finally:
        locked.chmod(0o600)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failed_allocation_does_not_leak_the_file():
    # A chunk too large to allocate fails after the file was opened: it must still be closed.
    before = _open_fds()
    for _ in range(20):
        with pytest.raises(MemoryError):
            core.scan_verbose_file(str(LEVEL2), 1 << 62)
    assert _open_fds() == before


@pytest.mark.parametrize("scan", [core.scan_verbose_buffer, _verbose_py.scan_buffer],
                         ids=["native", "python"])
def test_only_contiguous_buffers(scan):
    data = LEVEL2.read_bytes()
    for view in (memoryview(data)[::-1], memoryview(data)[::2]):
        with pytest.raises(BufferError):
            scan(view)
    whole = core.scan_verbose_buffer(data)
    assert_same_scan(scan(memoryview(data)), whole)
    assert_same_scan(scan(bytearray(data)), whole)
    assert_same_scan(scan(np.frombuffer(data, dtype=np.uint8)), whole)
    # a contiguous slice reads exactly its own bytes
    part = memoryview(data)[: data.index(b"\n", 5000) + 1]
    assert_same_scan(scan(part), core.scan_verbose_buffer(bytes(part)))


@pytest.mark.parametrize(("text", "value"), [
    (b"0.25", 0.25), (b"1", 1.0), (b"9.53674e-07", 9.53674e-07), (b".5", 0.5), (b"3.", 3.0),
    (b"1E+05", 1e5), (b"-1", None), (b"inf", None), (b"nan", None), (b"1e999", None),
    (b"1e", None), (b"", None), (b" 1", None), (b"0x10", None), (b"1.2.3", None),
    (b"9" * 41, None),
])
def test_time_field_grammar(text, value):
    line = b"dnnl_verbose,exec,cpu,eltwise,i,p,m,,a,pr," + text + b"\n"
    got = list(core.scan_verbose_buffer(line)["primitive"]["time_ms"])
    assert got == ([] if value is None else [value])
    twin = _verbose_py.parse_number(text, need_dot=False)
    assert twin == value


def test_timestamp_and_component_in_either_order():
    a = b"onednn_verbose,v1,12.5,primitive,exec,cpu,eltwise,i,p,m,,a,pr,1.0\n"
    b = b"onednn_verbose,primitive,12.5,exec,cpu,eltwise,i,p,m,,a,pr,1.0\n"
    for line in (a, b):
        t = core.scan_verbose_buffer(line)["primitive"]
        assert list(t["timestamp_ms"]) == [12.5] and list(t["time_ms"]) == [1.0]
    no_ts = core.scan_verbose_buffer(b"dnnl_verbose,exec,cpu,eltwise,i,p,m,,a,pr,1.0\n")["primitive"]
    assert math.isnan(no_ts["timestamp_ms"][0])


def test_field_count_per_marker():
    # dnnl/onednn need 8 body fields; mkldnn 6 (v0.x) or 7 (v1.0); graph 8 or 9.
    lines = [
        b"dnnl_verbose,exec,cpu,sum,i,p,m,a,pr,1.0",  # 7 fields under dnnl: malformed
        b"mkldnn_verbose,exec,sum,i,p,m,a,pr,1.0",  # v0.x
        b"mkldnn_verbose,exec,cpu,sum,i,p,m,a,pr,1.0",  # v1.0
        b"mkldnn_verbose,exec,cpu,sum,i,p,m,x,a,pr,1.0",  # 8 under mkldnn: malformed
        b"onednn_verbose,graph,exec,cpu,1,k,ops,,lts,fpm:strict,dnnl_backend,1.0",
        b"onednn_verbose,graph,exec,cpu,1,k,ops,,lts,fpm:strict,impl,dnnl_backend,1.0",
        b"onednn_verbose,graph,exec,cpu,1,k,ops,lts,fpm:strict,dnnl_backend,1.0",  # 7: malformed
    ]
    r = core.scan_verbose_buffer(b"\n".join(lines) + b"\n")
    assert len(r["primitive"]["time_ms"]) == 2 and len(r["graph"]["time_ms"]) == 2
    assert r["stats"]["lines_malformed"] == 3
    assert [(n, reason) for n, reason, _ in r["malformed"]] == [
        (1, "7 fields where v1.1+ lines have 8"), (4, "8 fields where v1.0 lines have 7"),
        (7, "7 fields where graph lines have 6, 8 or 9")]
    assert_same_scan(r, _verbose_py.scan_buffer(b"\n".join(lines) + b"\n"))
