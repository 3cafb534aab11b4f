"""`python -m mxprof verbose ...` as a user calls it."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from mxprof.onednn import verbose

LEVEL2 = "mxnet191_dnnl_v2.4.4_ts_level2.log"


def test_summary_table(cli, fixtures_dir):
    proc = cli("verbose", "summary", str(fixtures_dir / "verbose" / LEVEL2))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "oneDNN v2.4.4, format generation v2.0-2.4" in out
    assert "primitive exec: 117 calls, 49.447 ms" in out
    assert "primitive create: 78 timed, 7.053 ms" in out
    assert "reorder share of exec time: 77.5 %" in out
    table = out.split("Exec time by kind")[1].splitlines()
    assert table[1].split()[:2] == ["kind", "calls"]
    assert table[3].split()[:3] == ["reorder", "45", "38.311"]
    assert "GFLOP/s" in out and "mb1_ic3oc64_ih64oh32kh7sh2dh0ph3_iw64ow32kw7sw2dw0pw3" in out


def test_summary_by_impl_and_top(cli, fixtures_dir):
    proc = cli("verbose", "summary", str(fixtures_dir / "verbose" / LEVEL2), "--by", "kind,impl",
               "--top", "2")
    assert proc.returncode == 0, proc.stderr
    section = proc.stdout.split("Exec time by kind,impl (2 of 11 groups):")[1]
    rows = section.split("\n\n")[0].strip().splitlines()[2:]
    assert [r.split()[:2] for r in rows] == [["reorder", "jit:uni"],
                                             ["convolution", "brgconv:avx512_core"]]


@pytest.mark.parametrize("name", ["torch213_onednn_v3.12_graph_all_ts.log",
                                  "mxnetmkl151_mkldnn_v0.19.0.log"])
def test_summary_json(cli, fixtures_dir, name):
    path = fixtures_dir / "verbose" / name
    proc = cli("verbose", "summary", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["machine"] is None  # a pasted log: the machine is not known
    expected = verbose.parse(path).totals()
    for key in ("exec_count", "exec_ms", "create_count", "create_ms", "graph_exec_count",
                "graph_exec_ms", "by_kind"):
        assert got[key] == expected[key]
    assert got["header"]["version"] and got["stats"]["lines_total"] > 0


def test_missing_file_is_a_usage_error(cli, tmp_path):
    proc = cli("verbose", "summary", str(tmp_path / "nope.log"))
    assert proc.returncode == 2
    assert "mxprof: error:" in proc.stderr and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_group_is_a_usage_error(cli, fixtures_dir):
    proc = cli("verbose", "summary", str(fixtures_dir / "verbose" / LEVEL2), "--by", "colour")
    assert proc.returncode == 2 and "cannot group by" in proc.stderr


def test_file_without_verbose_lines(cli, tmp_path):
    path = tmp_path / "train.log"
    path.write_text("epoch 1, loss 0.5\nepoch 2, loss 0.4\n")
    proc = cli("verbose", "summary", str(path))
    assert proc.returncode == 2 and "mxprof: error:" in proc.stderr
    assert "no oneDNN/MKL-DNN verbose lines" in proc.stderr and "DNNL_VERBOSE=1" in proc.stderr
    assert "Traceback" not in proc.stderr


TINY_NET = """
import mxnet as mx
from mxnet.gluon import nn
net = nn.HybridSequential()
net.add(nn.Conv2D(8, 3, padding=1), nn.Activation('relu'), nn.Dense(4))
net.initialize()
net.hybridize()
x = mx.nd.random.uniform(shape=(1, 3, 16, 16))
for _ in range(3):
    net(x).wait_to_read()
