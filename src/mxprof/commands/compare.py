"""`python -m mxprof compare MODEL...`: the reference MKL-DNN table on this machine.

For every model, build and batch: one timing worker per configuration (MKL-DNN off, on, and
fused with --fused), each in its own process. Every finished run is appended to the results
file at once (`--results`, JSON lines), so an interrupted sweep resumes where it stopped: runs
already there with the same key (spec, build, binding, machine) are skipped. The table is
printed in the reference's layout; `--json/--markdown/--csv/--html` write it to files.
`--load RESULT.json` re-renders a saved `compare --json` (or `merge --json`) and runs nothing.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _options
from mxprof.commands._compare_output import display, write_outputs
from mxprof.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, require_extra
from mxprof.files import temp_dir
from mxprof.jobs.compare.rows import build_report


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
    m.add_argument("--instances", type=int, default=1,
                   help="throughput mode: split the CPUs into N bound instances run at once "
                        "and sum their images/s")
    _options.add_binding(p)
    _options.add_timing(p)
    _options.add_processes(p)
    _options.add_outputs(p, ("json", "markdown", "csv", "html", "pyperf"))
    o = p.add_argument_group("results file")
    o.add_argument("--results", default=None, metavar="PATH",
                   help="JSON-lines file every run is appended to (default: one file per "
                        "sweep under ~/.cache/mxprof/compare/, or $XDG_CACHE_HOME, "
                        "$MXPROF_CACHE); runs already in it with the same environment are "
                        "reused")
    o.add_argument("--fresh", action="store_true",
                   help="run everything again even if the results file has it")


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


def _configs(args) -> list[str]:
    from mxprof.jobs.compare.plan import CONFIGS
    configs = args.configs.split(",") if args.configs else ["reference", "mkldnn"]
    if args.fused and "fused" not in configs:
        configs.append("fused")
    bad = [c for c in configs if c not in CONFIGS]
    if bad:
        raise UsageError(f"unknown configuration {bad[0]!r}; choose from {', '.join(CONFIGS)}")
    return [c for c in CONFIGS if c in configs]


def resolve_models(names: list[str], shape_text: str | None, reference_set: bool,
                   symbol: str | None = None, params: str | None = None,
                   input_texts: list[str] | None = None) -> list:
    """(checked ModelSpec, its --input batch or None) for the names and `--symbol`;
    `--params` needs exactly one model, and each `--input` feeds the only model or the one its
    `MODEL=` prefix names (`_options.split_inputs`)."""
    import argparse
    from pathlib import Path

    from mxprof.jobs.compare.plan import ALIASES, REFERENCE_MODELS
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


def resolve_builds(args, log):
    from mxprof.workers import builds
    out = [] if args.no_current else [builds.current_build()]
    try:
        out += [builds.parse_python(t) for t in args.python]
        specs = [builds.parse_build(t) for t in args.build]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        out += [builds.ensure_venv(name, spec, log=log) for name, spec in specs]
        out = [builds.probe(b) for b in out]
    except builds.BuildError as exc:
        raise UsageError(str(exc)) from None
    names = [b.name for b in out]
    if not out:
        raise UsageError("--no-current leaves nothing to run: add --python or --build")
    if len(set(names)) != len(names):
        raise UsageError(f"build names must differ: {', '.join(names)}")
    return out


def _instance_cpus(args) -> list[str]:
    """Check --cores against the CPUs this process may use, and split them for --instances."""
    from mxprof.jobs.compare.instances import parse_cpus, split_cpus
    _options.check_binding(args.cores, args.membind)
    if args.instances == 1:
        return []
    try:
        return split_cpus(parse_cpus(args.cores), args.instances)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _open_results(path):
    from mxprof.jobs.compare.results_log import ResultsFileError, ResultsLog
    try:
        log = ResultsLog(path)
    except (ResultsFileError, OSError) as exc:
        raise UsageError(f"cannot use --results {path}: {exc}") from None
    for w in log.warnings:
        _log(f"mxprof: warning: {w}")
    return log


def _log(message: str, end: str = "\n") -> None:
    print(message, file=sys.stderr, flush=True, end=end)


def run_planned(planned, progress, *, timeout, workdir, on_record):
    """Run each planned run (one worker, or its instances at once) and hand its record over."""
    from pathlib import Path

    from mxprof.cpu.load import LoadMonitor
    from mxprof.jobs.compare.instances import run_bound, run_instances
    from mxprof.jobs.compare.plan import make_record
    for run in planned:
        progress.start(run.label)
        rundir = Path(workdir) / run.key
        rundir.mkdir(parents=True, exist_ok=True)
        monitor = LoadMonitor.start()
        try:
            if run.instance_cpus:
                results = run_instances(run.spec, run.instance_cpus, rundir, timeout=timeout,
                                        python=run.build.python)
            else:
                results = run_bound([run.spec], rundir, timeout=timeout,
                                    python=run.build.python)
        except KeyboardInterrupt:
            progress.note(f"{run.label}: interrupted: worker stopped, not recorded")
            raise
        machine = monitor.stop(run.label) if monitor else None
        record = make_record(run, results, machine.to_dict() if machine else None)
        on_record(record)
        status = record["status"]
        if status != "ok":
            bad = next(r for r in results if not r.ok)
            status = f"{status}: {bad.error}"
        elif machine is not None and machine.busy:
            status = f"ok, but {machine.warning()}"
        progress.done(run.label, status)


def _check_inputs(args) -> None:
    _options.check_counts(args, at_least_one=("iterations", "threads", "instances"))
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args)
    _options.check_output_path("--results", args.results)
    _options.check_workdir(args.workdir)
    if not args.no_current:
        require_extra("compare", "mxnet")
    if args.html:
        require_extra("compare --html", "plot")


def _dry_run(planned, todo, args, path) -> int:
    rows = [(p.label, f"{p.spec.config}, batch {p.spec.batch_size}, "
             f"cores {', '.join(p.instance_cpus) or p.spec.cpus or 'not bound'}") for p in todo]
    per = 8 + (0.1 * args.iterations if args.iterations else 2 * _options.min_time_of(args))
    notes = [f"{len(planned) - len(todo)} of {len(planned)} runs already in {path}"]
    _options.print_plan("compare", rows, per * len(rows), tuple(notes))
    return EXIT_OK


def _bound(args) -> int | None:
    return len(_options.check_binding(args.cores, None)[0]) if args.cores else None


def _plan_runs(args, inputs, builds, host, instance_cpus):
    """(every planned run: models x batches x processes x builds x configurations, the wait
    policy chosen and why); `inputs` is (batches, configs, models), checked first."""
    from mxprof.jobs.compare import plan as compare
    from mxprof.jobs.compare import results_log
    from mxprof.jobs.profile.spec import Protocol
    batches, configs, models = inputs
    preset = _options.preset_of(args)
    protocol = Protocol(warmup=args.warmup, iterations=args.iterations,
                        min_time=_options.min_time_of(args) * preset.min_time_factor,
                        **({"min_iterations": 3} if args.quick else {}))
    bound = _bound(args)
    # Instances get one thread per physical core of their own CPUs (jobs.compare.instances).
    threads = (args.threads if isinstance(args.threads, int) else None) if instance_cpus else \
        _options.thread_choice(args, _options.check_binding(args.cores, None)[0]).threads
    # The policy asked for, not the one "auto" picks under today's load, keys the results:
    # an auto run is reused whatever the load was; the table says which policy ran.
    environment = results_log.reuse_fingerprint(host)
    if getattr(args, "wait_policy", "auto") != "auto":
        environment = {**environment, "wait_policy": args.wait_policy}
    wait = _options.wait_choice(args, threads, bound)
    planned = []
    for model, own in models:  # model-major, as compare.plan orders them
        planned += compare.plan([model], builds, machine=compare.machine_of(host),
                                configs=configs, batch_sizes=batches or _batches(args, model, own),
                                protocol=protocol, threads=threads,
                                cpus=None if instance_cpus else args.cores,
                                membind=args.membind, instance_cpus=instance_cpus,
                                processes=preset.processes, environment=environment,
                                wait_policy=wait[0])
    return planned, wait


def _batches(args, model, own: int | None) -> list[int] | None:
    """A model's batches when --batch-size is not given: its --input batch, --quick's, or
    None (the reference's, in compare.plan)."""
    from mxprof.jobs.compare import plan as compare
    if own:
        return [1, own]
    return compare.quick_batches(model.name) if args.quick else None


def _threads_note(args, instance_cpus) -> str:
    """Where the OpenMP thread count of the current build's workers came from."""
    if instance_cpus and not isinstance(args.threads, int):
        return "OpenMP threads: one per physical core of each instance's CPUs (mxprof default)"
    cpus = _options.check_binding(args.cores, None)[0]
    return f"OpenMP threads: {_options.thread_choice(args, cpus).text}"


def _run_notes(log, planned, todo, instance_cpus, builds) -> list[str]:
    """The report's notes: the results file, what was reused from it, instances, builds."""
    from mxprof.jobs.compare import results_log
    from mxprof.jobs.compare.instances import overlap_note
    latest = {r["key"]: r for r in results_log.latest_by_key(log.records)}
    todo_keys = {t.key for t in todo}
    reused = results_log.reuse_notes(log.path, [latest[p.key] for p in planned
                                                if p.key not in todo_keys],
                                     {p.key: p.label for p in planned})
    for line in reused:
        _log(line)
    notes = [f"results file: {log.path}", *reused]
    if instance_cpus:
        notes.append(overlap_note(len(instance_cpus)) + "; instance CPUs "
                     + " | ".join(instance_cpus))
    notes += [f"build {b.name} (MXNet {b.mxnet}) has no MKL-DNN: w/o column only"
              for b in builds if b.mkldnn is False]
    return notes


def _load_saved(args) -> dict:
    """The saved `compare --json` (or `merge --json`) file, validated like every --load
    (mxprof.jobs.results): the message names the file and the wrong field."""
    if args.models or args.reference_set or args.symbol:
        raise UsageError("--load re-renders a saved result: give no MODEL, --symbol or "
                         "--reference-set with it")
    _options.check_outputs(args)
    if args.html:
        require_extra("compare --html", "plot")
    return _options.load_result("compare", args.load, kind_field="mxprof-compare")


def _render_loaded(args) -> int:
    report = _load_saved(args)
    errors = write_outputs(args, report)
    display(args, report)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK


def run(args) -> int:

    from mxprof.commands._progress import Progress
    from mxprof.jobs.compare import plan as compare
    from mxprof.jobs.compare import results_log
    from mxprof.workers.environment import host_fingerprint
    if args.load:
        return _render_loaded(args)
    _check_inputs(args)
    batches = parse_batches(args.batch_size)
    # --quick, a first look: batch 1 and a small one per model (compare.quick_batches), a
    # short minimum time.
    if args.quick and args.min_time is None:
        args.min_time = compare.QUICK_MIN_TIME
    if args.quick and args.processes is None and not args.rigorous:
        # Two processes still give an interval over processes; the third cost 5 minutes of
        # the reference set (about 16 min with 3 on this 2-core VM, the target is 15).
        args.processes = compare.QUICK_PROCESSES
    inputs = (batches, _configs(args),
              resolve_models(args.models, args.shape, args.reference_set, args.symbol,
                             args.params, args.input))
    instance_cpus = _instance_cpus(args)
    log = _open_results(args.results) if args.results else None
    builds = resolve_builds(args, _log)
    planned, wait = _plan_runs(args, inputs, builds, host_fingerprint().to_dict(),
                               instance_cpus)
    # Opening reads an existing file and creates nothing, so a dry run can look too.
    log = log or _open_results(results_log.default_results_path(results_log.sweep_key(planned)))
    if args.dry_run:
        done_keys = set() if args.fresh else log.done
        return _dry_run(planned, [p for p in planned if p.key not in done_keys], args, log.path)
    _log(f"results file: {log.path}")
    _options.announce_wait(wait)
    done = set() if args.fresh else log.done
    todo = [p for p in planned if p.key not in done]
    notes = [*_run_notes(log, planned, todo, instance_cpus, builds),
             _threads_note(args, instance_cpus)]
    if todo and not args.no_current:
        from mxprof.workers.environment import onednn_version
        # Cached per libmxnet; the workers read the cache, so every row names its oneDNN.
        onednn_version(probe=True)
    with temp_dir("compare") as tmp, \
            Progress("compare", len(planned), done_before=len(planned) - len(todo)) as progress:
        run_planned(todo, progress, timeout=args.timeout, workdir=args.workdir or tmp,
                    on_record=log.append)
    keys = {p.key for p in planned}
    report = build_report([r for r in log.records if r["key"] in keys], notes)
    errors = write_outputs(args, report)
    display(args, report)
    _log(f"results file: {log.path}")
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    failed = [r for r in report["rows"] if r["metric"] == "failed"]
    return EXIT_FAILED if failed else EXIT_OK
