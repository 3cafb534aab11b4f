"""Model registry: which network a name means, its input shape, and how to build it offline.

Five sources:
- the Gluon model zoo (`mxnet.gluon.model_zoo.vision`, the 34 networks of the reference table);
- the GluonCV model zoo (SSD, Faster R-CNN, YOLOv3, classification variants...);
- mxprof's own zoo (`mxprof.mx.zoo`): Inception-v4, Inception-ResNet-v2, DCGAN, GNMT, the
  reference table's networks that neither zoo ships, under zoo-style names with the table's
  spellings as aliases;
- a user's exported model (`X-symbol.json` + `X-0000.params`, loaded with `SymbolBlock.imports`),
  its inputs the graph's variables that are not saved weights;
- a user's `FILE.py:FACTORY`, a function returning a HybridBlock, optionally with its default
  inputs (`mxprof.mx.user_models`).

Weights never come from the network: a zoo file is used only when it already sits in
`$MXNET_HOME/models` (default `~/.mxnet/models`) under the zoo's own name
`{name}-{short_hash}.params`; otherwise the net is initialised at random and the result says so
(timing is valid, accuracy is not). `get_model(pretrained=True)` is never called, and GluonCV nets
are built with `pretrained=False, pretrained_base=False` (GluonCV downloads the base otherwise).

Only `resolve` and `ModelSpec` are light; building a model imports mxnet. Counting parameters
and the random initialiser are mxprof.mx.parameters; the RNN question is mxprof.mx.rnn.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
from pathlib import Path
from typing import Any

import msgspec

from mxprof.mx import zoo
from mxprof.mx.inputs import InputSpec, image_input, zeros_arrays
from mxprof.mx.parameters import initialised, initialised_size, random_initializer
from mxprof.mx.user_models import FactoryError, call_factory, is_factory, symbol_input_names

__all__ = ["FactoryError", "ModelSpec", "call_factory", "is_factory", "resolve",
           "symbol_input_names"]
from mxprof.schema import Record

# The 34 networks of the reference accuracy table, exactly as mxnet.gluon.model_zoo.vision names
# them (tests check this list against MXNet's). Kept here so resolving a name needs no mxnet import.
GLUON_VISION_MODELS: tuple[str, ...] = (
    "alexnet",
    "densenet121", "densenet161", "densenet169", "densenet201",
    "inceptionv3",
    "mobilenet0.25", "mobilenet0.5", "mobilenet0.75", "mobilenet1.0",
    "mobilenetv2_0.25", "mobilenetv2_0.5", "mobilenetv2_0.75", "mobilenetv2_1.0",
    "resnet18_v1", "resnet34_v1", "resnet50_v1", "resnet101_v1", "resnet152_v1",
    "resnet18_v2", "resnet34_v2", "resnet50_v2", "resnet101_v2", "resnet152_v2",
    "squeezenet1.0", "squeezenet1.1",
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
)

DEFAULT_IMAGE = 224

# Family defaults for networks whose name does not carry the input size.
_FAMILY_SIZES: tuple[tuple[str, tuple[int, int]], ...] = (
    ("inception", (299, 299)),
    ("xception", (299, 299)),
    ("nasnet_4_1056", (224, 224)),
    ("nasnet_5_1538", (224, 224)),
    ("nasnet_7_1920", (224, 224)),
    ("nasnet_6_4032", (331, 331)),
    ("yolo3", (416, 416)),
    ("center_net", (512, 512)),
    # GluonCV's R-CNN test transform: short side 600, long side at most 1000 (VOC images -> 600x800)
    ("faster_rcnn", (600, 800)),
    ("mask_rcnn", (600, 800)),
    ("simple_pose", (256, 192)),
    ("alpha_pose", (320, 256)),
)


class UnknownModel(ValueError):
    """A model name that no zoo knows; the message lists the closest names."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model {name!r}{hint} "
                         "(Gluon model zoo vision names, GluonCV model zoo names, "
                         f"{', '.join(zoo.ZOO)}, or --symbol FILE)")


