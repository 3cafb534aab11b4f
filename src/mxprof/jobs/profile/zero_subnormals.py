"""`python -m mxprof.jobs.profile.zero_subnormals SPEC RESULT`: rewrite a parameter file with
every subnormal float (0 < |x| < 1.18e-38, FP32's smallest normal) set to zero, for
`profile --try-fixes` (mxprof.jobs.profile.try_fixes). A worker of the one protocol
(mxprof.workers.protocol), since parameter files are MXNet's format and the parent never
imports MXNet. Spec keys: `params_in`, `params_out` (paths); result: `zeroed` (values set to 0).
With `factory` ("/abs/FILE.py:FUNCTION") instead of `params_in`, the weights the factory set
itself are saved to `params_out` (a FILE.py:FACTORY model has no parameter file to fix);
result: `exported` true.
"""

from __future__ import annotations

import sys
from typing import Any


def zero(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("factory"):
        from mxprof.mx.user_models import call_factory
        call_factory(spec["factory"])[0].save_parameters(spec["params_out"])
        return {"exported": True}
    import mxnet as mx
    import numpy as np

    tiny = float(np.finfo(np.float32).tiny)
    params = mx.nd.load(spec["params_in"])
    n = 0
    for key, value in params.items():
        a = value.asnumpy()
        if a.dtype.kind == "f":
            mask = (np.abs(a) < tiny) & (a != 0)
            n += int(mask.sum())
            a[mask] = 0
            params[key] = mx.nd.array(a, dtype=a.dtype)
    mx.nd.save(spec["params_out"], params)
    return {"zeroed": n}


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(zero, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
