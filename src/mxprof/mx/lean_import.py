"""MXNet's import without scikit-learn, in worker processes.

`mxnet/model.py` (MXNet 1.x) imports `sklearn.base` when scikit-learn is installed, only to
subclass `BaseEstimator` in its legacy `FeedForward` API, which no mxprof worker uses. That one
import pulls scikit-learn, pandas and scipy.stats: 0.58 s of the 1.87 s `import mxnet` took
here (MXNet 1.9.1, scikit-learn 1.5, `python -X importtime`, 2-core VM), paid by each of the 11
worker processes of a default profile. MXNet falls back to `object` when the import fails
(`except ImportError` around it), so refusing it changes nothing an inference uses.

`install()` puts a finder first on `sys.meta_path` that refuses `sklearn` to `mxnet.model`'s
own import statement only (found by walking the importing frames): a user's model file or any
other code in the worker still imports scikit-learn as usual.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import FrameType

_IMPORTER = "mxnet.model"


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


def install() -> None:
    """Refuse scikit-learn to MXNet's `mxnet.model` in this process (idempotent)."""
    if not any(isinstance(f, _RefuseSklearnToMXNet) for f in sys.meta_path):
        sys.meta_path.insert(0, _RefuseSklearnToMXNet())
