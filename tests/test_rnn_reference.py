"""One answer to "does this network have RNN layers" for every job (mxprof.mx.rnn.has_rnn).

MXNET_MKLDNN_ENABLED=0 fails on MXNet's RNN operator in 1.9.1, so the reference of an RNN network
is MXNET_USE_MKLDNN_RNN=0. accuracy used to read exported symbols for RNN nodes while profile
knew only mxprof's own zoo: `profile --symbol lstm-symbol.json` ran its reference worker with
MKL-DNN off, which crashed on the RNN layer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.conftest import FIXTURES, run_cli

from mxprof.jobs.accuracy.configs import plan_configs, reference_for
from mxprof.jobs.profile import runner
from mxprof.jobs.profile.plan import plan_specs
from mxprof.jobs.profile.spec import Protocol
from mxprof.mx import models
from mxprof.mx.rnn import RNN_REFERENCE_ENV, RNN_REFERENCE_NOTE, has_rnn


@pytest.fixture(scope="module")
def lstm(tmp_path_factory) -> tuple[str, str]:
    """tests/fixtures/lstm_net.py exported as users export theirs (in a child: no MXNet here)."""
    out = tmp_path_factory.mktemp("lstm")
    code = (f"import sys; sys.path.insert(0, {str(FIXTURES)!r}); from pathlib import Path; "
            f"import lstm_net; lstm_net.export(Path({str(out)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return str(out / "lstm-symbol.json"), str(out / "lstm-0000.params")


def _reference_envs(spec: models.ModelSpec) -> tuple[dict[str, str], dict[str, str]]:
    """The reference environment each job plans for `spec`: profile's reference timing worker,
    accuracy's reference configuration."""
    specs = plan_specs(spec, batch_size=1, protocol=Protocol(), passes=("timing",))
    (ref, *_) = [s for s in specs if s.config == "reference"]
    plans, account = reference_for(spec.to_dict(), plan_configs(["mkldnn"], []))
    assert account["env"] == plans[0].env()
    return runner.worker_env(ref), plans[0].env()


def test_every_job_picks_the_rnn_reference_for_an_exported_lstm(lstm):
    symbol, params = lstm
    spec = models.resolve(None, symbol=symbol, params=params, shape=(5, 4))
    assert has_rnn(spec)
    profile_env, accuracy_env = _reference_envs(spec)
    for env in (profile_env, accuracy_env):
        assert {k: env.get(k) for k in RNN_REFERENCE_ENV} == RNN_REFERENCE_ENV
    # The MKL-DNN side is left alone.
    mkldnn = plan_specs(spec, batch_size=1, protocol=Protocol(), passes=("timing",))[0]
    assert mkldnn.config == "mkldnn" and "MXNET_USE_MKLDNN_RNN" not in runner.worker_env(mkldnn)


def test_every_job_keeps_mkldnn_off_for_a_network_without_rnn(tmp_path):
    graph = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                       {"op": "FullyConnected", "name": "fc", "inputs": [[0, 0, 0]]}],
             "arg_nodes": [0], "heads": [[1, 0, 0]]}
    symbol = tmp_path / "fc-symbol.json"
    symbol.write_text(json.dumps(graph))
    spec = models.ModelSpec(name="fc", source="symbol", input_shape=(4,), symbol_path=str(symbol))
    assert not has_rnn(spec)
    for env in _reference_envs(spec):
        assert env["MXNET_MKLDNN_ENABLED"] == "0" and "MXNET_USE_MKLDNN_RNN" not in env


def test_a_broken_symbol_file_is_no_rnn(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    spec = models.ModelSpec(name="x", source="symbol", input_shape=(4,),
                            symbol_path=str(tmp_path / "x.json"))
    assert not has_rnn(spec)  # the worker that loads it reports the error


def test_profile_of_an_exported_lstm_runs_its_reference(lstm, tmp_path):
    symbol, params = lstm
    proc = run_cli("profile", "--symbol", symbol, "--params", params, "--shape", "5,4",
                   "--fast", "--min-time", "0.05", "--passes", "timing", "--checks", "none",
                   "--no-diagnosis", "--processes", "1", "--json", str(tmp_path / "p.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "p.json").read_text())
    assert {r["config"] for r in report["runs"]} == {"mkldnn", "reference"}
    assert all(r["status"] == "ok" for r in report["runs"]), report["runs"]
    assert RNN_REFERENCE_NOTE in report["notes"]
