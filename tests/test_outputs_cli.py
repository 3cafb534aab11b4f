"""Outputs declared once per result kind (mxprof.render.outputs): the options, the checks before
a run and the writers all come from the table; `--json PATH` means the same in every command,
`-` for stdout, and no option takes an optional PATH that would swallow a positional argument.
Also the typed progress display and the one Placement value.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil

import pytest
from tests.conftest import FIXTURES, run_cli

QUICK = 120
LOG = FIXTURES / "verbose" / "mxnet191_dnnl_v2.4.4_ts_level1.log"


def test_pyperf_to_a_missing_folder_is_refused_before_the_run(tmp_path):
    proc = run_cli("profile", "resnet18_v1", "--dry-run", "--pyperf",
                   str(tmp_path / "missing-dir" / "x.json"), timeout=QUICK)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--pyperf" in proc.stderr and "does not exist" in proc.stderr
    assert "dry run" not in proc.stdout  # refused before the plan, let alone a worker


def test_markdown_to_stdout_is_refused(tmp_path):
    proc = run_cli("profile", "resnet18_v1", "--dry-run", "--markdown", "-", timeout=QUICK)
    assert proc.returncode == 2
    assert "--markdown -: this format cannot go to stdout" in proc.stderr


def test_verbose_summary_json_does_not_swallow_the_log(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    shutil.copy(LOG, a)
    shutil.copy(LOG, b)
    before = a.read_bytes()
    proc = run_cli("verbose", "summary", "--json", str(a), str(b), timeout=QUICK)
    assert a.read_bytes() == before  # the log is not written over
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"--json {a}: the file exists and is not JSON" in proc.stderr


def test_verbose_summary_json_path_and_its_old_spellings(tmp_path):
    out = tmp_path / "s.json"
    proc = run_cli("verbose", "summary", "--json", str(out), str(LOG), timeout=QUICK)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["path"] == str(LOG)
    assert "exec" in proc.stdout  # the tables are printed as well
    for args in (("--json", "-", str(LOG)), (str(LOG), "--json"), (str(LOG), "--json", "--top",
                                                                    "3")):
        proc = run_cli("verbose", "summary", *args, timeout=QUICK)
        assert proc.returncode == 0, (args, proc.stderr)
        assert json.loads(proc.stdout)["path"] == str(LOG)


def test_json_is_never_written_over_an_input(tmp_path):
    log = tmp_path / "same.json"
    shutil.copy(LOG, log)
    proc = run_cli("verbose", "summary", str(log), "--json", str(log), timeout=QUICK)
    assert proc.returncode == 2
    assert "is also an input of this command" in proc.stderr


def test_ceilings_json_takes_a_path(tmp_path):
    out = tmp_path / "ceilings.json"
    env = {"MXPROF_CACHE": str(tmp_path / "cache")}
    proc = run_cli("ceilings", "--json", str(out), "--reps", "1", "--size", "64", env=env,
                   timeout=QUICK)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(out.read_text())
    assert saved["theoretical"]["cores"] >= 1 and saved["measured"]
    assert "theoretical" in proc.stdout  # the lines are printed as well
    # The old switch (stdout) where nothing follows it.
    old = run_cli("ceilings", "--reps", "1", "--size", "64", "--json", env=env, timeout=QUICK)
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["theoretical"] == saved["theoretical"]
    bad = run_cli("ceilings", "--json", str(tmp_path / "no" / "c.json"), env=env, timeout=QUICK)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_topology_json_path_and_bare_switch(tmp_path):
    out = tmp_path / "t.json"
    assert run_cli("topology", "--json", str(out), timeout=QUICK).returncode == 0
    assert json.loads(out.read_text())["cpus"]
    assert json.loads(run_cli("topology", "--json", timeout=QUICK).stdout)["cpus"]


def test_options_come_from_the_declared_formats():
    from mxprof.commands._options import add_outputs
    from mxprof.render.outputs import formats_of
    p = argparse.ArgumentParser()
    add_outputs(p, "profile")
    names = {a.dest for a in p._actions}
    assert {f.name for f in formats_of("profile")} <= names
    assert formats_of("profile")[0].name == "json"
    for f in formats_of("profile"):
        assert callable(f.load_writer())


def test_legacy_json_rewrites_only_where_nothing_is_swallowed():
    from mxprof.commands._outputs import legacy_json
    assert legacy_json(["topology", "--json"]) == ["topology", "--json", "-"]
    assert legacy_json(["verbose", "summary", "x.log", "--json", "--top", "3"]) == \
        ["verbose", "summary", "x.log", "--json", "-", "--top", "3"]
    assert legacy_json(["verbose", "summary", "--json", "a.log", "b.log"]) == \
        ["verbose", "summary", "--json", "a.log", "b.log"]
    assert legacy_json(["profile", "m", "--json"]) == ["profile", "m", "--json"]
    assert legacy_json(["verbose", "run", "--json", "--", "prog", "--json"]) == \
        ["verbose", "run", "--json", "-", "--", "prog", "--json"]


def test_progress_consumes_typed_events():
    from mxprof.commands._progress import Progress
    from mxprof.events import Finished, Note, Started
    out = io.StringIO()
    with Progress("profile", 2, stream=out, tty=False) as progress:
        progress.on_event(Started(label="w1", index=1, total=2))
        progress.on_event(Finished(label="w1", status="ok", seconds=1.0, index=1, total=2))
        progress.on_event(Started(label="w2", index=2, total=2))
        progress.on_event(Finished(label="w2", status="crashed", seconds=1.0, error="SIGSEGV"))
        progress(Note(text="roofs measured again", level="warning"))
    lines = out.getvalue().splitlines()
    assert "[1/2] done w1: ok" in lines[1]
    assert "[2/2] done w2: crashed: SIGSEGV" in lines[3]
    assert lines[4].endswith("warning: roofs measured again")


def test_one_placement_resolved_with_its_reasons():
    import os

    from mxprof.cpu.placement import Placement, resolve
    first = min(os.sched_getaffinity(0))
    p = resolve(str(first), threads=1, wait_policy="auto")
    assert p.cores == str(first) and p.threads == 1 and p.bound
    assert p.wait_policy == "passive" and "one OpenMP thread" in p.wait_why
    assert "--threads 1" in p.threads_why
    assert Placement.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="--cores 999"):
        resolve("999")
    with pytest.raises(ValueError, match="--membind 7"):
        resolve(None, "7")
    unbound = resolve()
    assert not unbound.bound and unbound.threads and unbound.cpu_ids
