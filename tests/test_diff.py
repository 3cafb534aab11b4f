"""`mxprof diff`: real profiles of one small net (tests/fixtures/diff_net.py) with a layer made
slow on purpose, an A/A pair, older result files, bad inputs, and every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, run_cli

NET = str(FIXTURES / "diff_net.py")
# Short but real: timing and layers processes, the primitives pass, no reference.
# Three processes: on a loaded machine one process in two can have a third of its iterations
# preempted, and with two per side its bootstrap interval cannot tell a 9x slower layer.
# Passive OpenMP threads: this suite shares 2 CPUs with another test file, and spinning
# threads of a layers process that started in a quiet moment measured every layer 150x slower
# once (8-16 ms instead of 0.05-0.1 ms), past what any interval can tell from the slow layer.
PROFILE = ("--shape", "3,32,32", "--min-time", "0.3", "--passes",
           "timing,layers,primitives", "--no-reference", "--checks", "none", "--no-diagnosis",
           "--wait-policy", "passive")
OLD = FIXTURES / "results" / "profile.json"


def _profile(folder: Path, factory: str, name: str, processes: int = 3) -> Path:
    out = folder / f"{name}.json"
    done = run_cli("profile", f"{NET}:{factory}", *PROFILE, "--processes", str(processes),
                   "--json", str(out), timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _half(full: Path, start: int) -> Path:
    """Every second iteration (from `start`) of every layers process of a real profile, as a
    file of its own.

    The A/A pair is two halves of one run, not two runs: two profiles run minutes apart on a
    shared machine can differ by more than any band, and even alternate processes of one run
    did (CI-like load, two test files at once: 2 of 12 layers flagged). Alternate iterations
    of the same processes share the machine's state call by call, so the pair differs only by
    what the diff's statistics must not call a change."""
    data = json.loads(full.read_text())
    for row in data["layers"]:
        row["samples_ms"] = [g[start::2] for g in row["samples_ms"]]
    out = full.with_name(f"{full.stem}-{start}.json")
    out.write_text(json.dumps(data))
    return out


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    a = _profile(folder, "build", "a", processes=4)
    return {"a": a, "a_even": _half(a, 0), "a_odd": _half(a, 1),
            "slow": _profile(folder, "build_slow", "slow")}


def _diff(a, b, **kw):
    from mxprof.jobs import diff
    return diff.run(diff.plan(diff.Options(a=str(a), b=str(b), **kw)))


def test_layer_samples_recorded_per_process(profiles):
    data = json.loads(profiles["a"].read_text())
    for row in data["layers"]:
        assert len(row["samples_ms"]) == 4  # one list per layers process
        assert all(len(g) >= 3 and min(g) > 0 for g in row["samples_ms"])


def test_slow_layer_ranked_first_and_the_others_unchanged(profiles):
    r = _diff(profiles["a"], profiles["slow"])
    first, rest = r.layers[0], r.layers[1:]
    assert first.name == "conv1_fwd" and first.significant and first.diff_ms > 0
    assert first.diff_low > 0 and first.ratio_high < 1
    # The two profiles ran one after the other: on a shared machine another layer may drift
    # beyond the band between them, but none by as much as the layer made 9x slower.
    assert all(abs(d.diff_ms) < first.diff_ms / 2 for d in rest)
    assert r.significant_share > 0.5
    assert "4 processes" in first.pooled
    assert r.latency["value"] < 1  # B is slower


def test_aa_diff_has_no_significant_layer(profiles):
    r = _diff(profiles["a_even"], profiles["a_odd"])
    assert r.layers and all(d.significant is not None for d in r.layers)
    assert [d.name for d in r.layers if d.significant] == []
    assert r.primitives == []  # same build, same primitives


def test_older_files_diff_without_interval():
    r = _diff(OLD, OLD)
    assert r.layers and all(d.significant is None and d.diff_low is None for d in r.layers)
    assert any("no per-iteration layer samples" in n for n in r.notes)
    done = run_cli("diff", str(OLD), str(OLD))
    assert done.returncode == 0, done.stderr
    assert "no interval" in done.stdout


