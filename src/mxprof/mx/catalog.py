"""Every model name mxprof knows, with its inputs and parameter counts, built without weights.

Contract:
- `known_names(sources)`: (name, source) pairs: the 34 Gluon vision names, GluonCV's zoo (minus
  the Gluon names it repeats), mxprof's own zoo.
- `describe(name, source)`: one record (dict) per model: inputs, trainable and total parameter
  values from symbolic shape inference at batch 1 (nothing allocated, nothing downloaded),
  where local pretrained weights were found, or the error that stopped the count (some GluonCV
  nets take inputs other than one image, e.g. video clips; they are listed, not counted).
- `catalog(names, sources, progress)`: the records of many models, in the order given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mxprof.mx import models, parameters, zoo

SOURCES = ("gluon", "gluoncv", "mxprof")


def known_names(sources: Sequence[str] = SOURCES) -> list[tuple[str, str]]:
    """(name, source) for every known model of `sources`, each name once."""
    out: list[tuple[str, str]] = []
    if "gluon" in sources:
        out += [(n, "gluon") for n in models.GLUON_VISION_MODELS]
    if "gluoncv" in sources:
        gluon = set(models.GLUON_VISION_MODELS)
        out += [(n, "gluoncv") for n in models.gluoncv_model_names() if n not in gluon]
    if "mxprof" in sources:
        out += [(n, "mxprof") for n in zoo.ZOO]
    return out


def describe(name: str, source: str, *, count: bool = True) -> dict[str, Any]:
    """The catalog record of one model (see the module docstring); never raises for a model
    that fails to build or trace: the record carries `error` instead of counts."""
    entry = zoo.ZOO.get(name) if source == "mxprof" else None
    if entry is not None:
        specs = entry.inputs
    else:
        specs = (models.image_input(models.default_input_shape(name)),)
    found = models.local_pretrained_file(name, source)
    record: dict[str, Any] = {
        "name": name, "source": source,
        "aliases": list(entry.aliases) if entry else [],
        "inputs": [s.to_dict() for s in specs],
        "inputs_text": "; ".join(s.describe() for s in specs),
        "trainable_params": None, "total_params": None,
        "pretrained_file": str(found) if found else None,
        "weights": "local pretrained" if found else "random (none found)",
        "paper": entry.paper if entry else None, "error": None,
    }
    if count:
        start = time.perf_counter()
        try:
            spec = models.ModelSpec(name=name, source=source, input_shape=specs[0].shape,
                                    inputs=tuple(specs) if entry else ())
            trainable, total = parameters.parameter_counts(models.build(spec), spec.input_specs)
            record.update(trainable_params=trainable, total_params=total)
        except Exception as exc:  # noqa: BLE001 (any zoo net may refuse symbolic tracing: list it anyway)
            record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        record["count_s"] = round(time.perf_counter() - start, 3)
    return record


def catalog(names: Iterable[tuple[str, str]], *, count: bool = True,
            progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Records for (name, source) pairs, in order; `progress(name)` before each one."""
    out = []
    for name, source in names:
        if progress:
            progress(name)
        out.append(describe(name, source, count=count))
    return out
