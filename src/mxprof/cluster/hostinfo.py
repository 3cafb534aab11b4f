"""`python -m mxprof.cluster.hostinfo`: this host's environment fingerprint as JSON on stdout.

A Dask worker runs it under the environment and CPUs of a benchmark cell
(mxprof.cluster.remote.describe), so the fingerprint that keys the cell's results is the one
its benchmark sees: not the Dask worker's OMP_NUM_THREADS=1, nor the CPUs the worker process
itself is pinned to.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from mxprof.host.environment import host_fingerprint
    json.dump(host_fingerprint().to_dict(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
