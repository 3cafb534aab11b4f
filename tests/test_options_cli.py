"""One vocabulary and checks before any worker: what a new user meets first.

Bad input (CPUs, NUMA nodes, model files, output paths) exits 2 with a message and starts no
worker; a mistyped flag or command gets a "did you mean"; every measuring command has the same
flags and a --dry-run that runs nothing; user text is printed as is through rich; a computed
report is printed even when one of its files cannot be written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import run_cli

# Generous: these must return before any worker starts; a hang fails the test.
QUICK = 120
MEASURING = ("profile", "fusion", "accuracy", "compare")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A real exported model (tiny), then a truncated and a foreign copy of each file."""
    import mxnet as mx

    d = tmp_path_factory.mktemp("model")
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(4, 3), mx.gluon.nn.Dense(3))
    net.initialize()
    net.hybridize()
    net(mx.nd.ones((1, 3, 8, 8)))
    net.export(str(d / "net"))
    params, symbol = d / "net-0000.params", d / "net-symbol.json"
    data, text = params.read_bytes(), symbol.read_text()
    (d / "truncated.params").write_bytes(data[: len(data) - 7])
    (d / "foreign.params").write_bytes(b"PK\x03\x04 this is a zip, not MXNet" * 4)
    (d / "truncated-symbol.json").write_text(text[: len(text) // 2])
    (d / "other.json").write_text('{"a": 1}')
    return d


def _usage_error(proc, message: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["profile", "resnet18_v1", "--cores", "99"], "--cores 99: CPU 99 not online"),
    (["profile", "resnet18_v1", "--cpus", "99"], "--cores 99: CPU 99 not online"),
    (["profile", "resnet18_v1", "--membind", "5"], "--membind 5: NUMA node 5 does not exist"),
    (["profile", "resnet18_v1", "--json", "/nonexistent/r.json"],
     "--json /nonexistent/r.json: the folder /nonexistent does not exist"),
    (["profile", "resnet18_v1", "--markdown", "/proc/r.md"], "--markdown /proc/r.md: cannot write"),
    (["accuracy", "resnet18_v1", "--json", "/nonexistent/a.json"],
     "--json /nonexistent/a.json: the folder"),
    (["accuracy", "resnet18_v1", "--cpus", "99"], "--cores 99"),
    (["fusion", "resnet18_v1", "--cores", "99"], "--cores 99"),
    (["fusion", "resnet18_v1", "--json", "/nonexistent/f.json"], "the folder /nonexistent"),
    (["compare", "resnet18_v1", "--results", "/proc/r.jsonl"], "--results /proc/r.jsonl"),
    (["compare", "resnet18_v1", "--membind", "5"], "--membind 5"),
    (["merge", "x.jsonl", "--csv", "/nonexistent/m.csv"], "the folder /nonexistent"),
    (["topology", "--json", "/nonexistent/t.json"], "the folder /nonexistent"),
])
def test_bad_input_exits_2_before_any_worker(tmp_path, args, message):
    workdir = tmp_path / "work"
    extra = ["--workdir", str(workdir)] if args[0] in ("profile", "compare") else []
    proc = run_cli(*args, *extra, timeout=QUICK, cwd=tmp_path)
    _usage_error(proc, message)
    assert not workdir.exists(), "a worker folder was made: the run started"


@pytest.mark.parametrize("command", ["profile", "accuracy", "compare"])
@pytest.mark.parametrize("files, message", [
    ({"params": "truncated.params"}, "truncated MXNet .params file"),
    ({"params": "foreign.params"}, "not an MXNet .params file"),
    ({"params": "missing.params"}, "no such file"),
    ({"params": "."}, "is a folder"),
    ({"symbol": "truncated-symbol.json", "params": "net-0000.params"},
     "not an MXNet symbol JSON file"),
    ({"symbol": "other.json"}, "not an MXNet symbol"),
])
def test_bad_model_files_exit_2(model_files, tmp_path, command, files, message):
    args = [] if "symbol" in files else ["resnet18_v1"]
    for flag, name in files.items():
        args += [f"--{flag}", str(model_files / name)]
    proc = run_cli(command, *args, timeout=QUICK, cwd=tmp_path)
    _usage_error(proc, message)


def test_model_file_checks_accept_what_mxnet_wrote(model_files):
    from mxprof.mx.checks import check_params, check_symbol

    assert check_params(model_files / "net-0000.params") == 4  # 2 weights, 2 biases
    assert check_symbol(model_files / "net-symbol.json") > 0


