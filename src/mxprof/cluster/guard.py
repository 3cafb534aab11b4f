"""The worker plugin that refuses a worker joining with other versions than the client.

Registered by mxprof.cluster.executor.DaskExecutor once connected: it runs on every worker
there and on every worker that joins later. A worker whose mxprof or MXNet version is not the
client's logs why (the "mxprof-refused" topic) and closes itself before it takes a cell, so a
host upgraded half-way through an overnight sweep never mixes its figures into the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributed import WorkerPlugin

from mxprof.cluster import remote


class VersionGuard(WorkerPlugin):
    name = "mxprof-version-guard"

    def __init__(self, expected: Mapping[str, Any]):
        self.expected = dict(expected)

    def setup(self, worker) -> None:
        mine = remote.versions()
        if mine == self.expected:
            return
        worker.log_event("mxprof-refused", {
            "address": worker.address,
            "text": f"refused: worker {worker.address} runs {remote.describe_versions(mine)}, "
                    f"the client {remote.describe_versions(self.expected)}"})
        worker.loop.add_callback(worker.close)
