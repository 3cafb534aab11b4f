"""Per-sample overhead of mxprof's measure loop against the obvious Python loop, same run.

Both loops time an empty function, so what they cost per sample is all overhead: the call, the
clock reads, storing the sample. Rounds alternate between the loops; each round's figure is its
wall time divided by its calls, and the best round of each loop is the estimate least disturbed
by other processes (the median over rounds is printed too). Target: native <= 1/4 of Python.

    PYTHONPATH=src python bench/timer_overhead.py [--rounds 200] [--calls 5000] [--clock SOURCE]

Also printed, without a target: the whole measure() call (statistics included) per sample, the
bias each loop adds to a sample (median sample of the empty function), and a Timer section
against the hand-written perf_counter_ns pair.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from time import perf_counter_ns

from mxprof import Timer, measure
from mxprof.timing.clock import clock_info, timing_loop

TARGET_RATIO = 0.25


def empty():
    pass


def python_loop(fn, n):
    """The loop a benchmark author writes by hand."""
    samples = []
    for _ in range(n):
        t0 = perf_counter_ns()
        fn()
        samples.append(perf_counter_ns() - t0)
    return samples


def per_call_ns(run, n) -> tuple[float, float]:
    """(wall ns per call, median sample ns) of one round of `run(n)`."""
    t0 = perf_counter_ns()
    samples = run(n)
    wall = perf_counter_ns() - t0
    return wall / n, float(statistics.median(samples))


def hand_written_sections(n) -> float:
    total = 0
    t_start = perf_counter_ns()
    for _ in range(n):
        t0 = perf_counter_ns()
        total += perf_counter_ns() - t0
    return (perf_counter_ns() - t_start) / n


def timer_sections(n) -> float:
    t = Timer()
    t_start = perf_counter_ns()
    for _ in range(n):
        with t.section("x"):
            pass
    return (perf_counter_ns() - t_start) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--clock", choices=("tsc", "clock_gettime"),
                        help="force the native clock source (default: the one chosen at import)")
    args = parser.parse_args(argv)
    if args.clock:
        from mxprof._native import core

        core.clock_select(args.clock)
    n = args.calls

    runs = {
        "native timing loop (inside measure)": lambda k: timing_loop(empty, k),
        "measure() whole call, statistics included": lambda k: measure(
            empty, repeat=k, warmup=0).samples_ns,
        "Python loop (perf_counter_ns + append)": lambda k: python_loop(empty, k),
    }
    walls: dict[str, list[float]] = {name: [] for name in runs}
    biases: dict[str, list[float]] = {name: [] for name in runs}
    sections: dict[str, list[float]] = {"Timer.section": [], "hand-written pair": []}
    for run in runs.values():  # warm-up: imports, clock_info(), caches
        per_call_ns(run, 1000)
    for r in range(args.rounds):
        order = list(runs.items())
        if r % 2:
            order.reverse()
        for name, run in order:
            wall, bias = per_call_ns(run, n)
            walls[name].append(wall)
            biases[name].append(bias)
        sections["Timer.section"].append(timer_sections(n // 10))
        sections["hand-written pair"].append(hand_written_sections(n // 10))

    info = clock_info()
    print(f"clock: {info['source']}" + (f" at {info['tsc_hz'] / 1e9:.4f} GHz" if info["tsc_hz"] else "")
          + f", one native read {info['overhead_ns']:.0f} ns, now_ns() from Python "
          f"{info['now_ns_call_ns']:.0f} ns")
    print(f"empty function, {args.rounds} rounds x {n} calls, loops alternating; "
          f"ns per sample (wall / calls): best round, median round; median sample value")
    for name in runs:
        print(f"  {name:44s} {min(walls[name]):7.1f} {statistics.median(walls[name]):7.1f}"
              f"   sample {min(biases[name]):5.0f} ns")
    native = "native timing loop (inside measure)"
    whole = "measure() whole call, statistics included"
    python = "Python loop (perf_counter_ns + append)"
    ratio = min(walls[native]) / min(walls[python])
    ratio_median = statistics.median(walls[native]) / statistics.median(walls[python])
    ratio_whole = min(walls[whole]) / min(walls[python])
    print(f"ratio native / Python: {ratio:.3f} (best rounds), {ratio_median:.3f} (median rounds); "
          f"target <= {TARGET_RATIO}")
    print(f"ratio measure() incl. statistics / Python: {ratio_whole:.3f} (best rounds; no target)")
    t_sec, hand = min(sections["Timer.section"]), min(sections["hand-written pair"])
    print(f"Timer.section enter+exit {t_sec:.0f} ns vs hand-written perf_counter_ns pair "
          f"{hand:.0f} ns per use (best of {args.rounds} rounds of {n // 10}; no target)")
    if ratio > TARGET_RATIO:
        print(f"FAIL: native loop costs {ratio:.3f} of the Python loop, target {TARGET_RATIO}",
              file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
