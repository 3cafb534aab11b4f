"""`python -m mxprof profile MODEL`: where the inference time of one model goes.

Plans the passes (MKL-DNN on: timing, operators, layers, primitives; MKL-DNN off: timing,
operators, layers), runs them one process after another (the operators pass inside the last
timing process of its configuration: mxprof.jobs.profile.runner says why that measures the
same; hidden `--no-share` gives every pass its own), writes partial results as each process
finishes, then renders the report (terminal tables on stdout, `--json`, `--markdown`, `--trace`). `--load RESULT.json`
re-renders a saved result without running anything.
"""

from __future__ import annotations

import argparse
import os
import sys

from mxprof.commands import _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, require_extra

DEFAULT_BATCH = 8
# The MXNet 1.3 MKL-DNN benchmark: batch 128, one socket's physical cores, numactl membind.
REFERENCE_BATCH = 128
REFERENCE_MIN_TIME = 10.0
ALL_PASSES = ("timing", "operators", "layers", "primitives")
# Short companions of the main run: a one-line fusion summary (`mxprof fusion` has the full
# report) and the quick output-equivalence check (`mxprof accuracy` has the full one).
ALL_CHECKS = ("fusion", "equivalence")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="Gluon or GluonCV model-zoo name (e.g. resnet50_v1), "
                   "mxprof's own (gnmt, dcgan...), or FILE.py:FACTORY returning a HybridBlock")
    src = p.add_argument_group("model")
    _options.add_model_files(src, shape_help="input shape C,H,W or N,C,H,W, or any per-sample "
                             "sizes such as 100 (default: the model's own, e.g. 3,299,299 for "
                             "inceptionv3)", input_help=_options.INPUT_HELP + "; its batch is "
                             "the throughput batch unless --batch-size is given")
    m = p.add_argument_group("measurement")
    m.add_argument("--batch-size", type=int, default=None,
                   help=f"batch for throughput (default {DEFAULT_BATCH}; the reference used 128)")
    m.add_argument("--breakdown-batch", type=_options.count, default=1, metavar="N",
                   help="batch of the operator, layer and primitive passes (default 1: where "
                        "the time of one request goes)")
    m.add_argument("--physical-only", action="store_true", help="one CPU per physical core")
    m.add_argument("--reference-protocol", action="store_true",
                   help="the MXNet 1.3 benchmark setup: batch 128, physical cores of NUMA node 0, "
                        "memory bound to node 0, one OpenMP thread per core, 10 s per measurement")
    m.add_argument("--no-reference", action="store_true", help="skip the MKL-DNN off reference")
    m.add_argument("--passes", default=",".join(ALL_PASSES), metavar="LIST",
                   help=f"worker passes to run, of {','.join(ALL_PASSES)} (default all; timing "
                        "always runs; primitives only with MKL-DNN on)")
    m.add_argument("--checks", default=",".join(ALL_CHECKS), metavar="LIST",
                   help="companion checks after the timing: fusion (one-line fused vs unfused "
                        "summary), equivalence (MKL-DNN and fused outputs vs the reference "
                        "kernels on random inputs); 'none' to skip (default: both)")
    m.add_argument("--no-diagnosis", action="store_true",
                   help="skip the machine ceilings, the roofline section and the findings")
    m.add_argument("--try-fixes", action="store_true",
                   help="re-time the model with each fixable finding's fix (subnormal values "
                        "zeroed, OpenMP threads = CPUs) and show before/after")
    m.add_argument("--refresh-ceilings", action="store_true",
                   help="measure the machine ceilings again instead of using the cached ones")
    _options.add_binding(p)
    _options.add_timing(p)
    _options.add_processes(p)
    _options.add_outputs(p, ("json", "markdown", "trace", "html", "pyperf"))
    # Test-only fault injection: CONFIG:PASS:HOOK, HOOK in abort|hang|raise (see mxprof.jobs.profile.spec).
    p.add_argument("--test-hook", action="append", default=[], help=argparse.SUPPRESS)
    # Every pass in a process of its own (bench/processes_cost.py measures what sharing saves).
    p.add_argument("--no-share", action="store_true", help=argparse.SUPPRESS)


