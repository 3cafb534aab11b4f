"""The new-user trial's last open findings (docs/trial-2026-12-08.md, "NOT FIXED"), each on a
saved result, a real log or a real command: one wording for every ratio, compare's results-file
line and protocol footer, the HTML layer table's interval, verbose's undefined reorder share, and
`mxprof worker` without a scheduler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import run_cli

from mxprof.render.tables import summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "results"


@pytest.mark.parametrize("value,low,high,significant,word", [
    (4.30, 3.9, 4.8, True, "4.30x, faster (95% CI 3.90-4.80)"),
    (0.51, 0.45, 0.6, True, "0.51x, slower (95% CI 0.45-0.60)"),
    (1.02, 0.95, 1.08, False, "no significant difference (1.02x, 95% CI 0.95-1.08)")])
def test_every_ratio_says_faster_slower_or_no_significant_difference(value, low, high,
                                                                     significant, word):
    # A significant latency ratio said "0.51x, slower (...)", a significant throughput one
    # "4.30x (...)" with no word.
    from mxprof.timing.stats import Ratio, ratio_text
    ratio = Ratio(value, low, high, significant, kind="throughput")
    assert ratio.text() == word == ratio_text(ratio.to_dict())


def test_a_saved_profile_is_worded_as_a_new_one():
    # The fixture's stored "text" is the old wording ("5.14x (95% CI 1.41-7.58)"): the report
    # words it from the ratio's fields, as it words a new run.
    report = json.loads((FIXTURES / "profile.json").read_text())
    foot = summary_table(report).footnote
    for key in ("latency_ratio", "throughput_ratio"):
        r = report["reference"]["speedup"][key]
        assert r["significant"] and r["value"] > 1, "the fixture has two significant gains"
        assert f"{r['value']:.2f}x, faster (95% CI {r['ci95_low']:.2f}-{r['ci95_high']:.2f})" \
            in foot


def test_compare_names_its_results_file_once_and_each_metrics_warmup(tmp_path):
    # "results file: c.jsonl" came three times (stdout, and twice on stderr), and the footer
    # said "after a first call and 1, 5 warm-up calls".
    proc = run_cli("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1,8",
                   "--processes", "1", "--min-time", "0.1", "--results", "c.jsonl",
                   "--json", "c.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = "results file: c.jsonl"
    assert proc.stderr.count(line) == 1 and line not in proc.stdout, (proc.stdout, proc.stderr)
    assert line in json.loads((tmp_path / "c.json").read_text())["notes"]  # the file keeps it
    warm = {r["metric"]: r["warmup"] for r in json.loads((tmp_path / "c.json").read_text())["rows"]}
    assert warm["latency"] != warm["throughput"], "the protocol's warm-ups differ per metric"
    assert (f"after a first call and {warm['latency']} warm-up calls (latency) / "
            f"{warm['throughput']} (throughput);") in proc.stdout


def test_the_html_layer_table_gives_each_layer_its_interval(tmp_path):
    # The page's layer table showed the median alone, the terminal's had its 95% interval.
    pytest.importorskip("selenium")
    from tests.browser import open_page, start_browser

    from mxprof.render.html import write_page
    from mxprof.render.tables import layer_interval
    report = json.loads((FIXTURES / "profile.json").read_text())
    # The fixture predates per-iteration samples: give two layers real-looking ones (ms).
    layers = [dict(r) for r in report["layers"]]
    layers[0]["samples_ms"] = [[0.30, 0.31, 0.29, 0.33], [0.35, 0.34, 0.36]]
    layers[1]["samples_ms"] = [[9.0, 9.5, 8.7, 9.2], [9.9, 10.1, 9.4]]
    report["layers"] = layers
    page_path = tmp_path / "profile.html"
    write_page(report, page_path, "profile")
    driver = start_browser()
    try:
        page = open_page(driver, page_path)
        headers = driver.execute_script(
            "return Array.from(document.querySelectorAll('#layers thead th'))"
            ".map(function (th) { return th.textContent.trim(); });")
        on, off = (i for i, h in enumerate(headers) if h.endswith("95% CI"))
        assert headers[on - 1].endswith(" ms") and headers[off - 1].endswith(" ms"), headers
        names, cells = page.column("layers", 0), page.column("layers", on)
        shown = dict(zip(names, cells))
        for row in layers[:2]:
            assert shown[row["name"]] == layer_interval(row)[0] != "-"
        assert shown[layers[2]["name"]] == "-"  # no samples: no interval claimed
        assert set(page.column("layers", off)) == {"-"}  # the reference kept none
        text = driver.execute_script("return document.getElementById('s-layers').textContent")
        assert "median of 3-4 iterations per process in 2 process(es)" in text
        assert page.console_errors() == []
    finally:
        driver.quit()


def test_a_log_without_primitive_exec_time_has_no_reorder_share(fixtures_dir):
    # The graph-API case log (tests/fixtures/verbose_cases/README.md): 1 graph exec, 0 primitive
    # exec lines. 0/0 was printed "reorder share of exec time: 0.0 %" and `reorder_share: 0.0`.
    log = fixtures_dir / "verbose_cases" / "onednn-graph-exec-new-layout.log"
    table = run_cli("verbose", "summary", str(log))
    assert table.returncode == 0, table.stderr
    assert "primitive exec: 0 calls" in table.stdout
    assert "reorder share of exec time: - (no primitive exec time logged)" in table.stdout
    data = run_cli("verbose", "summary", str(log), "--json", "-")
    assert data.returncode == 0, data.stderr
    summary = json.loads(data.stdout)
    assert summary["exec_count"] == 0 and summary["reorder_share"] is None


def _processes_named(word: str) -> list[int]:
    """Pids whose command line holds `word` (this test's unique worker name)."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and word.encode() in (entry / "cmdline").read_bytes():
                out.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return out


def test_ctrl_c_ends_a_worker_without_a_scheduler_with_130_and_no_traceback():
    # `mxprof worker` exec'd `dask worker`: Ctrl-C while it retried printed ~80 lines of Dask
    # traceback and exited 1. SIGINT goes to the command's process group, as a terminal's.
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time

    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nothing listens on, on the loopback only
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    name = f"cosmetics-test-{os.getpid()}"
    proc = subprocess.Popen([sys.executable, "-m", "mxprof", "worker", address, "--class",
                             "xeon", "--name", name], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, start_new_session=True,
                            env=os.environ.copy())
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                any(b"warning: no Dask scheduler" in x for x in lines)
                and [p for p in _processes_named(name) if p != proc.pid]):
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(10)
        proc.stderr.close()
    err = b"".join(lines).decode(errors="replace")
    assert code == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("mxprof: interrupted"), err
    assert _processes_named(name) == [], "the Dask worker outlived mxprof"