def test_sparse_and_typed_params_are_accepted(tmp_path):
    import mxnet as mx

    from mxprof.mx.checks import check_params

    rsp = mx.nd.sparse.row_sparse_array(([[1.0, 2.0]], [1]), shape=(3, 2))
    csr = mx.nd.sparse.csr_matrix(([1.0, 2.0], [0, 1], [0, 1, 2]), shape=(2, 2))
    mx.nd.save(str(tmp_path / "s.params"), {"r": rsp, "c": csr, "d": mx.nd.ones((2,),
                                                                                 dtype="int64")})
    assert check_params(tmp_path / "s.params") == 3
    mx.nd.save(str(tmp_path / "list.params"), [mx.nd.ones((1, 1), dtype="float16"),
                                                mx.nd.ones((2, 1, 1), dtype="uint8")])
    assert check_params(tmp_path / "list.params") == 2


@pytest.mark.parametrize("args, message", [
    (["profile", "resnet18_v1", "--jsn", "r.json"], "did you mean --json?"),
    (["accuracy", "resnet18_v1", "--itrations", "3"], "did you mean --iterations?"),
    (["compare", "resnet18_v1", "--membnd", "0"], "did you mean --membind?"),
    (["verbose", "summary", "x.log", "--tpo", "3"], "did you mean --top?"),
    (["profil", "resnet18_v1"], "did you mean profile?"),
])
def test_mistyped_flag_or_command_gets_did_you_mean(args, message):
    proc = run_cli(*args, timeout=QUICK)
    _usage_error(proc, message)


@pytest.mark.parametrize("command", MEASURING)
def test_one_vocabulary_in_every_measuring_command(command):
    text = run_cli(command, "--help", timeout=QUICK).stdout
    for flag in ("--cores", "--membind", "--threads", "--iterations", "--warmup", "--timeout",
                 "--shape", "--json", "--markdown", "--dry-run"):
        assert flag in text, f"{command} --help lacks {flag}"
    assert "--cpus" not in text  # the old spelling parses but is not advertised
    assert "untimed calls after the first (default 5)" in " ".join(text.split())


