"""`python -m mxprof compare MODEL...`: the reference MKL-DNN table on this machine.

For every model, build and batch: one timing worker per configuration (MKL-DNN off, on, and
fused with --fused), each in its own process. Every finished run is appended to the results
file at once (`--results`, JSON lines), so an interrupted sweep resumes where it stopped: runs
already there with the same key (spec, build, binding, machine) are skipped. The table is
printed in the reference's layout; `--json/--markdown/--csv/--html` write it to files.
`--load RESULT.json` re-renders a saved `compare --json` (or `merge --json`) and runs nothing.
Thin: arguments -> `mxprof.jobs.compare.Options` -> plan (--dry-run prints it) -> run -> the
outputs declared for "compare" (mxprof.render.outputs) -> exit code.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _job, _options
from mxprof.commands._compare_output import display
from mxprof.commands._hosts import add_cluster, classes_of
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

KIND = "compare"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="Gluon/GluonCV model-zoo names, or the reference's names (ssd-vgg16, "
                        "ssd-mobilenet, faster-r-cnn, ...)")
    p.add_argument("--reference-set", action="store_true",
                   help="the reference table's 14 networks (4 of them mxprof's own: inceptionv4, "
                        "inceptionresnetv2, gnmt, dcgan) at its batch sizes")
    p.add_argument("--quick", action="store_true",
                   help="batch 1 and a small batch, short minimum time, 3 calls at least, 2 "
                        "processes per cell unless --processes or --rigorous: a first look, not "
                        "the reference's protocol")
    src = p.add_argument_group("model")
    _options.add_model_files(src, shape_help="input shape C,H,W for every model (default: "
                             "each model's own)", input_help=(
                                 "[MODEL=]NAME:SHAPE[:DTYPE], a model input, batch first "
                                 "(repeatable): with one model the MODEL= prefix may be left "
                                 "out, with several it names the model fed; without "
                                 "--batch-size that model runs at batch 1 and this batch"))
    m = p.add_argument_group("matrix")
    m.add_argument("--batch-size", metavar="LIST",
                   help="batch sizes, e.g. 1,128: latency at 1, throughput at each larger one "
                        "(default: 1 and the reference's batch per model: 128, SSD-VGG16 224, "
                        "SSD-MobileNet 256, Faster R-CNN 1)")
    m.add_argument("--fused", action="store_true",
                   help="add the fused configuration (optimize_for backend MKLDNN)")
    m.add_argument("--configs", metavar="LIST", default=None,
                   help="configurations to run: reference,mkldnn,fused (default reference,mkldnn)")
    m.add_argument("--python", action="append", default=[], metavar="NAME=PATH",
                   help="also run under another interpreter (a venv with another MXNet)")
    m.add_argument("--build", action="append", default=[], metavar="NAME=PIP_SPEC",
                   help="also run under a cached venv with this pip spec, made on first use "
                        "(e.g. mkl15=mxnet-mkl==1.5.1)")
    m.add_argument("--no-current", action="store_true",
                   help="do not run under this interpreter (only --python/--build ones)")
    m.add_argument("--instances", type=_counts("--instances"), default=1, metavar="N|LIST",
                   help="throughput mode: split the CPUs into N bound instances run at once "
                        "and sum their images/s; a list (1,2,4) is a sweep axis")
    add_cluster(p, "the cells")
    _options.add_binding(p)
    # compare's --threads may be a list: a sweep axis like --batch-size (the report names the
    # fastest configuration per model and machine).
    threads = next(a for a in p._actions if a.dest == "threads")
    threads.type, threads.metavar = _thread_axis, "N|LIST"
    threads.help += "; a list (1,2,4) is a sweep axis"
    _options.add_protocol(p)
    _options.add_outputs(p, KIND)
    o = p.add_argument_group("results file")
    o.add_argument("--results", default=None, metavar="PATH",
                   help="JSON-lines file every run is appended to (default: one file per "
                        "sweep under ~/.cache/mxprof/compare/, or $XDG_CACHE_HOME, "
                        "$MXPROF_CACHE); runs already in it with the same environment are "
                        "reused")
    o.add_argument("--fresh", action="store_true",
                   help="run everything again even if the results file has it")


def _counts(flag: str):
    """argparse type: N, or a list N,M,... (a sweep axis) of counts >= 1."""
    def parse(text: str) -> int | list[int]:
        try:
            values = sorted({int(x) for x in text.replace(" ", "").split(",") if x})
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a count or a list like 1,2,4, got "
                                             f"{text!r}") from None
        if not values or values[0] < 1:
            raise argparse.ArgumentTypeError(f"{flag} counts are >= 1, got {text!r}")
        return values[0] if len(values) == 1 else values
    return parse


def _thread_axis(text: str) -> int | str | list[int]:
    return _counts("--threads")(text) if "," in text else _options.threads_arg(text)


def _axis(value) -> list | None:
    return value if isinstance(value, list) else None


def parse_batches(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        out = sorted({int(x) for x in text.replace(" ", "").split(",") if x})
    except ValueError:
        raise UsageError(f"bad --batch-size {text!r}: expected e.g. 1,128") from None
    if not out or out[0] < 1:
        raise UsageError(f"bad --batch-size {text!r}: batch sizes are >= 1")
    return out


def _configs(args) -> tuple[str, ...]:
    configs = args.configs.split(",") if args.configs else ["reference", "mkldnn"]
    if args.fused and "fused" not in configs:
        configs.append("fused")
    return tuple(configs)


def resolve_models(names: list[str], shape_text: str | None, reference_set: bool,
                   symbol: str | None = None, params: str | None = None,
                   input_texts: list[str] | None = None) -> list:
    """(checked ModelSpec, its --input batch or None) for the names and `--symbol`;
    `--params` needs exactly one model, and each `--input` feeds the only model or the one its
    `MODEL=` prefix names (`_options.split_inputs`)."""
    import argparse
    from pathlib import Path

    from mxprof.jobs.compare.matrix import ALIASES, REFERENCE_MODELS
    wanted = [ALIASES.get(n.lower(), n) for n in names]
    if reference_set:
        wanted += [name for _, name, _ in REFERENCE_MODELS if name not in wanted]
    if not wanted and not symbol:
        raise UsageError("give at least one MODEL, --symbol FILE, or --reference-set")
    if params and not symbol and len(wanted) != 1:
        raise UsageError("--params belongs to one model: give exactly one MODEL (or --symbol)")
    typed = {ALIASES.get(n.lower(), n): n for n in names}
    labels = [typed.get(n, n) for n in wanted]
    if symbol:
        labels.append(Path(symbol).name.removesuffix(".json").removesuffix("-symbol"))
    per_model = _options.split_inputs(list(input_texts or ()), labels)
    out = []
    for name, label in zip([*wanted, None], labels):
        own_params = params if (symbol and name is None) or (not symbol and name) else None
        ns = argparse.Namespace(shape=shape_text, symbol=None if name else symbol,
                                params=own_params)
        out.append(_options.model_of(ns, name, per_model[label]))
    return out


def _check_inputs(args) -> None:
    _options.check_counts(args, at_least_one=("iterations", "threads", "instances"))
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args, KIND, inputs=(args.symbol, args.params, args.results))
    _options.check_output_path("--results", args.results)
    _options.check_workdir(args.workdir)
    if not args.no_current:
        require_extra("compare", "mxnet")
    if args.html:
        require_extra("compare --html", "plot")


def options_of(args):
    """The job's Options from the parsed arguments (every model resolved and checked)."""
    from mxprof.jobs.compare import ModelChoice, Options
    _check_inputs(args)
    batches = parse_batches(args.batch_size)
    models = resolve_models(args.models, args.shape, args.reference_set, args.symbol,
                            args.params, args.input)
    return Options(models=tuple(ModelChoice(m.to_dict(), own) for m, own in models),
                   batch_sizes=tuple(batches) if batches else None, configs=_configs(args),
                   quick=args.quick, python=tuple(args.python), build=tuple(args.build),
                   no_current=args.no_current,
                   instances=args.instances if isinstance(args.instances, int) else 1,
                   **_job.binding(args, threads=None if _axis(args.threads) else args.threads),
                   warmup=args.warmup, iterations=args.iterations, min_time=args.min_time,
                   processes=args.processes, fast=args.fast, rigorous=args.rigorous,
                   timeout=args.timeout, workdir=args.workdir, results=args.results,
                   fresh=args.fresh)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_saved(args):
    """The saved `compare --json` (or `merge --json`) file, validated like every --load
    (mxprof.jobs.results): the message names the file and the wrong field."""
    if args.models or args.reference_set or args.symbol:
        raise UsageError("--load re-renders a saved result: give no MODEL, --symbol or "
                         "--reference-set with it")
    if args.html:
        require_extra("compare --html", "plot")
    return _job.load(args, KIND, lambda data: _decode(args.load, data))


