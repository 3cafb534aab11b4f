"""`python -m mxprof diff A.json B.json`: what changed between two profiles, and why.

Thin: arguments -> mxprof.jobs.diff.Options -> plan (reads and checks both files; bad input
exits 2 before anything is compared) -> run -> the renderers declared for the "diff" kind
(mxprof.render.outputs) -> exit status 0. `--load DIFF.json` re-renders a saved diff. Runs no
worker and imports no MXNet: it is instant.
"""

from __future__ import annotations

import argparse

from mxprof.commands import _job, _options
from mxprof.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mxprof.jobs.diff.plan import MATCHES, Options
    p.add_argument("a", nargs="?", metavar="A.json", help="the first profile (before)")
    p.add_argument("b", nargs="?", metavar="B.json", help="the second profile (after)")
    defaults = Options(a="", b="")
    p.add_argument("--match", choices=MATCHES, default=defaults.match,
                   help="pair layers by graph node name (default), or also by operator and "
                        "output shape where the names differ (two different models)")
    p.add_argument("--threshold", type=float, default=defaults.threshold, metavar="FRACTION",
                   help="a layer is significant only when its interval is wholly beyond this "
                        f"relative change (default {defaults.threshold:g})")
    p.add_argument("--floor", type=float, default=defaults.floor, metavar="FRACTION",
                   help="... and beyond this share of A's summed layer time (default "
                        f"{defaults.floor:g})")
    _options.add_outputs(p, "diff", dry_run=False)


def _check_outputs(args) -> None:
    from mxprof.render.outputs import formats_of
    inputs = {p for p in (args.a, args.b, args.load) if p}
    for f in formats_of("diff"):
        path = getattr(args, f.name, None)
        if path == "-" and not f.stdout:
            raise UsageError(f"--{f.name} needs a file name ('-' is not accepted)")
        if path in inputs:
            raise UsageError(f"--{f.name} {path}: that is an input file")
    # The one output check of every command (mxprof.files.check_replace, --force).
    _options.check_outputs(args, "diff", inputs=tuple(inputs))


def _result(args):
    from mxprof.jobs import diff
    if args.load:
        from mxprof.jobs.diff.records import DiffResult
        from mxprof.schema import decode
        data = _options.load_result("diff", args.load)
        return decode(data, DiffResult, source=args.load, what="diff")
    if not args.a or not args.b:
        raise UsageError("give two profile results: mxprof diff A.json B.json "
                         "(or --load DIFF.json)")
    options = diff.Options(a=args.a, b=args.b, match=args.match, threshold=args.threshold,
                           floor=args.floor)
    return diff.run(diff.plan(options))


def _show(result, out) -> None:
    from mxprof.render.diff import render_terminal
    out.write(render_terminal(result, color=out.isatty()))


def run(args) -> int:
    _check_outputs(args)
    return _job.finish(args, _result(args), "diff", _show)
