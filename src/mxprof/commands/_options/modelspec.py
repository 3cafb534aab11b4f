"""The model options every command that loads a model shares, and the one check of them.

MODEL is a zoo name or ``FILE.py:FACTORY``; ``--symbol FILE``, ``--params FILE``, ``--shape
C,H,W`` (or any per-sample sizes, ``--shape 100``), ``--input NAME:SHAPE[:DTYPE]`` (repeatable,
batch first; ``[MODEL=]`` first for a command of several models: `split_inputs`). `model_of`
turns them into one checked ModelSpec before any worker starts; errors are `UsageError`
(exit status 2) naming the input.
"""

from __future__ import annotations

from mxprof.errors import UsageError

INPUT_HELP = ("a model input, batch first (repeatable): e.g. src:4,20:int32 for gnmt, "
              "data:1,3,224,224; DTYPE float32 (default), float16, float64, int32, int64, "
              "int8, uint8; random values per input: token ids below the vocabulary, N(0,1) "
              "noise or ImageNet-normalised images (default: the model's own inputs)")

def add_model_files(g, *, symbol: bool = True, params: bool = True, inputs: bool = True,
                    shape_help: str = "input shape C,H,W, or any per-sample sizes such as 100 "
                                      "(default: the model's own)",
                    input_help: str = INPUT_HELP) -> None:
    if inputs:
        g.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                       help=input_help)
    if symbol:
        g.add_argument("--symbol", metavar="FILE", help="exported model X-symbol.json")
    if params:
        g.add_argument("--params", metavar="FILE",
                       help="weights (X-0000.params, or a zoo model's .params); default: the zoo "
                            "file if it is in $MXNET_HOME/models, else random initialisation")
    g.add_argument("--shape", help=shape_help)


def resolve_model(name: str | None, **kwargs):
    """`mxprof.mx.models.resolve` for a command: GluonCV names are looked up only when the
    gluoncv extra is installed, and an unknown name says how to get it (never an ImportError)."""
    import importlib.util

    from mxprof.mx import models

    has_gluoncv = importlib.util.find_spec("gluoncv") is not None
    try:
        return models.resolve(name, check_gluoncv=has_gluoncv, **kwargs)
    except models.UnknownModel as exc:
        hint = "" if has_gluoncv else \
            "; GluonCV model names need GluonCV: pip install 'mxprof[gluoncv]'"
        raise UsageError(f"{exc}{hint}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def model_of(args, name: str | None, given_texts: list[str] | None = None):
    """The checked ModelSpec for MODEL (a zoo name or FILE.py:FACTORY), --symbol, --params,
    --shape and --input, and the --input batch (None when no --input): -> (spec, batch).

    Zoo models are checked against the registry (input names, ranks, integer or float dtypes)
    without MXNet; a factory or an exported symbol is imported and its shapes inferred in a
    child process (mxprof.jobs.model_check), so a factory that fails or does not return a
    HybridBlock, or a symbol whose inputs do not match, stops here. Raises UsageError.
    """
    from mxprof.mx import inputs, models
    texts = (getattr(args, "input", None) or []) if given_texts is None else given_texts
    symbol = getattr(args, "symbol", None)
    try:
        shape = models.parse_shape(args.shape) if getattr(args, "shape", None) else None
        given = [inputs.parse_input(t) for t in texts]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = resolve_model(name, shape=shape, symbol=symbol, params=getattr(args, "params", None))
    try:
        if spec.source in ("factory", "symbol"):
            from mxprof.errors import require_extra
            from mxprof.jobs.model_check import run_check
            require_extra("a FILE.py:FACTORY or --symbol model", "mxnet")
            rnn: list[bool] = []
            batch, fed = run_check(spec, given, shape, rnn=rnn)
            if rnn and rnn[0]:  # its reference path is the RNN one (models.has_rnn)
                import msgspec
                spec = msgspec.structs.replace(spec, rnn=True)
        else:
            batch, fed = inputs.merge(spec.input_specs, given)
            _check_zoo(models.with_inputs(spec, fed) if fed != spec.input_specs else spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return (models.with_inputs(spec, fed) if fed != spec.input_specs else spec), batch


def _check_zoo(spec) -> None:
    """A zoo model is checked like a factory or a symbol before any worker starts: built
    (no weights) and its shapes inferred at the inputs it will be fed, its --params matched
    against its weights, in a child process, once per spec and MXNet build
    (mxprof.jobs.model_check.check_zoo). Skipped where this interpreter has no MXNet (compare
    may time other builds only). Raises ValueError."""
    import importlib.util
    if importlib.util.find_spec("mxnet") is None:
        return
    from mxprof.jobs.model_check import check_zoo
    check_zoo(spec)


def split_inputs(texts: list[str], names: list[str]) -> dict[str, list[str]]:
    """`--input [MODEL=]NAME:SHAPE[:DTYPE]` for a command of several models: -> the texts of
    each model. Without `MODEL=`, an --input belongs to the only model; with several models
    every --input must name its model. Raises UsageError."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for text in texts:
        model, sep, rest = text.partition("=")
        if sep:
            if model not in out:
                raise UsageError(f"--input {text}: {model!r} is not one of the models "
                                 f"({', '.join(names)})")
            out[model].append(rest)
        elif len(names) == 1:
            out[names[0]].append(text)
        else:
            raise UsageError(f"--input {text}: with several models, name the one it feeds: "
                             f"--input MODEL=NAME:SHAPE[:DTYPE], MODEL one of {', '.join(names)}")
    return out


def check_model_files(symbol: str | None, params: str | None) -> None:
    """A readable, complete symbol JSON and .params file (headers walked, MXNet not loaded)."""
    from mxprof.mx.checks import ModelFileError, check_params, check_symbol

    try:
        if symbol is not None:
            check_symbol(symbol)
        if params is not None:
            check_params(params)
    except ModelFileError as exc:
        flag = "--symbol" if symbol is not None and str(exc).startswith(symbol) else "--params"
        raise UsageError(f"{flag} {exc}") from None
