"""What a notebook user passes as `model`, turned into what the workers take.

A zoo name (`"resnet18_v1"`) resolves through `mxprof.mx.models`. A Gluon `HybridBlock` is
hybridized, called once on a zero input of the requested shape, and exported to a temporary
`NAME-symbol.json` / `NAME-0000.params` pair, so the workers load it in their own processes
exactly like `--symbol/--params` from the command line (same isolation, same figures). For the
fusion job, whose workers build a block from `FILE.py:FACTORY`, a small factory file that
imports the exported pair is written beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mxprof.files import temp_dir
from mxprof.mx import models
from mxprof.mx.models import ModelSpec


@dataclass
class ModelSource:
    """The model for the workers: a ModelSpec, and the temporary folder that holds an export
    (removed by `cleanup()`)."""

    spec: ModelSpec
    factory: str | None = None  # FILE.py:build for the fusion workers, for an exported block
    _tmp: Any = field(default=None, repr=False)

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ModelSource:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def input_shape(inputs: Any, shape: Any) -> tuple[int, ...] | None:
    """The per-sample shape (C,H,W): from `shape` (C,H,W, N,C,H,W or "3,224,224"), else from
    `inputs` (an array with a batch axis, or a shape tuple with one). None: the model's own."""
    if shape is not None:
        dims = models.parse_shape(shape) if isinstance(shape, str) else tuple(int(d) for d in shape)
        return dims[1:] if len(dims) == 4 else dims
    if inputs is None:
        return None
    dims = tuple(int(d) for d in (inputs if isinstance(inputs, (tuple, list)) else inputs.shape))
    if len(dims) < 2:
        raise ValueError(f"inputs need a batch axis, got shape {dims}")
    return dims[1:]


def _factory_source(symbol: Path, params: Path) -> str:
    return (
        '"""Written by mxprof.api: the exported block, for the fusion workers."""\n'
        "import mxnet as mx\n\n\n"
        "def build():\n"
        f"    return mx.gluon.SymbolBlock.imports({str(symbol)!r}, ['data'], {str(params)!r})\n")


def export_block(block: Any, shape: tuple[int, ...], name: str) -> ModelSource:
    """Export a HybridBlock at input (1, *shape) to a temporary symbol/params pair.

    Raises TypeError for an object that is not a HybridBlock, and whatever MXNet raises when
    the block cannot run on that shape.
    """
    import mxnet as mx

    if not isinstance(block, mx.gluon.HybridBlock):
        raise TypeError(f"model must be a zoo name or a Gluon HybridBlock, not "
                        f"{type(block).__name__}")
    tmp = temp_dir("api")
    stem = Path(tmp.name) / name
    block.hybridize()
    block(mx.nd.zeros((1, *shape)))
    block.export(str(stem))
    symbol, params = Path(f"{stem}-symbol.json"), Path(f"{stem}-0000.params")
    factory = Path(tmp.name) / "mxprof_exported.py"
    factory.write_text(_factory_source(symbol, params))
    spec = models.resolve(name, shape=shape, symbol=str(symbol), params=str(params))
    return ModelSource(spec=spec, factory=f"{factory}:build", _tmp=tmp)


def model_source(model: Any, inputs: Any = None, shape: Any = None,
                 name: str | None = None) -> ModelSource:
    """A ModelSource for a zoo name or a HybridBlock (ValueError for an unknown name)."""
    dims = input_shape(inputs, shape)
    if isinstance(model, str):
        return ModelSource(spec=models.resolve(model, shape=dims))
    if dims is None:
        raise ValueError("a HybridBlock needs inputs (an array with a batch axis) or "
                         "shape=(C, H, W)")
    return export_block(model, dims, name or type(model).__name__.lower())
