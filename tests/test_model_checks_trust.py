"""One check before any worker for every model source (issue 20): zoo models are built and
their shapes inferred like a FILE.py:FACTORY or a --symbol, and --params of another model is
named as such."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.conftest import run_cli

MAKE = """
import sys, mxnet as mx
from mxnet.gluon import nn
net = nn.HybridSequential(prefix=sys.argv[3])
with net.name_scope():
    net.add(nn.Dense(int(sys.argv[2]), in_units=4), nn.Dense(3))
net.initialize()
net.hybridize()
net(mx.nd.zeros((1, 4)))
net.export(sys.argv[1])
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Two exported nets whose weights do not match: (symbol of a, params of a, params of b)."""
    folder = tmp_path_factory.mktemp("exported")
    for name, units in (("a", "5"), ("b", "7")):
        subprocess.run([sys.executable, "-c", MAKE, str(folder / name), units, f"{name}_"],
                       check=True,
                       timeout=300, capture_output=True)
    return (folder / "a-symbol.json", folder / "a-0000.params", folder / "b-0000.params")


def test_a_zoo_shape_that_does_not_fit_is_refused_before_any_worker():
    r = run_cli("profile", "squeezenet1.1", "--shape", "3,16,16", "--passes", "timing",
                "--processes", "1")
    assert r.returncode == 2, r.stderr
    assert "the input shape(s) do not fit squeezenet1.1" in r.stderr
    assert "running" not in r.stderr and "worker" not in r.stderr  # no worker started


def test_zoo_params_of_another_model_are_named(exported):
    _, _, other = exported
    r = run_cli("profile", "resnet18_v1", "--params", str(other), "--dry-run")
    assert r.returncode == 2, r.stderr
    assert f"--params {other} holds none of resnet18_v1's" in r.stderr


def test_symbol_params_of_another_model_are_named(exported):
    symbol, _, other = exported
    r = run_cli("profile", "--symbol", str(symbol), "--params", str(other), "--shape", "4",
                "--dry-run")
    assert r.returncode == 2, r.stderr
    assert "holds none of the symbol's 4 weights" in r.stderr


def test_the_symbols_own_params_pass(exported):
    symbol, own, _ = exported
    r = run_cli("profile", "--symbol", str(symbol), "--params", str(own), "--shape", "4",
                "--dry-run")
    assert r.returncode == 0, r.stderr
