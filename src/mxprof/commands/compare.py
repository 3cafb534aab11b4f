"""`python -m mxprof compare MODEL...`: the reference MKL-DNN table on this machine.

For every model, build and batch: one timing worker per configuration (MKL-DNN off, on, and
fused with --fused), each in its own process. Every finished run is appended to the results
file at once (`--results`, JSON lines), so an interrupted sweep resumes where it stopped: runs
already there with the same key (spec, build, binding, machine) are skipped. The table is
printed in the reference's layout; `--json/--markdown/--csv/--html` write it to files.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from mxprof.commands._compare_output import display, write_outputs
from mxprof.errors import UsageError
from mxprof.jobs.compare.plan import build_report

DEFAULT_RESULTS = "mxprof-compare.jsonl"
DEFAULT_MIN_TIME = 2.0
DEFAULT_TIMEOUT = 1800.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="Gluon/GluonCV model-zoo names, or the reference's names (ssd-vgg16, "
                        "ssd-mobilenet, faster-r-cnn, ...)")
    p.add_argument("--reference-set", action="store_true",
                   help="the reference table's 14 networks (4 of them mxprof's own: inceptionv4, "
                        "inceptionresnetv2, gnmt, dcgan) at its batch sizes")
    p.add_argument("--quick", action="store_true",
                   help="batch 1 and a small batch, short minimum time, 3 calls at least: a "
                        "first look, not the reference's protocol")
    p.add_argument("--shape", help="input shape C,H,W for every model (default: each model's own)")
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
    b = p.add_argument_group("binding")
    b.add_argument("--threads", type=int, help="OpenMP threads per worker (default: runtime's)")
    b.add_argument("--cores", metavar="LIST", help="bind workers to these CPUs, e.g. 0-17")
    b.add_argument("--membind", metavar="NODES", help="bind worker memory to these NUMA nodes")
    b.add_argument("--instances", type=int, default=1,
                   help="throughput mode: split the CPUs into N bound instances run at once "
                        "and sum their images/s")
    t = p.add_argument_group("measurement")
    t.add_argument("--min-time", type=float, default=DEFAULT_MIN_TIME,
                   help=f"seconds of timed calls per measurement (default {DEFAULT_MIN_TIME:g})")
    t.add_argument("--iterations", type=int, help="fixed number of timed calls")
    t.add_argument("--warmup", type=int, default=2, help="warm-up calls after the first")
    t.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds before a worker is killed (default {DEFAULT_TIMEOUT:g})")
    t.add_argument("--workdir", help="keep worker specs, results and stderr here")
    o = p.add_argument_group("output")
    o.add_argument("--results", default=DEFAULT_RESULTS, metavar="PATH",
                   help=f"JSON-lines file every run is appended to (default {DEFAULT_RESULTS}); "
                        "runs already in it are skipped")
    o.add_argument("--fresh", action="store_true",
                   help="run everything again even if the results file has it")
    o.add_argument("--json", metavar="PATH", help="the rows as JSON ('-' for stdout)")
    o.add_argument("--markdown", metavar="PATH", help="the table as Markdown")
    o.add_argument("--csv", metavar="PATH", help="the table as CSV")
    o.add_argument("--html", metavar="PATH", help="an HTML page with the table and bar charts")


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


def resolve_models(names: list[str], shape_text: str | None, reference_set: bool):
    from mxprof.jobs.compare.plan import ALIASES, REFERENCE_MODELS
    from mxprof.mx import models
    shape = None
    if shape_text:
        try:
            shape = models.parse_shape(shape_text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    wanted = [ALIASES.get(n.lower(), n) for n in names]
    if reference_set:
        wanted += [name for _, name, _ in REFERENCE_MODELS if name not in wanted]
    if not wanted:
        raise UsageError("give at least one MODEL, or --reference-set")
    try:
        return [models.resolve(n, shape=shape) for n in wanted]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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
    from mxprof.jobs.compare.instances import available_cpus, format_cpus, parse_cpus, split_cpus
    try:
        cpus = parse_cpus(args.cores)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    allowed = available_cpus()
    outside = sorted(set(cpus) - set(allowed))
    if outside:
        raise UsageError(f"--cores {args.cores}: CPUs {format_cpus(outside)} are not available "
                         f"to this process (allowed: {format_cpus(allowed)})")
    if args.instances == 1:
        return []
    try:
        return split_cpus(cpus, args.instances)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _log(message: str, end: str = "\n") -> None:
    print(message, file=sys.stderr, flush=True, end=end)


def run_planned(planned, log, *, timeout, workdir, on_record, total: int, done_before: int):
    """Run each planned run (one worker, or its instances at once) and hand its record over."""
    from pathlib import Path

    from mxprof.jobs.compare.instances import run_bound, run_instances
    from mxprof.jobs.compare.plan import make_record
    from mxprof.workers.builds import worker_env_for
    for i, run in enumerate(planned, start=done_before + 1):
        started = time.monotonic()
        log(f"[{i}/{total}] {run.label} ...", end="")
        rundir = Path(workdir) / run.key
        rundir.mkdir(parents=True, exist_ok=True)
        env = worker_env_for(run.build)
        try:
            if run.instance_cpus:
                results = run_instances(run.spec, run.instance_cpus, rundir, timeout=timeout,
                                        python=run.build.python, extra_env=env)
            else:
                results = run_bound([run.spec], rundir, timeout=timeout,
                                    python=run.build.python, extra_env=env)
        except KeyboardInterrupt:
            log(" interrupted: worker stopped, not recorded")
            raise
        record = make_record(run, results)
        on_record(record)
        status = record["status"]
        if status != "ok":
            bad = next(r for r in results if not r.ok)
            status = f"{status}: {bad.error}"
        log(f" {status} ({time.monotonic() - started:.1f} s)")







def run(args) -> int:
    import tempfile

    from mxprof.jobs.compare import plan as compare
    from mxprof.jobs.compare.instances import overlap_note
    from mxprof.jobs.compare.results_log import ResultsFileError, ResultsLog
    from mxprof.jobs.profile.spec import Protocol
    from mxprof.workers.environment import host_fingerprint
    batches = parse_batches(args.batch_size)
    if args.quick:
        batches = batches or [1, compare.QUICK_BATCH]
        if args.min_time == DEFAULT_MIN_TIME:
            args.min_time = compare.QUICK_MIN_TIME
    configs = _configs(args)
    if args.min_time <= 0 or (args.iterations is not None and args.iterations < 1) \
            or args.instances < 1 or (args.threads is not None and args.threads < 1):
        raise UsageError("--min-time must be > 0; --iterations, --instances, --threads >= 1")
    models = resolve_models(args.models, args.shape, args.reference_set)
    instance_cpus = _instance_cpus(args)
    try:
        log = ResultsLog(args.results)
    except (ResultsFileError, OSError) as exc:
        raise UsageError(f"cannot use --results {args.results}: {exc}") from None
    for w in log.warnings:
        _log(f"mxprof: warning: {w}")
    builds = resolve_builds(args, _log)
    machine = compare.machine_of(host_fingerprint().to_dict())
    protocol = Protocol(warmup=args.warmup, iterations=args.iterations, min_time=args.min_time,
                        **({"min_iterations": 3} if args.quick else {}))
    planned = compare.plan(models, builds, machine=machine, configs=configs, batch_sizes=batches,
                           protocol=protocol, threads=args.threads,
                           cpus=None if instance_cpus else args.cores, membind=args.membind,
                           instance_cpus=instance_cpus)
    done = set() if args.fresh else log.done
    todo = [p for p in planned if p.key not in done]
    if len(todo) < len(planned):
        _log(f"{len(planned) - len(todo)} of {len(planned)} runs already in {args.results}: "
             "skipped (--fresh runs them again)")
    notes = [f"results file: {args.results}"]
    if instance_cpus:
        notes.append(overlap_note(len(instance_cpus)) + "; instance CPUs "
                     + " | ".join(instance_cpus))
    for b in builds:
        if b.mkldnn is False:
            notes.append(f"build {b.name} (MXNet {b.mxnet}) has no MKL-DNN: w/o column only")
    # SIGTERM ends the sweep like Ctrl-C: the running worker is killed, finished runs are kept.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="mxprof-compare-") as tmp:
        run_planned(todo, _log, timeout=args.timeout, workdir=args.workdir or tmp,
                    on_record=log.append, total=len(planned),
                    done_before=len(planned) - len(todo))
    keys = {p.key for p in planned}
    report = build_report([r for r in log.records if r["key"] in keys], notes)
    write_outputs(args, report)
    display(args, report)
    failed = [r for r in report["rows"] if r["metric"] == "failed"]
    return 1 if failed else 0