def _decode(path: str, data: dict):
    from mxprof.jobs.compare import CompareResult
    from mxprof.jobs.results import kind_of_file
    if kind_of_file(data, source=path) != KIND:  # older files say "mxprof-compare"
        raise UsageError(f"{path}: not an mxprof compare result: kind "
                         f"{data.get('kind')!r}, not {KIND!r}")
    return CompareResult.from_dict({**data, "kind": KIND})


def _job_of(args, options):
    """(the job, its options): the compare job, or its sweep (mxprof.jobs.compare.sweep) for
    --threads/--instances lists and --cluster."""
    from mxprof.jobs import compare
    from mxprof.jobs.compare import sweep
    if not (args.cluster or _axis(args.threads) or _axis(args.instances)):
        return compare, options
    axis = _axis(args.threads)
    return sweep, sweep.SweepOptions(
        compare=options, threads=tuple(axis) if axis else None,
        instances=tuple(_axis(args.instances)) if _axis(args.instances) else None,
        cluster=args.cluster, classes=classes_of(args))


def _measure(args):
    """The CompareResult of the sweep, or None for --dry-run."""
    from mxprof.commands._hosts import HostProgress
    from mxprof.commands._progress import Progress

    job, options = _job_of(args, options_of(args))
    plan = job.plan(options, on_note=lambda text: _log(f"mxprof: {text}"))
    if args.dry_run:
        _job.print_dry_run(KIND, plan, [*plan.notes[:1], *_job.warnings(plan.notes)])
        return None
    _log(f"results file: {plan.log.path}")
    _job.announce(plan.placement, plan.notes)
    # On a cluster the total is the cells left to run, known once the classes are (events).
    progress = HostProgress(KIND, 0) if args.cluster else \
        Progress(KIND, len(plan.planned), done_before=len(plan.planned) - len(plan.todo))
    with progress:
        return job.run(plan, progress)


def _without_results_file(result):
    import msgspec
    return msgspec.structs.replace(result, notes=[n for n in result.notes
                                                  if not n.startswith("results file: ")])


def run(args) -> int:
    result = _load_saved(args) if args.load else _measure(args)
    if result is None:
        return EXIT_OK  # --dry-run

    def show(result, out) -> None:
        # A run says "results file: PATH" once, on stderr before its first worker (an
        # interrupted sweep resumes from it): the table leaves that note out rather than say
        # it again, and --load prints the same table. The files written (--json, ...) keep it.
        display(_without_results_file(result), out)
    return _job.finish(args, result, KIND, show) or (
        EXIT_FAILED if result.failed and not args.load else EXIT_OK)
