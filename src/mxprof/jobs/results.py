"""The result files of every command, as msgspec Structs: strict loading and published schemas.

One Struct per file a command writes with `--json` (schema 1, mxprof.schema.SCHEMA):
- `ProfileResult`   `mxprof profile --json`  (mxprof.jobs.profile.report.build_report)
- `FusionResult`    `mxprof fusion --json`   (mxprof.jobs.fusion.assemble)
- `AccuracyFile`    `mxprof accuracy --json` (mxprof.jobs.accuracy.records.AccuracyReport)
- `AccuracySweep`   `mxprof accuracy A B --json` (several models, --reference-set, --cluster)
- `RunLine`         one line of the accuracy sweep's results file (`--results`, JSON lines)
- `CompareFile`     `mxprof compare --json` (the CompareResult), whose rows are `CompareRow`
- `Int8Result`      `mxprof int8 --json`     (mxprof.jobs.int8.records)
- `ResultsLine`     one line of the compare results log (`--results`, JSON lines)
- `CeilingsResult`  `mxprof ceilings --json`
- `DiffResult`      `mxprof diff --json` (mxprof.jobs.diff)

Every file carries `kind`; `kind_of_file` tells the kind of older files that do not.

The jobs return these results as Structs (mxprof.jobs.contract.Result); loading (`load(kind, path)`, used by every `--load`)
decodes them through the Structs, so a file with a wrong type or a renamed required field is
refused with a message naming the field ("r.json: not an mxprof profile result: Expected
`float`, got `str` - at `$.runs[0].wall_s`"). Unknown keys are accepted (a newer writer may add
sections). The profile file's layers, primitives, roofline and findings are typed from their
records (mxprof.jobs.profile.sections, mxprof.onednn.findings.Finding); the sections still
free-form (operators, trace, coverage, threads, checks, try_fixes, fusion groups' spreads) are
typed as JSON objects.

`python -m mxprof.jobs.results --write-schemas schemas/` writes the JSON Schema of each file
(tests/test_schemas.py checks the committed ones equal what this module generates).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mxprof.files import LOADERS, decode_text, json_kind, read_input
from mxprof.jobs.accuracy.records import AccuracyFile
from mxprof.jobs.accuracy.sweep_records import AccuracySweep, RunLine
from mxprof.jobs.ceilings import CeilingsResult
from mxprof.jobs.compare.records import CompareFile, CompareRow, ResultsLine
from mxprof.jobs.diff.records import DiffResult
from mxprof.jobs.fusion.records import FusionResult
from mxprof.jobs.int8.records import Int8Result
from mxprof.jobs.profile import records as profile_records
from mxprof.jobs.profile.records import ProfileResult
from mxprof.schema import ResultFileError, decode, json_schema

FILES: dict[str, tuple[type, str]] = {
    "profile": (ProfileResult, "profile.schema.json"),
    "fusion": (FusionResult, "fusion.schema.json"),
    "accuracy": (AccuracyFile, "accuracy.schema.json"),
    "accuracy-sweep": (AccuracySweep, "accuracy-sweep.schema.json"),
    "accuracy-results-line": (RunLine, "accuracy-results-line.schema.json"),
    "compare": (CompareFile, "compare.schema.json"),
    "compare-row": (CompareRow, "compare-row.schema.json"),
    "compare-results-line": (ResultsLine, "compare-results-line.schema.json"),
    "ceilings": (CeilingsResult, "ceilings.schema.json"),
    "diff": (DiffResult, "diff.schema.json"),
    "int8": (Int8Result, "int8.schema.json"),
}


# Kinds as older files name them.
_OLD_KINDS = {"mxprof-compare": "compare"}


def kind_of_file(data: Any, *, source: str = "the file") -> str:
    """The kind of a saved result: its `kind` field. Files written before every result carried
    one (profile, accuracy) are told by the sections only that kind has; this is the one place
    that looks at keys, when a file is read (renderers take the kind from the record).
    Raises ResultFileError for what is no mxprof result."""
    if isinstance(data, dict):
        kind = data.get("kind")
        if isinstance(kind, str) and kind:
            return _OLD_KINDS.get(kind, kind)
        if "comparisons" in data and "configs" in data:
            return "accuracy"
        if "latency_ms" in data and "model" in data:
            return "profile"
    raise ResultFileError(f"{source}: not an mxprof result: no kind, and no profile or "
                          "accuracy sections")


def validate(kind: str, data: Any, *, source: str) -> Any:
    """`data` decoded as the `kind` file's Struct (see FILES); ResultFileError names the field."""
    if kind == "profile":
        return profile_records.validate(data, source=source)
    if kind == "accuracy" and isinstance(data, dict):
        from mxprof.jobs.accuracy.records import upgrade_file
        data = upgrade_file(data)  # latencies saved before the one statistics record
    return decode(data, FILES[kind][0], source=source, what=kind)


def load(kind: str, path: str | Path) -> dict[str, Any]:
    """Read and validate a saved `kind` result; the file's dict (what the renderers take).

    `path` "-" reads stdin. Raises InputFileError (a ValueError) when it is not a readable
    regular file or FIFO (mxprof.files.read_input: a device is never read), ResultFileError (a
    ValueError) when it is not strict JSON, is another mxprof kind ("r.json: not an mxprof
    profile result: it is an mxprof fusion file; mxprof fusion --load reads it") or not a valid
    `kind` result: "<path>: not an mxprof <kind> result: <why, naming the field>".
    """
    name = "stdin" if str(path) == "-" else path
    text = read_input(path, f"mxprof {kind} result", stdin=True)
    try:
        data = json.loads(decode_text(text), parse_constant=_refuse_constant)
    except ValueError as e:
        raise ResultFileError(f"{name}: not an mxprof {kind} result: not JSON ({e})") from None
    found = json_kind(data)
    lines = {"compare-results-line": "compare-results",
             "accuracy-results-line": "accuracy-results"}
    if found is not None and found != kind and lines.get(kind) != found:
        loader = LOADERS.get(found)
        raise ResultFileError(f"{name}: not an mxprof {kind} result: it is an mxprof {found} "
                              "file" + (f"; {loader} reads it" if loader else ""))
    validate(kind, data, source=str(name))
    return data


def _refuse_constant(name: str):
    # Python's json reads NaN and Infinity, which no strict reader (jq, JSON.parse) accepts
    # and no mxprof writer writes (mxprof.jsonio): a file holding one was edited.
    raise ValueError(f"{name} is not a JSON value (RFC 8259); a missing figure is null")


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every result file."""
    out = {}
    for kind, (struct, name) in FILES.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": f"mxprof {kind} result (schema 1)", **json_schema(struct)}
        out[name] = schema
    return out


def write_schemas(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mxprof.jobs.results",
                                 description="write the JSON Schema of every mxprof result file")
    ap.add_argument("--write-schemas", metavar="DIR", required=True)
    args = ap.parse_args(argv)
    for path in write_schemas(args.write_schemas):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
