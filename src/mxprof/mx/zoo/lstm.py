"""One LSTM layer on MXNet's fused `RNN` operator whose weights live in ONE persistent parameter.

Why not `gluon.rnn.LSTM`: in MXNet 1.9.1 that layer keeps eight parameters per direction and
concatenates them (`_rnn_param_concat`) into a fresh flat array on every call. Measured on this
VM (4096x3072 weights, one step, batch 1, hybridized): the concat alone took 119-157 ms a call
(MXNet profiler), and because the concatenated array is new, its version changes, so MKL-DNN's
RNN operator (`MKLDNNRnnOp::Forward` in src/operator/nn/mkldnn/mkldnn_rnn.cc: "Check if weights
NDArray was changed. If so, reset initialized_") copies, fuses the biases and reorders the
weights into oneDNN's packed layout again on every call: four reorders, ~18 ms. A one-step call
cost 137 ms. With the flat parameter held here the weights are reordered once per operator
state and the same step costs ~3.4 ms (measured the same way).

Left in MXNet 1.9.1, seen in DNNL_VERBOSE logs: under static_shape CachedOp sets an op's
OpContext::is_train but never need_grad (graph_executor.cc sets both), and the RNN operator runs
oneDNN's forward_training whenever is_train || need_grad, so some RNN nodes (which ones varies
by process) run forward_training and re-pack their weights on every call; with static_shape off
every RNN node is re-created each call (CachedOp::StaticRunOps). Neither can be fixed from Python.
oneDNN names its CPU RNN implementation `ref:any` but runs it on packed GEMM (cpu/rnn/ref_rnn.cpp).

The parameter is in the RNN operator's own layout (rnn-inl.h: for each direction the i2h then
h2h weight, each (4H, in) with gates [i, f, c, o]; then for each direction the i2h and h2h bias,
(4H,) each), so the count equals `gluon.rnn.LSTM`'s: dirs * (4H(I + H) + 8H).

Initialisation: U(-0.1, 0.1) for every value, as MLPerf's GNMT reference (`init_lstm_`, which
also zeroes one of the two bias vectors; both are drawn here).
"""

from __future__ import annotations

from mxnet import init
from mxnet.gluon import nn

INIT_RANGE = 0.1  # MLPerf GNMT reference, seq2seq/models: init_lstm_(lstm, init_weight=0.1)


def flat_size(input_size: int, hidden_size: int, directions: int) -> int:
    """Values in the flat parameter: dirs * (4H(I + H) + 8H) (rnn-inl.h GetRnnParamSize)."""
    h = hidden_size
    return directions * (4 * h * (input_size + h) + 8 * h)


class FlatLSTM(nn.HybridBlock):
    """One (optionally bidirectional) LSTM layer, time-major.

    Call `layer(x)` with x (T, N, input_size) -> (T, N, dirs * H), zero initial states; or
    `layer(x, [h, c])` with h, c (dirs, N, H) -> (output, [h', c']) like `gluon.rnn.LSTM`.
    """

    def __init__(self, hidden_size: int, input_size: int, bidirectional: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.input_size = hidden_size, input_size
        self.directions = 2 if bidirectional else 1
        with self.name_scope():
            self.rnn_param = self.params.get(
                "rnn_param", shape=(flat_size(input_size, hidden_size, self.directions),),
                init=init.Uniform(INIT_RANGE))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size} -> {self.hidden_size}, "
                f"directions={self.directions})")

    def _zeros(self, F, x):
        """(dirs, N, H) zeros from x's batch, built in-graph so no shape is fixed."""
        z = F.sum(F.slice_axis(x, axis=0, begin=0, end=1), axis=2, keepdims=True) * 0  # (1, N, 1)
        return F.broadcast_axis(z, axis=(0, 2), size=(self.directions, self.hidden_size))

    def hybrid_forward(self, F, x, states=None, rnn_param=None):
        kwargs = {"state_size": self.hidden_size, "num_layers": 1, "mode": "lstm",
                  "bidirectional": self.directions == 2}
        if states is None:
            return F.RNN(x, rnn_param, self._zeros(F, x), self._zeros(F, x),
                         state_outputs=False, **kwargs)
        out, h, c = F.RNN(x, rnn_param, states[0], states[1], state_outputs=True, **kwargs)
        return out, [h, c]
