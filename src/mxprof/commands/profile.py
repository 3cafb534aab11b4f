"""`python -m mxprof profile MODEL`: where the inference time of one model goes.

A thin command on the profile job (mxprof.jobs.profile: plan.py, run.py): arguments ->
`Options` -> `plan` (checked before any worker; `--dry-run` prints it) -> `run` with the
progress display consuming its events and `--json` rewritten after every worker (partial
results) -> the files declared for the "profile" kind (mxprof.render.outputs) and the terminal
tables -> exit status (0 ok, 1 a worker or check failed, 2 bad input or an unwritable file).
`--load RESULT.json` re-renders a saved result without running anything.
"""

from __future__ import annotations

import argparse
import os
import sys

from mxprof.commands import _job, _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

# The job's own lists and defaults: the command repeats none of them.
from mxprof.jobs.profile.plan import CHECKS as ALL_CHECKS
from mxprof.jobs.profile.plan import DEFAULT_BATCH
from mxprof.jobs.profile.plan import PASSES as ALL_PASSES


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
    m.add_argument("--python", action="append", default=[], metavar="NAME=PATH",
                   help="profile the MXNet of this interpreter (a venv with another build) "
                        "instead of this one's; `mxprof diff` then compares the files")
    m.add_argument("--build", action="append", default=[], metavar="NAME=PIP_SPEC",
                   help="profile this pip-installable MXNet build (e.g. mkl16=mxnet-mkl==1.6.0), "
                        "in a venv made once and cached")
    _options.add_binding(p)
    _options.add_protocol(p)
    _options.add_outputs(p, "profile")
    # Test-only fault injection: CONFIG:PASS:HOOK, HOOK in abort|hang|raise (see mxprof.jobs.profile.spec).
    p.add_argument("--test-hook", action="append", default=[], help=argparse.SUPPRESS)
    # Every pass in a process of its own (bench/processes_cost.py measures what sharing saves).
    p.add_argument("--no-share", action="store_true", help=argparse.SUPPRESS)
    # The process layout before issue 24 (checks in workers of their own, every worker builds
    # its own weights): bench/profile_wall.py measures both in one run.
    p.add_argument("--layout", choices=("shared", "legacy"), default="shared",
                   help=argparse.SUPPRESS)


def _list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip() and p.strip() != "none")


def _hooks(texts: list[str]) -> dict[str, str]:
    """--test-hook CONFIG:PASS:HOOK (checked by the plan)."""
    return {h.rpartition(":")[0]: h.rpartition(":")[2] for h in texts}


def options_of(args):
    """The job's Options from the parsed arguments (the model resolved and checked here)."""
    from mxprof.jobs.profile.plan import Options
    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name, --symbol FILE, or --load RESULT.json")
    model, batch = _options.model_of(args, args.model)
    return Options(
        model=model, batch_size=args.batch_size or batch, warmup=args.warmup,
        iterations=args.iterations, min_time=args.min_time, processes=args.processes,
        fast=args.fast, rigorous=args.rigorous, passes=_list(args.passes),
        reference=not args.no_reference, checks=_list(args.checks),
        diagnosis=not args.no_diagnosis, try_fixes=args.try_fixes,
        refresh_ceilings=args.refresh_ceilings, reference_protocol=args.reference_protocol,
        physical_only=args.physical_only, timeout=args.timeout, **_job.binding(args),
        workdir=args.workdir, share=not args.no_share, layout=args.layout,
        hooks=_hooks(args.test_hook), breakdown_batch=args.breakdown_batch,
        python=_other_build(args, make=not args.dry_run))


def _other_build(args, *, make: bool = True) -> str | None:
    """The interpreter of --python NAME=PATH or --build NAME=PIP_SPEC (one per profile: run
    profile once per build, then `mxprof diff` the files), checked like compare's; None for
    this interpreter's MXNet, or when not `make` (a dry run: the flags parsed, nothing made)."""
    if not args.python and not args.build:
        return None
    if len(args.python) + len(args.build) > 1:
        raise UsageError("profile takes one --python or --build (one build per profile file); "
                         "run profile once per build and compare the files with mxprof diff")
    from mxprof.host import builds
    try:
        if not make:
            _ = builds.parse_python(args.python[0]) if args.python else \
                builds.parse_build(args.build[0])
            return None
        if args.python:
            build = builds.parse_python(args.python[0])
        else:
            name, spec = builds.parse_build(args.build[0])
            build = builds.ensure_venv(name, spec, log=lambda m: print(f"mxprof: {m}",
                                                                       file=sys.stderr))
        build = builds.probe(build)
    except builds.BuildError as exc:
        raise UsageError(str(exc)) from None
    print(f"mxprof: profiling build {build.name}: MXNet {build.mxnet} ({build.python}); the "
          "companion checks are skipped (they would run this interpreter's MXNet)",
          file=sys.stderr)
    return build.python


def _check_inputs(args) -> None:
    """What the plan cannot see: files and folders (exit status 2 before any worker)."""
    _options.check_counts(args)
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args, "profile", inputs=(args.symbol, args.params))
    _options.check_workdir(args.workdir)
    require_extra("profile", "mxnet")


def _show(result, out) -> None:
    from mxprof.jobs.profile.report import summary_line
    from mxprof.render import get_renderer
    from mxprof.render.base import as_dict
    report = as_dict(result)
    try:
        out.write(get_renderer("terminal", color=out.isatty()).render(report))
        print(file=out)
        print(summary_line(report), file=out, flush=True)
    except BrokenPipeError:  # `| head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _workers(plan) -> int:
    return plan.workers + len(plan.check_steps)


def run(args) -> int:
    from mxprof.jobs.profile.plan import plan
    from mxprof.jobs.profile.records import ProfileResult
    from mxprof.jobs.profile.run import run as run_job
    if args.load:
        result = _job.load(args, "profile", ProfileResult.from_report)
        return _job.finish(args, result, "profile", _show)
    _check_inputs(args)
    # --json rewritten after every worker (not '-': stdout is final), without a line each time.
    result = _job.plan_and_run("profile", plan, run_job, options_of(args), args, total=_workers,
                               on_partial=_job.partial(args, say=False))
    if result is None:
        return EXIT_OK  # --dry-run
    if result.cost is not None:
        from mxprof.jobs.profile.cost import cost_lines
        for line in cost_lines(result.cost.to_dict()):
            print(f"mxprof: {line}", file=sys.stderr)
    return _job.finish(args, result, "profile", _show) or (
        EXIT_FAILED if result.failed else EXIT_OK)
