"""GNMT (Wu et al. 2016, "Google's Neural Machine Translation System", arXiv:1609.08144) for
inference, as a Gluon HybridBlock whose LSTM layers are MXNet's fused `RNN` operator (which
MKL-DNN runs as oneDNN `rnn` primitives, vanilla_lstm), each with its weights in one persistent
parameter (`lstm.FlatLSTM`; `gluon.rnn.LSTM` re-concatenates its weights on every call, which
made a decoder step ~40x slower, see that module).

Layout of MLPerf's GNMT reference (the paper's 8+8 layers cut to 4+4 of 1024 units):
- a shared source/target embedding of `vocab_size` (32k: the paper's shared wordpiece vocabulary);
- encoder: layer 1 bidirectional (2 x hidden), layer 2 unidirectional on its 2 x hidden output,
  layers 3.. unidirectional with residual connections (the paper starts them at layer 3);
- decoder: layer 1 is an LSTM whose output queries a normalised Bahdanau attention over the
  encoder's last layer; every later layer reads [previous output, attention context], layers 3..
  with residual connections; a linear classifier over the vocabulary shares nothing else.
Decoding is greedy, or a beam search of `beam_width`, for exactly `decode_steps` steps with no
early stop, so time never depends on what random weights happen to predict.

Input: (N, T) int32 token ids below `vocab_size` (T=50 by default, the source length timed);
output: (N, decode_steps) float32 token ids of the best hypothesis. Initialised at random.
"""

from __future__ import annotations

from mxnet import init
from mxnet.gluon import nn, rnn

from mxprof.mx.zoo.lstm import INIT_RANGE, FlatLSTM

VOCAB_SIZE = 32000
SOURCE_LENGTH = 50
BOS_ID = 1