print('tiny net done', flush=True)
"""


def test_run_records_a_real_mxnet_log(cli, tmp_path):
    log = tmp_path / "run.log"
    proc = cli("verbose", "run", "-o", str(log), "--json", "--", sys.executable, "-c", TINY_NET)
    assert proc.returncode == 0, proc.stderr
    assert "tiny net done" in proc.stdout  # the program's own output passes through
    got = json.loads(proc.stdout.split("tiny net done", 1)[1])
    assert got["exec_count"] >= 9 and got["by_kind"]["convolution"]["count"] >= 3
    assert got["header"]["library"] == "oneDNN" and got["header"]["version"] == "2.4.4"
    parsed = verbose.parse(log)
    assert parsed.primitives["timestamp_ms"].notna().all()  # timestamps were switched on
    assert parsed.totals()["exec_ms"] == pytest.approx(got["exec_ms"])
    # Captured here: the summary names the machine (a pasted log cannot, see below).
    from mxprof.cpu.cpulist import format_cpu_list
    assert got["machine"]["affinity"] == format_cpu_list(sorted(os.sched_getaffinity(0)))
    assert got["machine"]["cpu_model"] and got["machine"]["physical_cores"]


def test_run_summary_names_the_machine_a_pasted_log_does_not(cli, tmp_path, fixtures_dir):
    """Before: neither said which CPU, cores or affinity the figures came from."""
    proc = cli("verbose", "run", "-o", str(tmp_path / "run.log"), "--", sys.executable, "-c",
               TINY_NET)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("machine"))
    assert "captured here" in line and "physical cores" in line and "affinity" in line
    pasted = cli("verbose", "summary", str(fixtures_dir / "verbose" / LEVEL2))
    assert "machine: not recorded in a verbose log" in pasted.stdout


def test_run_without_command(cli):
    proc = cli("verbose", "run")
    assert proc.returncode == 2 and "needs a command" in proc.stderr


GOOD = ("dnnl_verbose,exec,cpu,convolution,jit:avx2,forward_inference,src_f32::blocked:abcd:f0,,"
        "alg:convolution_direct,mb1_ic3oc8_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1,{}")


def test_summary_lists_rejected_lines(cli, tmp_path):
    path = tmp_path / "pasted.log"
    bad = [GOOD.format(f"0.{i}.") for i in range(25)]
    path.write_text("\n".join([GOOD.format("1.5"), *bad]) + "\n")
    proc = cli("verbose", "summary", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "25 lines rejected, see below" in proc.stdout
    section = proc.stdout.split("Rejected lines (25; first 20, --show-rejected for all):")[1]
    assert section.count("is not a number") == 20
    assert 'line  2: time field "0.0." is not a number' in section
    assert repr(bad[0][:80]) in section
    full = cli("verbose", "summary", str(path), "--show-rejected").stdout
    assert full.split("Rejected lines (25):")[1].count("is not a number") == 25


def test_json_keys_of_issue_12(cli, tmp_path):
    path = tmp_path / "pasted.log"
    path.write_text("\n".join([GOOD.format("1.5"), GOOD.format("x")]) + "\n")
    got = json.loads(cli("verbose", "summary", str(path), "--json").stdout)
    assert got["malformed_count"] == 1
    assert got["malformed"] == [{"line": 2, "reason": 'time field "x" is not a number',
                                 "text": GOOD.format("x")[:80]}]
    assert (got["create_nested_count"], got["create_nested_ms"], got["create_by_kind"]) == \
        (0, 0.0, {})
    assert got["header"]["generation_inferred"] is True and got["resolution_ms"] == 0.1


def test_creation_table_first_when_creation_dominates(cli, tmp_path):
    path = tmp_path / "deconv.log"
    path.write_text("\n".join([GOOD.replace(",exec,", ",create:cache_miss,").format("70000"),
                               GOOD.format("0.5"), GOOD.format("0")]) + "\n")
    out = cli("verbose", "summary", str(path)).stdout
    assert out.index("Creation time by kind") < out.index("Exec time by kind")
    create = out.split("Creation time by kind (1 of 1 groups):")[1].splitlines()
    assert create[1].split()[:2] == ["kind", "impl"]
    assert create[3].split()[:4] == ["convolution", "jit:avx2", "1", "70000.000"]
    assert "time resolution: 0.1 ms" in out


def test_group_below_resolution_is_reported_not_zero(cli, tmp_path):
    path = tmp_path / "tiny.log"
    path.write_text("\n".join([GOOD.format("0.125"),
                               GOOD.replace("convolution,", "eltwise,").format("0")]) + "\n")
    out = cli("verbose", "summary", str(path)).stdout
    row = next(r for r in out.splitlines() if r.startswith("eltwise"))
    assert row.split()[:4] == ["eltwise", "1", "<", "0.001"]


def test_run_with_a_mistyped_command_keeps_the_existing_log(cli, tmp_path):
    log = tmp_path / "keep.log"
    earlier = (b"an earlier log\n" + GOOD.format("0.5").encode() + b"\n") * 500
    log.write_bytes(earlier)
    proc = cli("verbose", "run", "-o", str(log), "--", "pyhton-no-such-command", "x.py")
    assert proc.returncode == 2 and "command not found: pyhton-no-such-command" in proc.stderr
    assert log.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.log"]  # no temporary left


@pytest.mark.parametrize("target", ["/proc/x.log", "{tmp}/missing/x.log", "{tmp}"])
def test_run_with_an_unwritable_log_blames_the_log(cli, tmp_path, target):
    target = target.format(tmp=tmp_path)
    proc = cli("verbose", "run", "-o", target, "--", "true")
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write the log {target}" in proc.stderr
    assert "command not found" not in proc.stderr and "Traceback" not in proc.stderr


def test_run_never_replaces_a_device_with_its_log(cli):
    # A temporary log renamed over /dev/null would replace the device node (as root).
    proc = cli("verbose", "run", "-o", "/dev/null", "--", "true")
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
