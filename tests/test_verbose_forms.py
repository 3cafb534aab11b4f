"""Verbose line forms as people paste them into bug reports (issue 12), with both scanners.

The three logs under tests/fixtures/verbose_cases are copied from public bug reports; their right
values come from that folder's README (counted by hand and with an independent counter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mxprof._native import core
from mxprof.onednn import _verbose_py, verbose
from scan_compare import assert_same_scan

REPO = Path(__file__).resolve().parents[1]


def _cases() -> Path:
    return REPO / "tests" / "fixtures" / "verbose_cases"


@pytest.fixture(params=[True, False], ids=["native", "python"])
def native(request):
    return request.param


def _parse(lines: list[str] | str, native: bool, eol: str = "\n") -> verbose.VerboseLog:
    text = lines if isinstance(lines, str) else eol.join(lines) + eol
    data = text.encode()
    assert_same_scan(core.scan_verbose_buffer(data), _verbose_py.scan_buffer(data))
    return verbose.parse(data, native=native)


def test_case_windows_decimal_comma(native):
    log = verbose.parse(_cases() / "mkldnn-v0-windows-decimal-comma.log", native=native)
    t = log.totals()
    assert (t["exec_count"], t["create_count"], t["malformed_count"]) == (35, 0, 0)
    assert t["exec_ms"] == pytest.approx(622.8887, abs=1e-9)
    got = {k: (v["count"], round(v["ms"], 4)) for k, v in t["by_kind"].items()}
    assert got == {"convolution": (19, 458.9345), "reorder": (15, 136.9867),
                   "pooling": (1, 26.9675)}
    assert round(100 * t["reorder_share"], 1) == 22.0
    assert log.header["generation"] == "v0.x" and log.header["generation_inferred"]
    assert log.header["version"] is None


def test_case_v1_create_start_and_nested(native):
    log = verbose.parse(_cases() / "onednn-v3.13-v1-create-start-nested.log", native=native)
    t = log.totals()
    assert (t["exec_count"], t["create_count"], t["create_nested_count"]) == (0, 0, 1)
    assert t["create_nested_ms"] == pytest.approx(0.526123, abs=1e-12)
    assert t["malformed_count"] == 0 and t["malformed"] == []
    nested = log.primitives.iloc[0]
    assert (nested["operation"], nested["cache"], nested["kind"]) == ("create_nested", "miss",
                                                                      "matmul")
    assert log.stats.lines_total - log.stats.lines_verbose == 1  # the `$ ...` line is foreign
    h = log.header
    assert (h["version"], h["runtime"], h["threads"]) == ("3.13.0", "OpenMP", 96)
    assert h["isa"] == "Intel AVX-512 with Intel DL Boost" and not h["generation_inferred"]


def test_case_graph_new_layout(native):
    log = verbose.parse(_cases() / "onednn-graph-exec-new-layout.log", native=native)
    t = log.totals()
    assert (t["graph_exec_count"], t["exec_count"], t["malformed_count"]) == (1, 0, 0)
    assert t["graph_exec_ms"] == pytest.approx(0.193115, abs=1e-12)
    g = log.graph.iloc[0]
    assert (g["op_names"], g["engine"], g["partition_id"]) == ("_gen_index(_gen_index)", "gpu",
                                                               "18446744073709551615")
    assert g["op_attrs"] == "attrs:{axis:2}" and g["outputs"].startswith("outputs:{s32:1021")
    assert log.header["generation"] == "v3.6+" and log.header["generation_inferred"]
    # The case's right values are shown, not only parsed: its partition in the JSON totals
    # and in the summary's graph table (breaker trial 2026-12-08b).
    assert t["graph_partitions"] == [{"operation": "exec", "op_names": "_gen_index(_gen_index)",
                                      "engine": "gpu", "partition_id": "18446744073709551615",
                                      "count": 1, "ms": pytest.approx(0.193115, abs=1e-12)}]
    from mxprof.render.verbose import format_summary
    text = "\n".join(format_summary(log, log.summary("kind"), "kind", 10, "case.log"))
    row = next(ln for ln in text.splitlines() if ln.startswith("exec ") and "_gen_index" in ln)
    assert row.split()[1:4] == ["_gen_index(_gen_index)", "gpu", "18446744073709551615"]
    assert "0.193" in row


def test_a_primitive_log_has_no_graph_partitions(native):
    log = verbose.parse(_cases() / "mkldnn-v0-windows-decimal-comma.log", native=native)
    assert log.totals()["graph_partitions"] == []


V0 = ("mkldnn_verbose,exec,reorder,jit:uni,undef,in:f32_nchw out:f32_nChw8c,num:1,"
      "48x336x32x32,{}")
V1_0 = "mkldnn_verbose,exec,cpu,reorder,jit:uni,undef,in:f32_nchw out:f32_nChw8c,num:1,1x8,{}"
V2 = ("dnnl_verbose,exec,cpu,convolution,jit:avx2,forward_inference,src_f32::blocked:abcd:f0,,"
      "alg:convolution_direct,mb1_ic3oc8_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1,{}")
GRAPH_OLD = ("onednn_verbose,graph,exec,cpu,100002,matmul_post_ops,aten::linear,,in0_f32:0:"
             "strided:undef:4x64:64s1,fpm:strict,dnnl_backend,{}")
GRAPH_NEW = ("onednn_verbose,v1,graph,exec,{engine},relu(aten::relu),7,attrs:{{a:1,b:2}},"
             "inputs:{{f32:1:strided:undef:2x3:3x1}},outputs:{{f32:2:strided:undef:2x3:3x1}},{}")


@pytest.mark.parametrize("template", [V0, V1_0, V2, GRAPH_OLD])
def test_decimal_comma_in_every_generation(template, native):
    log = _parse([template.format("11,4111"), template.format("0,0991"),
                  template.format("2.5")], native)
    t = log.totals()
    got = sorted([*log.primitives["time_ms"], *log.graph["time_ms"]])
    assert got == [0.0991, 2.5, 11.4111] and t["malformed_count"] == 0


@pytest.mark.parametrize(("line", "reason"), [
    # right field count, all-digit last two fields: the log's separator decides
    # (tests/test_verbose_separator.py)
    (V0.format("1,2,3"), "8 fields where v0.x lines have 6"),  # never a count it does not have
    (V0.format("11,41e-3"), "7 fields where v0.x lines have 6"),
    (V2.format("0,5x"), "9 fields where v1.1+ lines have 8"),
    (V2.format("0.141846."), 'time field "0.141846." is not a number'),
    (V2.format("1.5)"), 'time field "1.5)" is not a number'),
    (V2.replace("convolution", "convolution\u00a0"),
     'kind "convolution\u00a0" is not a oneDNN primitive kind'),
    (V2.replace(",cpu,", ",cpu:0,").format(1.0), 'engine "cpu:0" is not cpu or gpu'),
    ("dnnl_verbose,exec", 'line ends after "exec"'),
    ("dnnl_verbose,exec,cpu,0.5", "1 field where v1.1+ lines have 8"),
    ("onednn_verbose,v1,primitive,exec,1.5", 'fields missing after "exec"'),
    ("onednn_verbose,v1,primitive,frobnicate,cpu,1.5", 'unknown operation "frobnicate"'),
])
def test_rejected_with_reason(line, reason, native):
    log = _parse(["foreign output", line.format("1.0")], native)
    assert log.totals()["exec_count"] == 0
    assert log.malformed == ((2, reason, line.format("1.0")[:80]),)


def test_v1_operations(native):
    body = "cpu,matmul,brg_matmul:avx2,undef,src:f32::blocked:ab::f0,,,2x1:1x1"
    lines = [f"onednn_verbose,v1,primitive,{op},{body}{t}" for op, t in [
        ("create:start", ""), ("create_nested:cache_miss", ",0.5"),
        ("create_nested:cache_hit", ",0.25"), ("create:cache_miss", ",2"), ("exec", ",1.5"),
        ("exec:check", ",bad argument, with commas"), ("create:check", ",why, and why"),
        ("error", ",something failed, here"), ("warn", ",careful, now")]]
    log = _parse(lines, native)
    t = log.totals()
    assert (t["create_count"], t["create_ms"], t["exec_count"]) == (1, 2.0, 1)
    assert (t["create_nested_count"], t["create_nested_ms"]) == (2, 0.75)
    assert log.stats.lines_untimed == 5 and t["malformed_count"] == 0
    assert t["create_by_kind"] == {"matmul": {"count": 1, "ms": 2.0}}


@pytest.mark.parametrize("engine", ["cpu", "gpu"])
def test_graph_layouts(engine, native):
    lines = [GRAPH_NEW.format(0.5, engine=engine), GRAPH_OLD.format(1.5),
             "onednn_graph_verbose,exec,cpu,3,matmul,aten::mm,,in0,fpm:strict,dnnl_backend,2"]
    log = _parse(lines, native)
    g = log.graph
    assert list(g["time_ms"]) == [0.5, 1.5, 2.0] and log.totals()["malformed_count"] == 0
    assert g["op_attrs"][0] == "attrs:{a:1,b:2}" and g["engine"][0] == engine


def test_mangled_on_the_way_to_a_bug_report(native):
    good = V2.format("0.25")
    lines = [
        "[I 12:00:01] step 3 " + good,  # starts mid-line after other output
        good + "`",  # Markdown fence glued to the line
        "`",  # a lone backtick: foreign
        good.replace("mb1_ic3", "mb1\u00d7ic3") + "  ",  # a web page's multiplication sign, trailing blanks
        V2.format("0.141846."),
    ]
    log = _parse(lines, native, eol="\r\n")
    t = log.totals()
    assert (t["exec_count"], t["exec_ms"]) == (3, 0.75)
    assert [(n, r) for n, r, _ in log.malformed] == [
        (5, 'time field "0.141846." is not a number')]
    assert log.stats.lines_total - log.stats.lines_verbose == 1


@pytest.mark.parametrize(("lines", "generation"), [
    ([V0.format(1)], "v0.x"),
    ([V1_0.format(1)], "v1.0"),
    ([V2.format(1)], "v1.1-2.4"),
    ([V2.format(1).replace("dnnl_", "onednn_")], "v2.5-3.2"),
    ([V2.format(1).replace("dnnl_verbose,", "onednn_verbose,primitive,")], "v3.3-3.5"),
    ([V2.format(1).replace("dnnl_verbose,", "onednn_verbose,v1,primitive,")], "v3.6+"),
])
def test_generation_inferred_without_header(lines, generation, native):
    h = _parse(lines, native).header
    assert (h["generation"], h["generation_inferred"]) == (generation, True)


def test_rejected_text_is_the_first_80_characters(native):
    line = V2.format("x") + "\u00e9" * 100
    log = _parse([line] * 3, native)
    assert [m[0] for m in log.malformed] == [1, 2, 3]
    assert all(m[2] == line[:80] for m in log.malformed)
    assert log.totals()["malformed"][0] == {"line": 1, "reason": log.malformed[0][1],
                                            "text": line[:80]}


def test_resolution_is_the_finest_step_printed(native):
    log = _parse([V2.format("0.25"), V2.format("0.125"), V2.format("0")], native)
    assert log.resolution_ms == pytest.approx(1e-3)
    assert _parse([V0.format("11,4111")], native).resolution_ms == pytest.approx(1e-4)
    assert _parse(["foreign"], native).resolution_ms is None


# Timestamps (*_VERBOSE_TIMESTAMP=1) as a decimal-comma locale prints them, in each prefix order.
STAMP = "1795911005473,738037"
STAMPED = [
    V2.replace("dnnl_verbose,", f"dnnl_verbose,{STAMP},"),  # v2.x: timestamp, operation
    V2.replace("dnnl_verbose,", f"onednn_verbose,{STAMP},primitive,"),  # v3.3: then component
    V2.replace("dnnl_verbose,", f"onednn_verbose,primitive,{STAMP},"),  # component first
    V2.replace("dnnl_verbose,", f"onednn_verbose,v1,{STAMP},primitive,"),  # v3.6+ v1
    GRAPH_OLD.replace("onednn_verbose,", f"onednn_verbose,{STAMP},"),  # graph component
]


@pytest.mark.parametrize("template", STAMPED)
def test_decimal_comma_timestamp_is_read(template, native):
    log = _parse([template.format("11,4111"), template.format("2.5")], native)
    assert log.totals()["malformed_count"] == 0
    frame = log.graph if "graph" in template else log.primitives
    assert list(frame["time_ms"]) == [11.4111, 2.5]
    assert list(frame["timestamp_ms"]) == [1795911005473.738037] * 2


def test_decimal_comma_timestamp_on_untimed_lines(native):
    log = _parse([f"onednn_verbose,{STAMP},primitive,info,template:timestamp,operation",
                  f"dnnl_verbose,{STAMP},create:check,cpu,bad, argument"], native)
    assert log.stats.lines_untimed == 2 and log.totals()["malformed_count"] == 0


@pytest.mark.parametrize(("line", "reason"), [
    # the token after the two digit groups is no operation: no reading of the line fits
    (V2.replace("dnnl_verbose,", f"dnnl_verbose,{STAMP},frobnicate,"),
     'unknown operation "1795911005473"'),
    # three digit groups: the third is no operation either
    (V2.replace("dnnl_verbose,", f"dnnl_verbose,{STAMP},5,"), 'unknown operation "1795911005473"'),
    (V2.replace("dnnl_verbose,", "dnnl_verbose,1795911005473,73x,"),
     'unknown operation "1795911005473"'),
    # a timestamp already read: a second one is not a timestamp
    (V2.replace("dnnl_verbose,", f"onednn_verbose,1.5,primitive,{STAMP},"),
     'unknown operation "1795911005473"'),
])
def test_decimal_comma_timestamp_rejected_when_ambiguous(line, reason, native):
    log = _parse([line.format("1.0")], native)
    assert log.totals()["exec_count"] == 0
    assert log.malformed == ((1, reason, line.format("1.0")[:80]),)


def test_a_whole_timestamped_log_in_decimal_commas_reads_as_the_original(native):
    # MXNet 1.9.1's own log (DNNL_VERBOSE_TIMESTAMP=1) as a decimal-comma locale prints it:
    # every timestamp and every time with a comma; rows, stamps and times must not change.
    original = (REPO / "tests" / "fixtures" / "verbose"
                / "mxnet191_dnnl_v2.4.4_ts_level1.log").read_text()
    lines = []
    for line in original.splitlines():
        if line.startswith("dnnl_verbose,") and ",info," not in line:
            head, stamp, rest = line.split(",", 2)
            body, time = rest.rsplit(",", 1)
            line = ",".join([head, stamp.replace(".", ","), body, time.replace(".", ",")])
        lines.append(line)
    comma = _parse(lines, native)
    dot = _parse(original, native)
    # every timed line of the original was rewritten
    assert sum(a != b for a, b in zip(lines, original.splitlines())) == dot.stats.lines_parsed
    assert comma.totals() == dot.totals() and comma.totals()["malformed_count"] == 0
    for column in ("timestamp_ms", "time_ms", "kind", "problem"):
        assert list(comma.primitives[column]) == list(dot.primitives[column]), column
