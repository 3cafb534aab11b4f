"""mxprof.onednn.verbose on real logs of every generation, with the native scanner and its twin.

Expected totals were derived independently of mxprof when the fixtures were committed, with
awk over the raw files (see tests/fixtures/verbose/README.md, "Expected totals"):
exec lines match `^(mkldnn|dnnl|onednn)_verbose,(v1,)?(TS,)?(primitive,)?exec,` and their last
field is summed; timed create lines match `...create(:cache_*|:from_cache_blob)?,`; graph exec
lines `...,graph,exec,`; the kind is the field after the engine (first field for v0.x).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mxprof.onednn import verbose
from mxprof.onednn.flops import problem_flops as flops_of

FIXTURES = {
    # name: (exec_count, exec_ms, create_count, create_ms, graph_count, graph_ms, generation)
    "mxnet191_dnnl_v2.4.4_fused_ts_level1.log": (328, 219.762249, 0, 0.0, 0, 0.0, "v2.0-2.4"),
    "mxnet191_dnnl_v2.4.4_int8_ts_level2.log": (101, 106.509310, 98, 0.441162, 0, 0.0, "v2.0-2.4"),
    "mxnet191_dnnl_v2.4.4_level2_nots.log": (72, 5.770994, 43, 4.041504, 0, 0.0, "v2.0-2.4"),
    "mxnet191_dnnl_v2.4.4_ts_level1.log": (195, 41.458741, 0, 0.0, 0, 0.0, "v2.0-2.4"),
    "mxnet191_dnnl_v2.4.4_ts_level2.log": (117, 49.446762, 78, 7.053222, 0, 0.0, "v2.0-2.4"),
    "mxnetmkl151_mkldnn_v0.19.0.log": (245, 169.763743, 0, 0.0, 0, 0.0, "v0.x"),
    "mxnetmkl160_mkldnn_v1.0.4_level2.log": (245, 165.415271, 82, 10.867436, 0, 0.0, "v1.0"),
    "torch213_onednn_v3.12_all_ts.log": (21, 68.197840, 21, 9.028813, 0, 0.0, "v3.6+"),
    "torch213_onednn_v3.12_graph_all_ts.log": (8, 35.923630, 4, 1.035644, 6, 36.302268, "v3.6+"),
    "torch213_onednn_v3.12_profile_exec.log": (21, 185.965026, 0, 0.0, 0, 0.0, "v3.6+"),
}
# awk by-kind figures (count, ms) for two generations at the ends of the range.
BY_KIND = {
    "mxnetmkl151_mkldnn_v0.19.0.log": {
        "reorder": (43, 100.470773), "eltwise": (51, 0.167969), "pooling": (3, 0.070801),
        "inner_product": (4, 15.820307), "batch_normalization": (60, 0.520996),
        "sum": (24, 0.270508), "convolution": (60, 52.442390)},
    "mxnet191_dnnl_v2.4.4_ts_level2.log": {
        "reorder": (45, 38.311023), "eltwise": (18, 0.133057), "inner_product": (1, 5.075930),
        "pooling_v2": (3, 0.066895), "batch_normalization": (21, 0.263916),
        "sum": (8, 0.142822), "convolution": (21, 5.453120)},
}
CONSTRUCTED = "constructed_onednn_v3.4_and_older.log"


@pytest.fixture(params=[True, False], ids=["native", "python"])
def native(request):
    return request.param


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_totals(fixtures_dir, name, native):
    exec_n, exec_ms, create_n, create_ms, graph_n, graph_ms, generation = FIXTURES[name]
    log = verbose.parse(fixtures_dir / "verbose" / name, native=native)
    t = log.totals()
    assert (t["exec_count"], t["create_count"], t["graph_exec_count"]) == (exec_n, create_n, graph_n)
    assert t["exec_ms"] == pytest.approx(exec_ms, abs=1e-5)
    assert t["create_ms"] == pytest.approx(create_ms, abs=1e-5)
    assert t["graph_exec_ms"] == pytest.approx(graph_ms, abs=1e-5)
    assert log.header["generation"] == generation
    assert log.stats.lines_malformed == 0
    assert log.stats.lines_parsed + log.stats.lines_skipped == log.stats.lines_total
    assert sum(v["count"] for v in t["by_kind"].values()) == exec_n


@pytest.mark.parametrize("name", sorted(BY_KIND))
def test_by_kind_matches_awk(fixtures_dir, name):
    t = verbose.parse(fixtures_dir / "verbose" / name).totals()
    got = {k: (v["count"], round(v["ms"], 6)) for k, v in t["by_kind"].items()}
    assert got == {k: (n, pytest.approx(ms, abs=1e-5)) for k, (n, ms) in BY_KIND[name].items()}


def _raw_equal(a: dict, b: dict) -> None:
    assert a["stats"] == b["stats"]
    assert a["info"] == b["info"]
    for table in ("primitive", "graph"):
        for col, value in a[table].items():
            other = b[table][col]
            if isinstance(value, list):
                assert value == other, (table, col)
            else:
                assert value.dtype == other.dtype and np.array_equal(value, other, equal_nan=True)


@pytest.mark.parametrize("name", [*sorted(FIXTURES), CONSTRUCTED])
def test_native_and_twin_agree_on_every_fixture(fixtures_dir, name):
    from mxprof._native import core
    from mxprof.onednn import _verbose_py

    path = str(fixtures_dir / "verbose" / name)
    _raw_equal(core.scan_verbose_file(path), _verbose_py.scan_file(path))
    a, b = verbose.parse(path), verbose.parse(path, native=False)
    pd.testing.assert_frame_equal(a.primitives, b.primitives)
    pd.testing.assert_frame_equal(a.graph, b.graph)


def test_columns_of_each_generation(fixtures_dir):
    v0 = verbose.parse(fixtures_dir / "verbose" / "mxnetmkl151_mkldnn_v0.19.0.log").exec()
    row = v0[v0["kind"] == "convolution"].iloc[0]
    assert (row["engine"], row["impl"], row["prop_kind"], row["attrs"]) == \
        ("", "jit:avx512_common", "forward_inference", "")
    assert row["mds"].startswith("fsrc:") and row["aux"] == "alg:convolution_direct"
    v1 = verbose.parse(fixtures_dir / "verbose" / "mxnetmkl160_mkldnn_v1.0.4_level2.log").primitives
    assert set(v1["operation"]) == {"create", "exec"} and set(v1["engine"]) == {"cpu"}
    assert set(v1["attrs"]) == {""}
    v3 = verbose.parse(fixtures_dir / "verbose" / "torch213_onednn_v3.12_all_ts.log").primitives
    assert set(v3["cache"]) == {"miss", "hit", ""}
    assert v3["timestamp_ms"].notna().all() and v3["timestamp_ms"].is_monotonic_increasing
    assert (v3["attrs"] == "attr-scratchpad:user").all()
    nots = verbose.parse(fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_level2_nots.log")
    assert nots.primitives["timestamp_ms"].isna().all()
    for col in ("kind", "impl", "problem", "operation"):
        assert isinstance(v3[col].dtype, pd.CategoricalDtype)


def test_graph_table(fixtures_dir):
    log = verbose.parse(fixtures_dir / "verbose" / "torch213_onednn_v3.12_graph_all_ts.log")
    g = log.graph
    assert list(g.columns) == list(verbose.GRAPH_COLUMNS)
    assert sorted(g["operation"].value_counts().items()) == [("compile", 2), ("exec", 6)]
    first = g.iloc[0]
    assert (first["partition_id"], first["partition_kind"], first["impl"], first["backend"]) == \
        ("100012", "matmul_post_ops", "matmul_t", "dnnl_backend")
    assert first["op_names"] == "aten::linear;aten::relu" and first["fpmath"] == "fpm:strict"


def test_header_of_each_generation(fixtures_dir):
    d = fixtures_dir / "verbose"
    h0 = verbose.parse(d / "mxnetmkl151_mkldnn_v0.19.0.log").header
    assert (h0["version"], h0["isa"]) == ("0.19.0", "Intel(R) AVX512-Deep Learning Boost "
                                          "(Intel(R) AVX512-DL Boost)")
    h1 = verbose.parse(d / "mxnetmkl160_mkldnn_v1.0.4_level2.log").header
    assert h1["version"] == "1.0.4" and h1["isa"].startswith("Intel AVX-512")
    h2 = verbose.parse(d / "mxnet191_dnnl_v2.4.4_ts_level1.log").header
    assert (h2["library"], h2["version"], h2["runtime"]) == ("oneDNN", "2.4.4", "OpenMP")


def test_summary_groupings(fixtures_dir):
    log = verbose.parse(fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_ts_level2.log")
    by_kind = log.summary()
    assert by_kind["count"].sum() == 117 and by_kind["percent"].sum() == pytest.approx(100.0)
    assert by_kind.index[0] == "reorder"  # sorted by total time, largest first
    combo = log.summary(("kind", "impl", "shape", "prop_kind"))
    assert combo.index.names == ["kind", "impl", "problem", "prop_kind"]
    assert combo["total_ms"].sum() == pytest.approx(by_kind["total_ms"].sum())
    assert log.summary("kind,impl").index.names == ["kind", "impl"]
    create = log.summary("kind", operation="create")
    assert create["count"].sum() == 78
    with pytest.raises(ValueError, match="cannot group by"):
        log.summary("nonsense")


def test_span_from_timestamps(fixtures_dir):
    path = fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_ts_level2.log"
    rows = [line.split(",") for line in path.read_text().splitlines()
            if line.startswith("dnnl_verbose,1")]
    expected = max(float(r[1]) + float(r[-1]) for r in rows) - min(float(r[1]) for r in rows)
    assert verbose.parse(path).totals()["span_ms"] == pytest.approx(expected)
    nots = fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_level2_nots.log"
    assert verbose.parse(nots).totals()["span_ms"] is None


def test_reorder_share(fixtures_dir):
    log = verbose.parse(fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_ts_level2.log")
    assert log.reorder_share() == pytest.approx(38.311023 / 49.446762, rel=1e-6)
    assert verbose.parse(b"").reorder_share() is None  # 0/0: no share, not 0%


@pytest.mark.parametrize(("kind", "problem", "flops"), [
    # resnet stem: 2 * 1 * 64 * 3 * 32*32 * 7*7
    ("convolution", "mb1_ic3oc64_ih64oh32kh7sh2dh0ph3_iw64ow32kw7sw2dw0pw3", 2 * 64 * 3 * 1024 * 49),
    # grouped, v2.3+ leading g: 2 * 2 * 16 * (16/4) * 16*16 * 3*3
    ("convolution", "g4mb2_ic16oc16_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1", 2 * 2 * 16 * 4 * 256 * 9),
    # v0.x style group inside the problem, 3-D
    ("convolution", "mb2_g2ic8oc4_id5od3kd3sd1dd0pd0_ih5oh3kh3sh1dh0ph0_iw5ow3kw3sw1dw0pw0",
     2 * 2 * 4 * 4 * 27 * 27),
    ("inner_product", "mb1ic512oc1000", 2 * 512 * 1000),
    ("inner_product", "mb2ic16ih3iw3oc10", 2 * 2 * 16 * 9 * 10),
    ("matmul", "4x64:64x32", 2 * 4 * 32 * 64),  # v3.2+: src:wei
    ("matmul", "2x3:3x4:2x4", 2 * 8 * 3),  # v1.8-3.1: src:wei:dst
    ("matmul", "8x1x4x16:1x6x16x5", 2 * 8 * 6 * 4 * 5 * 16),  # broadcast batch
    ("matmul", "mb3m4n5k6", 2 * 3 * 4 * 5 * 6),  # v1.0-1.7
    ("matmul", "2x3:4x5", None),  # K mismatch: not a valid matmul
    ("convolution", "garbage", None),
    ("eltwise", "1x64x32x32", None),
])
def test_problem_flops(kind, problem, flops):
    assert flops_of(kind, problem) == flops


def test_gflops_table(fixtures_dir):
    log = verbose.parse(fixtures_dir / "verbose" / "torch213_onednn_v3.12_graph_all_ts.log")
    per_row = log.gflops(aggregate=False)
    assert set(per_row["kind"]) == {"matmul"} and len(per_row) == 6
    np.testing.assert_allclose(per_row["gflops"], per_row["flops"] / per_row["time_ms"] / 1e6)
    agg = log.gflops()
    row = agg.loc[("matmul", "brg_matmul:avx512_core", "4x64:64x32")]
    assert row["calls"] == 3 and row["flops"] == 2 * 4 * 32 * 64
    assert row["gflops"] == pytest.approx(3 * row["flops"] / row["total_ms"] / 1e6)


def test_source_kinds_agree(fixtures_dir, tmp_path):
    path = fixtures_dir / "verbose" / "mxnet191_dnnl_v2.4.4_ts_level2.log"
    data = path.read_bytes()
    a, b, c = verbose.parse(path), verbose.parse(str(path)), verbose.parse(data)
    d = verbose.parse(data.decode())
    for other in (b, c, d):
        pd.testing.assert_frame_equal(a.primitives, other.primitives)
    for native in (True, False):
        with pytest.raises(FileNotFoundError, match=r"missing\.log"):
            verbose.parse(tmp_path / "missing.log", native=native)


# ---- tolerance: what real terminals and pipes do to logs -----------------------------------

GOOD = [
    "dnnl_verbose,1.5,exec,cpu,convolution,jit:avx512_core,forward_inference,src_f32::blocked:"
    "acdb:f0 dst_f32::blocked:acdb:f0,,alg:convolution_direct,mb1_ic3oc64_ih8oh8kh3sh1dh0ph1_iw8"
    "ow8kw3sw1dw0pw1,0.25",
    "mkldnn_verbose,exec,reorder,jit:uni,undef,in:f32_oihw out:f32_Ohwi16o,num:1,64x3x7x7,0.5",
    "onednn_verbose,v1,2.5,primitive,exec,cpu,matmul,brg:avx512,undef,src:f32::blocked:ab::f0,"
    "attr-scratchpad:user,,4x64:64x32,1.25",
]


def _exec_ms(text: str | bytes, native: bool) -> tuple[int, float]:
    t = verbose.parse(text.encode() if isinstance(text, str) else text, native=native).totals()
    return t["exec_count"], t["exec_ms"]


def test_crlf_and_truncated_last_line(native):
    crlf = "\r\n".join(GOOD) + "\r\n"
    assert _exec_ms(crlf, native) == (3, 2.0)
    unterminated = "\n".join(GOOD)  # no final newline: the last line still counts
    assert _exec_ms(unterminated, native) == (3, 2.0)
    truncated = "\n".join(GOOD) + "\n" + GOOD[0][:-30]  # cut inside the problem descriptor
    log = verbose.parse(truncated.encode(), native=native)
    assert log.totals()["exec_count"] == 3 and log.stats.lines_malformed == 1
    assert log.stats.unterminated_last_line


def test_foreign_lines_and_bad_bytes(native):
    lines = [
        b"Epoch 1, loss 0.5, time 12.0",
        b"\xff\xfe binary \x00 junk,1,2,3",
        GOOD[0].encode(),
        b"[12:00:01] src/operator/nn/mkldnn/mkldnn_base.cc:74: foo",
        b"progress: 50%" + GOOD[1].encode(),  # two writers sharing one stdout, no newline between
        GOOD[2].encode().replace(b"brg:avx512", b"brg:\xe9avx512"),
        b"dnnl_verbose,exec,cpu,convolution,x,y,z,,,p,notanumber",
        b"dnnl_verbose,exec,cpu,convolution,x,y,z,,,p,-1.0",
        b"dnnl_verbose,exec,cpu,convolution,x,y,z,,,p,inf",
        b"dnnl_verbose,exec,cpu,convolution,x,y,z,,,p,nan",
    ]
    log = verbose.parse(b"\n".join(lines) + b"\n", native=native)
    assert (log.totals()["exec_count"], log.totals()["exec_ms"]) == (3, 2.0)
    assert log.stats.lines_malformed == 4
    assert "brg:\ufffdavx512" in set(log.primitives["impl"])


def test_commas_in_untimed_text(native):
    lines = [
        "onednn_verbose,v1,1.0,primitive,create:dispatch,convolution,unsupported feature for "
        "padding: f,t,l padding not supported,src/cpu/x64/jit.cpp:680",
        "onednn_verbose,v1,1.0,primitive,exec:check,primitive,unused argument (80),"
        "src/common/primitive_exec_types.cpp:136",
        "onednn_verbose,v1,1.0,primitive,create:dispatch,reorder,cpu,reorder,jit_direct_copy:uni,"
        "undef,src:f32::blocked:abcd::f0,attr-scratchpad:user,,16x3x3x3,formats do not match,0.5",
        "onednn_verbose,primitive,error,cpu,a,b,c,d,e,f,g,1.0",
        "onednn_verbose,common,warn,x,y,z,1,2,3,4,5,6,7,8.0",
        "dnnl_verbose,create:check,cpu,convolution,x,y,z,,,p,1.0",
        "dnnl_verbose,info,cpu,isa:Intel AVX-512, with, commas",
        "onednn_verbose,v1,primitive,create_nested:cache_miss,cpu,matmul,b,c,d,e,f,g,0.5",
        "onednn_verbose,v1,primitive,create:start,cpu,matmul,b,c,d,,,g",
        *GOOD,
    ]
    log = verbose.parse("\n".join(lines) + "\n", native=native)
    assert (log.totals()["exec_count"], log.totals()["exec_ms"]) == (3, 2.0)
    assert log.totals()["create_count"] == 0
    assert (log.totals()["create_nested_count"], log.totals()["create_nested_ms"]) == (1, 0.5)
    assert log.stats.lines_untimed == 8 and log.stats.lines_malformed == 0


def test_older_and_constructed_generations(fixtures_dir, native):
    """Lines built from oneDNN's printing code for releases not run here (see README)."""
    log = verbose.parse(fixtures_dir / "verbose" / CONSTRUCTED, native=native)
    p = log.primitives
    assert log.stats.lines_malformed == 0
    # v3.3-3.5 (component, no v1), v2.5-3.2 (onednn marker), v1.x (dnnl), graph of v3.0-3.2
    assert set(p["kind"]) >= {"convolution", "reorder", "matmul"}
    t = log.totals()
    # by hand: exec 3 (v3.4) + 2 (v3.1) + 2 (v1.5); create:cache_miss in v3.4 and v1.5;
    # graph exec in v3.4 and v3.1 (onednn_graph_verbose), one v3.1 compile
    assert (t["exec_count"], t["create_count"], t["graph_exec_count"]) == (7, 2, 2)
    assert t["exec_ms"] == pytest.approx(0.25 + 0.0625 + 0.75 + 0.05 + 0.2 + 0.35 + 0.6)
    assert t["graph_exec_ms"] == pytest.approx(2.8) and t["graph_compile_count"] == 1
    assert math.isfinite(float(log.graph["time_ms"].sum()))
    assert p["attrs"].str.contains("post_ops").any()
    assert log.header["version"] == "3.4.0" and log.header["generation"] == "v3.3-3.5"