def _plan(args, spec_model):
    from mxprof.jobs.profile.plan import plan_specs
    from mxprof.jobs.profile.spec import TEST_HOOKS, Protocol
    preset = _options.preset_of(args)
    batch = args.batch_size or (REFERENCE_BATCH if args.reference_protocol else DEFAULT_BATCH)
    min_time = preset.min_time_factor * _options.min_time_of(
        args, REFERENCE_MIN_TIME if args.reference_protocol else _options.DEFAULT_MIN_TIME)
    cpus, membind = args.cores, args.membind
    if args.reference_protocol:
        cpus, membind = _reference_binding(cpus, membind)
    selected = (_options.check_binding(cpus, None, physical_only=args.physical_only)[0]
                if cpus or args.physical_only else None)
    bound = len(selected) if selected else None
    choice = _options.thread_choice(args, selected)
    threads = choice.threads
    hooks = {}
    for h in args.test_hook:
        parts = h.split(":")
        if len(parts) != 3 or parts[2] not in TEST_HOOKS:
            raise UsageError(f"bad --test-hook {h!r}: CONFIG:PASS:{'|'.join(TEST_HOOKS)}")
        hooks[(parts[0], parts[1])] = parts[2]
    try:
        return plan_specs(spec_model, batch_size=batch, protocol=Protocol(
            warmup=args.warmup, iterations=args.iterations, min_time=min_time),
            passes={p.strip() for p in args.passes.split(",") if p.strip()},
            reference=not args.no_reference, threads=threads, cpus=cpus, membind=membind,
            physical_only=args.physical_only, hooks=hooks, processes=preset.processes,
            wait_policy=_options.resolve_wait(args, threads, bound),
            threads_why=choice.why, breakdown_batch=args.breakdown_batch)
    except ValueError as exc:  # an unknown pass
        raise UsageError(str(exc)) from None


def _chosen_checks(text: str) -> list[str]:
    wanted = {c.strip() for c in text.split(",") if c.strip()} - {"none"}
    unknown = wanted - set(ALL_CHECKS)
    if unknown:
        raise UsageError(f"unknown check(s) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(ALL_CHECKS)} or none")
    return [c for c in ALL_CHECKS if c in wanted]


def _run_checks(args, spec, checks: list[str], progress) -> dict:
    """The companion checks (mxprof.jobs.profile.checks) on the main run's first RunSpec; the
    fusion workers inherit this process's binding, set now that the main run is over."""
    from mxprof.commands.fusion import bind_parent
    from mxprof.jobs.profile.checks import run_checks
    return run_checks(spec, checks, timeout=args.timeout, started=progress.start,
                      finished=progress.done, bind_parent=bind_parent)


def _diagnose(args, specs, report, progress) -> None:
    """Ceilings (cached per machine and binding, else measured now) + roofline + findings."""
    from mxprof.jobs.profile.report import add_diagnosis
    ceilings = None
    if any(s.pass_name == "primitives" for s in specs):
        from mxprof.jobs.ceilings import machine_ceilings
        spec = specs[0]
        progress.note("machine ceilings (cached per machine and binding; --refresh-ceilings)")
        ceilings = machine_ceilings(spec.cpus, spec.threads, refresh=args.refresh_ceilings,
                                    timeout=args.timeout)
    try:
        add_diagnosis(report, ceilings)
        if _roof_refuted(report, ceilings):
            # A cached roof below what this run's primitives attain was measured under more
            # load than now: measure it once more rather than print efficiencies over 100%.
            progress.note("machine ceilings: the cached roofs are below what this run attains; "
                          "measuring them again")
            ceilings = machine_ceilings(spec.cpus, spec.threads, refresh=True,
                                        timeout=args.timeout)
            add_diagnosis(report, ceilings)
    except Exception as exc:  # noqa: BLE001 - the measurements must survive a failed diagnosis
        report["notes"].append(f"diagnosis failed: {exc!r}")
        return
    if args.try_fixes and report.get("findings"):
        from mxprof.jobs.profile.try_fixes import try_fixes
        progress.note("--try-fixes: timing each fixable finding before and after its fix")
        try_fixes(report, specs[0], timeout=args.timeout, workdir=args.workdir)


