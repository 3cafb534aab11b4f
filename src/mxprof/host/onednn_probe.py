"""`python -m mxprof.host.onednn_probe SPEC RESULT`: one convolution with oneDNN's verbose
output on, so that its header names the oneDNN version (libmxnet 1.9.1 exports no version
symbol). A worker of the one protocol (mxprof.workers.protocol): the parent
(mxprof.host.environment.probe_onednn_version) sets DNNL_VERBOSE=1 and keeps the worker's
stdout, where oneDNN prints from C; the result only says the convolution ran.
"""

from __future__ import annotations

import sys
from typing import Any


def convolve(spec: dict[str, Any]) -> dict[str, Any]:
    import mxnet as mx

    x, w = mx.nd.ones((1, 1, 4, 4)), mx.nd.ones((1, 1, 3, 3))
    mx.nd.Convolution(x, w, kernel=(3, 3), num_filter=1, no_bias=True).wait_to_read()
    return {"ran": "convolution 1x1x4x4 by 3x3"}


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(convolve, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
