"""Every command's HTML page, opened in headless Chromium: no console error, every chart drawn,
tables that sort and filter, nothing fetched from the network, and `--load` redraws the page.

The reports come from real runs of the commands (small nets, short timing), made once per
session so the pages match the current code. A screenshot of each page is kept under the
test's tmp_path; with MXPROF_SCREENSHOT=PATH the profile page's is also written to PATH (the
README's picture, docs/profile-page.png).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from tests.browser import numbers, open_page, start_browser
from tests.conftest import FIXTURES, run_cli

pytestmark = pytest.mark.slow

TINY = str(FIXTURES / "fusion_tinynet.py") + ":build"
SMALL = ("mobilenet0.25", "--shape", "3,32,32")


def _run(out: Path, name: str, *args: str) -> dict:
    """Run one command with --json and --html into `out`; the paths and the parsed JSON."""
    js, page = out / f"{name}.json", out / f"{name}.html"
    proc = run_cli(*args, "--json", str(js), "--html", str(page))
    assert js.exists() and page.exists(), proc.stderr[-3000:]
    return {"json": js, "html": page, "report": json.loads(js.read_text()), "proc": proc}


@pytest.fixture(scope="session")
def reports_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("html-reports")


@pytest.fixture(scope="session")
def profile_run(reports_dir):
    return _run(reports_dir, "profile", "profile", *SMALL, "--batch-size", "2", "--min-time",
                "0.1", "--checks", "none", "--processes", "2")  # 2: the violins keep them apart


@pytest.fixture(scope="session")
def fusion_run(reports_dir):
    return _run(reports_dir, "fusion", "fusion", TINY, "--shape", "1,3,16,16", "--iterations",
                "5", "--warmup", "2", "--min-time", "0.05", "--rounds", "1",
                "--trace-iterations", "3", "--switches", "conv_sum", "--processes", "2")


@pytest.fixture(scope="session")
def accuracy_run(reports_dir):
    return _run(reports_dir, "accuracy", "accuracy", *SMALL, "--num-inputs", "4",
                "--batch-size", "4", "--iterations", "3", "--warmup", "1", "--int8",
                "--calib-size", "4", "--processes", "2")


@pytest.fixture(scope="session")
def compare_run(reports_dir):
    return _run(reports_dir, "compare", "compare", *SMALL, "--batch-size", "1,2",
                "--min-time", "0.1", "--processes", "2", "--results", str(reports_dir / "compare.jsonl"))


@pytest.fixture(scope="session")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


def check_page(browser, html: Path, tmp_path: Path, min_charts: int):
    """Open the page; no console error; at least `min_charts` charts, each with shapes and a
    size; a full-page screenshot in tmp_path. Returns the open page."""
    page = open_page(browser, html)
    charts = page.charts()
    assert len(charts) >= min_charts, [c["label"] for c in charts]
    for c in charts:
        assert c["shapes"] > 5 and c["width"] > 100 and c["height"] > 50, c
    shot = page.screenshot(tmp_path / f"{html.stem}.png", full=True)
    assert shot.stat().st_size > 10_000
    assert page.console_errors() == []
    return page


def assert_sorts(page, table: str, col: int) -> None:
    """A click sorts the column ascending, a second click descending (by value, not text)."""
    page.click_header(table, col)
    up = numbers(page.column(table, col))
    assert up == sorted(up) and len(up) > 1
    page.click_header(table, col)
    assert numbers(page.column(table, col)) == sorted(up, reverse=True)
    assert page.console_errors() == []


def test_profile_page(browser, profile_run, tmp_path):
    report = profile_run["report"]
    page = check_page(browser, profile_run["html"], tmp_path, min_charts=4)
    labels = " ".join(c["label"] for c in page.charts())
    for what in ("Latency of every timed call", "operator type", "primitive time by kind",
                 "slowest of"):
        assert what in labels
    # The layer table: every layer of the report, sortable by ms, filterable by name.
    names = [r["name"] for r in report["layers"]]
    assert sorted(page.column("layers", 0)) == sorted(names)
    assert_sorts(page, "layers", 4)
    word = names[0].split("_")[-2]  # e.g. "conv0" of mobilenet0_conv0_fwd
    page.type_filter("layers", word)
    shown = page.column("layers", 0)
    assert shown and all(word in n for n in shown) and len(shown) < len(names)
    assert_sorts(page, "operators", 1)
    # The trace is in the page, ready to save for Perfetto.
    link = page.driver.execute_script(
        "return document.querySelector('#s-trace a[download]').getAttribute('href')")
    assert link.startswith("data:application/json;base64,")
    shot = os.environ.get("MXPROF_SCREENSHOT")
    if shot:
        page.driver.set_window_size(1280, 1500)
        page.screenshot(Path(shot))


def test_profile_samples_drawn_as_violins(profile_run):
    """Every timed call is kept, so the chart is the distribution, not the summary."""
    lat = profile_run["report"]["latency_ms"]
    # Several processes keep their calls apart (mxprof.timing.pooled); one keeps a list.
    kept = lat.get("samples_ms_per_process") or [lat["samples_ms"]]
    assert sum(len(p) for p in kept) == lat["n"]
    assert 'PolyCollection_1"' in profile_run["html"].read_text()


@pytest.mark.parametrize("name", ["profile", "fusion", "accuracy"])
def test_load_redraws_the_same_page(request, tmp_path, name):
    run = request.getfixturevalue(f"{name}_run")
    again = tmp_path / "again.html"
    proc = run_cli(name, "--load", str(run["json"]), "--html", str(again))
    assert proc.returncode == run["proc"].returncode, proc.stderr
    assert again.read_text() == run["html"].read_text()


def test_profile_page_shows_findings(browser, profile_run, fusion_run, tmp_path):
    """`findings` (here the fusion diagnosis of a real run) appear when the report has them."""
    report = dict(profile_run["report"], findings=fusion_run["report"]["findings"])
    from mxprof.render.html import write_page
    path = tmp_path / "with-findings.html"
    write_page(report, path, "profile")
    page = check_page(browser, path, tmp_path, min_charts=4)
    text = page.driver.find_element("id", "s-findings").text
    for f in fusion_run["report"]["findings"]:
        assert f["title"] in text



def test_profile_page_of_a_file_without_samples(browser, profile_run, tmp_path):
    """Files saved before every call was kept: the chart draws the range and quantiles."""
    from mxprof.render.html import write_page
    report = json.loads(profile_run["json"].read_text())
    for sec in (report, report["reference"]):
        for key in ("samples_ms", "samples_ms_per_process"):
            sec["latency_ms"].pop(key, None)
    path = tmp_path / "no-samples.html"
    write_page(report, path, "profile")
    check_page(browser, path, tmp_path, min_charts=4)
    assert 'PolyCollection_1"' not in path.read_text()

def test_fusion_page(browser, fusion_run, tmp_path):
    report = fusion_run["report"]
    page = check_page(browser, fusion_run["html"], tmp_path, min_charts=3)
    assert sorted(page.column("groups", 0)) == sorted(g["fused_node"] for g in report["groups"])
    absorbed = " ".join(page.column("groups", 2))
    for g in report["groups"]:
        for m in g["members"]:
            assert m.split("_", 1)[-1] in absorbed
    assert_sorts(page, "groups", 5)
    assert page.column("switches", 0) == [p["switch"] for p in report["patterns"]]
    text = page.driver.find_element("id", "s-findings").text
    assert all(f["title"] in text for f in report["findings"])


def test_accuracy_page(browser, accuracy_run, tmp_path):
    report = accuracy_run["report"]
    page = check_page(browser, accuracy_run["html"], tmp_path, min_charts=1)
    assert page.column("configs", 0) == [c["name"] for c in report["configs"]]
    assert any(c["name"].startswith("int8") for c in report["configs"])
    assert page.driver.find_element("id", "s-int8").text.startswith("INT8")
    page.click_header("configs", 0)
    assert page.column("configs", 0) == sorted(c["name"] for c in report["configs"])


def _speedup_labels(page) -> list[dict]:
    return page.driver.execute_script("""
      return Array.from(document.querySelectorAll('figure.chart text')).filter(function (t) {
        return /^[0-9]+\\.[0-9]+x( n\\.s\\.)?$/.test(t.textContent.trim()); }).map(function (t) {
        return {text: t.textContent.trim().replace(' n.s.', ''),
                tick: !!t.closest('g[id^=xtick]')}; });""")


@pytest.mark.parametrize("command", ["compare", "merge"])
def test_compare_and_merge_pages(browser, compare_run, reports_dir, tmp_path, command):
    html = compare_run["html"]
    if command == "merge":
        html = tmp_path / "merge.html"
        proc = run_cli("merge", str(reports_dir / "compare.jsonl"), "--html", str(html))
        assert proc.returncode == 0, proc.stderr
    page = check_page(browser, html, tmp_path, min_charts=2)
    svg_text = " ".join(page.driver.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart text'))"
        ".map(function (t) { return t.textContent; });"))
    # Every axis says its scale; the speedups sit in the tick labels, clear of the error bars.
    assert "linear" in svg_text and "log" not in svg_text
    speedups = {f"{r['speedup']:.2f}x" for r in compare_run["report"]["rows"]
                if r.get("speedup") and r["metric"] in ("latency", "throughput")}
    labels = _speedup_labels(page)
    assert {label["text"] for label in labels} == speedups
    assert all(label["tick"] for label in labels)


PAGES = ("profile_run", "fusion_run", "accuracy_run", "compare_run")


@pytest.mark.parametrize("name", PAGES)
def test_pages_fetch_nothing(request, name):
    """One file: no external script, style, image or font (links for a person to follow are
    fine)."""
    text = request.getfixturevalue(name)["html"].read_text()
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=['\"]?(https?:)?//", text)
    assert "url(http" not in text and "@import" not in text
    assert "<figure class='chart'><svg" in text


def test_the_page_is_chosen_by_the_results_kind_never_guessed_from_keys():
    """Before: `kind_of` guessed a page from the keys, so any dict with "rows" was a compare
    report; now the record's own kind (or the caller's) decides, and no kind is an error."""
    from mxprof.render.html import result_kind
    for kindless in ({"schema": 1}, {"rows": []}, {"model": "m", "latency_ms": 1.0}):
        with pytest.raises(ValueError, match="not an mxprof result with a page"):
            result_kind(kindless)
    assert result_kind({"kind": "mxprof-compare", "rows": []}) == "compare"  # older files
    assert result_kind({"rows": []}, "compare") == "compare"


def test_roofline_and_profile_findings(browser, tmp_path):
    """The diagnosis's shapes (`roofline_section`, profile findings with layers and effect),
    drawn on a page that holds nothing else: a log-log chart, every layer in the table."""
    from mxprof.render.html import write_page
    layers = [{"layer": f"conv{i}", "layer_op": "Convolution", "ms": 0.5 / (i + 1),
               "intensity": 2.0 ** i, "attained_gflops": 3.0 * 1.5 ** i,
               "efficiency": 0.1 * (i + 1), "bound": "memory-bound" if i < 3 else "compute-bound"}
              for i in range(6)]
    roofline = {"ceilings": {"peak_gflops": {"f32": 200.0, "int8": 800.0}, "bandwidth_gbs": 20.0,
                             "source": "measured"},
                "layers": layers, "headroom": {"model_at_roof_ms": 0.3},
                "method": "bound = min(peak, intensity x bandwidth)"}
    findings = [{"rule": "per_call_reorders", "title": "data reordered on every call",
                 "layers": ["conv1", "conv2"], "evidence": "2 reorders per call",
                 "fix": "keep the blocked layout", "effect": {"ms_per_iter": 0.05,
                                                             "estimate": "their reorder time"}}]
    path = tmp_path / "roofline.html"
    write_page({"model": {"name": "net"}, "latency_ms": None, "roofline": roofline,
                "findings": findings}, path, "profile")
    page = check_page(browser, path, tmp_path, min_charts=1)
    assert "Roofline" in page.charts()[0]["label"]
    assert sorted(page.column("roofline", 0)) == sorted(r["layer"] for r in layers)
    assert_sorts(page, "roofline", 3)
    text = page.driver.find_element("id", "s-findings").text
    assert "conv1, conv2" in text and "0.0500 ms per inference" in text


# --- issue 11: every comparison with its interval; every report names what it ran with -------

RATIO_WITH_INTERVAL = re.compile(r"(n\.s\. )?\d+\.\d\dx \[\d+\.\d\d-\d+\.\d\d\]")


def _load(name: str, run: dict, out: Path, *args: str) -> str:
    """Re-render a real run's saved JSON (`--load`) as Markdown: the file's text."""
    md = out / f"{name}-again.md"
    proc = run_cli(name, "--load", str(run["json"]), "--markdown", str(md), *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return md.read_text()


def test_profile_comparisons_carry_their_interval(profile_run, tmp_path):
    """Before: the page's speedup row, the bulk-execution cost and a fix's speedup showed a
    bare ratio; the per-layer 'speedup' did not say it has no interval."""
    report = profile_run["report"]
    page = profile_run["html"].read_text()
    assert len(RATIO_WITH_INTERVAL.findall(page)) >= 2  # latency and throughput speedups
    assert "speedup (no interval)" in page
    cost = report["breakdown_cost"]
    assert cost["ratio_interval"]["value"] == pytest.approx(cost["ratio"], rel=1e-9)
    md = _load("profile", profile_run, tmp_path)
    assert re.search(r"bulk execution off .* ms on \((n\.s\. )?\d+\.\d\dx \[", md), md
    assert "MKL-DNN speedup, latency: " in md and "95% CI" in md


def test_profile_fix_line_says_whether_the_fix_is_significant():
    from mxprof.jobs.profile.try_fixes import measured_line
    m = {"fix_applied": "OMP threads 2", "before_ms": 1.2, "before_ci95": [1.1, 1.3],
         "after_ms": 1.19, "after_ci95": [1.1, 1.3], "speedup": 1.2 / 1.19,
         "speedup_ratio": {"value": 1.01, "ci95_low": 0.97, "ci95_high": 1.05,
                           "significant": False,
                           "text": "no significant difference (1.01x, 95% CI 0.97-1.05)"}}
    assert "no significant difference (1.01x, 95% CI 0.97-1.05)" in measured_line(m)
    del m["speedup_ratio"]  # a file from before: the bare ratio, said to have no interval
    assert "1.01x, no interval recorded" in measured_line(m)


def test_fusion_comparisons_carry_their_interval(fusion_run, tmp_path):
    """Before: the group gains had no interval (and on the page no significance mark), nor the
    switch costs; the pattern sums had neither."""
    report = fusion_run["report"]
    md = _load("fusion", fusion_run, tmp_path)
    page = fusion_run["html"].read_text()
    for text in (md, page):
        assert "unfused/fused [95% CI]" in text and "off/fused [95% CI]" in text
    cells = [g["gain_ratio"] for g in report["groups"] if g.get("gain_ratio")]
    assert len(RATIO_WITH_INTERVAL.findall(md)) >= len(cells) + len(
        [r for r in report["pattern_ratios"].values() if r])
    assert "physical cores" in md and "CPUs allowed" in page and "OpenMP wait policy" in page


def test_accuracy_speedups_carry_their_interval(accuracy_run, tmp_path):
    """Before: 'speedup' was a bare ratio of two medians for every configuration."""
    report = accuracy_run["report"]
    md = _load("accuracy", accuracy_run, tmp_path)
    timed = [c for c in report["configs"] if c["ok"] and c["name"] != "mkldnn-off"]
    assert "speedup vs ref [95% CI]" in md
    assert len(RATIO_WITH_INTERVAL.findall(md)) >= len(timed)
    env = report["environment"]
    assert f"{env['physical_cores']} physical cores" in md
    assert f"MXNet {env['mxnet']['version']}" in md and "oneDNN v" in md


def test_compare_outputs_carry_intervals_and_the_environment(compare_run, tmp_path):
    """Before: the speedups' intervals were in the JSON only, and the table named neither
    oneDNN nor the workers' affinity."""
    rows = [r for r in compare_run["report"]["rows"] if r.get("speedup_ratio")]
    md = _load("compare", compare_run, tmp_path)
    for r in rows:
        assert f"over w/o: {r['speedup_ratio']['text']}" in md
        assert f"oneDNN {r['onednn']}" in md and r["onednn"].startswith("v")
        assert f"workers' CPU affinity {r['affinity']}" in md
        assert f"{r['physical_cores']} physical cores" in md
    assert rows and "over w/o: " in compare_run["html"].read_text()
