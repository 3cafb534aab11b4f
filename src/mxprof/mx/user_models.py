"""A user's own model: `FILE.py:FACTORY` (a function returning a Gluon HybridBlock) and an
exported symbol's inputs. Used by `mxprof.mx.models`, which resolves and builds every source.

- `is_factory(text)`: whether MODEL is `FILE.py:FACTORY`.
- `call_factory("FILE.py:FACTORY")` -> (block, declared inputs or None): imports the file and
  calls the function; it may return the block, or (block, inputs) with each input an
  `mxprof.mx.inputs.InputSpec` or the `--input` text NAME:SHAPE[:DTYPE]. Imports MXNet.
- `symbol_input_names(symbol, params)`: an exported graph's inputs, without MXNet.
"""

from __future__ import annotations

import json


def is_factory(model: str) -> bool:
    """`FILE.py:FACTORY`: a Python file and a function in it returning a HybridBlock."""
    return ":" in model and model.split(":", 1)[0].endswith(".py")


def call_factory(factory: str):
    """Import FILE.py and call FACTORY(): -> (block, declared inputs or None).

    The factory returns a HybridBlock, or (block, inputs) with inputs a sequence of InputSpec
    or `--input` texts NAME:SHAPE[:DTYPE] (batch first). Raises FactoryError naming the file
    and what went wrong (the factory's own exception is its cause).
    """
    import importlib.util

    import mxnet as mx

    from mxprof.mx.inputs import input_from
    file, func = factory.rsplit(":", 1)
    try:
        module_spec = importlib.util.spec_from_file_location("mxprof_user_model", file)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except Exception as exc:  # any error in the user's file is reported as theirs
        raise FactoryError(f"{file}: importing it raised {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(module, func, None)):
        raise FactoryError(f"{file} has no function {func!r}")
    try:
        made = getattr(module, func)()
    except Exception as exc:
        raise FactoryError(f"{factory}: {func}() raised {type(exc).__name__}: {exc}") from exc
    block, declared = (made if isinstance(made, tuple) and len(made) == 2 else (made, None))
    if not isinstance(block, mx.gluon.HybridBlock):
        raise FactoryError(f"{factory}: {func}() returned {type(block).__name__}, not a Gluon "
                           "HybridBlock (or a (HybridBlock, inputs) pair)")
    try:
        declared = None if declared is None else tuple(input_from(d) for d in declared)
    except (TypeError, ValueError) as exc:
        raise FactoryError(f"{factory}: its declared inputs: {exc}") from None
    return block, declared


class FactoryError(ValueError):
    """A `FILE.py:FACTORY` that cannot give a HybridBlock; the message names the file."""


# Variable names that Gluon's layers give their weights (`prefix_weight`, BatchNorm's running
# statistics, RNN's fused `_parameters`...): without a .params file they tell weights from inputs.
_PARAM_SUFFIXES = ("_weight", "_bias", "_gamma", "_beta", "_moving_mean", "_moving_var",
                   "_running_mean", "_running_var", "_alpha", "_parameters", "_scale")


def symbol_input_names(symbol_path: str, params_path: str | None = None) -> list[str]:
    """Graph inputs of an exported model, in the graph's order: the symbol JSON's variable
    (`arg_nodes`) names that the params file does not hold (header read without MXNet).
    Without a params file, the variables whose names are not Gluon weight names. Raises
    ValueError (mxprof.mx.checks.ModelFileError) for an unreadable file."""
    from mxprof.mx.checks import ModelFileError, param_names
    try:
        with open(symbol_path, encoding="utf-8") as f:
            graph = json.load(f)
        variables = [graph["nodes"][i]["name"] for i in graph["arg_nodes"]]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelFileError(f"{symbol_path}: cannot read its inputs ({exc})") from None
    saved = param_names(params_path) if params_path else None
    if saved is None:
        inputs = [v for v in variables if not v.endswith(_PARAM_SUFFIXES)]
    else:
        inputs = [v for v in variables if v not in set(saved)]
        weights = [v for v in variables if v.endswith(_PARAM_SUFFIXES)]
        if weights and len(inputs) > len(variables) - len(weights):
            # Every weight-named variable left as an "input": the file is another model's.
            held = set(saved) & set(weights)
            if not held:
                raise ModelFileError(
                    f"--params {params_path} holds none of the symbol's {len(weights)} "
                    f"weights (the symbol wants e.g. {weights[0]}, the file holds "
                    f"{len(saved)} others, e.g. {saved[0] if saved else 'nothing'}): the "
                    "weights of another model?")
    return inputs or variables[:1]
