"""resnet18_v1 under each way of binding MXNet's OpenMP threads, against the unbound default.

Every configuration runs in a fresh interpreter (OpenMP reads its environment once, when
libmxnet.so loads; CPU affinity is inherited at fork), configurations alternate within each round,
and the figures are medians over rounds of each run's median. Per run: batch-1 latency (5 warm-up
calls, then calls until --seconds have passed, at least 10; the run's median, in ms) and batch-16
throughput (1 warm-up batch, then batches until --seconds have passed, at least 2; images / wall
second). Model: resnet18_v1, random init, hybridize(static_alloc, static_shape), 224x224.
The ratio column is each configuration's median over the unbound default's, same run.

    PYTHONPATH=src python bench/openmp_binding.py [--rounds 3] [--cpus 0-1] [--seconds 3]
        [--only NAMES] [--conditions as-is,loaded] [--extra-load K] [--preload S]
    PYTHONPATH=src python bench/openmp_binding.py --wait-policies   # issue 25's evidence

Conditions: every configuration is measured under each of --conditions: "as-is" (whatever else
runs on the machine: quiet only if the machine is), "after-load" (K processes spin on the bound
CPUs for --preload seconds, 60 by default, then stop, and the rounds start at once: the CPUs are
idle, the 1-minute load average is still high) and "loaded" (K extra processes spinning on the
bound CPUs for the whole condition, K = number of --cpus by default). Every table is printed
with the load average, so that a wait policy is chosen from all (mxprof.cpu.openmp). The "wait"
column is the policy each run's OpenMP really got (bind's auto decides from a 0.5 s window of
the bound CPUs just before it execs the child).

--wait-policies: `--only bind-active,bind-passive,bind --conditions after-load,loaded`:
active vs passive vs auto, right after a minute of load and under load, in one run.

Configurations (N = number of --cpus; mxprof bind runs the real CLI, which binds and execs):
  default        nothing set: MXNet and OpenMP choose
  omp-threads    OMP_NUM_THREADS=N
  one-thread     OMP_NUM_THREADS=1
  passive        OMP_NUM_THREADS=N OMP_WAIT_POLICY=PASSIVE (sleep at once instead of spinning)
  active         OMP_NUM_THREADS=N OMP_WAIT_POLICY=ACTIVE (spin between parallel regions)
  places+close   OMP_NUM_THREADS=N OMP_PROC_BIND=close OMP_PLACES={a},{b}... (the old protocol)
  affinity       sched_setaffinity(--cpus) + OMP_NUM_THREADS=N
  old-bind       affinity + places+close (what `mxprof bind` did before this bench existed)
  spin-10k       affinity + OMP_NUM_THREADS=N GOMP_SPINCOUNT=10000 (bounded spin, then sleep)
  bind           `python -m mxprof bind --cores CPUS -- ...` as it is now (--wait-policy auto)
  bind-passive   `python -m mxprof bind --cores CPUS --wait-policy passive -- ...`
  bind-active    `python -m mxprof bind --cores CPUS --wait-policy active -- ...`
  bind-pinned    `python -m mxprof bind --cores CPUS --pin-threads -- ...`
  bind-1cpu      `python -m mxprof bind --cores FIRST -- ...`: one CPU, for scale

Each child also reports, per thread, its Cpus_allowed_list and the CPU seconds it used while
measured: the "busy" column lists the threads that did the work (allowed CPUs:seconds), which is
where a binding that confines MXNet's engine threads to one CPU shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BATCH_THROUGHPUT = 16


# ---- child: one configuration, one run ---------------------------------------------------------

def _thread_states() -> dict[str, tuple[str, float]]:
    """tid -> (Cpus_allowed_list, CPU seconds used so far) for every thread of this process."""
    tick = os.sysconf("SC_CLK_TCK")
    states = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            status = Path(f"/proc/self/task/{tid}/status").read_text()
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        allowed = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                       if line.startswith("Cpus_allowed_list"))
        fields = stat.rsplit(")", 1)[1].split()
        states[tid] = (allowed, (int(fields[11]) + int(fields[12])) / tick)  # utime + stime
    return states


def child(seconds: float) -> None:
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    net = vision.get_model("resnet18_v1", pretrained=False)
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)
    one = mx.nd.random.uniform(shape=(1, 3, 224, 224))
    many = mx.nd.random.uniform(shape=(BATCH_THROUGHPUT, 3, 224, 224))
    for _ in range(5):
        net(one).wait_to_read()
    net(many).wait_to_read()
    before = _thread_states()

    latencies = []
    start = time.perf_counter()
    while len(latencies) < 10 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        net(one).wait_to_read()
        latencies.append(time.perf_counter() - t0)
    batches = 0
    start = time.perf_counter()
    while batches < 2 or time.perf_counter() - start < seconds:
        net(many).wait_to_read()
        batches += 1
    throughput = batches * BATCH_THROUGHPUT / (time.perf_counter() - start)

    after = _thread_states()
    busy = sorted(((after[t][1] - before.get(t, ("", 0.0))[1], after[t][0]) for t in after),
                  reverse=True)
    blocktime = os.environ.get("KMP_BLOCKTIME")
    wait = (os.environ.get("OMP_WAIT_POLICY", "").lower()
            or ("passive" if blocktime == "0" else "active" if blocktime else "default"))
    print(json.dumps({
        "wait": wait,
        "latency_ms": statistics.median(latencies) * 1e3,
        "throughput": throughput,
        "main_thread": after[str(os.getpid())][0],
        "threads": len(after),
        "busy": [f"{allowed}:{used:.1f}s" for used, allowed in busy if used >= 0.05],
    }))


# ---- parent: configurations, rounds, table ---------------------------------------------------

def configurations(cpus: list[int]) -> dict[str, tuple[dict[str, str], list[int] | None, list]]:
    """name -> (extra environment, CPUs to set with sched_setaffinity or None, command prefix)."""
    from mxprof.cpu.cpulist import format_cpu_list

    n = str(len(cpus))
    places = {"OMP_NUM_THREADS": n, "OMP_PROC_BIND": "close",
              "OMP_PLACES": ",".join(f"{{{c}}}" for c in cpus)}
    mxprof = [sys.executable, "-m", "mxprof", "bind", "--cores"]
    return {
        "default": ({}, None, []),
        "omp-threads": ({"OMP_NUM_THREADS": n}, None, []),
        "one-thread": ({"OMP_NUM_THREADS": "1"}, None, []),
        "passive": ({"OMP_NUM_THREADS": n, "OMP_WAIT_POLICY": "PASSIVE"}, None, []),
        "active": ({"OMP_NUM_THREADS": n, "OMP_WAIT_POLICY": "ACTIVE"}, None, []),
        "places+close": (places, None, []),
        "affinity": ({"OMP_NUM_THREADS": n}, cpus, []),
        "old-bind": (places, cpus, []),
        "spin-10k": ({"OMP_NUM_THREADS": n, "GOMP_SPINCOUNT": "10000"}, cpus, []),
        "bind": ({}, None, [*mxprof, format_cpu_list(cpus), "--"]),
        "bind-passive": ({}, None, [*mxprof, format_cpu_list(cpus), "--wait-policy", "passive",
                                    "--"]),
        "bind-active": ({}, None, [*mxprof, format_cpu_list(cpus), "--wait-policy", "active",
                                   "--"]),
        "bind-pinned": ({}, None, [*mxprof, format_cpu_list(cpus), "--pin-threads", "--"]),
        "bind-1cpu": ({}, None, [*mxprof, str(cpus[0]), "--"]),
    }


def run_once(env_extra, affinity, prefix, seconds) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMP_", "KMP_", "GOMP_"))}
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    command = [*prefix, sys.executable, __file__, "--child", "--seconds", str(seconds)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900,
                          preexec_fn=(lambda: os.sched_setaffinity(0, affinity)) if affinity
                          else None)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex_join(command)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shlex_join(command) -> str:
    import shlex
    return shlex.join(command)


def start_load(cpus: list[int], count: int) -> list[subprocess.Popen]:
    """`count` processes spinning on `cpus` until stopped: the "loaded" condition."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             preexec_fn=lambda: os.sched_setaffinity(0, cpus))
            for _ in range(count)]


