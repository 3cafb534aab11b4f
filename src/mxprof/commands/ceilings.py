"""`mxprof ceilings`: the roofs every layer is held against, theoretical and measured here.

    python -m mxprof ceilings [--cores LIST] [--threads N] [--refresh] [--reps N] [--json PATH|-]

Theoretical peaks come from the ISA flags and maximum frequency (mxprof.cpu.ceilings); the
measured ones from a large oneDNN FullyConnected through MXNet (f32 and quantized int8) and a
STREAM-style numpy triad, in a worker bound like the profile (mxprof.jobs.ceilings), cached per
machine and binding under ~/.cache/mxprof (MXPROF_CACHE / XDG_CACHE_HOME).
Thin: arguments -> `mxprof.jobs.ceilings.Options` -> plan -> run -> lines or `--json PATH`
(`-` for stdout, as in every command) -> exit code.
"""

from __future__ import annotations

import sys
from typing import Any

KIND = "ceilings"


def add_arguments(p) -> None:
    p.add_argument("--cores", metavar="LIST", help="measure bound to these CPUs (as profile)")
    from mxprof.commands._options import add_threads
    add_threads(p, "the worker")
    p.add_argument("--refresh", action="store_true", help="measure again, ignoring the cache")
    p.add_argument("--reps", type=int, default=5, help="repetitions per figure (default 5)")
    p.add_argument("--size", type=int, default=1024,
                   help="FullyConnected M=N=K (default 1024)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before the worker "
                                                                 "is killed (default 600)")
    # --json PATH as every command ('-': stdout instead of the lines); the old bare switch
    # still means stdout (mxprof.commands._outputs.legacy_json).
    from mxprof.commands._options import add_outputs
    add_outputs(p, "ceilings", load=False, dry_run=False)


def _fmt(fig: dict[str, Any] | None) -> str:
    if not fig:
        return "-"
    return (f"{fig['median']:.1f} {fig['unit']} (min {fig['min']:.1f}, max {fig['max']:.1f}, "
            f"{len(fig['values'])} reps)")


def _where(theory: dict[str, Any], measured: dict[str, Any]) -> str:
    """Versions, CPU, cores, CPU list, threads and wait policy of the measuring worker
    (figures cached by an older mxprof hold no versions or wait policy: '?')."""
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.render.base import environment_phrase
    return environment_phrase(measured.get("mxnet"), measured.get("onednn"),
                              theory.get("cpu_model"), theory.get("cores"),
                              format_cpu_list(measured["cpus"]), measured["threads"],
                              measured.get("wait_policy"))


def format_ceilings(result: dict[str, Any]) -> list[str]:
    """Plain lines: theoretical and measured figures, their methods, and the cache."""
    t, m = result["theoretical"], result.get("measured") or {}
    peaks = t["peak_gflops"]
    ghz = f"{t['ghz']:.2f} GHz" if t["ghz"] else "unknown GHz"
    lines = [
        f"theoretical  f32 {peaks['f32'] or 0:.1f} GFLOP/s = {t['cores']} cores x {ghz} x "
        f"{t['f32_per_cycle']} FLOP/cycle ({t['isa_f32']})",
        f"             int8 {peaks['int8'] or 0:.1f} GOP/s = {t['cores']} cores x {ghz} x "
        f"{t['int8_per_cycle']:.0f} OP/cycle ({t['isa_int8']})",
        f"             frequency from {t['frequency_source']}",
    ]
    if m:
        lines += [f"measured     f32 {_fmt(m.get('f32'))}: {m['f32']['method']}",
                  f"             int8 {_fmt(m.get('int8'))}: {m['int8']['method']}",
                  f"             bandwidth {_fmt(m.get('bandwidth'))}: {m['bandwidth']['method']} "
                  f"({m['bandwidth']['array_mib']:.0f} MiB arrays, LLC "
                  f"{m['bandwidth']['llc_mib']:.0f} MiB)",
                  f"             measured with {_where(t, m)}"]
        if peaks["f32"]:
            lines.append(f"             measured / theoretical: f32 "
                         f"{m['f32']['median'] / peaks['f32']:.0%}, int8 "
                         f"{m['int8']['median'] / peaks['int8']:.0%}")
        load = m.get("machine_load")
        if load:
            lines.append(f"             other processes used {load['other_cpu_fraction']:.0%} of "
                         f"the CPU time while measuring (busy above 10%)")
    else:
        lines.append(f"measured     none ({result.get('error') or 'not measured'})")
    if result.get("warning"):
        lines.append(f"warning      {result['warning']}")
    from mxprof.jobs.ceilings import above_theory
    if above_theory(result):
        lines.append(f"note         {above_theory(result)}")
    c = result["cache"]
    if c.get("not_cached"):
        lines.append(f"cache        not stored: {c['not_cached']} (measured again next time)")
    else:
        lines.append(f"cache        {'hit' if c['hit'] else 'stored'}: "
                     f"{c.get('path') or 'not written'}"
                     + (f" (measured {c['measured_at']})" if c.get("measured_at") else ""))
    return lines


def run(args) -> int:
    from mxprof.commands._options import check_outputs, write_outputs
    from mxprof.jobs import ceilings as job

    check_outputs(args, KIND)
    plan = job.plan(job.Options(cores=args.cores, threads=args.threads, refresh=args.refresh,
                                reps=args.reps, size=args.size, timeout=args.timeout))
    from mxprof.commands._job import announce, warnings
    if plan.placement is not None:  # the wait policy the worker gets, and why, as every command
        announce(plan.placement, plan.notes)
    else:
        for note in warnings(plan.notes):  # oversubscription (Placement), as every command
            print(f"mxprof: {note}", file=sys.stderr)
    if not plan.cached:
        # The measuring worker runs MXNet's kernels; cached figures need no MXNet.
        from mxprof.errors import require_extra
        require_extra("ceilings", "mxnet")
    if sys.stderr.isatty() and not args.refresh:
        print("mxprof: ceilings: cached figures are used when present (--refresh to measure)",
              file=sys.stderr)
    result = job.run(plan)
    if args.json != "-":
        for line in format_ceilings(result.to_dict()):
            print(line)
    errors = write_outputs(args, result, KIND)
    for error in errors:
        print(f"mxprof: error: {error}", file=sys.stderr)
    return 2 if errors else 1 if result.failed else 0
