"""merge and compare: rows keyed by the model's inputs, and the one busy-machine rule in the
table, the CSV and the page (issue 20). Built on the real results file of
tests/fixtures/results (mobilenet0.25 at 3x32x32, two processes per configuration)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli

RESULTS = Path(__file__).parent / "fixtures" / "results" / "compare-results.jsonl"


def _records() -> list[dict]:
    return [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]


def _at_shape(record: dict, shape: list[int], busy: float | None) -> dict:
    """The same run as if measured at another input shape (a new key), `busy`: the other
    processes' CPU fraction recorded with it."""
    record = json.loads(json.dumps(record))
    record["key"] += "-64"
    record["base_key"] = (record.get("base_key") or record["key"]) + "-64"
    for r in record["results"]:
        r["spec"]["model"]["input_shape"] = shape
    if busy is not None:
        record["machine_load"] = {
            "label": "x", "wall_s": 10.0, "cpus": 2, "other_cpu_s": 20 * busy,
            "own_cpu_s": 1.0, "other_cpu_fraction": busy, "load_before": 3.0,
            "load_after": 3.0, "busy": busy > 0.10, "threshold": 0.10}
    return record


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_merge_keeps_two_input_shapes_apart_and_shows_them(tmp_path):
    small = _write(tmp_path / "small.jsonl", _records())
    large = _write(tmp_path / "large.jsonl",
                   [_at_shape(r, [3, 64, 64], None) for r in _records()])
    r = run_cli("merge", str(small), str(large), "--json", "-")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    by_inputs = {}
    for row in rows:
        by_inputs.setdefault(row["inputs"], []).append(row)
    assert set(by_inputs) == {"3x32x32", "3x64x64"}
    # one latency row per configuration and shape, never pooled across shapes
    for shape_rows in by_inputs.values():
        assert sorted(x["config"] for x in shape_rows) == ["mkldnn", "reference"]
    table = run_cli("merge", str(small), str(large))
    assert "3x32x32" in table.stdout and "3x64x64" in table.stdout


def test_busy_cells_are_marked_in_table_csv_and_page(tmp_path):
    busy = _write(tmp_path / "busy.jsonl", [_at_shape(r, [3, 32, 32], 0.4) for r in _records()])
    out = tmp_path / "t.csv"
    md = tmp_path / "t.md"
    r = run_cli("merge", str(busy), "--csv", str(out), "--markdown", str(md))
    assert r.returncode == 0, r.stderr
    assert "busy machine: 2 cell(s) ran while other processes used more than 10%" in r.stdout
    assert "mobilenet0.25 w/o latency bs=1 [current]: 40%" in r.stdout
    assert "busy machine: 2 cell(s)" in md.read_text()
    records = list(csv.DictReader(io.StringIO(out.read_text())))
    assert records and all(rec["busy"] == "True" for rec in records)
    assert {rec["other_cpu_fraction"] for rec in records} == {"0.4"}


def test_a_quiet_run_says_how_quiet(tmp_path):
    quiet = _write(tmp_path / "q.jsonl", [_at_shape(r, [3, 32, 32], 0.02) for r in _records()])
    r = run_cli("merge", str(quiet))
    assert r.returncode == 0, r.stderr
    assert "busy machine" not in r.stdout
    assert "other processes used at most 2% of the CPU time" in r.stdout
