"""GNMT (Wu et al. 2016, "Google's Neural Machine Translation System", arXiv:1609.08144) for
inference, as a Gluon HybridBlock built from `gluon.rnn.LSTM` (the fused `RNN` operator, which
MKL-DNN runs as oneDNN `rnn` primitives).

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
    """See the module docstring. `encoder_layers` >= 2, `decoder_layers` >= 1, `beam_width` >= 1."""

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 1024,
                 encoder_layers: int = 4, decoder_layers: int = 4, decode_steps: int = SOURCE_LENGTH,
                 beam_width: int = 1, bos_id: int = BOS_ID, **kwargs):
        super().__init__(**kwargs)
        if encoder_layers < 2 or decoder_layers < 1 or beam_width < 1 or decode_steps < 1:
            raise ValueError("GNMT needs encoder_layers >= 2, decoder_layers >= 1, "
                             "beam_width >= 1 and decode_steps >= 1")
        if not 0 <= bos_id < vocab_size:
            raise ValueError(f"bos_id {bos_id} is not below vocab_size {vocab_size}")
        h = hidden_size
        self.vocab_size, self.hidden = vocab_size, h
        self.decode_steps, self.beam_width, self.bos_id = decode_steps, beam_width, bos_id
        with self.name_scope():
            self.embedding = nn.Embedding(vocab_size, h)
            self.encoder = nn.HybridSequential(prefix="enc_")
            with self.encoder.name_scope():
                self.encoder.add(rnn.LSTM(h, bidirectional=True, input_size=h))
                self.encoder.add(rnn.LSTM(h, input_size=2 * h))
                for _ in range(encoder_layers - 2):
                    self.encoder.add(rnn.LSTM(h, input_size=h))
            self.decoder = nn.HybridSequential(prefix="dec_")
            with self.decoder.name_scope():
                self.decoder.add(rnn.LSTM(h, input_size=h))
                for _ in range(decoder_layers - 1):
                    self.decoder.add(rnn.LSTM(h, input_size=2 * h))
            self.attention = BahdanauAttention(h)
            self.classifier = nn.Dense(vocab_size, flatten=False, in_units=h)

    def hybridize(self, active=True, backend=None, clear=True, static_alloc=False,
                  static_shape=False, **kwargs):
        """As HybridBlock.hybridize, but never with static_shape: in MXNet 1.9.1 a `foreach`
        node under static_shape returns uninitialised memory (checked: greedy decoding gave
        zeros and 1e-41 values on the first call, beam search wrong tokens on every call).
        `optimize_for` goes through here too."""
        super().hybridize(active, backend, clear, static_alloc, False, **kwargs)

    def encode(self, F, src):
        """(N, T) token ids -> (T, N, H) outputs of the last encoder layer."""
        x = F.transpose(self.embedding(F.cast(src, "float32")), axes=(1, 0, 2))
        for i, layer in enumerate(self.encoder):
            out = layer(x)
            x = out + x if i >= 2 else out  # residual from the third layer on
        return x

    def step(self, F, tokens, states, keys, values):
        """One decoder step for M = N x beam hypotheses: tokens (M,), states [[h, c]] per layer
        of (1, M, H) -> logits (M, vocab), new states."""
        x = F.expand_dims(self.embedding(tokens), axis=0)                  # (1, M, H)
        new_states = []
        x, s = self.decoder[0](x, states[0])
        new_states.append(s)
        context = F.expand_dims(self.attention(F.reshape(x, (-3, -1)), keys, values), axis=0)
        for i in range(1, len(self.decoder)):
            out, s = self.decoder[i](F.concat(x, context, dim=2), states[i])
            new_states.append(s)
            x = out + x if i >= 2 else out
        return self.classifier(F.reshape(x, (-3, -1))), new_states

    def hybrid_forward(self, F, src):
        enc = self.encode(F, src)                                          # (T, N, H)
        values = F.transpose(enc, axes=(1, 0, 2))                          # (N, T, H)
        k = self.beam_width
        first = F.slice_axis(F.cast(src, "float32"), axis=1, begin=0, end=1)
        tokens = F.reshape(first, (-1,)) * 0 + self.bos_id                 # (N,)
        if k > 1:
            values = F.repeat(values, repeats=k, axis=0)
            tokens = F.repeat(tokens, repeats=k, axis=0)

        def zeros():  # (1, N*k, H); a node of its own per state: foreach wants distinct inputs
            z = F.zeros_like(F.slice_axis(enc, axis=0, begin=0, end=1))
            return F.repeat(z, repeats=k, axis=1) if k > 1 else z
        keys = self.attention.project_keys(values)
        states = [[zeros(), zeros()] for _ in range(len(self.decoder))]
        if k == 1:
            return self._greedy(F, tokens, states, keys, values)
        return self._beam(F, tokens, states, keys, values, first)

    def _loop(self, F, body, init):
        """Run `body` for decode_steps steps as one `foreach` node, not an unrolled graph: each
        RNN node of a graph keeps its own oneDNN weight copy and workspace, so 50 unrolled
        steps of the 4x1024 decoder held ~20 GB (measured); a loop body holds one set."""
        steps = F.arange(0, self.decode_steps)
        outs, _ = F.contrib.foreach(body, steps, init)
        return outs

    def _unflatten(self, flat):
        return [[flat[2 * i], flat[2 * i + 1]] for i in range(len(self.decoder))]

    def _greedy(self, F, tokens, states, keys, values):
        def body(step, st):
            tokens = F.broadcast_add(st[0], step * 0)  # foreach insists its data is used
            logits, new = self.step(F, tokens, self._unflatten(st[1:]), keys, values)
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

        def body(step, st):
            tokens = F.broadcast_add(st[0], step * 0)  # foreach insists its data is used
            logits, new = self.step(F, tokens, self._unflatten(st[2:]), keys, values)
            logp = F.reshape(F.log_softmax(logits, axis=-1), (-4, -1, k, vocab))
            total = F.reshape(F.broadcast_add(logp, F.expand_dims(st[1], axis=2)), (0, -1))
            best, idx = F.topk(total, k=k, ret_typ="both", axis=1)        # (N, k) each
            parent = F.floor(idx / vocab)
            nxt = F.reshape(idx - parent * vocab, (-1,))                   # (N*k,)
            rows = F.reshape(F.broadcast_add(parent, base), (-1,))        # parent's flat row
            moved = [F.take(x, rows, axis=1) for hc in new for x in hc]
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


def gnmt(**kwargs) -> GNMT:
    """GNMT for inference, random weights; kwargs go to `GNMT`."""
    return GNMT(**kwargs)
