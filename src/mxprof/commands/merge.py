"""`python -m mxprof merge FILES...`: results files from several machines, one table.

Reads compare results files (JSON lines), keeps the latest record per run key across all of
them, and prints the reference layout with one column group per machine (and per build when
builds differ). The same outputs as `compare`: --json, --markdown, --csv, --html.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mxprof.commands._options import add_outputs
    p.add_argument("files", nargs="+", metavar="FILE", help="results files written by compare")
    add_outputs(p, "compare", load=False, dry_run=False)  # merge writes compare's kind


def run(args) -> int:
    from mxprof.commands import _job
    from mxprof.commands._compare_output import display
    from mxprof.commands._options import check_outputs
    from mxprof.jobs.compare import merge
    check_outputs(args, "compare", inputs=tuple(args.files))
    if args.html:
        from mxprof.errors import require_extra
        require_extra("merge --html", "plot")
    result = merge(args.files, on_warning=lambda w: print(f"mxprof: warning: {w}",
                                                          file=sys.stderr))
    return _job.finish(args, result, "compare", display)
