"""`python -m mxprof profile MODEL`: where the inference time of one model goes.

Plans the workers (MKL-DNN on: timing, operators, layers, primitives; MKL-DNN off: timing,
operators, layers),
runs them one by one in subprocesses, writes partial results as each finishes, then renders the
report (terminal tables on stdout, `--json`, `--markdown`, `--trace`). `--load RESULT.json`
re-renders a saved result without running anything.
"""

from __future__ import annotations

import argparse
import os
import sys

from mxprof.errors import UsageError

DEFAULT_BATCH = 8
DEFAULT_MIN_TIME = 1.0
DEFAULT_TIMEOUT = 600.0
# The MXNet 1.3 MKL-DNN benchmark: batch 128, one socket's physical cores, numactl membind.
REFERENCE_BATCH = 128
REFERENCE_MIN_TIME = 10.0
ALL_PASSES = ("timing", "operators", "layers", "primitives")
# Short companions of the main run: a one-line fusion summary (`mxprof fusion` has the full
# report) and the quick output-equivalence check (`mxprof accuracy` has the full one).
ALL_CHECKS = ("fusion", "equivalence")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="Gluon or GluonCV model-zoo name (e.g. resnet50_v1)")
    src = p.add_argument_group("model")
    src.add_argument("--symbol", metavar="FILE", help="exported model X-symbol.json")
    src.add_argument("--params", metavar="FILE",
                     help="weights (X-0000.params, or a zoo model's .params); default: the zoo "
                          "file if it is in $MXNET_HOME/models, else random initialisation")
    src.add_argument("--shape", help="input shape C,H,W or N,C,H,W (default: the model's own, "
                                     "e.g. 3,299,299 for inceptionv3)")
    src.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                     help="a model input, batch first (repeatable), e.g. src:4,20:int32 for "
                          "gnmt; its batch is the throughput batch (default: the model's inputs)")
    m = p.add_argument_group("measurement")
    m.add_argument("--batch-size", type=int, default=None,
                   help=f"batch for throughput (default {DEFAULT_BATCH}; the reference used 128)")
    m.add_argument("--min-time", type=float, default=None,
                   help=f"seconds of timed calls per measurement (default {DEFAULT_MIN_TIME})")
    m.add_argument("--iterations", type=int, help="fixed number of timed calls (overrides --min-time)")
    m.add_argument("--warmup", type=int, default=2, help="warm-up calls after the first (default 2)")
    m.add_argument("--threads", type=int, help="OpenMP threads (default: the runtime's)")
    m.add_argument("--cores", metavar="LIST", help="bind workers to these CPUs, e.g. 0-17")
    m.add_argument("--membind", metavar="NODES", help="bind worker memory to these NUMA nodes")
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
    m.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds before a worker is killed (default {DEFAULT_TIMEOUT:g})")
    m.add_argument("--workdir", help="keep worker specs, results, stderr and verbose logs here")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the whole result (schema 1); "
                                                  "rewritten as each worker finishes")
    o.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    o.add_argument("--trace", metavar="PATH", help="write one iteration as a Chrome/Perfetto trace")
    o.add_argument("--load", metavar="RESULT", help="re-render a saved --json result; runs nothing")
    # Test-only fault injection: CONFIG:PASS:HOOK, HOOK in abort|hang|raise (see mxprof.jobs.profile.spec).
    p.add_argument("--test-hook", action="append", default=[], help=argparse.SUPPRESS)


def _plan(args, spec_model):
    from mxprof.jobs.profile.spec import TEST_HOOKS, Protocol, RunSpec
    batch = args.batch_size or (REFERENCE_BATCH if args.reference_protocol else DEFAULT_BATCH)
    min_time = args.min_time or (REFERENCE_MIN_TIME if args.reference_protocol else DEFAULT_MIN_TIME)
    if batch < 1 or min_time <= 0 or (args.iterations is not None and args.iterations < 1):
        raise UsageError("--batch-size and --iterations must be >= 1, --min-time > 0")
    cpus, membind, threads = args.cores, args.membind, args.threads
    if args.reference_protocol:
        cpus, membind, threads = _reference_binding(cpus, membind, threads)
    hooks = {}
    for h in args.test_hook:
        parts = h.split(":")
        if len(parts) != 3 or parts[2] not in TEST_HOOKS:
            raise UsageError(f"bad --test-hook {h!r}: CONFIG:PASS:{'|'.join(TEST_HOOKS)}")
        hooks[(parts[0], parts[1])] = parts[2]
    protocol = Protocol(warmup=args.warmup, iterations=args.iterations, min_time=min_time)
    configs = [("mkldnn", True)] + ([] if args.no_reference else [("reference", False)])
    wanted = {p.strip() for p in args.passes.split(",") if p.strip()}
    unknown = wanted - set(ALL_PASSES)
    if unknown:
        raise UsageError(f"unknown pass(es) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(ALL_PASSES)}")
    chosen = [p for p in ALL_PASSES if p in wanted or p == "timing"]
    passes = {"mkldnn": chosen, "reference": [p for p in chosen if p != "primitives"]}
    # Headline timings first, so an interrupted run still has the numbers that matter most.
    order = [(c, "timing") for c, _ in configs] + [
        (c, p) for c, _ in configs for p in passes[c] if p != "timing"]
    mk = dict(configs)
    return [RunSpec(model=spec_model, config=c, mkldnn=mk[c], pass_name=p, batch_size=batch,
                    protocol=protocol, threads=threads, cpus=cpus, membind=membind,
                    physical_only=args.physical_only, test_hook=hooks.get((c, p)))
            for c, p in order]


