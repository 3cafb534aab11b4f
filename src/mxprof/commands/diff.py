"""`python -m mxprof diff A.json B.json`: what changed between two profiles, and why.

Thin: arguments -> mxprof.jobs.diff.Options -> plan (reads and checks both files; bad input
exits 2 before anything is compared) -> run -> the renderers declared for the "diff" kind
(mxprof.render.outputs) -> exit status 0. `--load DIFF.json` re-renders a saved diff. Runs no
worker and imports no MXNet: it is instant.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _options
from mxprof.errors import EXIT_OK, EXIT_USAGE, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mxprof.jobs.diff.plan import MATCHES, Options
    from mxprof.render.outputs import formats_of
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
    g = p.add_argument_group("output")
    for f in formats_of("diff"):
        g.add_argument(f"--{f.name}", metavar="PATH", help=f.help)
    g.add_argument("--load", metavar="DIFF", help="re-render a saved diff --json result")
    _options.add_force(g)


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


def run(args) -> int:
    from mxprof.render.diff import render_terminal
    from mxprof.render.outputs import formats_of
    _check_outputs(args)
    result = _result(args)
    errors = []
    for f in formats_of("diff"):
        path = getattr(args, f.name, None)
        if path == "-":
            sys.stdout.write(_as_text(f.name, result))
        elif path:
            try:
                f.load_writer()(result, path)
            except OSError as exc:
                errors.append(f"cannot write --{f.name} {path}: {exc.strerror or exc}")
    out = sys.stderr if "-" in (getattr(args, f.name, None) for f in formats_of("diff")) \
        else sys.stdout
    out.write(render_terminal(result, color=out.isatty()))
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK


def _as_text(name: str, result) -> str:
    if name == "json":
        from mxprof.render.json_ import JsonRenderer
        return JsonRenderer().render(result.to_dict())
    from mxprof.render.diff import render_markdown
    return render_markdown(result)
