"""The CPU options every measuring command shares ("CPUs" in --help), defined once:
``--cores LIST`` (``--cpus`` is a hidden alias), ``--membind NODES``, ``--threads N`` (or
``runtime``) and ``--wait-policy``. What they resolve to is the job's one Placement
(mxprof.cpu.placement.resolve, called by the job's plan): default one OpenMP thread per
physical core of the CPUs used, the wait policy decided from the machine's load.
"""

from __future__ import annotations

import argparse

from mxprof.commands._options.protocol import hidden_alias


def add_binding(p: argparse.ArgumentParser, *, cores: bool = True, membind: bool = True) -> None:
    g = p.add_argument_group("CPUs")
    if cores:
        g.add_argument("--cores", metavar="LIST",
                       help="bind every worker to these logical CPUs, e.g. 0-17 (default: not "
                            "bound)")
        hidden_alias(g, "--cpus", dest="cores")
    if membind:
        g.add_argument("--membind", metavar="NODES",
                       help="allocate every worker's memory on these NUMA nodes, e.g. 0")
    add_threads(g)
    g.add_argument("--wait-policy", choices=("auto", "active", "passive"), default="auto",
                   help="how idle OpenMP threads wait: active spins a while, passive sleeps at "
                        "once; auto picks passive when other processes load the CPUs "
                        "(default: auto)")


def threads_arg(text: str) -> int | str:
    """--threads N or --threads runtime (argparse type); the count is checked by check_counts."""
    from mxprof.cpu.openmp import THREADS_RUNTIME
    if text.strip().lower() == THREADS_RUNTIME:
        return THREADS_RUNTIME
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count or '{THREADS_RUNTIME}', got {text!r}") from None


def add_threads(g, what: str = "worker") -> None:
    g.add_argument("--threads", type=threads_arg, metavar="N",
                   help=f"OpenMP threads per {what}, or 'runtime' for MXNet's own choice "
                        "(default: one per physical core of the CPUs it may use, as the "
                        "reference benchmark ran; MXNet alone uses half the CPUs it sees)")


def announce_wait(choice: tuple[str, str]) -> None:
    """The wait policy chosen and its reason ((policy, why), a Placement's), once on stderr."""
    import sys
    print(f"mxprof: OpenMP wait policy {choice[0]} ({choice[1]})", file=sys.stderr)