def _chosen_checks(text: str) -> list[str]:
    wanted = {c.strip() for c in text.split(",") if c.strip()} - {"none"}
    unknown = wanted - set(ALL_CHECKS)
    if unknown:
        raise UsageError(f"unknown check(s) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(ALL_CHECKS)} or none")
    return [c for c in ALL_CHECKS if c in wanted]


def _run_checks(args, model, checks: list[str]) -> dict:
    """Run the companion checks in their own workers; a failure is recorded, never raised."""
    out: dict = {}
    if "fusion" in checks:
        if model.source == "symbol":
            out["fusion"] = {"status": "skipped",
                             "summary": "fusion: not run for --symbol models (zoo names only)"}
        else:
            _progress("fusion summary: unfused and fused workers")
            try:
                from mxprof.jobs.fusion.run import FusionOptions, run_fusion
                rep = run_fusion(FusionOptions(
                    model=model.name, shape=model.batch_shape(1), switches=(), rounds=1,
                    warmup=3, iterations=10, min_time_s=1.0, trace_iterations=2,
                    threads=args.threads, timeout_s=args.timeout))
                out["fusion"] = {"status": "ok", "summary": rep["summary"],
                                 **{k: rep.get(k) for k in ("unfused_ms", "fused_ms",
                                                            "gain_percent")},
                                 "groups": len(rep.get("groups") or ()),
                                 "findings": [f.get("title") for f in rep.get("findings") or ()]}
            except Exception as exc:  # the main report must survive a failed companion
                out["fusion"] = {"status": "failed", "summary": f"fusion: failed ({exc})"}
    if "equivalence" in checks:
        _progress("equivalence check: reference, MKL-DNN and fused workers")
        try:
            from mxprof.jobs.accuracy.run import equivalence_summary, quick_equivalence
            eq = quick_equivalence(model.to_dict(), num_inputs=4, threads=args.threads,
                                   timeout=args.timeout)
            configs = [c for c in eq.configs if c.name != "mkldnn-off"]
            out["equivalence"] = {
                "status": "ok" if all(c.ok for c in configs) else "failed",
                "inputs": 4, "lines": equivalence_summary(eq),
                "configs": [{"name": c.name, "max_abs_diff": c.max_abs_diff,
                             "max_rel_diff": c.max_rel_diff, "top1_agreement": c.top1_agreement,
                             "within_tolerance": c.within_tolerance} for c in configs]}
        except Exception as exc:
            out["equivalence"] = {"status": "failed", "lines": [f"failed ({exc})"]}
    return out


def _progress(message: str) -> None:
    print(f"mxprof: {message}", file=sys.stderr, flush=True)


def _reference_binding(cpus, membind, threads):
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.topology import read_topology

    topo = read_topology()
    node0 = topo.cores_of_node(min(topo.nodes))
    return (cpus or format_cpu_list(node0), membind or str(min(topo.nodes)),
            threads or len(node0))


def _resolve(args):
    from mxprof.mx import models
    shape = None
    if args.shape:
        try:
            shape = models.parse_shape(args.shape)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name, --symbol FILE, or --load RESULT.json")
    try:
        spec = models.resolve(args.model, shape=shape, symbol=args.symbol, params=args.params)
        if args.input:
            from mxprof.mx import inputs
            batch, specs = inputs.merge(spec.input_specs,
                                        [inputs.parse_input(t) for t in args.input])
            spec = models.with_inputs(spec, specs)
            args.batch_size = args.batch_size or batch
        return spec
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _write_outputs(args, report) -> None:
    from mxprof.render import get_renderer
    for path, name in ((args.json, "json"), (args.markdown, "markdown"), (args.trace, "trace")):
        if not path:
            continue
        try:
            get_renderer(name).write(report, path)
        except ValueError as exc:
            print(f"mxprof: warning: {name} not written: {exc}", file=sys.stderr)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc}") from None


def _display(report) -> None:
    from mxprof.jobs.profile.report import summary_line
    from mxprof.render import get_renderer
    try:
        sys.stdout.write(get_renderer("terminal", color=sys.stdout.isatty()).render(report))
        print()
        print(summary_line(report), flush=True)
    except BrokenPipeError:  # `| head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run(args) -> int:
    from mxprof.jobs.profile.report import build_report, load_report
    if args.load:
        try:
            report = load_report(args.load)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load {args.load}: {exc}") from None
        _write_outputs(args, report)
        _display(report)
        return 0
    model = _resolve(args)
    specs = _plan(args, model)
    checks = _chosen_checks(args.checks)
    from mxprof.jobs.profile.runner import run_specs

    done = []

    def partial(result):
        done.append(result)
        if args.json:
            try:
                _write_outputs(argparse.Namespace(json=args.json, markdown=None, trace=None),
                               build_report(done, planned=len(specs)))
            except Exception as exc:  # a partial file is a convenience: never stop the run
                print(f"mxprof: warning: partial result not written: {exc!r}", file=sys.stderr)

    if not any(s.pass_name == "primitives" for s in specs):
        # Workers name oneDNN from this cache (one probe process per libmxnet, then cached);
        # the primitives pass reads it from its own verbose log instead.
        from mxprof.workers.environment import onednn_version
        onednn_version(probe=True)
    results = run_specs(specs, timeout=args.timeout, workdir=args.workdir, on_result=partial)
    report = build_report(results, planned=len(specs))
    if checks:
        _write_outputs(argparse.Namespace(json=args.json, markdown=None, trace=None), report)
        report["checks"] = _run_checks(args, model, checks)
    _write_outputs(args, report)
    _display(report)
    return 0 if all(r.ok for r in results) else 1
