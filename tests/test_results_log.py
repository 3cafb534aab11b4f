"""Append-only results file: one line per run, truncated lines skipped, resume keys."""

from __future__ import annotations

import json

import pytest

from mxprof.jobs.compare.results_log import (
    KIND,
    ResultsFileError,
    ResultsLog,
    done_keys,
    latest_by_key,
    read_lines,
)


def record(key: str, status: str = "ok", **extra) -> dict:
    return {"kind": KIND, "schema": 1, "key": key, "status": status, "results": [], **extra}


def test_each_append_is_one_complete_line(tmp_path):
    path = tmp_path / "r.jsonl"
    log = ResultsLog(path)
    log.append(record("a"))
    log.append(record("b", "failed"))
    lines = path.read_text().splitlines()
    assert [json.loads(ln)["key"] for ln in lines] == ["a", "b"]
    assert path.read_text().endswith("\n")
    again = ResultsLog(path)
    assert [r["key"] for r in again.records] == ["a", "b"]
    assert again.warnings == []


def test_only_ok_runs_count_as_done_and_last_line_wins():
    recs = [record("a", "failed"), record("b"), record("a"), record("c", "timeout"),
            record("b", "failed")]
    assert done_keys(recs) == {"a"}
    latest = latest_by_key(recs)
    assert [(r["key"], r["status"]) for r in latest] == [("a", "ok"), ("c", "timeout"),
                                                         ("b", "failed")]


def test_truncated_last_line_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "r.jsonl"
    full = json.dumps(record("a")) + "\n"
    cut = json.dumps(record("b"))[:37]  # a writer killed mid-line
    path.write_text(full + cut)
    records, warnings = read_lines(path)
    assert [r["key"] for r in records] == ["a"]
    assert len(warnings) == 1 and "truncated last line" in warnings[0] and ":2:" in warnings[0]


def test_append_after_a_truncated_line_starts_a_new_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a")) + "\n" + '{"kind": "mxprof-compare-run", "ke')
    log = ResultsLog(path)
    assert log.done == {"a"} and len(log.warnings) == 1
    log.append(record("b"))
    records, warnings = read_lines(path)
    assert [r["key"] for r in records] == ["a", "b"]
    assert len(warnings) == 1 and "unreadable line" in warnings[0]


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"schema": 1, "model": {"name": "x"}}, indent=1))
    with pytest.raises(ResultsFileError, match="no mxprof compare records"):
        ResultsLog(path)


def test_foreign_json_lines_are_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a")) + "\n" + json.dumps({"kind": "other"}) + "\n")
    records, warnings = read_lines(path)
    assert [r["key"] for r in records] == ["a"]
    assert "not an mxprof compare record" in warnings[0]


def test_append_refuses_records_without_key(tmp_path):
    with pytest.raises(ValueError):
        ResultsLog(tmp_path / "r.jsonl").append({"kind": KIND})
