"""Check a user's model and its inputs in a child process, before any measuring worker starts:
`python -m mxprof.jobs.model_check SPEC RESULT` (the one worker protocol, mxprof.workers.protocol).

For a `FILE.py:FACTORY` or an exported `--symbol` model, what the model takes is only known by
running MXNet: the factory must be imported and called (it may declare its own inputs), and the
graph's shapes inferred. That runs here, in a child, because a user's file may do anything,
abort included, and a command's own process never imports MXNet.

Spec keys: model (ModelSpec dict), given ([name, shape with batch, dtype or null] per
`--input`), shape (the `--shape` per-sample sizes or null). Result: `error` (one line for the
user, or null), `inputs` (the InputSpec dicts to feed, in call order), `batch` (the `--input`
batch or null), `declared` (whether the model named its inputs). Shapes are checked by MXNet's
symbolic shape inference (`Symbol.infer_shape` at batch 1): nothing is allocated or initialised.
Token ids of an integer input that feeds an Embedding are drawn below its `input_dim`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from typing import Any

from mxprof.files import temp_dir
from mxprof.mx import inputs as model_inputs
from mxprof.mx import models


class _Unfit(ValueError):
    """The model and the inputs do not go together; the message is for the user."""


def mxnet_reason(exc: BaseException) -> str:
    """The line of an MXNetError that says what failed, without MXNet's C++ stack trace."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not re.match(r"^(\[bt\]|Stack trace|File \"|\d+:)", ln)]
    hit = next((ln for pattern in ("Check failed", "Error in operator", "Error")
                for ln in useful if pattern in ln), None)
    # MXNet's "[16:31:02] ../src/operator/nn/convolution.cc:151: " says nothing to the user.
    line = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", hit or (useful or lines or ["?"])[0])
    return line[:300]


ZOO_SOURCES = ("gluon", "gluoncv", "mxprof")


def _defaults(spec: models.ModelSpec, shape):
    """(block or None, default inputs, input names in call order, names declared?)."""
    if spec.source in ZOO_SOURCES:  # the parent fitted the shapes: its inputs are the ones
        block = models.build(spec)
        _check_params(spec, block)
        return block, spec.input_specs, [i.name for i in spec.input_specs], True
    if spec.source == "factory":
        block, declared = models.call_factory(spec.factory)
        if declared is None:
            return block, spec.input_specs, None, False
        if shape:
            if len(declared) != 1:
                raise _Unfit(f"{spec.factory} declares {len(declared)} inputs: give each with "
                             "--input, not --shape")
            fitted = models.fit_shape(tuple(shape), declared[0].shape,
                                      f"{spec.name}'s {declared[0].name}")
            declared = (dataclasses.replace(declared[0], shape=fitted),)
        return block, declared, [d.name for d in declared], True
    names = models.symbol_input_names(spec.symbol_path, spec.params_path)
    if shape and len(names) != 1:
        raise _Unfit(f"{spec.symbol_path} has {len(names)} inputs ({', '.join(names)}): give "
                     "each with --input, not --shape")
    return None, spec.inputs, names, True


def _check_params(spec: models.ModelSpec, block) -> None:
    """A zoo model's --params holds its weights (by Gluon's structural names, what
    `load_parameters` matches), or _Unfit saying what is missing."""
    if not spec.params_path:
        return
    from mxprof.mx.checks import param_names
    saved = param_names(spec.params_path)
    if saved is None:  # an old layout without names: load_parameters will tell
        return
    wanted = list(block._collect_params_with_prefix().keys())
    missing = [w for w in wanted if w not in set(saved)]
    if wanted and len(missing) == len(wanted):
        raise _Unfit(f"--params {spec.params_path} holds none of {spec.name}'s {len(wanted)} "
                     f"weights (the model wants e.g. {wanted[0]}, the file holds {len(saved)} "
                     f"others, e.g. {saved[0] if saved else 'nothing'}): the weights of "
                     "another model?")
    if missing:
        raise _Unfit(f"--params {spec.params_path} lacks {len(missing)} of {spec.name}'s "
                     f"{len(wanted)} weights (e.g. {missing[0]})")