def test_different_models_need_match_shape(profiles):
    done = run_cli("diff", str(OLD), str(profiles["a"]))
    assert done.returncode == 2
    assert "mxprof: error:" in done.stderr and "--match shape" in done.stderr
    r = _diff(OLD, profiles["a"], match="shape")
    matched = {d.name for d in r.layers}
    assert len(matched) + len(r.only_a) == len(json.loads(OLD.read_text())["layers"])
    assert all(d.name_b for d in r.layers)  # no name in common: paired by operator and shape
    assert any("different models" in n for n in r.notes)


def test_different_kinds_refused(profiles):
    done = run_cli("diff", str(profiles["a"]), str(FIXTURES / "results" / "fusion.json"))
    assert done.returncode == 2
    assert "profile result" in done.stderr and "fusion result" in done.stderr
    done = run_cli("diff", str(FIXTURES / "results" / "compare.json"),
                   str(FIXTURES / "results" / "compare.json"))
    assert done.returncode == 2 and "diff compares profile results" in done.stderr


def test_outputs_and_load(profiles, tmp_path):
    from mxprof.jobs.results import load
    js, md, page = tmp_path / "d.json", tmp_path / "d.md", tmp_path / "d.html"
    done = run_cli("diff", str(profiles["a"]), str(profiles["slow"]), "--json", str(js),
                   "--markdown", str(md), "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert "conv1_fwd" in done.stdout and "yes, slower" in done.stdout
    data = load("diff", js)
    assert data["kind"] == "diff" and data["layers"][0]["name"] == "conv1_fwd"
    assert "| conv1_fwd |" in md.read_text()
    again = run_cli("diff", "--load", str(js))
    assert again.returncode == 0 and again.stdout == done.stdout
    stdout = run_cli("diff", str(profiles["a"]), str(profiles["slow"]), "--json", "-")
    assert json.loads(stdout.stdout)["kind"] == "diff"


def test_page_opens_in_chromium(profiles, tmp_path):
    from tests.browser import open_page, start_browser

    from mxprof.jobs.diff.records import DiffResult
    from mxprof.render.html.diff import write_page
    page_path = tmp_path / "diff.html"
    write_page(_diff(profiles["a"], profiles["slow"]), str(page_path))
    driver = start_browser()
    try:
        page = open_page(driver, page_path)
        charts = page.charts()
        assert len(charts) == 1 and charts[0]["shapes"] > 10 and charts[0]["width"] > 100
        assert page.column("layers", 0)[0].startswith("conv1_fwd")
        assert page.console_errors() == []
    finally:
        driver.quit()
    assert DiffResult  # the page is rendered from the Struct, never from guessed keys


def test_notebook_diff_takes_reports(profiles):
    import mxprof
    report = mxprof.diff(mxprof.load(profiles["a"]), profiles["slow"])
    assert report.layers.iloc[0]["name"] == "conv1_fwd"
    assert "conv1_fwd" in str(report)


def test_profile_of_another_interpreter(tmp_path):
    """--python NAME=PATH runs every worker under that interpreter (here this one, reached as
    another build is: through the symlinked mxprof path); two builds in one profile are refused."""
    import sys
    out = tmp_path / "twin.json"
    done = run_cli("profile", f"{NET}:build", "--shape", "3,32,32", "--passes", "timing",
                   "--processes", "1", "--min-time", "0.1", "--no-reference", "--checks",
                   "none", "--no-diagnosis", "--python", f"twin={sys.executable}",
                   "--json", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "profiling build twin: MXNet 1.9.1" in done.stderr
    assert json.loads(out.read_text())["environment"]["mxnet"]["version"] == "1.9.1"
    two = run_cli("profile", f"{NET}:build", "--python", f"a={sys.executable}", "--python",
                  f"b={sys.executable}")
    assert two.returncode == 2 and "one --python or --build" in two.stderr


def test_bad_outputs_refused_before_reading(tmp_path):
    done = run_cli("diff", str(OLD), str(OLD), "--json", str(OLD))
    assert done.returncode == 2 and "that is an input file" in done.stderr
    done = run_cli("diff", str(OLD), str(OLD), "--html", "-")
    assert done.returncode == 2 and "--html needs a file name" in done.stderr
    done = run_cli("diff", str(OLD), str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "cannot read" in done.stderr
    done = run_cli("diff", str(OLD))
    assert done.returncode == 2 and "give two profile results" in done.stderr