def stop_load(spinners: list[subprocess.Popen]) -> None:
    for proc in spinners:
        proc.kill()
        proc.wait()


def _spin_for(cpus: list[int], count: int, seconds: float) -> list[subprocess.Popen]:
    spinners = start_load(cpus, count)
    time.sleep(seconds)
    return spinners


def measure_condition(configs, rounds: int, seconds: float) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {name: [] for name in configs}
    for r in range(rounds):
        for name, (env, affinity, prefix) in configs.items():
            out = run_once(env, affinity, prefix, seconds)
            results[name].append(out)
            print(f"  round {r + 1} {name:13} {out['wait']:8} {out['latency_ms']:7.1f} ms "
                  f"{out['throughput']:6.1f} img/s  main thread on {out['main_thread']:5} "
                  f"busy {' '.join(out['busy'])}", flush=True)
    return results


def print_table(results: dict[str, list[dict]]) -> None:
    base_lat = statistics.median(o["latency_ms"] for o in results["default"])
    base_thr = statistics.median(o["throughput"] for o in results["default"])
    print(f"{'configuration':14} {'wait':15} {'b1 ms':>8} {'spread':>13} {'x default':>9} "
          f"{'b16 img/s':>9} {'spread':>13} {'x default':>9}  main thread / busy threads (last run)")
    for name, outs in results.items():
        lat = [o["latency_ms"] for o in outs]
        thr = [o["throughput"] for o in outs]
        waits = ",".join(sorted({o.get("wait", "?") for o in outs}))
        print(f"{name:14} {waits:15} {statistics.median(lat):8.1f} {min(lat):6.1f}-{max(lat):<6.1f} "
              f"{statistics.median(lat) / base_lat:9.2f} {statistics.median(thr):9.1f} "
              f"{min(thr):6.1f}-{max(thr):<6.1f} {statistics.median(thr) / base_thr:9.2f}  "
              f"{outs[-1]['main_thread']} / {' '.join(outs[-1]['busy'])}")
    print("(latency: lower is better, x default > 1 is slower; throughput: x default < 1 is slower)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", default=None, help="CPU list to bind (default: all allowed)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measuring time per figure per run (default 3 s)")
    parser.add_argument("--only", help="comma-separated configuration names")
    parser.add_argument("--conditions", default="as-is,loaded",
                        help="as-is, loaded or both, comma-separated (default: both)")
    parser.add_argument("--extra-load", type=int, default=None, metavar="K",
                        help="spinning processes of the loaded condition (default: one per CPU)")
    parser.add_argument("--preload", type=float, default=60.0, metavar="S",
                        help="seconds of load before the after-load condition (default 60)")
    parser.add_argument("--wait-policies", action="store_true",
                        help="active vs passive vs auto, after a minute of load and under load")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.seconds)
        return
    if args.wait_policies:
        args.only = args.only or "bind-active,bind-passive,bind"
        args.conditions = "after-load,loaded"

    from mxprof.cpu.cpulist import parse_cpu_list
    from mxprof.cpu.openmp import detect_openmp_runtime

    cpus = parse_cpu_list(args.cpus) if args.cpus else sorted(os.sched_getaffinity(0))
    configs = configurations(cpus)
    if args.only:
        configs = {k: v for k, v in configs.items() if k in args.only.split(",") or k == "default"}
    extra = len(cpus) if args.extra_load is None else args.extra_load
    print(f"resnet18_v1, MXNet OpenMP runtime: {detect_openmp_runtime('mxnet')}, CPUs {args.cpus or cpus}, "
          f"{args.rounds} rounds, {args.seconds:g} s per figure per run", flush=True)
    tables = {}
    for condition in args.conditions.split(","):
        if condition == "after-load":
            before = os.getloadavg()[0]
            stop_load(_spin_for(cpus, extra, args.preload))
            print(f"after {args.preload:g} s of {extra} spinning processes: load average "
                  f"{before:.1f} -> {os.getloadavg()[0]:.1f}, spinners stopped", flush=True)
        spinners = start_load(cpus, extra) if condition == "loaded" else []
        try:
            if spinners:
                time.sleep(1.0)  # let the spinners reach the run queue before the first run
            label = (f"{condition} (+{extra} spinning processes)" if spinners else condition)
            print(f"condition {label}: load average {os.getloadavg()[0]:.1f} at start",
                  flush=True)
            results = measure_condition(configs, args.rounds, args.seconds)
            tables[label] = (results, os.getloadavg()[0])
        finally:
            stop_load(spinners)
    for label, (results, load) in tables.items():
        print(f"\ncondition {label}, load average {load:.1f} at end")
        print_table(results)


if __name__ == "__main__":
    main()