def _symbol_of(spec: models.ModelSpec, block, names: list[str]):
    import mxnet as mx
    if block is None:
        return mx.sym.load(spec.symbol_path)
    out = block(*[mx.sym.var(n) for n in names])
    return mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out


def vocabularies(graph: dict) -> dict[str, int]:
    """Input name -> the smallest `input_dim` of the Embedding layers it feeds directly (a
    symbol JSON graph): token ids at or above it index past the table."""
    nodes = graph.get("nodes", ())
    out: dict[str, int] = {}
    for node in nodes:
        if node.get("op") != "Embedding" or not node.get("inputs"):
            continue
        source = nodes[node["inputs"][0][0]]
        dim = (node.get("attrs") or node.get("param") or {}).get("input_dim")
        if source.get("op") == "null" and dim is not None:
            out[source["name"]] = min(int(dim), out.get(source["name"], int(dim)))
    return out


def with_vocabularies(fed, graph: dict) -> tuple[model_inputs.InputSpec, ...]:
    """Token inputs drawn below the vocabulary of the Embedding they feed, when it is smaller
    than the guess (2**15 for an input nobody declared)."""
    vocab = vocabularies(graph)
    return tuple(dataclasses.replace(i, high=min(i.high, vocab[i.name]))
                 if i.distribution == "tokens" and i.name in vocab else i for i in fed)


def infer(spec: models.ModelSpec, block, fed: tuple[model_inputs.InputSpec, ...]):
    """The graph's JSON; raise _Unfit when MXNet cannot infer its shapes from `fed` at batch 1."""
    import mxnet as mx
    try:
        sym = _symbol_of(spec, block, [i.name for i in fed])
    except (TypeError, mx.base.MXNetError) as exc:  # a forward that takes another count
        raise _Unfit(f"{spec.name} cannot be called with the input(s) "
                     f"{', '.join(i.name for i in fed)}: {mxnet_reason(exc)}; give every input "
                     "with --input NAME:SHAPE[:DTYPE], in call order") from None
    graph_inputs = set(sym.list_inputs())
    absent = [i.name for i in fed if i.name not in graph_inputs]
    if absent:
        raise _Unfit(f"{spec.name} has no input {absent[0]!r}")
    try:
        arg_shapes, _, _ = sym.infer_shape(**{i.name: (1, *i.shape) for i in fed})
    except mx.base.MXNetError as exc:
        shapes = ", ".join(f"{i.name} {(1, *i.shape)}" for i in fed)
        raise _Unfit(f"the input shape(s) do not fit {spec.name} ({shapes}): "
                     f"{mxnet_reason(exc)}") from None
    if arg_shapes is None:
        raise _Unfit(f"{spec.name}: MXNet could not infer every shape from the input(s) "
                     f"{', '.join(i.name for i in fed)}: give every input with --input")
    return json.loads(sym.tojson())


def check(spec_dict: dict[str, Any]) -> dict[str, Any]:
    spec = models.ModelSpec.from_dict(spec_dict["model"])
    given = [(n, tuple(s), d) for n, s, d in spec_dict.get("given") or ()]
    try:
        block, defaults, names, declared = _defaults(spec, spec_dict.get("shape"))
        batch, fed = model_inputs.merge(defaults, given, names=names, open_names=not declared)
        graph = infer(spec, block, fed)
        fed = with_vocabularies(fed, graph)
    except (models.FactoryError, _Unfit, ValueError) as exc:
        return {"error": str(exc), "inputs": [], "batch": None, "declared": False}
    except Exception as exc:  # MXNet's errors while building a zoo network: the user's line
        if spec.source not in ZOO_SOURCES:
            raise
        return {"error": f"{spec.name}: {mxnet_reason(exc)}", "inputs": [], "batch": None,
                "declared": False}
    # The reference path of an RNN network differs (mxprof.mx.models.RNN_REFERENCE_ENV).
    rnn = any(n.get("op") in RNN_OPS for n in graph.get("nodes", ()))
    return {"error": None, "inputs": [i.to_dict() for i in fed], "batch": batch,
            "declared": declared, "rnn": rnn}


