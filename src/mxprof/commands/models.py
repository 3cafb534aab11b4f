"""`python -m mxprof models [NAME...]`: every model name mxprof knows, with its inputs,
trainable and total parameter counts (built without weights, by shape inference), source and
whether local pretrained weights were found. `--json PATH` (or `-`) writes the records."""

from __future__ import annotations

import argparse
import json
import sys

from mxprof.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="models to show (zoo names or the reference table's spellings); "
                             "default: every known name of --source")
    parser.add_argument("--source", default="gluon,gluoncv,mxprof", metavar="LIST",
                        help="zoos to list: gluon,gluoncv,mxprof (default all; GluonCV's "
                             "several hundred names take a few minutes to count)")
    parser.add_argument("--no-count", action="store_true",
                        help="list names and inputs only, without building the networks")
    parser.add_argument("--json", metavar="PATH",
                        help="write the records as JSON to PATH ('-' for stdout)")
    from mxprof.commands._options import add_force
    add_force(parser)


def _selection(args) -> list[tuple[str, str]]:
    from mxprof.mx import catalog, models

    if args.names:
        out = []
        for name in args.names:
            try:
                spec = models.resolve(name)
            except models.UnknownModel as exc:
                raise UsageError(str(exc)) from None
            if spec.source == "symbol":
                raise UsageError(f"{name}: not a zoo model")
            out.append((spec.name, spec.source))
        return out
    sources = [s.strip() for s in args.source.split(",") if s.strip()]
    bad = [s for s in sources if s not in catalog.SOURCES]
    if bad or not sources:
        raise UsageError(f"--source takes {','.join(catalog.SOURCES)}, not {args.source!r}")
    return catalog.known_names(sources)


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def format_table(records):
    """A rich Table of the records (one row per model)."""
    from rich.table import Table

    from mxprof.mx.inputs import InputSpec

    table = Table(title=f"{len(records)} models (parameters counted without weights)")
    for column, justify in (("name", "left"), ("source", "left"), ("input(s)", "left"),
                            ("trainable", "right"), ("total", "right"), ("weights", "left")):
        # Counts are never split across lines (a pipe gives rich 80 columns).
        table.add_column(column, justify=justify, overflow="fold",
                         no_wrap=column == "name" or justify == "right")
    for r in records:
        inputs = "; ".join(InputSpec.from_dict(i).short() for i in r["inputs"])
        weights = "local" if r["pretrained_file"] else "random"
        if r["error"]:
            weights = f"not counted: {r['error']}"
        table.add_row(r["name"], r["source"], inputs, _count(r["trainable_params"]),
                      _count(r["total_params"]), weights)
    return table


def run(args) -> int:
    from rich.console import Console

    from mxprof.commands._files import stdout_to_stderr
    from mxprof.commands._options import check_output_path
    from mxprof.files import OutputFileError, check_replace
    from mxprof.mx import catalog

    try:  # the one output check (mxprof.files): never over a file that is not a models JSON
        check_replace("--json", args.json, "json", "models", force=args.force)
    except OutputFileError as exc:
        raise UsageError(str(exc)) from None
    check_output_path("--json", args.json)
    selection = _selection(args)
    err = Console(stderr=True)
    # MXNet prints (infer_shape errors from Python, others from C) while the networks are
    # built: stdout carries only the table or the JSON.
    with stdout_to_stderr():
        if err.is_terminal:
            with err.status("counting parameters...") as status:
                records = catalog.catalog(selection, count=not args.no_count,
                                          progress=lambda n: status.update(f"counting {n}..."))
        else:
            records = catalog.catalog(selection, count=not args.no_count)
    doc = {"schema": 1, "kind": "mxprof-models", "models": records}
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=1)
        print()
        return 0
    if args.json:
        try:
            from mxprof.jsonio import write_json
            write_json(args.json, doc)
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc}") from None
    from mxprof.render.table_model import print_wide
    print_wide(Console(), format_table(records))  # a pipe's 80 columns never split a count
    return 0