class ModelSpec(Record, frozen=True):
    """What to build: a zoo name or an exported symbol, and its inputs.

    `input_shape` is the first input's per-sample shape ((C, H, W) for an image); `inputs` lists
    every input (name, shape without batch, dtype, distribution) when the model is not fed one
    float32 image named `data` (empty means that image, see `input_specs`).
    """

    name: str
    source: str  # "gluon" | "gluoncv" | "mxprof" | "symbol" | "factory"
    input_shape: tuple[int, ...]
    symbol_path: str | None = None
    params_path: str | None = None
    inputs: tuple[InputSpec, ...] = ()
    factory: str | None = None  # "/abs/FILE.py:FUNCTION" for source "factory"
    # Whether the graph runs the RNN operator, as the pre-run check found it in a factory's or
    # a symbol's graph (mxprof.jobs.model_check); unset: known by name (has_rnn). Unset is
    # not written, so the compare run keys of every other model stay as they were.
    rnn: bool | msgspec.UnsetType = msgspec.UNSET

    @property
    def input_specs(self) -> tuple[InputSpec, ...]:
        return self.inputs or (image_input(self.input_shape),)

    def batch_shape(self, batch_size: int) -> tuple[int, ...]:
        return (batch_size, *self.input_shape)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A built, initialised network and how its weights were obtained."""

    block: Any  # mxnet.gluon.HybridBlock
    spec: ModelSpec
    weights: str  # "pretrained" | "user" | "factory" (set by FILE.py:FACTORY) | "random"
    weights_path: str | None
    param_count: int


def parse_shape(text: str) -> tuple[int, ...]:
    """`"1,3,224,224"`, `"3,224,224"` (or with x), `"100"` -> the per-sample shape.

    Any number of positive sizes: `--shape 100` is a one-number input (a noise vector, a token
    sequence length). A 4-element shape gives the batch too (N,C,H,W, the image form); it is
    dropped here because batch size is a separate setting (latency at 1, throughput at
    --batch-size). `fit_shape` checks the result against a model's input rank.
    """
    parts = [p for p in re.split(r"[,x\s]+", text.strip()) if p]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"bad shape {text!r}: expected integers like 3,224,224, 1,3,224,224 "
                         "or 100") from None
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"bad shape {text!r}: expected positive sizes like 3,224,224 or 100")
    return dims[1:] if len(dims) == 4 else dims


def fit_shape(shape: tuple[int, ...], default: tuple[int, ...], what: str) -> tuple[int, ...]:
    """`shape` (from `parse_shape`) as a per-sample shape of the rank of `default`: equal rank,
    or one more with the batch first (dropped). Raises ValueError naming `what`."""
    if len(shape) == len(default):
        return tuple(shape)
    if len(shape) == len(default) + 1:
        return tuple(shape[1:])
    example = ",".join(map(str, default))
    raise ValueError(f"bad shape {','.join(map(str, shape))}: {what} takes {len(default)} "
                     f"size(s) per sample, like {example} (or 1,{example} with the batch)")


def default_input_shape(name: str) -> tuple[int, int, int]:
    """The input a network was trained for: 299 for Inception, 512 for ssd_512_*, 224 otherwise."""
    lname = name.lower()
    m = re.search(r"_(\d+)x(\d+)(?:_|$)", lname)  # e.g. monodepth2_..._640x192: width x height
    if m:
        return (3, int(m.group(2)), int(m.group(1)))
    m = re.match(r"(?:ssd|yolo3)_(\d{3})_", lname)
    if m:
        size = int(m.group(1))
        return (3, size, size)
    for prefix, (h, w) in _FAMILY_SIZES:
        if lname.startswith(prefix):
            return (3, h, w)
    return (3, DEFAULT_IMAGE, DEFAULT_IMAGE)


def gluoncv_model_names() -> list[str]:
    """Every GluonCV model-zoo name (imports gluoncv, a few seconds)."""
    from gluoncv.model_zoo import model_zoo
    return sorted(model_zoo.get_model_list())


def closest_names(name: str, candidates: list[str] | tuple[str, ...], n: int = 5) -> list[str]:
    """Up to `n` candidates that look like `name`, closest first, each once (the Gluon names
    reappear in GluonCV's zoo list)."""
    return difflib.get_close_matches(name.lower(), list(dict.fromkeys(candidates)), n=n,
                                     cutoff=0.5)


def resolve(name: str | None, *, shape: tuple[int, ...] | None = None,
            symbol: str | None = None, params: str | None = None,
            check_gluoncv: bool = True) -> ModelSpec:
    """Turn what the user typed into a ModelSpec, or raise UnknownModel / ValueError.

    The Gluon vision names need no import; any other name is looked up in GluonCV's zoo (which
    imports gluoncv) unless `check_gluoncv` is False.
    """
    if symbol is not None:
        return _symbol_spec(name, symbol, params, shape)
    if not name:
        raise ValueError("give a model name or --symbol FILE")
    if params is not None and not os.path.isfile(params):
        raise ValueError(f"params file not found: {params}")
    if is_factory(name):
        return _factory_spec(name, shape, params)
    entry = zoo.lookup(name)
    if entry is not None:
        return _zoo_spec(entry, shape, params, name)
    lname = name.lower()
    if lname in GLUON_VISION_MODELS:
        source = "gluon"
    elif check_gluoncv:
        names = gluoncv_model_names()
        if lname not in names:
            raise UnknownModel(name, closest_names(lname, [*GLUON_VISION_MODELS, *names]))
        source = "gluoncv"
    else:
        raise UnknownModel(name, closest_names(lname, GLUON_VISION_MODELS))
    default = default_input_shape(lname)
    input_shape = fit_shape(tuple(shape), default, lname) if shape else default
    return ModelSpec(name=lname, source=source, input_shape=input_shape,
                     params_path=os.path.abspath(params) if params else None)


def _factory_spec(model: str, shape: tuple[int, ...] | None, params: str | None) -> ModelSpec:
    """A user's `FILE.py:FACTORY`. Its inputs default to one float32 image (3,224,224) named
    `data` until the factory declares its own (`mxprof.jobs.model_check` learns them)."""
    file, func = model.split(":", 1)
    if not os.path.isfile(file):
        raise ValueError(f"model file {file!r} does not exist")
    if not func.isidentifier():
        raise ValueError(f"{model}: {func!r} is not a Python function name")
    input_shape = tuple(shape) if shape else (3, DEFAULT_IMAGE, DEFAULT_IMAGE)
    # Named by file and factory: two factories of one file (c12.py:fc, c12.py:dot) are two
    # models in every report and every compare row.
    return ModelSpec(name=f"{Path(file).name}:{func}", source="factory", input_shape=input_shape,
                     params_path=os.path.abspath(params) if params else None,
                     factory=f"{os.path.abspath(file)}:{func}")


def _symbol_spec(name: str | None, symbol: str, params: str | None,
                 shape: tuple[int, ...] | None) -> ModelSpec:
    """An exported model. Its inputs are the symbol's variables that are not saved weights
    (`symbol_input_names`); one input gets the image default, several have no default shapes
    (every one must be given with --input; `mxprof.mx.inputs.merge` says so)."""
    if not os.path.isfile(symbol):
        raise ValueError(f"symbol file not found: {symbol}")
    if params is not None and not os.path.isfile(params):
        raise ValueError(f"params file not found: {params}")
    stem = Path(symbol).name.removesuffix(".json").removesuffix("-symbol")
    input_shape = tuple(shape) if shape else (3, DEFAULT_IMAGE, DEFAULT_IMAGE)
    names = symbol_input_names(symbol, params)
    inputs = (image_input(input_shape, names[0]),) if len(names) == 1 else ()
    return ModelSpec(name=name or stem, source="symbol", input_shape=input_shape,
                     symbol_path=os.path.abspath(symbol),
                     params_path=os.path.abspath(params) if params else None, inputs=inputs)


def _zoo_spec(entry: zoo.ZooEntry, shape: tuple[int, ...] | None,
              params: str | None, name: str | None = None) -> ModelSpec:
    options = zoo.split_options(name)[1] if name else {}
    unknown = sorted(set(options) - entry.option_names())
    if unknown:
        raise ValueError(f"{entry.name} takes no option {', '.join(unknown)}; its options: "
                         f"{', '.join(sorted(entry.option_names()))}")
    inputs = entry.inputs
    if "vocab_size" in options:  # token ids are drawn below the vocabulary actually built
        inputs = tuple(dataclasses.replace(i, high=int(options["vocab_size"]))
                       if i.distribution == "tokens" else i for i in inputs)
    if shape:
        if len(inputs) != 1:
            raise ValueError(f"{entry.name} has {len(inputs)} inputs: give each with --input")
        shape = fit_shape(tuple(shape), inputs[0].shape, f"{entry.name}'s {inputs[0].name}")
        inputs = (dataclasses.replace(inputs[0], shape=shape),)
    return ModelSpec(name=zoo.with_options(entry.name, options), source="mxprof",
                     input_shape=inputs[0].shape,
                     params_path=os.path.abspath(params) if params else None, inputs=inputs)


def with_inputs(spec: ModelSpec, inputs: tuple[InputSpec, ...]) -> ModelSpec:
    """The spec fed `inputs` instead of its defaults (see `mxprof.mx.inputs.merge`)."""
    return msgspec.structs.replace(spec, input_shape=inputs[0].shape, inputs=tuple(inputs))


def models_dir() -> Path:
    """Where MXNet and GluonCV keep zoo weights: $MXNET_HOME/models, default ~/.mxnet/models."""
    home = os.environ.get("MXNET_HOME") or os.path.join("~", ".mxnet")
    return Path(os.path.expanduser(home)) / "models"


def local_pretrained_file(name: str, source: str, root: Path | None = None) -> Path | None:
    """The zoo's own weight file for `name` if it is already on disk; never downloads.

    Both zoos name files `{name}-{short_hash}.params` where short_hash is the first 8 hex digits
    of the published SHA-1; a name without published weights has no file.
    """
    root = root or models_dir()
    if source not in ("gluon", "gluoncv"):
        return None  # mxprof's own networks have no published weights
    try:
        if source == "gluon":
            from mxnet.gluon.model_zoo import model_store
            short = model_store.short_hash(name)
        else:
            from gluoncv.model_zoo import model_store
            short = model_store.short_hash(name)
    except (ValueError, KeyError):
        return None
    path = root / f"{name}-{short}.params"
    return path if path.is_file() else None


def _build_gluoncv(name: str):
    from gluoncv.model_zoo import model_zoo
    ctor = model_zoo._models[name]
    try:
        params = inspect.signature(ctor).parameters
    except (TypeError, ValueError):
        params = {}
    # Factories declared as f(**kwargs) (FCN, PSP, DeepLab, AlphaPose, ResNeXt-e...) default
    # pretrained_base to True inside: they must be told too, or they try to download.
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs: dict[str, Any] = {}
    if "pretrained" in params or open_kwargs:
        kwargs["pretrained"] = False
    # Without this GluonCV fetches ImageNet weights for the backbone: a hang with no network.
    if "pretrained_base" in params or open_kwargs:
        kwargs["pretrained_base"] = False
    try:
        return ctor(**kwargs)
    except TypeError as exc:
        # A **kwargs factory whose network does not take pretrained_base: build without it.
        if "pretrained_base" not in params and "pretrained_base" in str(exc):
            kwargs.pop("pretrained_base")
            return ctor(**kwargs)
        raise


def build(spec: ModelSpec):
    """The uninitialised network for a zoo spec (no weights, no download)."""
    if spec.source == "gluon":
        from mxnet.gluon.model_zoo import vision
        return vision.get_model(spec.name, pretrained=False)
    if spec.source == "gluoncv":
        return _build_gluoncv(spec.name)
    if spec.source == "mxprof":
        base, options = zoo.split_options(spec.name)
        return zoo.ZOO[base].build(**options)
    if spec.source == "factory":
        return call_factory(spec.factory)[0]
    raise ValueError(f"build() takes zoo models; use load() for {spec.source!r}")


def load(spec: ModelSpec, *, ctx=None, allow_pretrained: bool = True,
         hybridize: bool = True) -> LoadedModel:
    """Build the network, load weights when they are local, else initialise at random.

    Hybridized with static_alloc and static_shape, the way inference is deployed.
    """
    import mxnet as mx
    ctx = ctx or mx.cpu()
    if spec.source == "symbol":
        inputs = [i.name for i in spec.input_specs]
        block = mx.gluon.SymbolBlock.imports(spec.symbol_path, inputs, spec.params_path, ctx=ctx)
        if spec.params_path:
            weights, path = "user", spec.params_path
        else:
            block.initialize(random_initializer(), ctx=ctx)
            weights, path = "random", None
    else:
        block = build(spec)
        path = spec.params_path
        weights = "user" if path else "random"
        if path is None and allow_pretrained:
            found = local_pretrained_file(spec.name, spec.source)
            if found is not None:
                path, weights = str(found), "pretrained"
        if path is not None:
            block.load_parameters(path, ctx=ctx, allow_missing=False, ignore_extra=True)
        elif spec.source == "factory" and initialised(block):
            weights = "factory"  # the factory set its own weights: not ours to call random
        else:
            block.initialize(random_initializer(), ctx=ctx)
    # Resolve deferred shapes once so parameter counting and the first timed call see real shapes.
    block(*[mx.nd.array(a, ctx=ctx, dtype=a.dtype) for a in zeros_arrays(spec.input_specs, 1)])
    if hybridize:
        block.hybridize(static_alloc=True, static_shape=True)
    param_count = initialised_size(block)
    return LoadedModel(block=block, spec=spec, weights=weights, weights_path=path,
                       param_count=param_count)