RNN_OPS = ("RNN",)


def run_check(spec: models.ModelSpec, given, shape: tuple[int, ...] | None = None, *,
              timeout: float = 300.0, rnn: list | None = None
              ) -> tuple[int | None, tuple[model_inputs.InputSpec, ...]]:
    """Parent side: check `spec` fed `given` (parsed `--input`s) in a child process; ->
    (the `--input` batch or None, the inputs to feed). Raises ValueError with the one line
    for the user: the factory or symbol and the inputs do not go together, or the check
    crashed (a factory that aborts the interpreter). `rnn`, when a list, gets whether the
    graph runs the RNN operator."""
    from pathlib import Path

    from mxprof.workers.process import worker_env
    from mxprof.workers.protocol import WorkerSpec, run_worker
    with temp_dir("check") as tmp:
        res = run_worker(WorkerSpec(
            module="mxprof.jobs.model_check", name="model-check",
            spec={"model": spec.to_dict(), "given": [list(g) for g in given],
                  "shape": list(shape) if shape else None},
            workdir=Path(tmp), env=worker_env(), timeout=timeout, tail_lines=6))
    if not res.ok or res.data is None:
        what = spec.factory or spec.symbol_path or spec.name
        raise ValueError(f"checking {what} failed: {res.error or 'no result'}")
    if res.data["error"]:
        raise ValueError(res.data["error"])
    fed = tuple(model_inputs.InputSpec.from_dict(d) for d in res.data["inputs"])
    if rnn is not None:  # the caller's out-parameter: whether the graph runs an RNN operator
        rnn.append(bool(res.data.get("rnn")))
    return res.data["batch"], fed


def check_zoo(spec: models.ModelSpec, *, timeout: float = 300.0) -> None:
    """`run_check(spec, [], None)` for a zoo model at the inputs it will be fed, remembered:
    a check that passed is not run again for the same spec (inputs, --params file by size and
    mtime), libmxnet file, GluonCV version and checking code, so the command a user repeats
    all day pays the child's MXNet import (1 s here) once. A failed check is never cached.
    Raises ValueError as `run_check`."""
    marker = _zoo_marker(spec)
    if marker is not None and _remembered(marker):
        return
    run_check(spec, [], None, timeout=timeout)
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # a read-only cache only costs the check next time


def _remembered(marker) -> bool:
    try:
        return marker.is_file()
    except OSError:  # a cache folder this user may not search (EACCES): check as uncached
        return False


def _zoo_marker(spec: models.ModelSpec):
    import hashlib
    import os
    from importlib import metadata
    from pathlib import Path

    from mxprof.cache import cache_root
    from mxprof.host.environment import libmxnet_identity
    lib = libmxnet_identity()
    if lib is None:
        return None
    parts = [lib, json.dumps(spec.to_dict(), sort_keys=True)]
    if spec.params_path:
        try:
            st = os.stat(spec.params_path)
        except OSError:
            return None
        parts.append(f"{st.st_size}|{st.st_mtime_ns}")
    if spec.source == "gluoncv":
        try:
            parts.append(metadata.version("gluoncv"))
        except metadata.PackageNotFoundError:
            return None
    # The checking code and the networks mxprof defines itself (mx/zoo): a change to either
    # checks again.
    here = Path(models.__file__).parent
    code = [Path(__file__), here / "models.py", here / "inputs.py", here / "checks.py",
            *sorted((here / "zoo").glob("*.py"))]
    for module in code:
        parts.append(hashlib.sha1(module.read_bytes()).hexdigest())
    key = hashlib.sha1("\n".join(parts).encode()).hexdigest()[:20]
    return cache_root() / "model-checks" / f"{key}.ok"


def main(argv: list[str]) -> int:
    import warnings

    from mxprof.workers.protocol import worker_main
    warnings.simplefilter("ignore")  # mxnet/gluon deprecation chatter on every import
    return worker_main(check, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
