"""What per-layer collection costs: latency with the layer hook on vs off, and what its
configuration (NaiveEngine, bulk off, static_shape off) costs against MXNet's default.

    PYTHONPATH=src python bench/layer_overhead.py [--model resnet18_v1] [--size 224] [--rounds 3]

Each configuration runs in its own process (MXNet reads its engine and bulk settings when it
loads); processes run round-robin for --rounds rounds so that load on the machine hits all of
them alike. Each process times --iterations calls of `net(x).wait_to_read()` after --warmup
calls (batch 1, time.perf_counter_ns per call) and reports the median; the figure per
configuration is the median over rounds, with the min-max of the round medians as spread.
Hook on/off is also compared inside one process ("layer" worker: two copies of the net, one with
the hook, timed in alternating blocks), which removes process-to-process noise from the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

NAIVE = {"MXNET_ENGINE_TYPE": "NaiveEngine", "MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}
THREADED = {"MXNET_ENGINE_TYPE": "ThreadedEnginePerDevice"}
STATIC = {"static_alloc": True, "static_shape": True}
LAYER = {"static_alloc": True, "static_shape": False}

CHAIN = "relu-chain-200"
# name: (env, hybridize flags, collection mechanism, description)
CONFIGS = {
    "default": ({**THREADED, "MXNET_EXEC_BULK_EXEC_INFERENCE": "1"}, STATIC, None,
                "MXNet default: threaded engine, bulk on, static_alloc+static_shape"),
    "bulk-off": ({**THREADED, "MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}, STATIC, None,
                 "threaded engine, bulk off, static_alloc+static_shape"),
    "naive": (NAIVE, STATIC, None,
              "NaiveEngine, bulk off, static_alloc+static_shape (engine effect alone)"),
    "profiler": ({**THREADED, "MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}, STATIC, "profiler",
                 "bulk off + MXNet profiler running (per-op events, op type names only)"),
    "layer": (NAIVE, LAYER, "native-hook",
              "NaiveEngine, bulk off, static_shape off: hook off vs native hook on"),
    "python-hook": (NAIVE, LAYER, "python-hook",
                    "same as layer, hook is a Python ctypes callback"),
    "verbose": ({**NAIVE, "DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1"}, LAYER,
                "native-hook", "layer config + native hook + oneDNN verbose to a file"),
}


def _time_call(net, x):
    """(wall ns, CPU ns of the whole process) of one call: CPU time stays honest when other
    processes load the machine (NaiveEngine with one OpenMP thread computes in this thread;
    the threaded engine's waiting threads sleep)."""
    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
    net(x).wait_to_read()
    return time.perf_counter_ns() - t0, time.process_time_ns() - c0


def _make_net(model, flags, seed=0):
    import mxnet as mx
    from mxnet.gluon import nn
    from mxnet.gluon.model_zoo import vision

    mx.random.seed(seed)
    if model == CHAIN:
        # 200 relu nodes on a 1x1 tensor: almost no compute, so hook cost per call shows.
        net = nn.HybridSequential()
        with net.name_scope():
            for _ in range(200):
                net.add(nn.Activation("relu"))
    else:
        net = vision.get_model(model, pretrained=False)
    net.initialize(mx.init.Xavier())
    net.hybridize(**flags)
    return net


def _install_python_hook(net):
    import ctypes

    from mxnet.base import _LIB

    calls = []
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)

    def record(name, op, handle):
        calls.append((time.perf_counter_ns(), name))
        _LIB.MXNDArrayFree(ctypes.c_void_p(handle))

    callback = prototype(record)
    _LIB.MXCachedOpRegisterOpHook(net._cached_op.handle, callback, ctypes.c_int(1))
    return callback, calls


def worker(name, model, size, warmup, iterations):
    import mxnet as mx

    from mxprof import _native
    _env, flags, mechanism, _ = CONFIGS[name]
    shape = (1, 1) if model == CHAIN else (1, 3, size, size)
    x = mx.nd.random.uniform(shape=shape)
    net = _make_net(model, flags)
    for _ in range(warmup):
        net(x).wait_to_read()
    samples = {"off": [], "on": []}
    if mechanism is None:
        samples["off"] = [_time_call(net, x) for _ in range(iterations)]
        del samples["on"]
    elif mechanism == "profiler":
        mx.profiler.set_config(profile_all=True, aggregate_stats=False,
                               filename=f"/tmp/mxprof-bench-{os.getpid()}.json")
        for _ in range(iterations):  # profiler toggled between calls, never inside one
            samples["off"].append(_time_call(net, x))
            mx.profiler.set_state("run")
            samples["on"].append(_time_call(net, x))
            mx.profiler.set_state("stop")
    else:
        # Two copies in one process: `net` stays hook-free, `hooked` gets the hook; calls
        # alternate so that load from elsewhere hits both alike.
        hooked = _make_net(model, flags)
        hooked(x).wait_to_read()
        if mechanism == "native-hook":
            from mxnet.base import _LIB
            core = _native.core
            core.hook_install(_LIB._name, hooked._cached_op.handle.value, 1 << 22, True)
            core.hook_enable(True)
        else:
            keep_alive = _install_python_hook(hooked)
        for _ in range(warmup):
            hooked(x).wait_to_read()
        for _ in range(iterations):
            samples["off"].append(_time_call(net, x))
            samples["on"].append(_time_call(hooked, x))
        if mechanism == "native-hook":
            samples["events_per_call"] = len(core.hook_events()[0]) / (iterations + warmup)
        else:
            samples["events_per_call"] = len(keep_alive[1]) / (iterations + warmup)
    result = {}
    for key, value in samples.items():
        if key == "events_per_call":
            result[key] = value
        else:
            result[key] = statistics.median(w for w, _ in value) / 1e6
            result[key + "_cpu"] = statistics.median(c for _, c in value) / 1e6
    return result


