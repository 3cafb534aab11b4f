"""`python -m mxprof merge FILES...`: results files from several machines, one table.

Reads compare results files (JSON lines), keeps the latest record per run key across all of
them, and prints the reference layout with one column group per machine (and per build when
builds differ). The same outputs as `compare`: --json, --markdown, --csv, --html.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="results files written by compare")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="the rows as JSON ('-' for stdout)")
    o.add_argument("--markdown", metavar="PATH", help="the table as Markdown")
    o.add_argument("--csv", metavar="PATH", help="the table as CSV")
    o.add_argument("--html", metavar="PATH", help="an HTML page with the table and bar charts")
    o.add_argument("--pyperf", metavar="PATH",
                   help="the timings as a pyperf benchmark suite (python -m pyperf stats PATH)")


def run(args) -> int:
    from mxprof.commands._compare_output import display, write_outputs
    from mxprof.jobs.compare.plan import build_report
    from mxprof.jobs.compare.results_log import ResultsFileError, read_lines
    records = []
    for path in args.files:
        try:
            found, warnings = read_lines(path)
        except (OSError, ResultsFileError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        for w in warnings:
            print(f"mxprof: warning: {w}", file=sys.stderr)
        records += found
    if not records:
        raise UsageError("no finished runs in " + ", ".join(args.files))
    report = build_report(records, [f"merged from {', '.join(args.files)}"])
    write_outputs(args, report)
    display(args, report)
    return 0
