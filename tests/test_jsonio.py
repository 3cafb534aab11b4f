"""The one writer of every file (mxprof.jsonio): strict JSON, atomic files, whole lines.

`strict_load` is what jq and a browser's JSON.parse accept: NaN and Infinity are errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import stat

import numpy as np
import pytest

from mxprof import jsonio


def _no_constants(name):
    raise ValueError(f"not strict JSON: {name}")


def strict_load(text: str):
    return json.loads(text, parse_constant=_no_constants)


NASTY = {"nan": float("nan"), "inf": float("inf"), "ninf": -math.inf,
         "np": np.float32("nan"), "arr": np.array([1.0, np.inf]), "tuple": (1, 2.5),
         "nested": [{"x": float("nan")}]}


def test_non_finite_values_become_null():
    assert strict_load(jsonio.dumps(NASTY)) == {
        "nan": None, "inf": None, "ninf": None, "np": None, "arr": [1.0, None],
        "tuple": [1, 2.5], "nested": [{"x": None}]}
    assert "\n" not in jsonio.dumps(NASTY, compact=True)


def test_atomic_write_leaves_the_old_file_when_serialising_fails(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old\n")
    with pytest.raises(TypeError):
        jsonio.write_json(path, {"bad": object()})
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_atomic_write_leaves_the_old_file_when_the_disk_fails(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("old\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        jsonio.write_json(path, {"new": 1})
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_atomic_write_replaces_with_readable_permissions(tmp_path):
    path = tmp_path / "r.json"
    jsonio.write_json(path, {"a": float("nan")})
    assert strict_load(path.read_text()) == {"a": None}
    assert path.stat().st_mode & 0o044  # not mkstemp's 0600


def test_append_loops_on_short_writes(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    jsonio.append_line(path, {"key": "a", "v": list(range(20))})
    jsonio.append_line(path, {"key": "b"})
    lines = path.read_text().splitlines()
    assert [strict_load(ln)["key"] for ln in lines] == ["a", "b"]


def test_append_is_a_whole_line_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    jsonio.append_line(path, {"key": "a"})
    before = path.read_bytes()
    real_write = os.write
    calls = []

    def fail_after_a_few_bytes(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data[:5]))

    monkeypatch.setattr(os, "write", fail_after_a_few_bytes)
    with pytest.raises(OSError):
        jsonio.append_line(path, {"key": "b", "payload": "x" * 100})
    assert path.read_bytes() == before


def test_append_closes_a_line_cut_short_by_an_older_writer(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"key": "a"}\n{"key": "b", "trunc')
    jsonio.append_line(path, {"key": "c"})
    assert path.read_text().splitlines()[-1] == '{"key":"c"}'


# ---- every writer of the tool goes through it ---------------------------------------------


def _profile_like_report() -> dict:
    return {"schema": 1, "model": {"name": "m"}, "value": float("nan"),
            "trace": [{"name": "conv", "ph": "X", "ts": 0.0, "dur": float("inf")}]}


def test_profile_json_and_trace_renderers_are_strict(tmp_path):
    from mxprof.render import get_renderer

    for name in ("json", "trace"):
        path = tmp_path / f"{name}.json"
        get_renderer(name).write(_profile_like_report(), str(path))
        strict_load(path.read_text())


def test_compare_outputs_are_strict(tmp_path, capsys):
    from mxprof.commands._outputs import write_outputs
    from mxprof.jobs.compare.records import CompareResult

    report = CompareResult(rows=[{"model": "m", "speedup": float("inf")}])
    path = tmp_path / "c.json"
    assert write_outputs(argparse.Namespace(json=str(path)), report, "compare") == []
    assert strict_load(path.read_text())["rows"][0]["speedup"] is None
    assert write_outputs(argparse.Namespace(json="-"), report, "compare") == []
    strict_load(capsys.readouterr().out)


def test_accuracy_json_is_strict():
    from mxprof.jobs.accuracy.metrics import Comparison, OutputDiff, Tolerance
    from mxprof.jobs.accuracy.records import AccuracyReport, ConfigResult
    from mxprof.render.accuracy import render_json

    diff = OutputDiff(0, (2, 3), 0.0, 1.0, float("inf"), False)
    report = AccuracyReport(
        model={"name": "m"}, param_count=1, weights="random", inputs={"kind": "random"},
        tolerance=Tolerance(), configs=(ConfigResult("mkldnn", "plain", True, None, True,
                                                     max_rel_diff=float("inf")),),
        comparisons=(Comparison("mkldnn", "mkldnn-off", 2, (diff,), None, None, Tolerance()),),
        calibration=None, environment={})
    data = strict_load(render_json(report))
    assert data["configs"][0]["max_rel_diff"] is None


def test_results_log_lines_are_strict(tmp_path):
    from mxprof.jobs.compare.results_log import KIND, ResultsLog

    log = ResultsLog(tmp_path / "r.jsonl")
    log.append({"kind": KIND, "key": "k", "status": "ok", "x": float("nan")})
    (line,) = (tmp_path / "r.jsonl").read_text().splitlines()
    assert strict_load(line)["x"] is None


def test_a_device_is_written_in_place_never_replaced(tmp_path):
    # Renaming a temporary file over /dev/full as root replaced the device node with a file.
    before = os.stat("/dev/full")
    with pytest.raises(OSError):
        jsonio.write_text("/dev/full", "x" * 10)  # ENOSPC, from the device itself
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_symbolic_link_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    jsonio.write_json(link, {"a": 1})
    assert link.is_symlink() and json.loads(real.read_text()) == {"a": 1}


def test_a_device_or_fifo_is_written_in_place_never_replaced(tmp_path):
    """Before: the atomic rename replaced the target, so `--markdown /dev/full` run as root
    turned /dev/full into a regular file. A FIFO stands in for a device here."""
    import os
    import stat
    import threading

    from mxprof.jsonio import write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    write_text(fifo, "report\n")
    reader.join(timeout=30)
    assert got == ["report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left beside it
