"""Parameters of a network: how many values it holds (counted without allocating anything), and
the random initialisation used when no weight file is on disk (mxprof.mx.models.load).

`count_parameters` / `parameter_counts` use MXNet's symbolic shape inference at batch 1, so a
block needs no weights and nothing is allocated; `initialised_size` counts what an initialised
block holds. Every function imports MXNet when called, never at import.
"""

from __future__ import annotations

from mxprof.mx.inputs import InputSpec, image_input


def count_parameters(block, input_shape: tuple[int, ...]) -> int:
    """Number of parameter values (weights, biases, BatchNorm statistics) at this input shape.

    Shapes come from symbolic shape inference, so nothing is allocated or initialised; the
    reference table counts the same way (resnet50_v1 = 25,629,032).
    """
    return parameter_counts(block, (image_input(input_shape),))[1]


def parameter_counts(block, inputs: tuple[InputSpec, ...]) -> tuple[int, int]:
    """(trainable, total) parameter values of an uninitialised block fed `inputs` (batch 1).

    Total counts every parameter (BatchNorm running statistics too, as the reference table
    does); trainable leaves out those with grad_req 'null', the way PyTorch's
    `p.requires_grad` sums and papers count. Symbolic shape inference: nothing is allocated.
    """
    import mxnet as mx
    sym = block(*[mx.sym.var(i.name) for i in inputs])
    if isinstance(sym, (list, tuple)):
        sym = mx.sym.Group(list(sym))
    shapes = {i.name: (1, *i.shape) for i in inputs}
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    frozen = {p.name for p in block.collect_params().values() if p.grad_req == "null"}
    trainable = total = 0
    for n, s in zip(sym.list_arguments(), arg_shapes):
        if n not in shapes:
            total += _prod(s)
            trainable += 0 if n in frozen else _prod(s)
    total += sum(_prod(s) for s in aux_shapes)  # auxiliary states never get gradients
    return trainable, total


def initialised_size(block) -> int:
    """Values held by the block's parameters (SymbolBlock keeps shapes on the arrays only)."""
    total = 0
    for p in block.collect_params().values():
        try:
            total += int(p.data().size)
        except (RuntimeError, mx_deferred_error()):
            continue  # graph inputs listed as parameters: no data, not weights
    return total


def mx_deferred_error():
    from mxnet.gluon.parameter import DeferredInitializationError
    return DeferredInitializationError


def _prod(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def initialised(block) -> bool:
    """Every parameter of `block` has its values, or is waiting for its shape after an
    initialize() call: someone (a factory) set the weights before mxprof saw the block."""
    params = list(block.collect_params().values())
    return bool(params) and all(p._data is not None or p._deferred_init for p in params)


def random_initializer():
    """Xavier for weights, ones/zeros for vectors. Xavier cannot initialise a vector, and
    GluonCV routes some BatchNorm gammas through the weight initialiser: those get ones
    (scales, variances) or zeros (shifts, means, biases) like their layer's own defaults."""
    import mxnet as mx

    class RandomForTiming(mx.init.Xavier):
        def _init_weight(self, name, arr):
            if len(arr.shape) >= 2:
                super()._init_weight(name, arr)
            elif name.endswith(("gamma", "var", "scale")):
                arr[:] = 1.0
            else:
                arr[:] = 0.0

    # He initialisation (Gaussian, fan-in, magnitude 2: He et al. 2015) keeps activations of
    # ReLU networks at O(1) layer after layer. MXNet's default Xavier (uniform, average fan,
    # magnitude 3) shrinks them: random mobilenet0.25 gave outputs of 1e-17, where any
    # equivalence tolerance passes and float32 denormals, flushed by oneDNN only, change the
    # work of the reference kernels.
    return RandomForTiming(rnd_type="gaussian", factor_type="in", magnitude=2)
