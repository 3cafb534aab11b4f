"""`mxprof profile` end to end: real MXNet in worker processes, a crash, a hang, bad input."""

from __future__ import annotations

import json

import msgspec
import pytest

from mxprof.jobs.profile.runner import run_one
from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
from mxprof.mx import models, parameters
from schema_check import assert_matches_schema

SMALL = ("mobilenet0.25", "--shape", "3,64,64", "--batch-size", "2", "--min-time", "0.2")
REQUIRED = ("model", "environment", "latency_ms", "throughput", "operators", "layers",
            "coverage", "primitives", "reference")


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """One real profile run; the MKL-DNN-off operators worker is made to abort (SIGABRT)."""
    from conftest import run_cli
    out = tmp_path_factory.mktemp("profile")
    paths = {k: out / f"r.{k}" for k in ("json", "md", "trace")}
    proc = run_cli("profile", *SMALL, "--json", str(paths["json"]), "--markdown",
                   str(paths["md"]), "--trace", str(paths["trace"]),
                   "--passes", "timing,operators,primitives",
                   "--test-hook", "reference:operators:abort", timeout=300)
    return proc, paths


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


@pytest.mark.slow
def test_every_output_is_strict_json_and_names_the_threads_that_ran(profiled):
    proc, paths = profiled
    for key in ("json", "trace"):
        json.loads(paths[key].read_text(), parse_constant=_reject_constant)
    assert_matches_schema("profile", json.loads(paths["json"].read_text()))
    mx = json.loads(paths["json"].read_text())["environment"]["mxnet"]
    assert mx["openmp_threads"] >= 1 and mx["allowed_cpus"]
    software = next(ln for ln in proc.stdout.splitlines() if ln.startswith("software"))
    assert f"threads {mx['openmp_threads']}, one per physical core (mxprof default" in software
    assert f"on CPUs {mx['allowed_cpus']}, wait policy" in software


@pytest.mark.slow
def test_result_json_has_schema_and_sane_values(profiled):
    proc, paths = profiled
    assert proc.returncode == 1, proc.stderr  # one worker failed on purpose
    r = json.loads(paths["json"].read_text())
    assert r["schema"] == 1 and all(k in r for k in REQUIRED)
    assert r["model"]["name"] == "mobilenet0.25" and r["model"]["input_shape"] == [3, 64, 64]
    assert r["model"]["param_count"] == parameters.count_parameters(
        models.build(models.resolve("mobilenet0.25")), (3, 64, 64))
    lat = r["latency_ms"]
    for key in ("median", "mean", "p90", "min", "stdev", "n"):
        assert lat[key] is not None
    # p99 only from 100 calls on (fewer fit in --min-time on a busy machine): else null + why.
    assert (lat["p99"] is None) == (lat["n"] < 100)
    assert lat["p99"] is not None or any("p99 not given" in n for n in lat["notes"])
    assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= (lat["p99"] or lat["max"])
    assert lat["processes"] == 3 and len(lat["n_per_process"]) == 3
    assert lat["ci95_low"] <= lat["median"] <= lat["ci95_high"]
    assert "hierarchical bootstrap" in r["protocol"]["interval"]
    ratio = r["reference"]["speedup"]["latency_ratio"]
    assert ratio["ci95_low"] <= ratio["value"] <= ratio["ci95_high"]
    assert isinstance(ratio["significant"], bool)
    # One record per worker process: 9 passes in 7 processes, since each configuration's
    # operators pass ran in its last timing process (mxprof.jobs.profile.runner.JOINS).
    assert len(r["runs"]) == 9 and len(r["machine_load"]) == 7
    assert lat["n"] >= 5
    assert r["throughput"]["batch_size"] == 2 and r["throughput"]["images_per_s"] > 0
    ops = r["operators"]
    assert {"Convolution", "BatchNorm"} <= {o["op"] for o in ops}
    assert sum(o["percent"] for o in ops) == pytest.approx(100.0, abs=0.01)
    assert all(set(o) >= {"op", "count", "ms", "percent"} for o in ops)
    ref = r["reference"]
    assert ref["mkldnn"] is False and ref["latency_ms"]["median"] > 0
    assert ref["speedup"]["latency"] == pytest.approx(
        ref["latency_ms"]["median"] / lat["median"])
    assert ref["speedup"]["throughput"] == pytest.approx(
        r["throughput"]["images_per_s"] / ref["throughput"]["images_per_s"])
    env = r["environment"]
    assert env["mxnet"]["version"] == "1.9.1" and env["mxnet"]["mkldnn_enabled"] is True
    assert env["onednn_version"].startswith("v")
    assert r["model"]["weights"] == "random"
    assert any("accuracy is not" in n for n in r["notes"])


@pytest.mark.slow
def test_crashed_worker_is_a_failed_row_and_others_survive(profiled):
    proc, paths = profiled
    r = json.loads(paths["json"].read_text())
    rows = {(x["config"], x["pass"]): x for x in r["runs"]}
    crashed = rows[("reference", "operators")]
    assert crashed["status"] == "failed" and "SIGABRT" in crashed["error"]
    assert crashed["stderr_tail"] is not None
    assert all(x["status"] == "ok" for k, x in rows.items() if k != ("reference", "operators"))
    assert r["complete"] is False
    assert r["reference"]["operators"] is None and r["reference"]["latency_ms"] is not None
    assert "Failed workers" in proc.stdout and "SIGABRT" in proc.stdout


