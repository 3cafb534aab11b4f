"""`mxprof diff`'s options and plan: the two files read and checked before anything is compared.

`plan(options)` reads both files, names the kind of each (a profile result; the other result
kinds are refused by name), validates them as profile results (mxprof.jobs.results) and checks
they can be compared: two files of different kinds, or two different models without
`match="shape"`, raise UsageError (the command's exit status 2). The plan has no steps: diff
runs no worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from mxprof.errors import UsageError
from mxprof.jobs.contract import Plan

MATCHES = ("name", "shape")
SUPPORTED = ("profile",)


class Options(msgspec.Struct, kw_only=True):
    """What to diff: files A (before) and B (after); layers matched by `match` ("name", or
    "shape": names first, then operator and output shape); `threshold` the relative change and
    `floor` the share of A's summed layer time below which a layer's change does not count as
    significant (mxprof.jobs.diff.layers)."""

    a: str
    b: str
    match: str = "name"
    threshold: float = 0.05
    floor: float = 0.01


class DiffPlan(Plan, kw_only=True):
    options: Options
    a: dict[str, Any]
    b: dict[str, Any]


def kind_of(data: Any) -> str:
    """The result kind of a decoded mxprof file: profile, fusion, accuracy, compare, or
    "unknown" (profile and accuracy files predate the `kind` key)."""
    if not isinstance(data, dict):
        return "unknown"
    kind = data.get("kind")
    if isinstance(kind, str):
        return "compare" if kind == "mxprof-compare" else kind
    if str(data.get("tool", "")).endswith(" profile"):
        return "profile"
    if "tolerance" in data and "model" in data:
        return "accuracy"
    return "unknown"


def _read(path: str) -> Any:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not an mxprof result: not JSON ({exc})") from None


def _check_options(o: Options) -> None:
    if o.match not in MATCHES:
        raise UsageError(f"--match {o.match}: choose from {', '.join(MATCHES)}")
    if not 0 <= o.threshold < 10:
        raise UsageError(f"--threshold must be between 0 and 10 (a fraction), got {o.threshold}")
    if not 0 <= o.floor < 1:
        raise UsageError(f"--floor must be between 0 and 1 (a fraction), got {o.floor}")


def plan(options: Options, *, loaded: tuple[Any, Any] | None = None) -> DiffPlan:
    """Both files read and checked; UsageError (exit 2) names the file and what is wrong.
    `loaded`: the two results already decoded (the notebook API's in-memory reports); the
    paths then only label them."""
    from mxprof.jobs.results import validate
    from mxprof.schema import ResultFileError
    _check_options(options)
    if loaded is not None:
        data = {"a": loaded[0], "b": loaded[1]}
    else:
        data = {side: _read(path) for side, path in (("a", options.a), ("b", options.b))}
    kinds = {side: kind_of(d) for side, d in data.items()}
    if kinds["a"] != kinds["b"]:
        raise UsageError(f"{options.a} is a {kinds['a']} result and {options.b} a {kinds['b']} "
                         "result: diff compares two files of one kind")
    if kinds["a"] not in SUPPORTED:
        raise UsageError(f"{options.a}, {options.b}: diff compares profile results "
                         f"(`mxprof profile --json`), not {kinds['a']} results")
    for side, path in (("a", options.a), ("b", options.b)):
        try:
            validate("profile", data[side], source=path)
        except ResultFileError as exc:
            raise UsageError(str(exc)) from None
    name_a, name_b = data["a"]["model"]["name"], data["b"]["model"]["name"]
    # FILE.py:FACTORY models are named by file and factory (c12.py:fc); two factories of one
    # file are variants of one network (before/after a change), so the file decides here.
    if _family(name_a) != _family(name_b) and options.match != "shape":
        raise UsageError(f"{options.a} profiles {name_a} and {options.b} profiles {name_b}: "
                         "layers of different models are matched only with --match shape "
                         "(by operator and output shape where the names differ)")
    notes = []
    if name_a != name_b:
        notes.append(f"different models ({name_a} vs {name_b}): layers matched by name, then "
                     "by operator and output shape in execution order")
    return DiffPlan(kind="diff", options=options, a=data["a"], b=data["b"], notes=notes)


def _family(name: str) -> str:
    """A model name without its factory (`net.py:build` -> `net.py`); zoo names as they are."""
    file, sep, _ = name.rpartition(":")
    return file if sep and file.endswith(".py") else name
