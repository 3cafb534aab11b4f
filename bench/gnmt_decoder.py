"""What the GNMT decoder fix buys: one LSTM step and one whole GNMT call, before and after.

    PYTHONPATH=src python bench/gnmt_decoder.py [--hidden 1024] [--steps 5] [--batch 1]

Rows, each in its own process (MXNet reads MXNET_USE_MKLDNN_RNN when it loads), all hybridized
with static_alloc + static_shape like deployed inference:
- step gluon.rnn.LSTM: one time step of one decoder layer (input 2H, batch --batch) as
  `gluon.rnn.LSTM` runs it: re-concatenates its weights every call (the baseline);
- step FlatLSTM: the same step on mxprof's persistent flat parameter (mx/zoo/lstm.py);
- gnmt loop / unrolled: a 4+4 x H GNMT, 32k vocabulary, --steps greedy steps, with the
  `foreach` decoder (fused RNN operator re-created every step) and the unrolled LSTMCell
  decoder (the default); unrolled again with MXNET_USE_MKLDNN_RNN=0 (MXNet's own RNN kernels
  for the encoder), to see whether oneDNN's rnn helps here.
Each process times --iterations calls after --warmup (time.perf_counter_ns, wait_to_read) and
reports the median; ratios are against the first row of their group, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROWS = {  # name: (group, env)
    "step gluon.rnn.LSTM": ("step", {}),
    "step FlatLSTM": ("step", {}),
    "gnmt loop": ("gnmt", {}),
    "gnmt unrolled": ("gnmt", {}),
    "gnmt unrolled, MXNET_USE_MKLDNN_RNN=0": ("gnmt", {"MXNET_USE_MKLDNN_RNN": "0"}),
}


def build(name: str, args):
    import mxnet as mx
    from mxnet.gluon import rnn

    from mxprof.mx import parameters
    from mxprof.mx.zoo import gnmt, lstm
    h, n = args.hidden, args.batch
    if name.startswith("step"):
        layer = (rnn.LSTM(h, input_size=2 * h) if "gluon" in name
                 else lstm.FlatLSTM(h, 2 * h))
        x = [mx.nd.random.normal(shape=(1, n, 2 * h)), [mx.nd.zeros((1, n, h))] * 2]
        layer.initialize(mx.init.Uniform(0.1))
        return layer, x
    net = gnmt.gnmt(hidden_size=h, decode_steps=args.steps,
                    decoder="loop" if "loop" in name else "unrolled")
    net.initialize(parameters.random_initializer())
    return net, [mx.nd.array(mx.nd.random.randint(0, 32000, (n, 50)), dtype="int32")]


def worker(name: str, args) -> dict:
    net, x = build(name, args)
    net.hybridize(static_alloc=True, static_shape=True)

    def call():
        out = net(*x)
        (out[0] if isinstance(out, (list, tuple)) else out).wait_to_read()
    t0 = time.perf_counter_ns()
    call()
    first = (time.perf_counter_ns() - t0) / 1e6
    for _ in range(args.warmup):
        call()
    samples = []
    for _ in range(args.iterations):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return {"median_ms": statistics.median(samples), "first_ms": first, "n": len(samples)}


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--only", default=None, help="internal: run one row and print its JSON")
    args = p.parse_args()
    if args.only:
        print(json.dumps(worker(args.only, args)))
        return 0
    print(f"loadavg before: {loadavg()}")
    base: dict[str, float] = {}
    for name, (group, env) in ROWS.items():
        cmd = [sys.executable, __file__, "--only", name, "--hidden", str(args.hidden),
               "--steps", str(args.steps), "--batch", str(args.batch),
               "--iterations", str(args.iterations), "--warmup", str(args.warmup)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
        if proc.returncode != 0:
            print(f"{name:42s} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        base.setdefault(group, r["median_ms"])
        print(f"{name:42s} {r['median_ms']:10.2f} ms  (first call {r['first_ms']:.0f} ms, "
              f"n={r['n']})  {base[group] / r['median_ms']:6.2f}x vs first {group} row")
    print(f"loadavg after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
