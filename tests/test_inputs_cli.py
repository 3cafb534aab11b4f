"""Models with several inputs, integer inputs and non-image shapes through every command.

`--input NAME:SHAPE[:DTYPE]`, `--shape`, `--symbol/--params` and `FILE.py:FACTORY` are one option
set (mxprof.commands._options.model_of): bad input stops with exit 2 before any worker, and an
exported two-input network (tests/fixtures/two_inputs.py: an image and token ids) runs through
profile, fusion and accuracy with its own input names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, run_cli

TWO = str(FIXTURES / "two_inputs.py")
FEED = ["--input", "data0:2,3,16,16", "--input", "data1:2,6:int32"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[str, str]:
    """The two-input net exported the way users export theirs (in a child: no MXNet here)."""
    out = tmp_path_factory.mktemp("two")
    code = (f"import sys; sys.path.insert(0, {str(FIXTURES)!r}); from pathlib import Path; "
            f"import two_inputs; two_inputs.export(Path({str(out)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return str(out / "two-symbol.json"), str(out / "two-0000.params")


def _usage_error(proc, message: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "worker" not in proc.stdout  # nothing was planned or run


def test_symbol_input_names_come_from_the_files(exported):
    from mxprof.mx import models
    from mxprof.mx.checks import param_names

    symbol, params = exported
    assert "conv0_weight" in param_names(params)
    assert models.symbol_input_names(symbol, params) == ["data0", "data1"]
    assert models.symbol_input_names(symbol) == ["data0", "data1"]  # weight names told apart
    spec = models.resolve(None, symbol=symbol, params=params)
    assert spec.inputs == ()  # two inputs: no default shapes, each must be given
    from mxprof.jobs.model_check import vocabularies
    assert vocabularies(json.loads(Path(symbol).read_text())) == {"data1": 50}


@pytest.mark.parametrize("command", ["profile", "fusion", "accuracy", "compare"])
@pytest.mark.parametrize("extra, message", [
    ([], "data0, data1 have no default shape: give each with --input"),
    ([*FEED[:2], "--input", "data2:2,6"], "the model has no input 'data2'; its inputs are "
                                          "data0, data1"),
    (["--input", "data0:2,3,16", "--input", "data1:2,6:int32"],
     "the input shape(s) do not fit two"),
    (["--input", "data0:2,3,16,16:complex64", "--input", "data1:2,6"], "dtype 'complex64'"),
])
def test_an_exported_models_inputs_are_checked_before_any_worker(exported, command, extra,
                                                                 message):
    symbol, params = exported
    _usage_error(run_cli(command, "--symbol", symbol, "--params", params, *extra, "--dry-run"),
                 message)


@pytest.mark.parametrize("model, extra, message", [
    (f"{TWO}:not_a_block", [], "not_a_block() returned str, not a Gluon HybridBlock"),
    (f"{TWO}:raises", [], "raises() raised RuntimeError: no weights for you"),
    (f"{TWO}:nothing", [], "has no function 'nothing'"),
    ("nowhere.py:build", [], "model file 'nowhere.py' does not exist"),
    (f"{TWO}:build", ["--input", "image:1,3,16"], "the model's image has 4 (N,3,16,16)"),
    (f"{TWO}:build", ["--input", "tokens:1,6:float32"], "dtype float32 does not fit; tokens "
                                                         "takes integer ids"),
    (f"{TWO}:build_bare", [], "cannot be called with the input(s) data"),
    ("gnmt", ["--input", "tokens:4,50:int32"], "no input 'tokens'; its inputs are src"),
    ("gnmt", ["--input", "src:50:int32"], "src has 2 (N,50), batch first, e.g. src:1,50"),
    ("resnet18_v1", ["--shape", "3,32"], "bad shape 3,32: resnet18_v1 takes 3 size(s)"),
])
def test_factories_and_registry_models_are_checked_before_any_worker(model, extra, message):
    _usage_error(run_cli("profile", model, *extra, "--dry-run"), message)


@pytest.mark.parametrize("args, message", [
    (["gnmt", "--int8"], "--int8 quantizes a model with one float32 input; gnmt takes "
                         "src:N,50:int32 ids<32000"),
    (["dcgan", "--data", "images/"], "--data feeds images to one C,H,W input; dcgan takes "
                                     "noise:N,100,1,1:float32 N(0,1)"),
])
def test_accuracy_says_which_models_its_image_options_fit(args, message):
    _usage_error(run_cli("accuracy", *args, "--dry-run"), message)


def test_a_factory_with_declared_inputs_and_one_number_shapes_plan():
    proc = run_cli("profile", f"{TWO}:build", "--input", "tokens:3,9:int32", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "batch 1 and 3" in proc.stdout  # the --input batch is the throughput batch
    proc = run_cli("profile", "gnmt", "--shape", "100", "--dry-run")  # a one-number shape
    assert proc.returncode == 0, proc.stderr


def test_compare_inputs_name_their_model():
    _usage_error(run_cli("compare", "gnmt", "dcgan", "--input", "src:2,20:int32", "--dry-run"),
                 "with several models, name the one it feeds")
    _usage_error(run_cli("compare", "gnmt", "--input", "dcgan=noise:2,100,1,1", "--dry-run"),
                 "'dcgan' is not one of the models (gnmt)")
    proc = run_cli("compare", "gnmt", "dcgan", "--input", "gnmt=src:2,20:int32", "--dry-run",
                   "--processes", "1")
    assert proc.returncode == 0, proc.stderr
    # gnmt at its --input batch 2, dcgan at the reference's 128 (each run times batch 1 too).
    lines = proc.stdout.splitlines()
    assert {ln.split("batch ")[1].split(",")[0] for ln in lines if "gnmt" in ln} == {"2"}
    assert {ln.split("batch ")[1].split(",")[0] for ln in lines if "dcgan" in ln} == {"128"}


def test_exported_two_input_model_runs_through_profile_fusion_and_accuracy(exported, tmp_path):
    symbol, params = exported
    files = ["--symbol", symbol, "--params", params, *FEED]
    proc = run_cli("profile", *files, "--processes", "1", "--min-time", "0.05",
                   "--passes", "timing", "--checks", "equivalence", "--no-diagnosis",
                   "--json", str(tmp_path / "p.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "p.json").read_text())
    fed = report["model"]["inputs"]
    assert [(i["name"], i["dtype"], i["shape"]) for i in fed] == [
        ("data0", "float32", [3, 16, 16]), ("data1", "int32", [6])]
    assert report["throughput"]["batch_size"] == 2  # the --input batch
    assert all(r["status"] == "ok" for r in report["runs"])
    assert report["checks"]["equivalence"]["status"] == "ok"
    assert "data0 N,3,16,16 float32; data1 N,6 int32" in proc.stdout  # the header

    proc = run_cli("fusion", *files, "--rounds", "1", "--switches", "none", "--iterations", "3",
                   "--warmup", "1", "--trace-iterations", "2", "--processes", "1",
                   "--json", str(tmp_path / "f.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    fused = json.loads((tmp_path / "f.json").read_text())
    assert fused["input_shape"] == [2, 3, 16, 16] and fused["groups"]  # conv+bn+relu fused
    assert fused["environment"]["weights"] == "user"

    proc = run_cli("accuracy", *files, "--num-inputs", "4", "--batch-size", "2",
                   "--iterations", "2", "--processes", "1", "--json", str(tmp_path / "a.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = json.loads((tmp_path / "a.json").read_text())
    assert all(c["ok"] and c["within_tolerance"] is not False for c in acc["configs"])
    # Token ids below the vocabulary of the Embedding the input feeds (read from the graph).
    assert "data1:N,6:int32 ids<50" in " ".join(acc["notes"])
