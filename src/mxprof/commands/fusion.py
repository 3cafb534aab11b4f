"""`mxprof fusion MODEL`: which layers MKL-DNN fused into what, and what each fusion bought.

Thin: arguments -> `mxprof.jobs.fusion.Options` -> plan (printed by --dry-run) -> run ->
the outputs declared for "fusion" (mxprof.render.outputs) -> exit code.
"""

from __future__ import annotations

import sys

from mxprof.commands import _job, _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

KIND = "fusion"
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
    _options.add_protocol(parser, workdir=False)
    _options.add_outputs(parser, KIND)


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


def options_of(args):
    """The job's Options from the parsed arguments (model checked, presets applied)."""
    from mxprof.jobs.fusion import Options, parse_switches

    switches = parse_switches(args.switches)
    _options.check_counts(args, at_least_one=("iterations", "trace_iterations", "threads"))
    preset = _options.preset_of(args)
    _options.check_outputs(args, KIND, inputs=(args.symbol, args.params))
    require_extra("fusion", "mxnet")
    _options.check_model_files(args.symbol, args.params)
    spec, shape = _model(args)
    return Options(model=args.model or spec.name, shape=shape, spec=spec.to_dict(),
                   path=args.path, static=args.static, warmup=args.warmup,
                   iterations=args.iterations,
                   min_time=_options.min_time_of(args) * preset.min_time_factor,
                   processes=preset.processes, trace_iterations=args.trace_iterations,
                   switches=switches, timeout=args.timeout, **_job.binding(args))


def _failures(args, result) -> int:
    """Exit 1 when any worker failed (README: a crashed worker is a failed row, and exit 1):
    one line per failed worker, a crash or timeout with the worker's last stderr lines."""
    for f in result.failed_workers:
        lines = (f.get("detail") or "").splitlines()
        if lines and f["error"].endswith(lines[-1].strip()):
            lines.pop()  # already the end of the one line
        detail = "".join(f"\n  | {line}" for line in lines)
        what = f"could not measure {args.model or args.symbol}" \
            if result.complete is False else f"worker {f['label']} failed"
        print(f"mxprof: error: {what}: {f['error']}{detail}", file=sys.stderr)
    return EXIT_FAILED if result.failed_workers or result.complete is False else EXIT_OK


def _upgraded(data: dict):
    from mxprof.jobs.fusion import FusionResult
    from mxprof.jobs.fusion.report import upgrade
    # A file written before the one statistics record is brought up to date first.
    return FusionResult.from_dict(upgrade(data))


def _show(result, out) -> None:
    from mxprof.render import fusion as fusion_render
    out.write(fusion_render.render_terminal(result))


def run(args) -> int:
    from mxprof.jobs import fusion

    if args.load:
        result = _job.load(args, KIND, _upgraded, kind_field=KIND)
    else:
        result = _job.plan_and_run(KIND, fusion.plan, fusion.run, options_of(args), args,
                                   on_partial=_job.partial(args))
        if result is None:
            return EXIT_OK  # --dry-run
    return _job.finish(args, result, KIND, _show) or (
        EXIT_OK if args.load else _failures(args, result))
