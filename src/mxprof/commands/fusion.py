"""`mxprof fusion MODEL`: which layers MKL-DNN fused into what, and what each fusion bought."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mxprof.errors import UsageError

_SWITCH_NAMES = ("CONV_BN", "CONV_RELU", "CONV_SUM", "FC_ELTWISE")


def add_arguments(parser) -> None:
    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1, ...) or "
                        "FILE.py:FACTORY returning a Gluon HybridBlock")
    parser.add_argument("--shape", help="input shape C,H,W or N,C,H,W (default: the model's own "
                        "at batch 1, e.g. 1,3,299,299 for inceptionv3; 1,3,224,224 for FILE.py:"
                        "FACTORY models, whose shape may have any rank)")
    parser.add_argument("--path", choices=("gluon", "symbolic"), default="gluon",
                        help="gluon: HybridBlock.optimize_for(backend='MKLDNN'); symbolic: "
                        "executor with MXNET_SUBGRAPH_BACKEND=MKLDNN")
    parser.add_argument("--no-static", dest="static", action="store_false",
                        help="hybridize/optimize_for without static_alloc/static_shape")
    parser.add_argument("--iterations", type=int, default=50,
                        help="timed calls per worker at least (default 50)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up calls (default 10)")
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="timed seconds per worker at least (default 1.0)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating unfused/fused timing workers (default 2)")
    parser.add_argument("--trace-iterations", type=int, default=10,
                        help="iterations logged with DNNL_VERBOSE for the group table")
    parser.add_argument("--switches", default=",".join(_SWITCH_NAMES),
                        help="fusion switches to turn off one at a time, or 'none' "
                        f"(default {','.join(_SWITCH_NAMES)})")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the workers")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    parser.add_argument("--load", metavar="JSON", help="show a saved --json report instead of "
                        "running")


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--shape must be integers like 1,3,224,224, got {text!r}") from None
    if len(shape) < 2 or min(shape) < 1:
        raise UsageError(f"--shape needs at least two positive dimensions, got {text!r}")
    return shape


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


def _input_shape(model: str, text: str | None) -> tuple[int, ...]:
    """The full input shape, batch included; checks that the model exists."""
    from mxprof.jobs.fusion.worker import is_factory

    shape = _parse_shape(text) if text else None
    if is_factory(model):
        file = model.split(":", 1)[0]
        if not Path(file).is_file():
            raise UsageError(f"model file {file!r} does not exist")
        return shape or (1, 3, 224, 224)
    from mxprof.mx import models
    if shape is not None and len(shape) not in (3, 4):
        raise UsageError(f"--shape for a zoo model is C,H,W or N,C,H,W, got {text!r}")
    try:
        spec = models.resolve(model, shape=shape[-3:] if shape else None)
        return shape if shape and len(shape) == 4 else spec.batch_shape(1)
    except models.UnknownModel as exc:
        hint = f"; did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else ""
        raise UsageError(f"unknown model {model!r}{hint} (a Gluon or GluonCV model-zoo name, "
                         "or FILE.py:FACTORY)") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args) -> int:
    from mxprof.render import fusion as fusion_render
    if args.load:
        try:
            report = json.loads(Path(args.load).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read report {args.load!r}: {exc}") from None
        if report.get("kind") != "fusion":
            raise UsageError(f"{args.load!r} is not a fusion report")
    else:
        if not args.model:
            raise UsageError("give a MODEL (or --load REPORT.json)")
        report = _measure(args)
    sys.stdout.write(fusion_render.render_terminal(report))
    from mxprof.workers.jsonio import write_json, write_text
    if args.json:
        write_json(args.json, report)
    if args.markdown:
        write_text(args.markdown, fusion_render.render_markdown(report))
    return 0


def _measure(args) -> dict:
    from mxprof.jobs.fusion.run import FusionOptions, WorkerError, run_fusion

    for name in ("iterations", "rounds", "trace_iterations", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.warmup < 0 or args.min_time < 0:
        raise UsageError("--warmup and --min-time cannot be negative")
    opts = FusionOptions(
        model=args.model, shape=_input_shape(args.model, args.shape), path=args.path,
        static=args.static,
        warmup=args.warmup, iterations=args.iterations, min_time_s=args.min_time,
        trace_iterations=args.trace_iterations, switches=_parse_switches(args.switches),
        threads=args.threads, rounds=args.rounds)
    try:
        return run_fusion(opts, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except WorkerError as exc:
        # One line for the failure; a crash or timeout adds the worker's last stderr lines.
        lines = exc.detail.splitlines()
        if lines and str(exc).endswith(lines[-1].strip()):
            lines.pop()  # already the end of the one line
        detail = "".join(f"\n  | {line}" for line in lines)
        raise UsageError(f"could not measure {args.model}: {exc}{detail}") from None
