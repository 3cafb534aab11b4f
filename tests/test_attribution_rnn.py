"""GFLOP/s of oneDNN rnn primitives in the per-layer primitive table: the descriptor alone lacks
the gates and directions, which come from the line's aux field."""

from __future__ import annotations

import pandas as pd
import pytest

from mxprof.onednn.attribution import summarize_by_layer

PROBLEM = "l1t5mb2sic16slc8dhc16dic16"


def frame(aux: str) -> pd.DataFrame:
    return pd.DataFrame({
        "iteration": [0], "operation": ["exec"], "layer": ["enc_rnn0"], "layer_op": ["RNN"],
        "kind": ["rnn"], "impl": ["ref:any"], "problem": [PROBLEM], "time_ms": [0.5],
        "mds": ["src_layer_f32::blocked:abc:f0"], "aux": [aux]})


@pytest.mark.parametrize("aux, gates, dirs", [
    ("alg:vanilla_lstm direction:unidirectional_left2right activation:undef", 4, 1),
    ("alg:vanilla_lstm direction:bidirectional_concat activation:undef", 4, 2),
    ("alg:lbr_gru direction:unidirectional_left2right activation:undef", 3, 1),
])
def test_rnn_rows_get_gflops_from_gates_and_directions(aux, gates, dirs):
    # 2 FLOPs per weight per cell: cells = t*mb*dirs, weights per cell = gates*dhc*(slc+sic)
    flops = 2.0 * 5 * 2 * dirs * gates * 16 * (8 + 16)
    row = summarize_by_layer(frame(aux), iterations=1).iloc[0]
    assert row["gflops_per_s"] == pytest.approx(flops / (0.5 * 1e6))
