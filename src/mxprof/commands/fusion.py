"""`mxprof fusion MODEL`: which layers MKL-DNN fused into what, and what each fusion bought."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from mxprof.commands import _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, require_extra

if TYPE_CHECKING:
    from mxprof.jobs.fusion.run import FusionOptions

_SWITCH_NAMES = ("CONV_BN", "CONV_RELU", "CONV_SUM", "FC_ELTWISE")


def add_arguments(parser) -> None:
    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1, ...) or "
                        "FILE.py:FACTORY returning a Gluon HybridBlock")
    m = parser.add_argument_group("model and fusion")
    # --params: the first worker loads them (else zoo or random weights) and saves the weights
    # every later worker loads, so all of them share one set.
    _options.add_model_files(m, shape_help=(
        "input shape C,H,W or N,C,H,W, or any per-sample sizes (default: the model's own at "
        "batch 1, e.g. 1,3,299,299 for inceptionv3; 1,3,224,224 for FILE.py:FACTORY models "
        "that declare no inputs)"))
    m.add_argument("--path", choices=("gluon", "symbolic"), default="gluon",
                   help="gluon: HybridBlock.optimize_for(backend='MKLDNN'); symbolic: "
                   "executor with MXNET_SUBGRAPH_BACKEND=MKLDNN")
    m.add_argument("--no-static", dest="static", action="store_false",
                   help="hybridize/optimize_for without static_alloc/static_shape")
    # --rounds was fusion's own word for --processes: kept as a hidden alias.
    _options.hidden_alias(m, "--rounds", dest="processes", type=int)
    m.add_argument("--trace-iterations", type=int, default=10,
                   help="iterations logged with DNNL_VERBOSE for the group table")
    m.add_argument("--switches", default=",".join(_SWITCH_NAMES),
                   help="fusion switches to turn off one at a time, or 'none' "
                   f"(default {','.join(_SWITCH_NAMES)})")
    _options.add_binding(parser)
    _options.add_timing(parser, workdir=False)
    _options.add_processes(parser)
    _options.add_outputs(parser, ("json", "markdown", "html"))


def _parse_switches(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    out = []
    for name in text.split(","):
        key = name.strip().upper().removeprefix("MXNET_DISABLE_MKLDNN_FUSE_")
        if key not in _SWITCH_NAMES:
            raise UsageError(f"unknown fusion switch {name!r}: choose from "
                             f"{', '.join(_SWITCH_NAMES)} or 'none'")
        out.append(f"MXNET_DISABLE_MKLDNN_FUSE_{key}")
    return tuple(out)


def _model(args):
    """(checked ModelSpec, the first input's shape with the batch first): `_options.model_of`.
    The batch is the --input batch, else N of an N,C,H,W --shape, else 1."""
    if not args.model and not args.symbol:
        raise UsageError("give a MODEL, --symbol FILE (or --load REPORT.json)")
    spec, batch = _options.model_of(args, args.model)
    if batch is None and args.shape:
        dims = [d for d in args.shape.replace("x", ",").split(",") if d.strip()]
        batch = int(dims[0]) if len(dims) == 4 else None
    return spec, (batch or 1, *spec.input_specs[0].shape)


def run(args) -> int:
    from mxprof.render import fusion as fusion_render
    if args.load:
        _options.check_outputs(args)
        report = _options.load_result("fusion", args.load, kind_field="fusion")
        from mxprof.jobs.fusion.report import upgrade
        report = upgrade(report)  # a file written before the one statistics record
    else:
        report = _measure(args)
        if report is None:
            return EXIT_OK  # --dry-run
    from mxprof.workers.jsonio import dumps
    errors = _write(args, report)
    text = fusion_render.render_terminal(report)
    if args.json == "-":
        sys.stdout.write(dumps(report) + "\n")
        sys.stderr.write(text)
    else:
        sys.stdout.write(text)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_OK if args.load else _failures(args, report)


def _failures(args, report) -> int:
    """Exit 1 when any worker failed (README: a crashed worker is a failed row, and exit 1):
    one line per failed worker, a crash or timeout with the worker's last stderr lines."""
    failed = report.get("failed_workers") or []
    for f in failed:
        lines = (f.get("detail") or "").splitlines()
        if lines and f["error"].endswith(lines[-1].strip()):
            lines.pop()  # already the end of the one line
        detail = "".join(f"\n  | {line}" for line in lines)
        what = f"could not measure {args.model or args.symbol}" \
            if report.get("complete") is False else f"worker {f['label']} failed"
        print(f"mxprof: error: {what}: {f['error']}{detail}", file=sys.stderr)
    return EXIT_FAILED if failed or report.get("complete") is False else EXIT_OK


def _write(args, report) -> list[str]:
    from mxprof.render import fusion as fusion_render
    from mxprof.render.html import render_page
    from mxprof.workers.jsonio import dumps
    return _options.write_files(report, (
        (args.json, _options.text_file(dumps)),
        (args.markdown, _options.text_file(fusion_render.render_markdown)),
        (args.html, _options.text_file(render_page))))


def _options_of(args) -> FusionOptions:
    from mxprof.jobs.fusion.run import FusionOptions

    _options.check_counts(args, at_least_one=("iterations", "trace_iterations", "threads"))
    preset = _options.preset_of(args)
    cpus, _ = _options.check_binding(args.cores, args.membind)
    _options.check_outputs(args)
    require_extra("fusion", "mxnet")
    threads = _options.thread_choice(args, cpus).threads
    _options.check_model_files(args.symbol, args.params)
    spec, shape = _model(args)
    # --iterations is a fixed count everywhere: the fusion worker times at least `iterations`
    # calls and at least `min_time_s`, so a fixed count is that count and no minimum time.
    fixed = args.iterations is not None
    return FusionOptions(
        model=args.model or spec.name, shape=shape, spec=spec.to_dict(), path=args.path,
        static=args.static, warmup=args.warmup,
        iterations=args.iterations if fixed else 10,
        min_time_s=0.0 if fixed else _options.min_time_of(args) * preset.min_time_factor,
        trace_iterations=args.trace_iterations, switches=_parse_switches(args.switches),
        threads=threads, processes=preset.processes, timeout_s=args.timeout,
        wait_policy=_options.resolve_wait(args, threads, len(cpus) if cpus else None,
                                          announce=not args.dry_run))


def bind_parent(cpus, nodes) -> None:
    """Bind this process so the workers it starts inherit the CPUs and memory policy (the
    fusion job starts its workers unbound). Affinity and MPOL_BIND survive fork and exec."""
    if cpus is None and nodes is None:
        return
    from mxprof.cpu.binding import BindError, bind
    try:
        binding = bind(cpus if cpus is not None else sorted(os.sched_getaffinity(0)), nodes)
    except BindError as exc:
        raise UsageError(f"cannot bind to --cores/--membind: {exc.strerror}") from None
    for warning in binding.warnings:
        print(f"mxprof: warning: {warning}", file=sys.stderr)


def worker_count(opts) -> int:
    """Workers the fusion job starts: `processes` of unfused, fused, each switch off, and of
    each of the two traces (mxprof.jobs.fusion.plan)."""
    from mxprof.jobs.fusion.plan import worker_plan
    return len(worker_plan(opts))


def _measure(args) -> dict | None:
    from mxprof.commands._progress import Progress
    from mxprof.jobs.fusion import run as fusion_run

    opts = _options_of(args)
    cpus, nodes = _options.check_binding(args.cores, args.membind)
    if args.dry_run:
        _dry_run(opts, cpus, nodes, _options.thread_choice(args, cpus))
        return None
    bind_parent(cpus, nodes)
    current: list[str] = []

    def keep_partial(report: dict) -> None:  # interrupted: --json keeps what was measured
        if args.json and args.json != "-":
            from mxprof.workers.jsonio import write_json
            write_json(args.json, report)
            print(f"mxprof: partial result written to {args.json}", file=sys.stderr)

    with Progress("fusion", worker_count(opts)) as bar:
        def on_message(msg: str) -> None:
            if not msg.startswith("worker: "):
                bar.note(msg)
                return
            if current:
                bar.done(current.pop())
            current.append(msg.removeprefix("worker: "))
            bar.start(current[0])

        report = fusion_run.run_fusion(opts, progress=on_message, on_partial=keep_partial)
        if current:
            bar.done(current.pop(), "failed" if report.get("complete") is False else "ok")
    # Where the thread count came from, for the header (mxprof.cpu.openmp.ThreadChoice).
    report.setdefault("environment", {})["threads_why"] = _options.thread_choice(args, cpus).why
    return report


def _dry_run(opts, cpus, nodes, choice) -> None:
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.jobs.fusion.plan import worker_plan

    timing = (f"{opts.iterations} timed calls" if opts.min_time_s == 0
              else f">= {opts.min_time_s:g} s of timed calls")
    what = {"unfused": f"timing, {timing}", "fused": f"timing, {timing}",
            "unfused-trace": f"DNNL_VERBOSE, {opts.trace_iterations} iterations",
            "fused-trace": f"DNNL_VERBOSE, {opts.trace_iterations} iterations"}
    rows = [(label, what.get(config, f"timing, {timing}, {config}=1"))
            for label, config in worker_plan(opts)]
    rows[0] = (rows[0][0], rows[0][1] + ", writes the shared weights")
    per = 8 + (opts.min_time_s or 0.05 * opts.iterations)
    inputs = "; ".join(i.short() for i in _input_specs(opts))
    notes = (f"{opts.processes} processes per configuration, interleaved; warm-up "
             f"{opts.warmup} calls; inputs {inputs} at batch {opts.shape[0]}, path {opts.path}",
             f"binding: cores {format_cpu_list(cpus) if cpus else 'not bound'}, membind "
             f"{format_cpu_list(nodes) if nodes else 'not bound'}, OpenMP threads "
             f"{choice.text}")
    _options.print_plan("fusion", rows, per * len(rows), notes)


def _input_specs(opts):
    from mxprof.mx.models import ModelSpec
    return ModelSpec.from_dict(opts.spec).input_specs
