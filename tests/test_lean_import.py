"""A worker's MXNet import skips what no worker uses, and every MXNet API still works.

mxprof.mx.lean_import refuses scikit-learn to `mxnet.model` and defers scipy.sparse,
scipy.stats, cv2 and requests for MXNet's own imports; mxprof.workers.process keeps the
standard library's distutils. Each test runs a fresh interpreter with a worker's environment,
as a worker starts, and real MXNet.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from mxprof.workers.process import worker_env

pytest.importorskip("mxnet")

PROBE = r"""
import json, sys
from mxprof.mx import lean_import
lean_import.install()
import mxnet as mx
state = {m: type(sys.modules[m]).__name__ if m in sys.modules else None
         for m in ("sklearn", "scipy.sparse", "scipy.stats", "cv2", "requests", "setuptools")}
out = {"before": state}
if "use" in sys.argv:
    import numpy as np
    x = mx.nd.array(np.arange(6, dtype="float32").reshape(2, 3))
    out["dense"] = (x * 2).asnumpy().tolist()
    if state["scipy.sparse"]:
        import scipy.sparse as sp
        out["csr"] = mx.nd.sparse.array(sp.csr_matrix([[0, 1.0], [2.0, 0]])).asnumpy().tolist()
    if state["scipy.stats"]:
        from mxnet.contrib import quantization
        out["entropy"] = float(quantization.stats.entropy([0.5, 0.5]))
    if state["cv2"]:
        out["cv2"] = mx.image.image.cv2.__version__ == __import__("cv2").__version__
    import sklearn.base  # the user's own import is not refused
    out["sklearn"] = hasattr(sklearn.base, "BaseEstimator")
print(json.dumps(out))
"""


def _probe(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=worker_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def test_mxnet_import_leaves_the_optional_packages_unrun():
    before = _probe()["before"]
    assert before["sklearn"] is None
    assert before["setuptools"] is None  # distutils from the standard library, no shim
    for name, package in (("scipy.stats", "scipy"), ("cv2", "cv2"), ("requests", "requests")):
        if _installed(package):
            assert before[name] == "_DeferredModule", (name, before)
    if _installed("scipy"):  # every mx.nd.array reads it (lean_import.EAGER_FOR_MXNET)
        assert before["scipy.sparse"] == "module"


def test_every_deferred_api_still_works():
    out = _probe("use")
    assert out["dense"] == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    if _installed("scipy"):
        assert out["csr"] == [[0.0, 1.0], [2.0, 0.0]]
        assert out["entropy"] == pytest.approx(0.693147, abs=1e-6)  # ln 2
    if _installed("cv2"):
        assert out["cv2"] is True
    if _installed("sklearn"):
        assert out["sklearn"] is True


def test_a_scipy_sparse_that_cannot_import_leaves_mx_nd_array_working(tmp_path):
    """MXNet's `except ImportError: spsp = None` still holds: a SciPy whose sparse module fails
    to import (built for NumPy 2 beside numpy 1.23.5) is skipped as in plain MXNet, where a
    deferred one raised from the first `mx.nd.array` of every worker (breaker trial)."""
    scipy = tmp_path / "scipy"
    (scipy / "sparse").mkdir(parents=True)
    (scipy / "__init__.py").write_text("")
    (scipy / "sparse" / "__init__.py").write_text(
        'raise ImportError("numpy.core.multiarray failed to import")\n')
    env = worker_env()
    env["PYTHONPATH"] = f"{tmp_path}:{env.get('PYTHONPATH', '')}"
    code = ("from mxprof.mx import lean_import; lean_import.install(); import mxnet as mx; "
            "import numpy as np; print(mx.nd.array(np.ones(2, 'float32')).sum().asscalar())")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "2.0"