def main(argv=None):  # noqa: C901 - one linear script: arguments, runs, printed table
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18_v1")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if os.environ.get("DNNL_VERBOSE"):
            from mxprof.mx.fdcapture import capture_fd

            with capture_fd(1, f"/tmp/mxprof-bench-verbose-{os.getpid()}.log") as log:
                result = worker(args.worker, args.model, args.size, args.warmup,
                                args.iterations)
            log.unlink()
        else:
            result = worker(args.worker, args.model, args.size, args.warmup, args.iterations)
        print(json.dumps(result))
        return 0

    names = args.configs.split(",")
    jobs = [(name, args.model, args.iterations) for name in names]
    jobs += [("chain-" + mech, CHAIN, 200) for mech in ("default", "native", "python")]
    results = {job[0]: [] for job in jobs}
    for _ in range(args.rounds):
        for name, model, iterations in jobs:
            config = {"chain-native": "layer", "chain-python": "python-hook",
                      "chain-default": "default"}.get(name, name)
            env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
                   **CONFIGS[config][0]}
            cmd = [sys.executable, __file__, "--worker", config, "--model", model,
                   "--size", str(args.size), "--warmup", str(args.warmup),
                   "--iterations", str(iterations)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{name}: worker failed\n{out.stderr[-2000:]}", file=sys.stderr)
                return 1
            log = out.stdout.strip().splitlines()[-1]
            results[name].append(json.loads(log))

    def agg(name, key):
        values = [r[key] for r in results[name] if key in r]
        return statistics.median(values), min(values), max(values)

    def ratio(name, num, den):
        values = [r[num] / r[den] for r in results[name]]
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    print(f"{args.model} batch 1, {args.size}x{args.size}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '1')}; per process {args.warmup} warm-up + "
          f"{args.iterations} timed calls (on/off alternate call by call); figures are medians "
          f"over {args.rounds} rounds of per-process medians (min-max over rounds). "
          "wall = perf_counter per call; cpu = process CPU time per call.")
    for name in names:
        _env, _flags, mechanism, description = CONFIGS[name]
        print(f"{name}: {description}")
        for key in ("off", "on") if mechanism else ("off",):
            wall, cpu = agg(name, key), agg(name, key + "_cpu")
            print(f"  {key:3s}  wall {wall[0]:7.2f} ms ({wall[1]:.2f}-{wall[2]:.2f})"
                  f"   cpu {cpu[0]:7.2f} ms ({cpu[1]:.2f}-{cpu[2]:.2f})")
        if mechanism:
            print(f"  on/off  wall {ratio(name, 'on', 'off')}   cpu {ratio(name, 'on_cpu', 'off_cpu')}"
                  + (f"   hook calls per iteration {results[name][0]['events_per_call']:.0f}"
                     if "events_per_call" in results[name][0] else ""))
    wall, cpu = agg("chain-default", "off"), agg("chain-default", "off_cpu")
    print(f"chain-default: {CHAIN} in MXNet's default configuration: wall {wall[0] * 1e3:.1f} us "
          f"({wall[1] * 1e3:.1f}-{wall[2] * 1e3:.1f}), cpu {cpu[0] * 1e3:.1f} us per iteration "
          "(per-node framework cost to compare with 'off' below)")
    for name in ("chain-native", "chain-python"):
        per_call = [(r["on_cpu"] - r["off_cpu"]) * 1e6 / r["events_per_call"]
                    for r in results[name]]
        print(f"{name}: {CHAIN} (x of shape 1x1), {results[name][0]['events_per_call']:.0f} "
              f"hook calls per iteration: off cpu {agg(name, 'off_cpu')[0] * 1e3:.1f} us, on cpu "
              f"{agg(name, 'on_cpu')[0] * 1e3:.1f} us per iteration; hook cost "
              f"{statistics.median(per_call):.0f} ns per call ({min(per_call):.0f}-"
              f"{max(per_call):.0f}), MXNet's share included; wall off "
              f"{agg(name, 'off')[0] * 1e3:.1f} us")
    if "default" in names:
        print("against the default configuration (ratio of medians, wall / cpu):")
        base_wall, base_cpu = agg("default", "off")[0], agg("default", "off_cpu")[0]
        for name in names:
            for key in ("off", "on") if CONFIGS[name][2] else ("off",):
                if name == "default":
                    continue
                print(f"  {name + ' ' + key:16s} {agg(name, key)[0] / base_wall:.3f} / "
                      f"{agg(name, key + '_cpu')[0] / base_cpu:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
