"""How much a plain Python timing loop adds around `net(x).wait_to_read()` vs the native timer.

Same process, same hybridized network (static_alloc, static_shape), batch 1, rounds alternated
so drift and noise hit both the same way. Prints both medians and their ratio.

    PYTHONPATH=src python bench/loop_overhead.py [--model mobilenet0.25] [--rounds 5] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def python_loop(fn, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet0.25")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    try:
        from mxprof.timing.timer import measure
    except ImportError:
        print("mxprof.timing.timer (the native timer) is not available in this build", file=sys.stderr)
        return 1
    import mxnet as mx

    from mxprof.mx import models
    loaded = models.load(models.resolve(args.model))
    net = loaded.block
    x = mx.nd.random.uniform(shape=loaded.spec.batch_shape(1))

    def call():
        net(x).wait_to_read()

    def empty():
        pass

    for _ in range(20):
        call()
    py_medians, native_medians = [], []
    for _ in range(args.rounds):
        py_medians.append(statistics.median(python_loop(call, args.calls)))
        m = measure(call, repeat=args.calls, warmup=0)
        native_medians.append(m.stats.median / 1e6)
    py_empty = statistics.median(python_loop(empty, 100_000)) * 1e6
    native_empty = measure(empty, repeat=100_000, warmup=10).stats.median
    py, nat = statistics.median(py_medians), statistics.median(native_medians)
    print(f"model {args.model}, batch 1, {args.rounds} alternating rounds of {args.calls} calls")
    print(f"python perf_counter_ns loop : median {py:.4f} ms per call")
    print(f"mxprof native timer         : median {nat:.4f} ms per call")
    print(f"python / native             : {py / nat:.4f}  (difference {1e3 * (py - nat):+.1f} us)")
    print(f"empty callable: python loop {py_empty:.0f} ns, native {native_empty:.0f} ns per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
