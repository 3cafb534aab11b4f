"""`python -m mxprof worker SCHEDULER --class NAME [--cores LIST]`: this host joins a Dask
cluster as one benchmark host of class NAME (mxprof.cluster.worker says what it starts and
why). It prints the plain `dask worker` line it amounts to, then runs that worker as its child
until it ends (Ctrl-C: exit 130, mxprof.cluster.worker.run_dask_worker); `--print` prints the
line and starts nothing.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.errors import EXIT_OK, UsageError, require_extra


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheduler", metavar="SCHEDULER",
                   help="the Dask scheduler: tcp://HOST:8786 or tls://HOST:8786")
    p.add_argument("--class", dest="machine_class", required=True, metavar="NAME",
                   help="this host's machine class (e.g. xeon, epyc): `compare --classes` "
                        "runs every cell on a host of each class")
    p.add_argument("--cores", metavar="LIST", default=None,
                   help="the benchmark CPUs (e.g. 2-35); the Dask worker itself is pinned to "
                        "the others. Default: every CPU, with the worker's profiler off")
    p.add_argument("--name", default=None, help="the worker's name (default CLASS@HOSTNAME)")
    p.add_argument("--host", default=None, metavar="IP",
                   help="the address to listen on (default: 127.0.0.1 for a scheduler on the "
                        "loopback, else the interface that reaches the scheduler)")
    t = p.add_argument_group("TLS (Dask's own security options)")
    t.add_argument("--tls-ca-file", metavar="PATH")
    t.add_argument("--tls-cert", metavar="PATH")
    t.add_argument("--tls-key", metavar="PATH")
    p.add_argument("--print", action="store_true", dest="print_only",
                   help="print the `dask worker` line and start nothing")


def run(args) -> int:
    from mxprof.cluster.worker import worker_launch
    try:
        launch = worker_launch(args.scheduler, args.machine_class, args.cores, name=args.name,
                               host=args.host,
                               tls=(("--tls-ca-file", args.tls_ca_file),
                                    ("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.scheduler.startswith("tls://") and not (args.tls_cert and args.tls_key):
        raise UsageError("a tls:// scheduler needs --tls-cert and --tls-key (and usually "
                         "--tls-ca-file)")
    print(f"mxprof worker: {launch.hygiene}", file=sys.stderr)
    print(launch.shell_line(), file=sys.stderr if not args.print_only else sys.stdout,
          flush=True)
    if args.print_only:
        return EXIT_OK
    require_extra("worker", "cluster")
    from mxprof.cluster.worker import check_scheduler, connect_timeout, scheduler_silence
    address = check_scheduler(args.scheduler)
    why = scheduler_silence(address)
    if why:  # a warning only: workers may start before their scheduler
        print(f"mxprof worker: warning: no Dask scheduler answers at {address} ({why}); the "
              f"worker keeps trying for {connect_timeout()} (Dask's distributed.comm.timeouts."
              "connect), then exits with Dask's traceback (Ctrl-C to stop sooner)",
              file=sys.stderr, flush=True)
    from mxprof.cluster.worker import run_dask_worker
    sys.stderr.flush()
    return run_dask_worker(launch)
