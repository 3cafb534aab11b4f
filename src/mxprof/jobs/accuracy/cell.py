"""One model's whole accuracy job on a cluster host: `python -m mxprof.jobs.accuracy.cell SPEC RESULT`.

The cell an accuracy sweep hands a Dask worker (mxprof.jobs.accuracy.sweep): spec
{"options": the model's mxprof.jobs.accuracy.Options}. Here, on the host, the job is planned
again (its binding resolved from this host's topology and the benchmark CPUs this process is
pinned to) and run with its configurations in their own processes one after another
(LocalExecutor), exactly as `mxprof accuracy MODEL` runs on this host; the result is the
AccuracyReport's dict (the one worker protocol, mxprof.workers.protocol). A UsageError here
(a --data path this host lacks) fails the cell with its message.
"""

from __future__ import annotations

import sys


def run(spec: dict) -> dict:
    import msgspec

    from mxprof.jobs.accuracy import job
    options = msgspec.convert(spec["options"], job.Options)
    return job.run(job.plan(options)).to_dict()


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main
    return worker_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
