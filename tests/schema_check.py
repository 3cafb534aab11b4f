"""Check a real output against its published JSON Schema (schemas/) and its Struct.

Used by the command tests on the files they just wrote, so an output key added or retyped
without regenerating schemas/ (python -m mxprof.jobs.results --write-schemas schemas/) fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from mxprof.jobs import results

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def assert_matches_schema(kind: str, data) -> None:
    schema = json.loads((SCHEMAS / results.FILES[kind][1]).read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    results.validate(kind, data, source=f"{kind} output")