class BahdanauAttention(nn.HybridBlock):
    """score(q, k) = g * v/|v| . tanh(W_q q + W_k k + b) (Bahdanau 2015, normalised as in
    Salimans & Kingma 2016 and MLPerf GNMT). No mask: every source position is a real token."""

    def __init__(self, hidden: int, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.query = nn.Dense(hidden, use_bias=False, flatten=False, in_units=hidden)
            self.key = nn.Dense(hidden, use_bias=False, flatten=False, in_units=hidden)
            # A zero v (what a vector initialiser may pick) would divide by zero: MLPerf's U(-0.1, 0.1).
            self.v = self.params.get("v", shape=(hidden,), init=init.Uniform(0.1))
            self.g = self.params.get("g", shape=(1,), init="ones")
            self.b = self.params.get("b", shape=(hidden,), init="zeros")

    def project_keys(self, keys):
        """(N, T, H) encoder outputs -> (N, T, H) projected keys, once per sentence."""
        return self.key(keys)

    def hybrid_forward(self, F, query, keys, values, v, g, b):
        """query (M, H), keys/values (M, T, H) -> context (M, H)."""
        q = F.expand_dims(self.query(query), axis=1)                      # (M, 1, H)
        v_unit = F.broadcast_mul(F.broadcast_div(v, F.sqrt(F.sum(F.square(v)))), g)
        hidden = F.tanh(F.broadcast_add(F.broadcast_add(keys, q), b))      # (M, T, H)
        scores = F.dot(hidden, v_unit)                                     # (M, T)
        weights = F.softmax(scores, axis=-1)
        return F.reshape(F.batch_dot(F.expand_dims(weights, axis=1), values), (0, -1))


class GNMT(nn.HybridBlock):
    """See the module docstring. `encoder_layers` >= 2, `decoder_layers` >= 1, `beam_width` >= 1.

    `decoder` chooses how the decoder's steps run; both compute the same LSTM (gates [i, f, c, o],
    the fused operator's order) with the same parameter count:
    - "unrolled" (default): the `decode_steps` steps unrolled into the graph, each decoder layer a
      `gluon.rnn.LSTMCell` (two FullyConnected + gate arithmetic) whose weights every step shares.
      With static_shape every node keeps its state, so nothing is re-created per call: on this VM
      a 4+4x1024 greedy call at batch 1 took 65 s with "loop" and 6.0 s unrolled (load 7-8).
      The decoder shows oneDNN inner_product primitives; the encoder keeps the `rnn` ones.
    - "loop": one `foreach` node whose body runs the decoder's fused `RNN` operators (oneDNN
      `rnn` primitives in the decoder too). In MXNet 1.9.1 `foreach` runs its body through a
      CachedOp with static_alloc but never static_shape (LoopState::MakeSharedOp,
      subgraph_op_common.h), and such a CachedOp re-creates every stateful operator on every
      run (CachedOp::StaticRunOps), so each step re-copies and re-reorders every decoder weight.
      An unrolled graph of fused RNN nodes is no way out: each node keeps its own two oneDNN
      copies of its weights (~20 GB at 50 steps, measured).
    """

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 1024,
                 encoder_layers: int = 4, decoder_layers: int = 4, decode_steps: int = SOURCE_LENGTH,
                 beam_width: int = 1, bos_id: int = BOS_ID, decoder: str = "unrolled", **kwargs):
        super().__init__(**kwargs)
        if encoder_layers < 2 or decoder_layers < 1 or beam_width < 1 or decode_steps < 1:
            raise ValueError("GNMT needs encoder_layers >= 2, decoder_layers >= 1, "
                             "beam_width >= 1 and decode_steps >= 1")
        if not 0 <= bos_id < vocab_size:
            raise ValueError(f"bos_id {bos_id} is not below vocab_size {vocab_size}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder {decoder!r} is not one of {', '.join(DECODERS)}")
        h = hidden_size
        self.vocab_size, self.hidden, self.decoder_kind = vocab_size, h, decoder
        self.decode_steps, self.beam_width, self.bos_id = decode_steps, beam_width, bos_id
        with self.name_scope():
            self.embedding = nn.Embedding(vocab_size, h)
            self.encoder = nn.HybridSequential(prefix="enc_")
            with self.encoder.name_scope():
                self.encoder.add(FlatLSTM(h, h, bidirectional=True))
                self.encoder.add(FlatLSTM(h, 2 * h))
                for _ in range(encoder_layers - 2):
                    self.encoder.add(FlatLSTM(h, h))
            self.decoder = nn.HybridSequential(prefix="dec_")
            with self.decoder.name_scope():
                for i in range(decoder_layers):
                    self.decoder.add(_decoder_layer(decoder, h, h if i == 0 else 2 * h))
            self.attention = BahdanauAttention(h)
            self.classifier = nn.Dense(vocab_size, flatten=False, in_units=h)

    def hybridize(self, active=True, backend=None, clear=True, static_alloc=False,
                  static_shape=False, *args, **kwargs):
        """As HybridBlock.hybridize (same positional order: `optimize_for` passes nine), but
        never static_shape with the "loop" decoder: in MXNet 1.9.1 a `foreach` node under
        static_shape returns uninitialised memory (checked: greedy decoding gave zeros and 1e-41
        values on the first call, beam search wrong tokens on every call)."""
        if self.decoder_kind == "loop":
            static_shape = False
        super().hybridize(active, backend, clear, static_alloc, static_shape, *args, **kwargs)

    def encode(self, F, src):
        """(N, T) token ids -> (T, N, H) outputs of the last encoder layer."""
        x = F.transpose(self.embedding(F.cast(src, "float32")), axes=(1, 0, 2))
        for i, layer in enumerate(self.encoder):
            out = layer(x)
            x = out + x if i >= 2 else out  # residual from the third layer on
        return x

    def _layer(self, F, i, x, state):
        """Decoder layer i on x (M, in) and state [h, c] of (M, H) each -> output, new state."""
        layer = self.decoder[i]
        if isinstance(layer, FlatLSTM):  # time-major fused RNN: one step of length 1
            out, (h, c) = layer(F.expand_dims(x, axis=0),
                                [F.expand_dims(s, axis=0) for s in state])
            return F.reshape(out, (-3, -1)), [F.reshape(h, (-3, -1)), F.reshape(c, (-3, -1))]
        return layer(x, state)

    def step(self, F, tokens, states, keys, values):
        """One decoder step for M = N x beam hypotheses: tokens (M,), states [[h, c]] per layer
        of (M, H) -> logits (M, vocab), new states."""
        x, s = self._layer(F, 0, self.embedding(tokens), states[0])         # (M, H)
        new_states = [s]
        context = self.attention(x, keys, values)                          # (M, H)
        for i in range(1, len(self.decoder)):
            out, s = self._layer(F, i, F.concat(x, context, dim=1), states[i])
            new_states.append(s)
            x = out + x if i >= 2 else out
        return self.classifier(x), new_states

    def hybrid_forward(self, F, src):
        enc = self.encode(F, src)                                          # (T, N, H)
        values = F.transpose(enc, axes=(1, 0, 2))                          # (N, T, H)
        k = self.beam_width
        first = F.slice_axis(F.cast(src, "float32"), axis=1, begin=0, end=1)
        tokens = F.reshape(first, (-1,)) * 0 + self.bos_id                 # (N,)
        if k > 1:
            values = F.repeat(values, repeats=k, axis=0)
            tokens = F.repeat(tokens, repeats=k, axis=0)

        def zeros():  # (N*k, H); a node of its own per state: foreach wants distinct inputs
            z = F.zeros_like(F.reshape(F.slice_axis(enc, axis=0, begin=0, end=1), (-3, -1)))
            return F.repeat(z, repeats=k, axis=0) if k > 1 else z
        keys = self.attention.project_keys(values)
        states = [[zeros(), zeros()] for _ in range(len(self.decoder))]
        if k == 1:
            return self._greedy(F, tokens, states, keys, values)
        return self._beam(F, tokens, states, keys, values, first)

    def _loop(self, F, body, init):
        """`body(state) -> (outputs, state)` for decode_steps steps; outputs stacked on axis 0.
        "loop": one `foreach` node, not an unrolled graph (see the class docstring);
        "unrolled": the steps written out, every step reusing the same parameters."""
        if self.decoder_kind == "unrolled":
            outs, st = [], init
            for _ in range(self.decode_steps):
                out, st = body(st)
                outs.append(out)
            if isinstance(outs[0], list):
                return [F.stack(*[o[j] for o in outs], axis=0) for j in range(len(outs[0]))]
            return F.stack(*outs, axis=0)

        def step_body(step, st):  # foreach insists its data is used
            return body([F.broadcast_add(st[0], step * 0), *st[1:]])
        outs, _ = F.contrib.foreach(step_body, F.arange(0, self.decode_steps), init)
        return outs

    def _unflatten(self, flat):
        return [[flat[2 * i], flat[2 * i + 1]] for i in range(len(self.decoder))]

    def _greedy(self, F, tokens, states, keys, values):
        def body(st):
            logits, new = self.step(F, st[0], self._unflatten(st[1:]), keys, values)
            nxt = F.argmax(logits, axis=1)
            return nxt, [nxt, *[x for hc in new for x in hc]]
        out = self._loop(F, body, [tokens, *[x for hc in states for x in hc]])
        return F.transpose(out)                                            # (N, steps)

    def _beam(self, F, tokens, states, keys, values, first):
        """Fixed-length beam search: each step keeps the `k` best of k x vocab extensions and
        reorders the states to their parents; the best final hypothesis is traced back through
        the per-step parents."""
        k, vocab = self.beam_width, self.vocab_size
        batch_zero = F.reshape(first, (-1,)) * 0                           # (N,)
        # Only beam 0 is alive at the start, so the first step does not pick k copies of one token.
        scores = (F.one_hot(batch_zero, k) - 1) * 1e9                     # (N, k)
        base = F.expand_dims(F.contrib.arange_like(batch_zero, axis=0) * k, axis=1)

        def body(st):
            logits, new = self.step(F, st[0], self._unflatten(st[2:]), keys, values)
            logp = F.reshape(F.log_softmax(logits, axis=-1), (-4, -1, k, vocab))
            total = F.reshape(F.broadcast_add(logp, F.expand_dims(st[1], axis=2)), (0, -1))
            best, idx = F.topk(total, k=k, ret_typ="both", axis=1)        # (N, k) each
            parent = F.floor(idx / vocab)
            nxt = F.reshape(idx - parent * vocab, (-1,))                   # (N*k,)
            rows = F.reshape(F.broadcast_add(parent, base), (-1,))        # parent's flat row
            moved = [F.take(x, rows, axis=0) for hc in new for x in hc]
            return [nxt, rows], [nxt, best, *moved]
        toks, rows = self._loop(F, body, [tokens, scores, *[x for hc in states for x in hc]])
        # Back-track from beam 0 (topk sorts best first) of the last step.
        toks = F.split(toks, num_outputs=self.decode_steps, axis=0, squeeze_axis=True)
        rows = F.split(rows, num_outputs=self.decode_steps, axis=0, squeeze_axis=True)
        if self.decode_steps == 1:
            toks, rows = [toks], [rows]
        row = F.reshape(base, (-1,))                                       # (N,)
        path = []
        for t in reversed(range(self.decode_steps)):
            path.append(F.take(toks[t], row))
            row = F.take(rows[t], row)
        return F.stack(*reversed(path), axis=1)


DECODERS = ("unrolled", "loop")


def _decoder_layer(kind: str, hidden: int, input_size: int):
    if kind == "loop":
        return FlatLSTM(hidden, input_size)
    # MLPerf's U(-0.1, 0.1), as FlatLSTM; LSTMCell's gates are the fused operator's [i, f, c, o].
    u = init.Uniform(INIT_RANGE)
    return rnn.LSTMCell(hidden, input_size=input_size, i2h_weight_initializer=u,
                        h2h_weight_initializer=u, i2h_bias_initializer=u, h2h_bias_initializer=u)


def gnmt(**kwargs) -> GNMT:
    """GNMT for inference, random weights; kwargs go to `GNMT`."""
    return GNMT(**kwargs)