def _roof_refuted(report: dict, ceilings: dict | None) -> bool:
    """The roofline found primitives above a cached compute roof (diagnose.above_roof)."""
    from mxprof.jobs.profile.diagnose import ABOVE_ROOF_MARK
    hit = bool(ceilings and (ceilings.get("cache") or {}).get("hit"))
    warnings = (report.get("roofline") or {}).get("warnings") or []
    return hit and any(ABOVE_ROOF_MARK in w for w in warnings)


def _reference_binding(cpus, membind):
    """The physical cores and memory of NUMA node 0 (threads: one per core, the default)."""
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.topology import read_topology

    topo = read_topology()
    node0 = topo.cores_of_node(min(topo.nodes))
    return cpus or format_cpu_list(node0), membind or str(min(topo.nodes))


def _resolve(args):
    """The checked ModelSpec (`_options.model_of`); an --input batch is the throughput batch
    unless --batch-size is given."""
    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name, --symbol FILE, or --load RESULT.json")
    spec, batch = _options.model_of(args, args.model)
    args.batch_size = args.batch_size or batch
    return spec


def _check_inputs(args) -> None:
    """Everything that can be checked before the first worker starts (exit status 2)."""
    _options.check_counts(args)
    _options.check_binding(args.cores, args.membind, physical_only=args.physical_only)
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args)
    _options.check_workdir(args.workdir)
    require_extra("profile", "mxnet")


def _write_outputs(args, report, names=("json", "markdown", "trace", "html", "pyperf")
                   ) -> list[str]:
    """Write each requested file; return the errors (the report is printed regardless)."""
    from mxprof.render import get_renderer, pyperf_suite
    errors = []
    for name in names:
        path = getattr(args, name, None)
        if not path or path == "-":
            continue
        try:
            if name == "pyperf":
                pyperf_suite.write(report, path)
            else:
                get_renderer(name).write(report, path)
        except ValueError as exc:
            print(f"mxprof: warning: {name} not written: {exc}", file=sys.stderr)
        except OSError as exc:
            errors.append(f"cannot write --{name} {path}: {exc.strerror or exc}")
    return errors


def _add_machine_load(report: dict, loads: list) -> None:
    from mxprof.cpu.load import busy_summary
    report["machine_load"] = loads
    note = busy_summary(loads)
    if note:
        report["notes"].append(note)


def _display(args, report) -> None:
    from mxprof.jobs.profile.report import summary_line
    from mxprof.render import get_renderer
    try:
        if args.json == "-":  # stdout holds the JSON; the table goes to stderr
            sys.stdout.write(get_renderer("json").render(report))
            sys.stdout.flush()
            out = sys.stderr
        else:
            out = sys.stdout
        out.write(get_renderer("terminal", color=out.isatty()).render(report))
        print(file=out)
        print(summary_line(report), file=out, flush=True)
    except BrokenPipeError:  # `| head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _finish(args, report, status: int) -> int:
    """Print the report, then any file that could not be written: a computed report is never
    lost to an output error."""
    errors = _write_outputs(args, report)
    _display(args, report)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else status