@pytest.mark.parametrize("args", [
    ["profile", "resnet18_v1", "--shape", "3,32,32"],
    ["fusion", "resnet18_v1", "--shape", "3,32,32", "--cores", "0"],
    ["accuracy", "resnet18_v1", "--shape", "3,32,32", "--cpus", "0"],
    ["compare", "resnet18_v1", "--shape", "3,32,32", "--batch-size", "1,4"],
])
def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, args):
    workdir = tmp_path / "work"
    extra = ["--workdir", str(workdir)] if args[0] in ("profile", "compare") else []
    results = tmp_path / "results.jsonl"
    extra += ["--results", str(results)] if args[0] == "compare" else []
    proc = run_cli(*args, *extra, "--dry-run", "--json", str(tmp_path / "r.json"),
                   timeout=QUICK, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"mxprof {args[0]}, dry run:" in proc.stdout and "estimated time" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a dry run wrote files"


def _saved_profile(tmp_path: Path, name: str, path: str) -> Path:
    from mxprof.jobs.profile.report import build_report
    from mxprof.jobs.profile.spec import RunResult, RunSpec
    from mxprof.mx.models import ModelSpec

    model = ModelSpec(name=name, source="symbol", input_shape=(3, 8, 8), symbol_path=path,
                      params_path=path)
    spec = RunSpec(model=model, config="mkldnn", mkldnn=True, pass_name="timing")
    report = build_report([RunResult(spec=spec, status="failed", wall_s=0.1,
                                     error="worker said [/x] and [bold]")], planned=1)
    out = tmp_path / "saved.json"
    out.write_text(json.dumps(report))
    return out


def test_user_text_is_printed_as_is_through_rich(tmp_path):
    saved = _saved_profile(tmp_path, "net[v2][/x]", "/data/[v2]/net-0000.params")
    proc = run_cli("profile", "--load", str(saved), timeout=QUICK)
    assert proc.returncode == 0, proc.stderr
    assert "model net[v2][/x] (symbol)" in proc.stdout
    assert "worker said [/x] and [bold]" in proc.stdout
    assert "net[v2][/x]: MKL-DNN timing failed" in proc.stdout


def test_report_is_printed_when_a_file_cannot_be_written(tmp_path):
    # /dev/full passes every check (it exists and is writable) and fails on write: ENOSPC.
    saved = _saved_profile(tmp_path, "tinynet", "/x")
    proc = run_cli("profile", "--load", str(saved), "--markdown", "/dev/full", timeout=QUICK)
    assert proc.returncode == 2
    assert "tinynet: MKL-DNN timing failed" in proc.stdout
    assert "cannot write --markdown /dev/full" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_dash_is_stdout_everywhere(tmp_path):
    saved = _saved_profile(tmp_path, "tinynet", "/x")
    proc = run_cli("profile", "--load", str(saved), "--json", "-", timeout=QUICK)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["name"] == "tinynet"
    assert "tinynet: MKL-DNN timing failed" in proc.stderr
    topo = run_cli("topology", "--json", "-", timeout=QUICK)
    assert "cpus" in json.loads(topo.stdout)
    out = tmp_path / "t.json"
    assert run_cli("topology", "--json", str(out), timeout=QUICK).returncode == 0
    assert json.loads(out.read_text())["cpus"]


def test_missing_extra_names_the_pip_command(tmp_path):
    # A module named mxnet that cannot be found: shadow the real one with a None entry.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['mxnet'] = None\n")
    proc = run_cli("fusion", "resnet18_v1", timeout=QUICK,
                   env={"PYTHONPATH": f"{site}:{_src()}"})
    _usage_error(proc, "`mxprof fusion` needs MXNet: pip install 'mxprof[mxnet]', or run "
                       "inside the venv of your MXNet build")


def _src() -> str:
    import mxprof
    return str(Path(mxprof.__file__).resolve().parents[1])


def test_exit_status_says_a_check_failed():
    from types import SimpleNamespace

    from mxprof.commands import accuracy
    from mxprof.jobs.accuracy.records import ConfigResult
    from mxprof.jobs.profile.run import failed

    # The profile job's rule (ProfileResult.failed: exit status 1 of `mxprof profile`).
    assert not failed([True], {"fusion": {"status": "skipped"}, "equivalence": {"status": "ok"}})
    assert failed([True], {"equivalence": {"status": "failed"}})
    assert failed([True, False], None)

    def config(name, **kw):
        return ConfigResult(name=name, kind="plain", mkldnn=True, calib_mode=None,
                            **{"ok": True, **kw})

    good = [config("mkldnn-off"), config("mkldnn", within_tolerance=True, top1=0.7)]
    assert accuracy.exit_status(SimpleNamespace(configs=good)) == 0
    outside = [*good, config("mkldnn-fused", within_tolerance=False)]
    assert accuracy.exit_status(SimpleNamespace(configs=outside)) == 1
    crashed = [*good, config("int8-naive", ok=False, error="killed by SIGSEGV")]
    assert accuracy.exit_status(SimpleNamespace(configs=crashed)) == 1
    assert accuracy.exit_status(SimpleNamespace(configs=good), min_top1=0.75) == 1
    assert accuracy.exit_status(SimpleNamespace(configs=good), min_top1=0.5) == 0


@pytest.mark.slow
def test_profile_checks_run_on_the_same_weights_and_cpus(model_files, tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("profile", "--symbol", str(model_files / "net-symbol.json"), "--params",
                   str(model_files / "net-0000.params"), "--shape", "3,8,8", "--passes",
                   "timing", "--no-reference", "--iterations", "3", "--cores", "0",
                   "--membind", "0", "--threads", "1", "--json", str(out),
                   "--processes", "1", timeout=900)  # one timing worker: the counts below
    assert proc.returncode == 0, proc.stderr
    checks = json.loads(out.read_text())["checks"]
    # The fusion job loads exported models and their weights (it used to skip them).
    assert checks["fusion"]["status"] == "ok" and checks["fusion"]["weights"] == "user"
    eq = checks["equivalence"]
    assert eq["status"] == "ok" and eq["weights"] == "user"
    assert eq["binding"]["cpus"] == "0" and eq["threads"] == 1
    # Off a terminal, progress is plain lines: what runs, done/total, elapsed; the wait
    # policy chosen for the workers is said once, before them.
    assert proc.stderr.startswith("mxprof: OpenMP wait policy auto (decided before each worker")
    assert "mxprof profile: running net mkldnn timing (1 of 3; elapsed " in proc.stderr
    assert "mxprof profile: [1/3] done net mkldnn timing: ok" in proc.stderr
    assert "mxprof profile: [2/3] done fusion summary: ok" in proc.stderr
    assert "mxprof profile: [3/3] done equivalence check: ok" in proc.stderr


def test_plain_progress_lines_off_a_terminal():
    import io

    from mxprof.commands._progress import Progress

    out = io.StringIO()
    with Progress("compare", 3, done_before=1, stream=out) as bar:
        bar.start("m bs=1 mkldnn [v2]")
        bar.done("m bs=1 mkldnn [v2]")
        bar.start("m bs=8 mkldnn")
        bar.done("m bs=8 mkldnn", "failed: worker killed by signal SIGKILL")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("mxprof compare: running m bs=1 mkldnn [v2] (2 of 3; elapsed ")
    assert lines[1].startswith("mxprof compare: [2/3] done m bs=1 mkldnn [v2]: ok (")
    assert "about" in lines[1] and "left)" in lines[1]  # an estimate once one worker ran
    assert lines[3].startswith("mxprof compare: [3/3] done m bs=8 mkldnn: failed: worker killed")
    assert "left" not in lines[3]


@pytest.mark.parametrize("command", ["profile", "accuracy", "compare", "fusion"])
def test_gluoncv_name_without_gluoncv_names_the_extra(tmp_path, command):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['gluoncv'] = None\n")
    proc = run_cli(command, "ssd_512_mobilenet1.0_voc", timeout=QUICK,
                   env={"PYTHONPATH": f"{site}:{_src()}"}, cwd=tmp_path)
    _usage_error(proc, "pip install 'mxprof[gluoncv]'")
