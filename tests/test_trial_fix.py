"""The new-user trial's open defects (docs/trial-2026-12-08.md), each with the run that showed it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("content", [b"", b'{"kind": "mxprof-profile", "schema": 1}\n',
                                     bytes(range(256)) * 8],
                         ids=["empty", "json", "binary"])
def test_a_file_without_verbose_lines_is_one_error_line_naming_it(cli, tmp_path, content):
    """Before: exit 1 without `error:` (empty, JSON), exit 0 (binary); a log without a verbose
    line is the wrong file, so bad input."""
    path = tmp_path / "not-a-verbose.log"
    path.write_bytes(content)
    proc = cli("verbose", "summary", str(path))
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mxprof: error:"), proc.stderr
    assert str(path) in err[0] and "DNNL_VERBOSE=1" in err[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("command", ["profile", "fusion", "compare", "int8"])
@pytest.mark.parametrize("flag,value", [("--min-time", "-1"), ("--min-time", "0"),
                                        ("--timeout", "-5")])
def test_a_nonpositive_time_is_one_error_line_not_the_usage(cli, command, flag, value):
    """Before: argparse printed the whole usage, then `mxprof PROFILE: error: argument
    --min-time: ...`; every other bad value is one `mxprof: error:` line (exit 2)."""
    proc = cli(command, "mobilenet0.25", "--shape", "3,32,32", flag, value, "--dry-run")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith(f"mxprof: error: {flag} must be"), \
        proc.stderr
    assert "usage:" not in proc.stderr and value in errors[0]


def test_the_pattern_table_marks_a_gain_that_is_not_significant(fixtures_dir):
    """Before: the groups table put `~` after a not-significant `gain %`, the pattern table
    (the same kind of figure, summed per pattern) did not."""
    import copy
    import json

    from mxprof.jobs.fusion.report import upgrade
    from mxprof.render.fusion import pattern_group_table

    report = upgrade(json.loads((fixtures_dir / "results" / "fusion.json").read_text()))
    measured = next(g["gain_ratio"] for g in report["groups"] if g.get("gain_ratio"))
    unclear = {**copy.deepcopy(measured), "ci95_low": 0.8, "significant": False}
    clear_row, unclear_row = report["pattern_groups"][:2]
    clear_row["gain_ratio"], unclear_row["gain_ratio"] = measured, unclear
    table = pattern_group_table(report)
    gain = table.headers.index("gain %")
    cells = {row[0]: row[gain] for row in table.rows}
    assert cells[unclear_row["pattern"]].endswith(" ~")
    assert not cells[clear_row["pattern"]].endswith("~")
    assert "~ = no significant difference" in table.title


def _where(env: dict) -> list[str]:
    """What a header must name of a run's environment record: versions, CPU, cores, CPUs."""
    mx = env.get("mxnet") or {}
    return [f"MXNet {mx['version']}", f"oneDNN {env['onednn_version']}", env["cpu_model"],
            f"{env['physical_cores']} cores",
            f"affinity CPUs {mx.get('allowed_cpus') or env['affinity']['cpus']}",
            "OpenMP threads "]


def test_diff_names_where_each_side_ran(cli, fixtures_dir, tmp_path):
    """Before: diff's header named MXNet and oneDNN per side, the CPU, cores and affinity
    only when the sides differed."""
    import json
    import shutil

    a = fixtures_dir / "results" / "profile.json"
    b = tmp_path / "b.json"
    shutil.copy(a, b)
    proc = cli("diff", str(a), str(b), "--markdown", "-")
    assert proc.returncode == 0, proc.stderr
    env = json.loads(a.read_text())["environment"]
    for side, path in (("A", a), ("B", b)):
        line = next(x for x in proc.stdout.splitlines() if f"{side}: {path}" in x)
        for fact in _where(env):
            assert fact in line, (fact, line)


def test_int8_header_names_versions_cpu_cores_and_affinity():
    """Before: 'machine: AMD EPYC, 2 cores, ...; threads 2': no CPU list the workers ran on."""
    import mxnet  # noqa: F401  (the fingerprint's MXNet facts need the library loaded)

    from mxprof.host.environment import fingerprint
    from mxprof.jobs.int8.records import Int8Result
    from mxprof.render.int8 import header_lines

    env = fingerprint(probe_onednn=True).to_dict()
    result = Int8Result(model="m", weights="random", calib_mode="naive", calib_source="random",
                        quantized_dtype="auto", inputs="data 1,3,8,8", threshold_db=20.0,
                        probe=8, environment=env)
    line = next(x for x in header_lines(result) if x.startswith("machine:"))
    for fact in _where(env):
        assert fact in line, (fact, line)


