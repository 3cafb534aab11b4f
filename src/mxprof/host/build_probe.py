"""`python -m mxprof.host.build_probe`: print one JSON line about the interpreter running it:
its Python version and ABI tag, its MXNet version and whether MKL-DNN is compiled in (or the
error that stopped `import mxnet`).

mxprof.host.builds.probe runs it under another venv's interpreter, with only mxprof on the path,
to check that venv before any worker starts there. It imports the standard library alone (and
MXNet): it must run under any Python 3, so that a venv of another Python minor version, where
mxprof's compiled parts and msgspec cannot load, is reported as such rather than as a crash.
It is a probe that prints, not a worker of the protocol (mxprof.workers.protocol), whose
worker side imports those compiled parts.
"""

import json
import platform
import sys


def facts() -> dict:
    out = {"python": platform.python_version(), "abi": sys.implementation.cache_tag}
    try:
        import mxnet
        import mxnet.runtime

        out["mxnet"] = mxnet.__version__
        out["mkldnn"] = mxnet.runtime.Features().is_enabled("MKLDNN")
    except Exception as exc:  # noqa: BLE001 - any failure to import MXNet is the answer
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


if __name__ == "__main__":
    print(json.dumps(facts()))
