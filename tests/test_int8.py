"""`mxprof int8` on small nets built to fail INT8 in known places (tests/fixtures/int8_nets.py).

The outlier net's conv1 gets an input whose channel 0 is 1000x the others: it must be the
first diverging layer and the first layer the search sends back to FP32; the same net without
the outlier keeps every layer in INT8. One process per configuration and short timing keep the
module to a couple of minutes (the protocol itself is tested in test_worker_protocol.py).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from mxprof.jobs.int8 import search
from mxprof.jobs.int8.records import Candidate, Errors, Latency, LayerRow

FAST = ("--processes", "1", "--min-time", "0.05", "--warmup", "2", "--num-inputs", "32",
        "--calib-size", "16", "--probe", "8")


def _run(cli, tmp, factory: str, *extra: str) -> tuple[dict, object]:
    out = tmp / f"{factory}.json"
    proc = cli("int8", f"{_fixture(factory)}", *FAST, "--target", "sqnr=20",
               "--workdir", str(tmp / f"work-{factory}"), "--json", str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc


def _fixture(factory: str) -> str:
    from conftest import FIXTURES
    return f"{FIXTURES / 'int8_nets.py'}:{factory}"


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    from conftest import run_cli
    tmp = tmp_path_factory.mktemp("int8-outlier")
    data, _ = _run(run_cli, tmp, "outlier", "--export", str(tmp / "chosen"))
    return data, tmp


def test_outlier_conv_is_first_diverging_and_first_back_to_fp32(outlier):
    data, _ = outlier
    assert data["kind"] == "int8"
    assert data["first_diverging"] == "outlier_conv1_fwd"
    row = next(r for r in data["layers"] if "outlier_conv1_fwd" in r["layers"])
    assert row["role"] == "int8" and row["local"] is not None
    # Its own (local) error is the worst of every INT8 node: what the search ranks by.
    int8_rows = [r for r in data["layers"] if r["role"] == "int8" and r["local"]]
    assert min(int8_rows, key=lambda r: r["local"]["sqnr_db"]) is row
    searched = [c for c in data["candidates"] if c["phase"] == "exclude"]
    assert searched and searched[0]["excluded"] == ["outlier_conv1_fwd"]
    chosen = data["candidates"][data["chosen"]]
    assert data["met"] is True and chosen["meets"] is True
    assert "outlier_conv1_fwd" in chosen["excluded"]
    assert data["candidates"][1]["meets"] is False  # all-INT8 misses the target
    for c in data["candidates"]:
        assert c["latency"]["ci95_low_ms"] <= c["latency"]["median_ms"] <= \
            c["latency"]["ci95_high_ms"]
    assert any(r["int8_ms"] is not None and r["fp32_ms"] is not None for r in data["layers"])


def test_exported_exclusion_reproduces_reported_accuracy(outlier):
    """The quantize_net arguments the report prints, fed back to quantize_net here (and the
    exported files loaded), give the output SQNR the report gives for the chosen row."""
    data, tmp = outlier
    warnings.simplefilter("ignore")
    import mxnet as mx

    from mxprof.jobs.int8.numerics import errors
    from mxprof.mx.models import ModelSpec, load
    from mxprof.mx.quantize import quantize

    chosen = data["candidates"][data["chosen"]]
    assert f"exclude_layers={chosen['excluded']!r}" in data["quantize_net_args"]
    work = tmp / "work-outlier"
    x, calib = np.load(work / "inputs.npy"), np.load(work / "calib.npy")
    ref = np.load(work / "fp32" / "output_0.npy")
    spec = ModelSpec(name="outlier", source="factory", input_shape=(3, 8, 8),
                     factory=_fixture("outlier"), params_path=str(work / "weights.params"))
    net = load(spec, hybridize=False).block
    qnet = quantize(net, (3, 8, 8), calib_mode="naive", calib_data=calib, batch_size=8,
                    exclude_layers=chosen["excluded"])
    out = np.concatenate([qnet(mx.nd.array(x[i:i + 8])).asnumpy() for i in range(0, 32, 8)])
    assert errors(ref, out)["sqnr_db"] == pytest.approx(chosen["output_sqnr_db"], abs=1e-6)
    exported = mx.gluon.SymbolBlock.imports(f"{tmp}/chosen-symbol.json", ["data"],
                                            f"{tmp}/chosen.params")
    out2 = np.concatenate([exported(mx.nd.array(x[i:i + 8])).asnumpy() for i in range(0, 32, 8)])
    assert errors(ref, out2)["sqnr_db"] == pytest.approx(chosen["output_sqnr_db"], abs=1e-6)


def test_without_outlier_every_layer_stays_int8(cli, tmp_path):
    """Accuracy alone keeps every layer INT8 (no per-layer times: on a net this small INT8
    does not pay in time, and the job's cost phase would rightly move layers back)."""
    data, _ = _run(cli, tmp_path, "plain", "--no-layer-times")
    assert data["first_diverging"] is None
    chosen = data["candidates"][data["chosen"]]
    assert chosen["phase"] == "all-int8" and chosen["excluded"] == [] and chosen["meets"]
    assert not [c for c in data["candidates"] if c["phase"] == "exclude"]


def test_labelled_data_gives_top1_and_calibrates_on_other_images(cli, tmp_path):
    """--data: evaluated on the first --limit images, calibrated on the ones after them, and
    top-1 scored against the folder's labels (checked here from the saved outputs)."""
    import cv2

    from mxprof.jobs.accuracy.metrics import topk_accuracy

    rng = np.random.default_rng(3)
    for i in range(24):
        cls = tmp_path / "images" / ("n01" if i % 2 else "n02")
        cls.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(cls / f"{i:02d}.png"), rng.integers(0, 255, (10, 10, 3), dtype=np.uint8))
    work = tmp_path / "work"
    proc = cli("int8", _fixture("plain"), "--processes", "1", "--min-time", "0.05",
               "--warmup", "2", "--data", str(tmp_path / "images"), "--limit", "16",
               "--calib-size", "8", "--probe", "4", "--no-layer-times", "--target", "top1=0",
               "--workdir", str(work), "--json", str(tmp_path / "d.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "d.json").read_text())
    assert data["inputs"].startswith("16 labelled images")
    assert "8 images" in data["calib_source"] and "after the evaluated ones" in data["calib_source"]
    fp32 = np.load(work / "fp32" / "output_0.npy")
    int8 = np.load(work / "c01" / "output_0.npy")
    from mxprof.jobs.accuracy.datasets import open_dataset
    labels = np.array([label for _, label in open_dataset(tmp_path / "images").items][:16])
    assert len(fp32) == len(int8) == 16 and set(labels) == {0, 1}
    assert data["candidates"][0]["score"] == pytest.approx(topk_accuracy(fp32, labels, 1))
    assert data["candidates"][1]["top1"] == pytest.approx(topk_accuracy(int8, labels, 1))


def test_calib_none_with_int8_batchnorm_is_a_failed_row(cli, tmp_path):
    proc = cli("int8", _fixture("bn_first"), *FAST, "--calib-mode", "none",
               "--no-layer-times", "--json", str(tmp_path / "b.json"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = json.loads((tmp_path / "b.json").read_text())
    row = data["candidates"][1]
    assert row["status"] == "failed" and "calib_mode" in row["error"]
    assert "Quantized BN" in proc.stderr


def test_two_layer_lstm_is_a_failed_row_with_mxnets_reason(cli, tmp_path):
    proc = cli("int8", _fixture("lstm2"), *FAST, "--no-layer-times",
               "--json", str(tmp_path / "l.json"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = json.loads((tmp_path / "l.json").read_text())
    assert data["candidates"][0]["status"] == "ok"  # FP32 runs
    assert data["candidates"][1]["status"] == "failed"
    assert "_contrib_quantized_rnn" in data["candidates"][1]["error"]


def test_load_renders_the_saved_result(cli, outlier, tmp_path):
    _, tmp = outlier
    proc = cli("int8", "--load", str(tmp / "outlier.json"), "--markdown", "-",
               "--html", str(tmp_path / "p.html"))
    assert proc.returncode == 0, proc.stderr
    assert "first over" in proc.stdout and "exclude_layers=" in proc.stdout
    page = (tmp_path / "p.html").read_text()
    assert "Accuracy-latency front" in page and "<svg" in page


@pytest.mark.parametrize(("args", "message"), [
    (("--target", "speed=2"), "METRIC=VALUE"),
    (("--target", "top1=0.7"), "needs labelled --data"),
    (("--calib-mode", "kl"), "--calib-mode 'kl'"),
    (("--processes", "0"), "--processes must be at least 1"),
    (("--cores", "4096"), "--cores 4096"),
])
def test_bad_options_exit_2_before_any_worker(cli, args, message):
    proc = cli("int8", _fixture("plain"), *args, "--dry-run")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_int8_speaks_the_common_option_vocabulary(cli):
    text = " ".join(cli("int8", "--help").stdout.split())
    for flag in ("--cores", "--membind", "--threads", "--iterations", "--warmup", "--timeout",
                 "--min-time", "--workdir", "--shape", "--input", "--symbol", "--params",
                 "--json", "--markdown", "--html", "--load", "--dry-run"):
        assert flag in text, f"int8 --help lacks {flag}"
    assert "untimed calls after the first (default 5)" in text


# ---- the search's decisions, on candidates made up here (pure logic) -----------------------

def _cand(step, phase, excluded, score, ms, target=0.9):
    return Candidate(step=step, phase=phase, excluded=tuple(excluded), status="ok",
                     score=score, meets=score >= target,
                     latency=Latency(median_ms=ms, ci95_low_ms=ms, ci95_high_ms=ms,
                                     processes=1, calls=10))


def _row(name, local):
    e = Errors(sqnr_db=local, cosine=1.0, norm_l2=0.0, max_abs=0.0)
    return LayerRow(node=f"q_{name}", op="_sg_mkldnn_conv", role="int8", layers=(name, "bn"),
                    layer="bn", accumulated=e, local=e)


def test_rank_takes_back_and_returns_the_fastest_meeting():
    ranked = search.rank([_row("a", 30.0), _row("b", 5.0), _row("c", 12.0)])
    assert ranked == ["b", "c", "a"]
    # Excluding b then c meets the target; without b (taken back) it still meets and is faster.
    table = {("b",): (0.5, 3.0), ("b", "c"): (0.95, 4.0), ("c",): (0.93, 2.5)}
    first = _cand(1, "all-int8", (), 0.2, 2.0)

    def evaluate(excluded, phase):
        score, ms = table[tuple(excluded)]
        return _cand(9, phase, excluded, score, ms)

    trace = search.greedy(first, ranked, evaluate, max_steps=10)
    assert [c.excluded for c in trace] == [("b",), ("b", "c"), ("c",)]
    everything = [first, *trace]
    index, met = search.choose(everything)
    assert met is True and everything[index].excluded == ("c",)
    assert index in search.front(everything)


def test_unmeetable_target_gives_the_best_found():
    first = _cand(1, "all-int8", (), 0.2, 2.0)
    trace = search.greedy(first, ["a", "b"], lambda ex, ph: _cand(2, ph, ex, 0.5, 3.0),
                          max_steps=10)
    assert len(trace) == 2 and not any(c.meets for c in trace)
    index, met = search.choose([first, *trace])
    assert met is False and [first, *trace][index].score == 0.5


def test_notebook_api_runs_the_same_job_on_a_block():
    """`mxprof.int8(block, shape=...)`: the block is exported and the same plan/run runs."""
    import importlib.util

    import mxprof
    from conftest import FIXTURES

    warnings.simplefilter("ignore")
    spec = importlib.util.spec_from_file_location("int8_nets", FIXTURES / "int8_nets.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    block, _ = nets.outlier()
    lines: list[str] = []
    result = mxprof.int8(block, shape=(3, 8, 8), processes=1, min_time=0.05, warmup=2,
                         num_inputs=16, calib_size=8, probe=4, layer_times=False,
                         progress=lines.append)
    assert result.kind == "int8" and result.first_diverging == "outlier_conv1_fwd"
    assert [c.phase for c in result.candidates] == ["fp32", "all-int8"]
    assert any("all-int8" in line or "c01" in line for line in lines)


def test_the_search_trace_names_the_calls_each_candidate_was_timed_with(outlier):
    """--iterations N times each candidate with N calls: the footer says so, not --min-time's
    seconds (trial 2026-12-08b)."""
    from mxprof.jobs.int8.records import Int8Result
    from mxprof.render.int8 import trace_table
    from mxprof.schema import decode
    data, _ = outlier
    by_time = trace_table(decode(data, Int8Result, source="outlier", what="int8")).footnote
    assert f"{data['protocol']['min_time_s']} s of calls each" in by_time
    counted = {**data, "protocol": {**data["protocol"], "iterations": 10}}
    foot = trace_table(decode(counted, Int8Result, source="outlier", what="int8")).footnote
    assert "10 calls each" in foot and "s of calls each" not in foot