def test_ceilings_names_the_versions_and_cpus_it_measured_with(cli, tmp_path, monkeypatch):
    """Before: '2 threads on CPUs 0,1': no MXNet or oneDNN version, no CPU model or cores."""
    import json

    out = tmp_path / "c.json"
    proc = cli("ceilings", "--refresh", "--reps", "1", "--size", "64", "--json", str(out),
               env={"MXPROF_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    m, t = result["measured"], result["theoretical"]
    import mxnet
    line = next(x for x in proc.stdout.splitlines() if "measured with" in x)
    assert m["mxnet"] == mxnet.__version__ and m["onednn"]
    for fact in (f"MXNet {m['mxnet']}", f"oneDNN {m['onednn']}", t["cpu_model"],
                 f"{t['cores']} cores", "affinity CPUs ", f"OpenMP threads {m['threads']}"):
        assert fact in line, (fact, line)
    # Figures an older mxprof cached: no versions (nor the load, which it did not record):
    # this installation's versions, not '?'.
    from mxprof.cpu import ceilings as cpu_ceilings
    old = {k: v for k, v in m.items() if k not in ("mxnet", "onednn", "machine_load")}
    cache = tmp_path / "cache"
    monkeypatch.setenv("MXPROF_CACHE", str(cache))
    assert cpu_ceilings.store(result["cache"]["key"], {"measured": old, "measured_at": "old"})
    again = cli("ceilings", "--json", str(out), env={"MXPROF_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["cache"]["hit"], again.stdout
    line = next(x for x in again.stdout.splitlines() if "measured with" in x)
    assert f"MXNet {m['mxnet']}, oneDNN {m['onednn']};" in line, line


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scheduler_silence_tells_a_listening_port_from_a_closed_one():
    import socket

    from mxprof.cluster.worker import scheduler_silence
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert scheduler_silence(f"tcp://127.0.0.1:{server.getsockname()[1]}") is None
    assert "refused" in scheduler_silence(f"tcp://127.0.0.1:{_free_port()}", 3.0).lower()


def test_worker_warns_when_no_scheduler_answers():
    """Before: `mxprof worker tcp://127.0.0.1:1 ...` became `dask worker`, which retried with
    no word to the user that nothing answered."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    proc = subprocess.Popen([sys.executable, "-m", "mxprof", "worker", address, "--class",
                             "xeon", "--name", "trial-fix-test"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True, env=os.environ.copy())
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        # Wait for the warning, or for Dask's own log lines (then it came too late or not).
        while time.monotonic() < deadline and not any(
                "warning: no Dask scheduler" in x or "distributed." in x for x in lines):
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the test's worker only
        proc.wait()
        reader.join(10)
        proc.stderr.close()
    warning = [x for x in lines if "warning: no Dask scheduler" in x]
    assert warning, "".join(lines)
    assert warning[0].startswith(f"mxprof worker: warning: no Dask scheduler answers at "
                                 f"{address} (") and "Ctrl-C to stop" in warning[0]


TINY = str(Path(__file__).parent / "fixtures" / "fusion_tinynet.py") + ":build"


def _own(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("mxprof-"))


def test_a_command_run_from_another_folder_is_this_checkouts_and_leaves_no_folder(tmp_path):
    """Before: with PYTHONPATH=src, a test's `python -m mxprof` started in tmp_path ran the
    venv's installed (old) mxprof, whose killed runs left mxprof-check-* folders in /tmp."""
    import os
    import subprocess
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    where = subprocess.run([sys.executable, "-c", "import mxprof; print(mxprof.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    # The same mxprof as this test process's: the checkout's src/ under PYTHONPATH=src, the
    # installed copy in CI's clean clone (no PYTHONPATH there).
    import mxprof
    assert Path(where.stdout.strip()).resolve() == Path(mxprof.__file__).resolve()
    # The factory check runs in a worker with its own temporary folder (mxprof-check-...).
    proc = subprocess.run([sys.executable, "-m", "mxprof", "profile", TINY, "--shape", "3,8,8",
                           "--dry-run"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _own(tmp) == []


def test_a_killed_checks_folder_goes_with_the_next_command(tmp_path):
    """A run killed by SIGKILL cannot remove its folder: the next mxprof command does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "mxprof", "profile", TINY, "--shape",
                             "3,8,8", "--dry-run"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(n.startswith("mxprof-check-")
                                                  for n in _own(tmp)):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # its own session: this test's processes only
    proc.wait()
    left = _own(tmp)
    assert any(n.startswith("mxprof-check-p") for n in left), left
    time.sleep(1)  # the check worker dies with its parent (parent-death signal)
    again = subprocess.run([sys.executable, "-m", "mxprof", "topology"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert _own(tmp) == []


def test_diff_aa_leaves_no_folder(tmp_path, fixtures_dir):
    """Before: bench/diff_aa.py made mxprof-diff-aa-* with mkdtemp and never removed it."""
    import os
    import shutil
    import subprocess
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    a, b = fixtures_dir / "results" / "profile.json", tmp_path / "b.json"
    shutil.copy(a, b)
    proc = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "bench" /
                                               "diff_aa.py"), "--files", str(a), str(b)],
                          capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp)},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1 A/A diffs" in proc.stdout
    assert _own(tmp) == []
