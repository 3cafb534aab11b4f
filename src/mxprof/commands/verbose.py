"""`mxprof verbose`: read oneDNN / MKL-DNN verbose logs of any generation.

    python -m mxprof verbose summary LOG [--by kind,impl] [--top N] [--json PATH|-] [--show-rejected]
    python -m mxprof verbose run [-o LOG] [--level 1|2] -- CMD ...

`summary` prints where the primitive time went (exec lines), creation cost (by kind and
implementation; the larger of exec and creation first), graph-API partitions, the reorder share,
GFLOP/s of convolution / inner product / matmul, and every rejected line with its reason. `run`
runs a command with verbose output switched on for every generation (MKLDNN_/DNNL_/
ONEDNN_VERBOSE and timestamps), writes the log, and prints the summary.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="verbose_command", metavar="ACTION", required=True)
    summary = sub.add_parser("summary", help="summarize a verbose log (exec time by kind, ...)")
    summary.add_argument("log", help="log file with oneDNN/MKL-DNN verbose lines")
    _summary_options(summary)
    run = sub.add_parser("run", help="run CMD with verbose output on, save the log, summarize")
    run.add_argument("-o", "--output", default="onednn_verbose.log",
                     help="where to write the log (default: %(default)s)")
    run.add_argument("--level", default="1", choices=("1", "2"),
                     help="1: exec lines; 2: also creation lines (default: %(default)s)")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    _summary_options(run)


def _summary_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default="kind",
                   help="group by any of kind,impl,shape,prop_kind (comma separated; "
                        "default: %(default)s)")
    from mxprof.commands._options import count
    p.add_argument("--top", type=count, default=20, metavar="N",
                   help="rows to show per table (default: 20)")
    from mxprof.render.verbose import REJECTED_SHOWN
    p.add_argument("--show-rejected", action="store_true",
                   help=f"list every rejected line (default: the first {REJECTED_SHOWN})")
    # --json PATH as every command ('-': stdout, instead of the tables). Never an optional
    # PATH: `summary --json a.log b.log` would write over a.log; the old bare switch still
    # means stdout where it cannot swallow a path (mxprof.commands._outputs.legacy_json).
    from mxprof.commands._options import add_outputs
    add_outputs(p, "verbose-summary", load=False, dry_run=False)


def run(args: argparse.Namespace) -> int:
    if args.verbose_command == "run":
        return _run_command(args)
    return _summarize(args.log, args)


def _check_json(args: argparse.Namespace, log: str) -> None:
    from mxprof.commands._options import check_outputs
    check_outputs(args, "verbose-summary", inputs=(log,))


def _summarize(path: str, args: argparse.Namespace, captured_here: bool = False) -> int:
    from mxprof.commands._options import write_outputs
    from mxprof.files import InputFileError, check_input
    _check_json(args, path)
    try:
        check_input(path, "verbose log", stream=True)
    except InputFileError as exc:
        raise UsageError(str(exc)) from None
    from mxprof.onednn import verbose  # pandas: only once the input looks usable
    try:
        log = verbose.require_verbose(verbose.parse(path), path)
        summary = log.summary(args.by)
        by = [b.strip() for b in args.by.split(",")]
        create_by = by if {"impl", "implementation"} & set(by) else [*by, "impl"]
        create_summary = log.summary(create_by, operation="create")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc}") from None
    from mxprof.jobs.verbose import machine as this_machine
    from mxprof.render.verbose import format_summary
    machine = this_machine() if captured_here else None
    out = {"kind": "mxprof-verbose-summary", "schema": 1, **log.totals(), "header": log.header,
           "stats": log.stats.to_dict(), "path": path, "machine": machine}
    if args.json == "-":
        write_outputs(args, out, "verbose-summary")
        return 0
    print("\n".join(format_summary(log, summary, args.by, args.top, path, create_summary,
                                    args.show_rejected, machine=machine)))
    for error in write_outputs(args, out, "verbose-summary"):
        print(f"mxprof: error: {error}", file=sys.stderr)
        return 2
    return 0


def _run_command(args: argparse.Namespace) -> int:
    """`verbose run`: the command's verbose log captured (mxprof.jobs.verbose), then its
    summary; the command's exit status when it failed, else the summary's."""
    from mxprof.jobs.verbose import capture, open_log
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        raise UsageError("verbose run needs a command: mxprof verbose run -- python script.py")
    _check_json(args, args.output)
    log = open_log(args.output, force=args.force)
    code, written = capture(cmd, log, args.level, echo=sys.stdout.buffer,
                            on_event=lambda note: print(f"mxprof: {note.text}",
                                                        file=sys.stderr))
    if not written:
        return code
    print(f"mxprof: wrote {args.output} (command exit status {code})", file=sys.stderr)
    status = _summarize(args.output, args, captured_here=True)
    return code if code else status
