"""compare --reference-set: the reference table's 14 rows, its batch sizes and its own speedups
printed beside ours (planning and rendering only; no workers)."""

from __future__ import annotations

import re
from pathlib import Path

from mxprof.host import builds
from mxprof.jobs.compare import matrix as compare
from mxprof.jobs.compare import rows as compare_rows
from mxprof.jobs.profile.spec import RunResult
from mxprof.mx import models
from mxprof.render.compare_table import layout, table
from mxprof.render.csv_ import csv_records

MACHINE = {"hostname": "h", "cpu_model": "Xeon", "logical_cpus": 2}
DOC = Path(__file__).resolve().parents[1] / "docs" / "reference-benchmark.md"


def test_reference_set_has_the_fourteen_rows_with_their_batches():
    labels = [label for label, _, _ in compare.REFERENCE_MODELS]
    assert len(labels) == 14
    assert compare.model_batches("gnmt", None) == [1, 64]
    assert compare.model_batches("dcgan", None) == [1, 128]
    assert compare.model_batches("inceptionv4", None) == [1, 128]
    assert (compare.category("gnmt"), compare.category("dcgan")) == ("RNN", "GAN")
    assert set(compare.REFERENCE_SPEEDUPS) == {name for _, name, _ in compare.REFERENCE_MODELS}
    # mxprof's own four resolve without GluonCV; the reference's spellings are aliases.
    for name in ("inceptionv4", "inceptionresnetv2", "gnmt", "dcgan"):
        assert models.resolve(name, check_gluoncv=False).source == "mxprof"
    assert compare.ALIASES["inception-resnet-v2"] == "inceptionresnetv2"


def test_reference_speedups_match_the_document():
    text = DOC.read_text()
    for label, name, _ in compare.REFERENCE_MODELS:
        line = next(x for x in text.splitlines() if x.startswith("| ") and f"| {label} |" in x)
        cells = [c.strip() for c in line.strip("|").split("|")]
        lat, thr = float(cells[4]), float(cells[7])
        assert compare.REFERENCE_SPEEDUPS[name] == (lat, thr), label
        batch = re.search(r"\(bs (\d+)\)", cells[5])
        assert compare.MODEL_BATCH[name] == (int(batch.group(1)) if batch else
                                             1 if name.startswith("faster") else 128), label


def _ok(run, latency_ms: float, batch_ms: float) -> RunResult:
    stats = {"median": latency_ms, "q1": latency_ms, "q3": latency_ms, "n": 10, "stdev": 0.0,
             "protocol": {"warmup": 1, "min_time_s": 0.3, "timer": "t"}}
    bstats = {**stats, "median": batch_ms, "q1": batch_ms, "q3": batch_ms}
    b = run.spec.batch_size
    return RunResult(spec=run.spec, status="ok", wall_s=1.0, weights="random",
                     latency=stats, throughput={"batch_size": b,
                                                "images_per_s": b * 1e3 / batch_ms,
                                                "batch_ms": bstats})


def test_table_shows_the_reference_speedup_beside_ours():
    spec = models.resolve("gnmt", check_gluoncv=False)
    runs = compare.plan([spec], [builds.current_build()], machine=MACHINE, batch_sizes=[1, 2])
    times = {"reference": (100.0, 180.0), "mkldnn": (20.0, 30.0)}
    records = [compare.make_record(r, [_ok(r, *times[r.spec.config])]) for r in runs]
    lay = layout(compare_rows.rows(records))
    t = table(lay)
    assert t.headers[-2:] == ("ref speedup lat", "ref speedup thr")
    (row,) = t.rows
    assert row[0].startswith("GNMT (gnmt), ")  # the row names its inputs (issue 20)
    assert "5.00x" in row and "6.00x" in row  # ours: 100/20, (2/30)/(2/180)
    assert row[-2:] == ("7.27x", "6.83x (bs 64)")  # the reference's, at its batch 64
    assert "ref speedup" in t.footnote
    (rec,) = csv_records(lay)
    assert (rec["reference_latency_speedup"], rec["reference_throughput_speedup"]) == (7.27, 6.83)