@pytest.mark.slow
def test_terminal_markdown_and_trace_outputs(profiled):
    proc, paths = profiled
    out = proc.stdout
    assert "w/o MKL-DNN" in out and "w/ MKL-DNN" in out and "speedup" in out
    assert "MXNet 1.9.1" in out and "random init" in out
    assert out.strip().splitlines()[-1].startswith("mobilenet0.25: latency bs=1")
    md = paths["md"].read_text()
    assert md.startswith("# mxprof profile: mobilenet0.25")
    assert "| w/ MKL-DNN |" in md and "| operator | calls/iter | ms/iter | % of ops |" in md
    trace = json.loads(paths["trace"].read_text())
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) >= 20
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in complete)
    assert [e["ts"] for e in complete] == sorted(e["ts"] for e in complete)


@pytest.mark.slow
def test_companion_checks_fusion_summary_and_equivalence(profiled):
    proc, paths = profiled
    checks = json.loads(paths["json"].read_text())["checks"]
    fusion = checks["fusion"]
    assert fusion["status"] == "ok", fusion
    assert fusion["groups"] > 0 and fusion["unfused_ms"] > 0 and fusion["fused_ms"] > 0
    assert fusion["summary"].startswith("fusion: ") and fusion["summary"] in proc.stdout
    eq = checks["equivalence"]
    assert eq["status"] == "ok", eq
    assert {c["name"] for c in eq["configs"]} == {"mkldnn", "mkldnn-fused"}
    for c in eq["configs"]:
        assert c["within_tolerance"] is True and c["top1_agreement"] == 1.0, c
    assert "equivalence: mkldnn vs mkldnn-off: max abs diff" in proc.stdout


@pytest.mark.slow
def test_load_rerenders_the_saved_result(profiled, cli, tmp_path):
    proc, paths = profiled
    again = cli("profile", "--load", str(paths["json"]), "--markdown", str(tmp_path / "again.md"))
    assert again.returncode == 0, again.stderr
    assert again.stdout == proc.stdout
    assert (tmp_path / "again.md").read_text() == paths["md"].read_text()


def _tiny_spec(hook: str | None) -> RunSpec:
    return RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config="mkldnn",
                   mkldnn=True, pass_name="timing", batch_size=1,
                   protocol=Protocol(min_time=0.05), test_hook=hook)


def test_hung_worker_times_out(tmp_path):
    result = run_one(_tiny_spec("hang"), tmp_path, timeout=2.0)
    assert result.status == "timeout" and "timeout" in result.error
    assert 2.0 <= result.wall_s < 20


def test_batch_1_timing_times_its_calls_once(tmp_path):
    """Throughput at batch 1 is the latency measurement: it used to time the calls twice."""
    result = run_one(_tiny_spec(None), tmp_path, timeout=120)
    assert result.ok, result.stderr_tail
    batch = result.throughput["batch_ms"]
    assert batch["samples_ms"] == result.latency["samples_ms"] and batch["n"] >= 10
    assert result.throughput["images_per_s"] == pytest.approx(1e3 / result.latency["median"])


def test_layers_pass(tmp_path):
    spec = msgspec.structs.replace(_tiny_spec(None), pass_name="layers")
    result = run_one(spec, tmp_path, timeout=120)
    assert result.ok, result.stderr_tail
    assert result.missing == ()
    names = [row["name"] for row in result.layers["layers"]]
    assert any(n.endswith("conv0_fwd") for n in names)
    assert all(row["ms"] >= 0 for row in result.layers["layers"])
    assert result.trace and {e["name"] for e in result.trace} <= set(names)
    assert [e["ts"] for e in result.trace] == sorted(e["ts"] for e in result.trace)


def test_bad_passes_exit_2(cli):
    proc = cli("profile", "resnet18_v1", "--passes", "timing,nonsense")
    assert proc.returncode == 2 and "unknown pass(es) nonsense" in proc.stderr
    proc = cli("profile", "resnet18_v1", "--checks", "fusion,typo")
    assert proc.returncode == 2 and "unknown check(s) typo" in proc.stderr


def test_worker_python_error_is_reported(tmp_path):
    result = run_one(_tiny_spec("raise"), tmp_path, timeout=120)
    assert result.status == "failed" and "deliberate failure" in result.error
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_unknown_model_exits_2_with_suggestion(cli):
    proc = cli("profile", "resnet50v1")
    assert proc.returncode == 2
    assert "unknown model 'resnet50v1'" in proc.stderr and "resnet50_v1" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("shape", ["3,224", "a,b,c", "1,3,0,8"])
def test_bad_shape_exits_2(cli, shape):
    proc = cli("profile", "resnet18_v1", "--shape", shape)
    assert proc.returncode == 2 and "bad shape" in proc.stderr and "Traceback" not in proc.stderr


def test_load_rejects_other_files(cli, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    proc = cli("profile", "--load", str(bad))
    assert proc.returncode == 2 and "not an mxprof profile result" in proc.stderr
