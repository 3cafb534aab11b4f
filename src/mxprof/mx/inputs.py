"""What a model is fed: named inputs with shape, dtype and the distribution random data comes from.

- `InputSpec`: one input, its per-sample shape (no batch), dtype and distribution:
  "image" (ImageNet-normalised pixels: uniform [0, 1] per channel, minus the mean, over the
  standard deviation, the transform of GluonCV's presets), "normal" (N(0, 1) noise, a GAN's
  latent vector) or "tokens" (integer ids uniform in [0, high), a vocabulary).
- `parse_input("src:64,50:int32")`: the `--input NAME:SHAPE[:DTYPE]` option. The shape includes
  the batch as its first dimension, like the arrays a user feeds.
- `merge(defaults, given)`: a model's defaults with the user's inputs put over them by name,
  checked: unknown names, ranks and integer/float dtypes raise ValueError naming the input.
- `random_arrays(specs, batch, seed)`: numpy arrays of each input's dtype and range.

No MXNet import, and numpy only inside the drawing functions: workers import this (through
the model registry) before binding their CPUs, and numpy's BLAS threads would start unbound.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DISTRIBUTIONS = ("image", "normal", "tokens")
DTYPES = ("float32", "float16", "float64", "int32", "int64", "int8", "uint8")

# ImageNet channel statistics (RGB) of GluonCV's and torchvision's presets.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One model input. `shape` excludes the batch; `high` bounds token ids (exclusive)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    distribution: str = "image"
    high: int | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"input {self.name!r}: dtype {self.dtype!r} is not one of "
                             f"{', '.join(DTYPES)}")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"input {self.name!r}: distribution {self.distribution!r} is not "
                             f"one of {', '.join(DISTRIBUTIONS)}")
        if self.distribution == "tokens" and not (self.high and self.high > 0):
            raise ValueError(f"input {self.name!r}: token ids need a positive vocabulary size")
        if any(d <= 0 for d in self.shape):
            raise ValueError(f"input {self.name!r}: shape {self.shape} has a size <= 0")

    def batch_shape(self, batch_size: int) -> tuple[int, ...]:
        return (batch_size, *self.shape)

    def describe(self) -> str:
        """`src: int32 (N,50) token ids < 32000`, one line for listings."""
        dims = ",".join(["N", *map(str, self.shape)])
        what = {"image": "ImageNet-normalised image", "normal": "N(0,1) noise",
                "tokens": f"token ids < {self.high}"}[self.distribution]
        return f"{self.name}: {self.dtype} ({dims}) {what}"

    def short(self) -> str:
        """`src:N,50:int32 ids<32000`: the --input form and what is drawn, for narrow tables."""
        what = {"image": "image", "normal": "N(0,1)", "tokens": f"ids<{self.high}"}
        return f"{self.name}:{','.join(['N', *map(str, self.shape)])}:{self.dtype} " \
               f"{what[self.distribution]}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        return cls(name=d["name"], shape=tuple(d["shape"]), dtype=d.get("dtype", "float32"),
                   distribution=d.get("distribution", "image"), high=d.get("high"))


def image_input(shape: Sequence[int], name: str = "data") -> InputSpec:
    """The one float32 image input (C, H, W) of a classifier or detector."""
    return InputSpec(name, tuple(shape), "float32", "image")


def parse_input(text: str) -> tuple[str, tuple[int, ...], str | None]:
    """`NAME:SHAPE[:DTYPE]` -> (name, shape with batch first, dtype or None).

    SHAPE is comma- or x-separated positive integers, e.g. `src:64,50:int32`, `data:1x3x224x224`.
    Raises ValueError with the expected form.
    """
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"bad --input {text!r}: expected NAME:SHAPE[:DTYPE] "
                         "like data:1,3,224,224 or src:64,50:int32")
    name, shape_text = parts[0], parts[1]
    if not re.fullmatch(r"\d+([,x]\d+)*", shape_text):
        raise ValueError(f"bad --input {text!r}: shape {shape_text!r} is not integers "
                         "separated by , or x")
    shape = tuple(int(p) for p in re.split(r"[,x]", shape_text))
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"bad --input {text!r}: shape needs positive sizes, batch first")
    dtype = parts[2] if len(parts) == 3 else None
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"bad --input {text!r}: dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return name, shape, dtype


def _is_int(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


def _dims(shape: tuple[int, ...]) -> str:
    return ",".join(["N", *map(str, shape)])


def _fit_one(old: InputSpec, name: str, shape: tuple[int, ...], dtype: str | None) -> InputSpec:
    """A declared input fed a given batch shape and dtype: same rank, same kind of number."""
    if len(shape) != len(old.shape) + 1:
        raise ValueError(f"--input {name}: {len(shape)} dimension(s) given, the model's {name} "
                         f"has {len(old.shape) + 1} ({_dims(old.shape)}), batch first, e.g. "
                         f"{name}:{','.join(['1', *map(str, old.shape)])}")
    if dtype is not None and _is_int(dtype) != _is_int(old.dtype):
        kind = "integer ids" if _is_int(old.dtype) else "floating-point values"
        raise ValueError(f"--input {name}: dtype {dtype} does not fit; {name} takes {kind} "
                         f"({old.dtype})")
    return dataclasses.replace(old, shape=shape[1:], dtype=dtype or old.dtype)


def merge(defaults: Sequence[InputSpec], given: Sequence[tuple[str, tuple[int, ...], str | None]],
          *, names: Sequence[str] | None = None, open_names: bool = False
          ) -> tuple[int | None, tuple[InputSpec, ...]]:
    """Put parsed `--input`s over a model's default inputs; -> (batch size or None, inputs).

    `names` are the model's inputs in call order (default: the names of `defaults`); an input
    without a default must be given. A given name replaces the default of that name, keeping
    its distribution and vocabulary; its rank (batch included) must be the default's, and an
    integer dtype must stay integer. A name the model does not have raises, unless
    `open_names` (a block whose inputs are not declared: the given names are its inputs, in
    order; "image" if float, token ids below the largest known vocabulary, else 2**15, if
    integer). All given inputs share one batch size. Raises ValueError naming the input.
    """
    names = list(names if names is not None else [s.name for s in defaults])
    by_name = {s.name: s for s in defaults}
    batches = {shape[0] for _, shape, _ in given}
    if len(batches) > 1:
        raise ValueError(f"--input batch sizes differ: {sorted(batches)}; batch is the first "
                         "dimension and every input shares it")
    seen = set()
    for name, shape, dtype in given:
        if name in seen:
            raise ValueError(f"--input {name} is given twice")
        seen.add(name)
        if name in by_name and not open_names:
            by_name[name] = _fit_one(by_name[name], name, shape, dtype)
        elif name in names or open_names:  # an undeclared block's default is only a guess
            by_name[name] = _new_input(name, shape, dtype, defaults)
        else:
            raise ValueError(f"--input {name}: the model has no input {name!r}; its inputs "
                             f"are {', '.join(names) or 'not known'}")
    if open_names and given:
        # An undeclared block: the given inputs are all of its inputs, in the given order.
        names = [name for name, _, _ in given]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"the model's input(s) {', '.join(missing)} have no default shape: "
                         "give each with --input NAME:SHAPE[:DTYPE], batch first (the model "
                         f"takes {', '.join(names)})")
    return (batches.pop() if batches else None), tuple(by_name[n] for n in names)


def _new_input(name: str, shape: tuple[int, ...], dtype: str | None,
               defaults: Sequence[InputSpec]) -> InputSpec:
    dtype = dtype or "float32"
    if _is_int(dtype):
        high = max((s.high for s in defaults if s.high), default=2 ** 15)
        return InputSpec(name, shape[1:], dtype, "tokens", high)
    return InputSpec(name, shape[1:], dtype, "image")


def input_from(value: InputSpec | str) -> InputSpec:
    """A factory's declared default input: an InputSpec, or the `--input` text NAME:SHAPE[:DTYPE]
    (batch first; integer dtypes are token ids below 2**15, floats ImageNet-normalised)."""
    if isinstance(value, InputSpec):
        return value
    name, shape, dtype = parse_input(str(value))
    return _new_input(name, shape, dtype, ())


def random_array(spec: InputSpec, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """One input's batch: (batch, *shape) of its dtype, drawn from its distribution."""
    import numpy as np
    shape = spec.batch_shape(batch_size)
    if spec.distribution == "tokens":
        return rng.integers(0, spec.high, size=shape).astype(spec.dtype)
    if spec.distribution == "normal":
        return rng.standard_normal(shape).astype(spec.dtype)
    x = rng.random(shape, dtype=np.float32)
    if len(spec.shape) >= 1 and spec.shape[0] == len(IMAGENET_MEAN):
        # Channels first: the per-channel transform the pretrained nets were trained under.
        bc = (1, 3) + (1,) * (len(shape) - 2)
        x = (x - np.reshape(IMAGENET_MEAN, bc)) / np.reshape(IMAGENET_STD, bc)
    else:
        x = (x - 0.45) / 0.225
    return x.astype(spec.dtype)


def random_arrays(specs: Sequence[InputSpec], batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """Every input's batch from one seeded generator (same seed, same arrays)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return [random_array(s, batch_size, rng) for s in specs]


def zeros_arrays(specs: Sequence[InputSpec], batch_size: int) -> list[np.ndarray]:
    """Zeros of each input's shape and dtype (token id 0 is valid), for shape-only calls."""
    import numpy as np
    return [np.zeros(s.batch_shape(batch_size), dtype=s.dtype) for s in specs]
