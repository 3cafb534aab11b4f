"""Command line: `python -m mxprof SUBCOMMAND`.

One module per subcommand under `mxprof.commands`, each with `add_arguments(parser)` and
`run(args) -> int`. They are imported only when chosen, so `--help` never loads MXNet.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mxprof.errors import UsageError

# name -> (module under mxprof.commands, one-line help). The one dispatch table.
COMMANDS: dict[str, tuple[str, str]] = {
    "profile": ("profile", "latency, throughput and where the time goes, MKL-DNN on vs off"),
    "fusion": ("fusion", "what MKL-DNN operator fusion does to each layer, and why"),
    "accuracy": ("accuracy", "MKL-DNN vs reference kernels, fused and INT8: outputs and top-1/top-5"),
    "compare": ("compare", "the reference MKL-DNN table (latency, throughput, speedups) here"),
    "merge": ("merge", "combine compare results files from several machines into one table"),
    "verbose": ("verbose", "summarize oneDNN/MKL-DNN verbose logs of any generation"),
    "topology": ("topology", "show sockets, cores, SMT siblings, NUMA nodes, CPU model and ISA"),
    "bind": ("bind", "run a command bound to CPUs and NUMA memory, with OpenMP pinned (like numactl)"),
    "models": ("models", "every known model: inputs, parameter counts, source, local weights"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mxprof",
        description="Profile Apache MXNet inference on CPUs with MKL-DNN (oneDNN).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        _load(module).add_arguments(sp)
    return parser


def _load(module: str):
    return importlib.import_module(f"mxprof.commands.{module}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(_load(args._module).run(args) or 0)
    except UsageError as exc:
        print(f"mxprof: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mxprof: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mxprof ... | head`: the reader left. Point stdout at /dev/null so the interpreter's
        # final flush does not raise again, and exit like other Unix tools do on SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
