"""The configurations of an accuracy run: what each is, and which reference path a model needs.

- mkldnn-off    reference CPU kernels (MXNET_MKLDNN_ENABLED=0): the reference; for a network
               with RNN layers MKL-DNN with MXNET_USE_MKLDNN_RNN=0 instead (`reference_for`);
- mkldnn        MKL-DNN kernels, no graph fusion;
- mkldnn-fused  MKL-DNN with subgraph fusion;
- int8-<mode>   quantized, calibration none/naive/entropy.
`plan_configs(names, int8_modes)` orders them, the reference first (pure, no MXNet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mxprof.jobs.accuracy.records import REFERENCE

FP32_CONFIGS = ("mkldnn-off", "mkldnn", "mkldnn-fused")


@dataclass(frozen=True)
class ConfigPlan:
    """What one configuration is: how the graph is built and whether MKL-DNN is on."""

    name: str
    kind: str  # plain | fused | int8
    mkldnn: bool
    calib_mode: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()

    def env(self) -> dict[str, str]:
        return {"MXNET_MKLDNN_ENABLED": "1" if self.mkldnn else "0", **dict(self.extra_env)}


# The reference for networks with RNN layers (see the module docstring).
RNN_REFERENCE = ConfigPlan(REFERENCE, "plain", True, extra_env=(("MXNET_USE_MKLDNN_RNN", "0"),))
_RNN_OPS = ("RNN",)


def has_rnn_layers(model: dict) -> bool:
    """True when the network runs the RNN operator: mxprof's own RNN models (GNMT), whose
    worker switches to the RNN reference by itself (accuracy/worker.py run_bound), so the
    report must name that reference too; or an exported symbol holding an RNN node (the zoos'
    vision models have none)."""
    if model.get("source") == "mxprof":
        from mxprof.mx.models import ModelSpec, has_rnn
        return has_rnn(ModelSpec.from_dict(model))
    path = model.get("symbol_path")
    if not path:
        return False
    try:
        with open(path) as f:
            graph = json.load(f)
    except (OSError, ValueError):
        return False  # a broken file is reported by the worker that loads it
    return any(n.get("op") in _RNN_OPS for n in graph.get("nodes", ()))


def reference_for(model: dict, plans: list[ConfigPlan]) -> tuple[list[ConfigPlan], dict]:
    """The plans with the reference path chosen for `model`, and the report's account of it."""
    if not has_rnn_layers(model):
        return plans, {"config": REFERENCE, "env": {"MXNET_MKLDNN_ENABLED": "0"},
                       "why": "MXNet's own CPU kernels for every operator"}
    plans = [RNN_REFERENCE if p.name == REFERENCE else p for p in plans]
    return plans, {"config": REFERENCE, "env": RNN_REFERENCE.env(),
                   "why": "the network has RNN layers, which MXNet 1.9.1 cannot run with "
                          "MXNET_MKLDNN_ENABLED=0 (2-layer LSTM: 'Check failed: "
                          "out_data.size() == num_outputs'); RNN layers use MXNet's own "
                          "kernels (MXNET_USE_MKLDNN_RNN=0), other operators MKL-DNN"}


def plan_configs(names: list[str], int8_modes: list[str]) -> list[ConfigPlan]:
    """The reference first, then the requested FP32 configurations, then INT8 ones."""
    known = {"mkldnn-off": ConfigPlan("mkldnn-off", "plain", False),
             "mkldnn": ConfigPlan("mkldnn", "plain", True),
             "mkldnn-fused": ConfigPlan("mkldnn-fused", "fused", True)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown configuration(s) {', '.join(unknown)}: "
                         f"choose from {', '.join(FP32_CONFIGS)}")
    plans = [known[REFERENCE]] + [known[n] for n in FP32_CONFIGS if n in names and n != REFERENCE]
    plans += [ConfigPlan(f"int8-{m}", "int8", True, m) for m in int8_modes]
    return plans