def _dry_run(args, specs, checks) -> int:
    from mxprof.jobs.profile.runner import group_label, group_specs
    # Seconds per pass after the process start-up (about 6 s: import, build, first call).
    per_pass = {"timing": 2 + 2 * specs[0].protocol.min_time, "operators": 2, "layers": 4,
                "primitives": 2}
    rows, estimate = [], 0.0
    for group in group_specs(specs, share=not args.no_share):
        members = [specs[i] for i in group]
        what = "; then ".join(f"{s.pass_name} pass, batch "
                              f"{'1 and ' + str(s.batch_size) if s.pass_name == 'timing' else s.breakdown}"
                              for s in members)
        shared = ", one process" if len(members) > 1 else ""
        rows.append((group_label(members),
                     f"{what}, MKL-DNN {'on' if members[0].mkldnn else 'off'}{shared}"))
        estimate += 6 + sum(per_pass[s.pass_name] for s in members)
    if "fusion" in checks:
        rows.append(("fusion summary", "unfused and fused workers, batch 1"))
        estimate += 40
    if "equivalence" in checks:
        rows.append(("equivalence check", "reference, MKL-DNN, fused on 4 random inputs"))
        estimate += 30
    s = specs[0]
    notes = (f"protocol: warm-up {s.protocol.warmup}, "
             + (f"{s.protocol.iterations} timed calls" if s.protocol.iterations
                else f">= {s.protocol.min_time:g} s of timed calls") + " per measurement",
             f"binding: cores {s.cpus or 'not bound'}, membind {s.membind or 'not bound'}, "
             f"OpenMP threads {s.threads or 'unset'}, {s.threads_why or 'runtime default'}")
    _options.print_plan("profile", rows, estimate, notes)
    return EXIT_OK


def run(args) -> int:
    if args.load:
        _options.check_outputs(args)
        return _finish(args, _options.load_result("profile", args.load), EXIT_OK)
    _check_inputs(args)
    checks = _chosen_checks(args.checks)
    model = _resolve(args)
    specs = _plan(args, model)
    if args.dry_run:
        return _dry_run(args, specs, checks)
    return _measure(args, specs, checks)


def _measure(args, specs, checks) -> int:
    from mxprof.commands._progress import Progress
    from mxprof.jobs.profile.report import build_report
    from mxprof.jobs.profile.runner import group_specs, run_specs

    done = []
    from mxprof.cpu.load import LoadMonitor
    loads: list = []
    monitor = [None]
    workers = len(group_specs(specs, share=not args.no_share))
    with Progress("profile", workers + len(checks)) as progress:
        def started(label):
            progress.start(label)
            monitor[0] = LoadMonitor.start()

        def partial(label, results):
            done.extend(results)
            # One busy-machine record per worker, named after it (mxprof.cpu.load).
            if monitor[0] is not None:
                rec = monitor[0].stop(f"{label} (worker {len(loads) + 1})")
                loads.append(rec.to_dict() if rec else None)
            bad = [r for r in results if not r.ok]
            progress.done(label, "ok" if not bad else ", ".join(
                f"{r.spec.pass_name} {r.status}" for r in bad))
            if args.json and args.json != "-":
                try:
                    _write_outputs(args, build_report(done, planned=len(specs)), ("json",))
                except Exception as exc:  # noqa: BLE001 - a partial file must never stop the run
                    print(f"mxprof: warning: partial result not written: {exc!r}",
                          file=sys.stderr)

        if not any(s.pass_name == "primitives" for s in specs):
            # Workers name oneDNN from this cache (one probe process per libmxnet, then
            # cached); the primitives pass reads it from its own verbose log instead.
            from mxprof.workers.environment import onednn_version
            onednn_version(probe=True)
        results = run_specs(specs, timeout=args.timeout, workdir=args.workdir,
                            on_start=started, on_worker=partial, progress=False,
                            share=not args.no_share)
        report = build_report(results, planned=len(specs))
        _add_machine_load(report, loads)
        if checks:
            if args.json and args.json != "-":
                _write_outputs(args, report, ("json",))
            report["checks"] = _run_checks(args, specs[0], checks, progress)
        if not args.no_diagnosis:
            _diagnose(args, specs, report, progress)
    return _finish(args, report, exit_status(results, report.get("checks")))


def exit_status(results, checks: dict | None) -> int:
    """1 when a worker failed or a companion check failed (an equivalence outside tolerance
    included), else 0; a skipped check is not a failure."""
    failed = not all(r.ok for r in results) or any(
        c.get("status") == "failed" for c in (checks or {}).values())
    return EXIT_FAILED if failed else EXIT_OK
