"""Sweeps on a Dask cluster (the `cluster` extra): `DaskExecutor` runs a job's cells, one
benchmark at a time per host, on the machine classes asked for (mxprof.cluster.executor);
`start_local` is `--cluster local` (mxprof.cluster.local); `worker_command` is what
`mxprof worker` runs on a benchmark host (mxprof.cluster.worker). Sits beside mxprof.workers,
below mxprof.jobs: distributed is imported only when a cluster is used."""

from __future__ import annotations

__all__ = ["ClusterError", "DaskExecutor", "RemoteResult"]


def __getattr__(name: str):
    if name in __all__:
        from mxprof.cluster import executor
        return getattr(executor, name)
    raise AttributeError(name)
