"""The one record model: msgspec Structs, one schema version, loading that names the wrong field.

Every record that crosses a process boundary or is saved as a result file is a `Record` (a
frozen `msgspec.Struct`): msgspec encodes it, decodes it strictly (a wrong type or a missing
field is an error whose message names the field path, e.g. "Expected `float`, got `str` - at
`$.runs[0].wall_s`") and generates its JSON Schema (`schemas/` at the repository root, written
by `python -m mxprof.jobs.results --write-schemas schemas/`). Files are written by the one
atomic writer, mxprof.jsonio.

SCHEMA is the version of every mxprof JSON file; bump it only with a loader for the older one.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import msgspec

SCHEMA = 1

T = TypeVar("T")


class Record(msgspec.Struct, frozen=True):
    """Base of the immutable records: `to_dict()` gives JSON-ready builtins (tuples as lists)."""

    def to_dict(self) -> dict[str, Any]:
        # Through JSON rather than msgspec.to_builtins, which keeps tuples: callers and files
        # see lists, as json.load gives them, and a NaN becomes None as in the written file.
        return msgspec.json.decode(msgspec.json.encode(self, enc_hook=_plain))

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        """Validate `data` into this record; msgspec.ValidationError names the wrong field."""
        # str_keys: `data` is JSON, whose keys are strings: an int-keyed dict field (NUMA node
        # -> CPUs) reads "0" as 0, as msgspec's own JSON decoder would.
        return msgspec.convert(data, cls, str_keys=True)


def _plain(obj: Any) -> Any:
    """What msgspec cannot encode itself, inside the free-form dicts of a record: numpy scalars
    and arrays (as numbers and lists, like mxprof.jsonio.strict) and paths."""
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise NotImplementedError(f"not JSON serialisable: {type(obj).__name__}")


class ResultFileError(ValueError):
    """A file that is not a valid mxprof result of the expected kind; the message names why."""


def decode(data: Any, kind: type[T], *, source: str, what: str) -> T:
    """`data` (JSON builtins) validated as `kind`; ResultFileError names `source` and the field.

    Message: "<source>: not an mxprof <what> result: <msgspec's message with the field path>".
    A `schema` other than SCHEMA is refused by name (no loader for another version exists).
    """
    if isinstance(data, dict) and "schema" in data and data["schema"] != SCHEMA:
        raise ResultFileError(f"{source}: not an mxprof {what} result: schema "
                              f"{data['schema']!r}, this mxprof reads schema {SCHEMA}")
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as e:
        raise ResultFileError(f"{source}: not an mxprof {what} result: {e}") from None


def json_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `kind`, as msgspec generates it."""
    return msgspec.json.schema(kind)
