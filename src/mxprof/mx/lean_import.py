"""MXNet's import without what no worker uses, in worker processes.

`mxnet/model.py` (MXNet 1.x) imports `sklearn.base` when scikit-learn is installed, only to
subclass `BaseEstimator` in its legacy `FeedForward` API, which no mxprof worker uses. That one
import pulls scikit-learn, pandas and scipy.stats: 0.58 s of the 1.87 s `import mxnet` took
here (MXNet 1.9.1, scikit-learn 1.5, `python -X importtime`, 2-core VM), paid by each of the 11
worker processes of a default profile. MXNet falls back to `object` when the import fails
(`except ImportError` around it), so refusing it changes nothing an inference uses.

`install()` puts a finder first on `sys.meta_path` that refuses `sklearn` to `mxnet.model`'s
own import statement only (found by walking the importing frames): a user's model file or any
other code in the worker still imports scikit-learn as usual.

MXNet also imports, each inside `try: ... except ImportError`, optional packages that only some
of its APIs use: `scipy.sparse` (mxnet.ndarray.sparse: scipy matrices in; but see
EAGER_FOR_MXNET), `scipy.stats`
(mxnet.contrib.quantization: entropy calibration; mxnet.test_utils), `requests`
(mxnet.test_utils: downloads) and `cv2` (mxnet.image). Together 0.33 s of `import mxnet` here
(scipy 1.15, opencv 4.11, requests 2.34; `python -X importtime`, 2-core VM). `install()` loads
these lazily for MXNet's own import statements, the way the standard library's
`importlib.util.LazyLoader` does: the module is in `sys.modules` at once and its code runs at
the first attribute access, so MXNet gets the same module objects, an API that uses one still
works (INT8 entropy calibration reads `scipy.stats`), and a worker that never touches them
never pays. LazyLoader itself cannot be used on Python 3.11: a second `import scipy.sparse`
(MXNet has several) reads the module's `__spec__` to see whether it is still initialising, and
any attribute read runs a LazyLoader module; `_Deferred` leaves `__spec__` and `__name__`
readable. Only pure-Python modules are deferred (an extension module's loader does its work in
`create_module`), and only those imported by a statement in an `mxnet` module (scipy's own
module-level `__getattr__`, which `from scipy import stats` goes through, counts as MXNet's
statement).

The third, `distutils` (mxnet.numpy_dispatch_protocol compares numpy versions with
`distutils.version.LooseVersion`), cost 0.13 s because setuptools' shim replaces the standard
library's distutils with its own, which imports `pkg_resources`: mxprof.workers.process sets
setuptools' documented `SETUPTOOLS_USE_DISTUTILS=stdlib` in a worker's environment instead.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from types import FrameType

_IMPORTER = "mxnet.model"
LAZY_FOR_MXNET = ("scipy", "requests", "cv2")
# Loaded as usual even for MXNet: `mxnet.ndarray.utils.array` reads `spsp.csr` on every
# `mx.nd.array` call, so a worker pays scipy.sparse at its first input anyway (0.19-0.22 s moved
# from import to build, load 5.5, nothing saved), and a scipy.sparse that cannot import (a
# SciPy built for NumPy 2 beside mxprof's numpy 1.23.5) raised from that call in every worker
# instead of leaving MXNet's `spsp = None` (breaker trial, docs/trial-2026-12-08b.md).
EAGER_FOR_MXNET = ("scipy.sparse",)
_MACHINERY = ("importlib._bootstrap", "importlib._bootstrap_external", "importlib",
              "importlib.util")


def _importing_from(frame: FrameType | None, module: str) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__") == module:
            return True
        frame = frame.f_back
    return False


class _RefuseSklearnToMXNet(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # path, target: MetaPathFinder's API
        if fullname.partition(".")[0] == "sklearn" and \
                _importing_from(sys._getframe(1), _IMPORTER):
            raise ModuleNotFoundError(f"{fullname} is not imported for MXNet in mxprof workers "
                                      "(mxprof.mx.lean_import)", name=fullname)
        return None


def _importer(frame: FrameType | None) -> str:
    """The module whose statement asked for this import: the first frame outside the import
    machinery and outside the lazy packages' own `__init__` (scipy's `__getattr__`)."""
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if name not in _MACHINERY and name not in LAZY_FOR_MXNET:
            return name
        frame = frame.f_back
    return ""


class _DeferredModule(types.ModuleType):
    """A module whose code has not run yet: the first attribute read other than `__spec__` or
    `__name__` (which the import system reads on a repeated import), or any attribute set (a
    parent package getting its child), runs it."""

    def __getattribute__(self, attr):
        if attr in ("__spec__", "__name__"):
            return types.ModuleType.__getattribute__(self, attr)
        _run(self)
        return getattr(self, attr)

    def __setattr__(self, attr, value):
        _run(self)
        setattr(self, attr, value)


def _run(module: types.ModuleType) -> None:
    """Make `module` a plain module again and run its code (its real loader's exec_module)."""
    spec = types.ModuleType.__getattribute__(module, "__spec__")
    object.__setattr__(module, "__class__", types.ModuleType)
    spec.loader.exec_module(module)


class _Deferred(importlib.abc.Loader):
    """Wraps a source loader: the module is made now, its code runs at first use."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader  # the real one, from now on
        module.__class__ = _DeferredModule


class _LazyForMXNet(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.partition(".")[0] not in LAZY_FOR_MXNET or \
                any(fullname == m or fullname.startswith(m + ".") for m in EAGER_FOR_MXNET) or \
                _importer(sys._getframe(1)).partition(".")[0] != "mxnet":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None  # not found (MXNet's ImportError path) or not deferrable: as usual
        spec.loader = _Deferred(spec.loader)
        return spec


def install() -> None:
    """In this process (idempotent): refuse scikit-learn to MXNet's `mxnet.model`; load
    LAZY_FOR_MXNET's pure-Python modules lazily for MXNet's own imports."""
    for finder in (_LazyForMXNet, _RefuseSklearnToMXNet):
        if not any(isinstance(f, finder) for f in sys.meta_path):
            sys.meta_path.insert(0, finder())
