"""Command line: `python -m mxprof SUBCOMMAND`.

One module per subcommand under `mxprof.commands`, each with `add_arguments(parser)` and
`run(args) -> int`. They are imported only when chosen, so `--help` never loads MXNet.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import signal
import sys
import threading

from mxprof.errors import EXIT_FAILED, EXIT_USAGE, UsageError, WorkerError

# name -> (module under mxprof.commands, one-line help). The one dispatch table.
COMMANDS: dict[str, tuple[str, str]] = {
    "profile": ("profile", "latency, throughput and where the time goes, MKL-DNN on vs off"),
    "fusion": ("fusion", "what MKL-DNN operator fusion does to each layer, and why"),
    "accuracy": ("accuracy", "MKL-DNN vs reference kernels, fused and INT8: outputs and top-1/top-5"),
    "int8": ("int8", "INT8 layer by layer: where error starts, what FP32 fallbacks cost, "
                     "the fastest exclusion meeting a target"),
    "compare": ("compare", "the reference MKL-DNN table (latency, throughput, speedups) here"),
    "diff": ("diff", "what changed between two profile results, layer by layer, with intervals"),
    "merge": ("merge", "combine compare results files from several machines into one table"),
    "worker": ("worker", "join a Dask cluster as one benchmark host (compare --cluster)"),
    "verbose": ("verbose", "summarize oneDNN/MKL-DNN verbose logs of any generation"),
    "topology": ("topology", "show sockets, cores, SMT siblings, NUMA nodes, CPU model and ISA"),
    "ceilings": ("ceilings", "the machine's roofs: peak GFLOP/s (f32, int8) and memory bandwidth"),
    "bind": ("bind", "run a command bound to CPUs and NUMA memory, with OpenMP pinned (like numactl)"),
    "models": ("models", "every known model: inputs, parameter counts, source, local weights"),
}


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice (3.11 has none)."""

    def error(self, message: str):
        if "invalid choice: " in message:
            bad = message.split("invalid choice: ", 1)[1].split(" (", 1)[0].strip("'")
            choices = [a for act in self._actions if act.choices for a in act.choices]
            close = difflib.get_close_matches(bad, [str(c) for c in choices], n=3, cutoff=0.6)
            if close:
                message += f"; did you mean {' or '.join(close)}?"
        super().error(message)


def suggest_options(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """`unknown` arguments with the closest visible options of `parser`, one phrase each."""
    visible = [s for a in parser._actions if a.help != argparse.SUPPRESS
               for s in a.option_strings]
    parts = []
    for arg in unknown:
        flag = arg.split("=", 1)[0]
        close = difflib.get_close_matches(flag, visible, n=1, cutoff=0.6) \
            if flag.startswith("-") else []
        parts.append(f"{arg} (did you mean {' or '.join(close)}?)" if close else arg)
    return "unrecognized arguments: " + " ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mxprof",
        description="Profile Apache MXNet inference on CPUs with MKL-DNN (oneDNN).",
    )
    from mxprof import __version__
    parser.add_argument("--version", action="version", version=f"mxprof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        _load(module).add_arguments(sp)
    return parser


def _subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The parser of the command (and action) that `args` chose, for its option names."""
    chosen = parser
    for dest in ("command", "verbose_command"):
        name = getattr(args, dest, None)
        sub = next((a for a in chosen._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        if not name or sub is None or name not in sub.choices:
            break
        chosen = sub.choices[name]
    return chosen


def _load(module: str):
    return importlib.import_module(f"mxprof.commands.{module}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C's KeyboardInterrupt so every
    `run_process` on the way up kills its worker's process group."""


def _raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    """SIGTERM (a CI job cancelled, `kill`), SIGHUP (the terminal or ssh session gone) and
    SIGINT end a command like Ctrl-C: workers killed, exit status 130. Workers also carry a
    parent-death signal (mxprof.workers.process) for the SIGKILL no handler sees."""
    if threading.current_thread() is not threading.main_thread():
        return  # main() called from a thread (tests, notebooks): signals are not ours
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _require_output_extras(args) -> None:
    """Every --html page draws its charts with matplotlib (the `plot` extra), --pyperf writes
    with pyperf's classes: say so before anything runs, not with a traceback (--html) or a
    warning and exit status 0 (--pyperf) once the measured report is being written."""
    from mxprof.errors import require_extra
    command = args._module.rpartition(".")[2]
    for flag, extra in (("html", "plot"), ("pyperf", "pyperf")):
        if getattr(args, flag, None):
            require_extra(f"{command} --{flag}", extra)


def main(argv: list[str] | None = None) -> int:
    from mxprof.commands._outputs import legacy_json
    parser = build_parser()
    args, unknown = parser.parse_known_args(legacy_json(sys.argv[1:] if argv is None
                                                        else list(argv)))
    if unknown:
        chosen = _subparser(parser, args)
        chosen.error(suggest_options(chosen, unknown))
    if not getattr(args, "_module", None):
        parser.print_help()
        return EXIT_USAGE
    _install_signal_handlers()
    from mxprof.files import reap_stale
    reap_stale()  # the temporary folders of mxprof runs that were killed (SIGKILL) go now
    try:
        _require_output_extras(args)
        return int(_load(args._module).run(args) or 0)
    except UsageError as exc:
        print(f"mxprof: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WorkerError as exc:
        print(f"mxprof: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        from mxprof.workers.process import kill_running

        kill_running()  # workers started from threads (compare --instances) go too
        why = f" by {exc.args[0]}" if isinstance(exc, Interrupted) and exc.args else ""
        print(f"mxprof: interrupted{why}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mxprof ... | head`: the reader left. Point stdout at /dev/null so the interpreter's
        # final flush does not raise again, and exit like other Unix tools do on SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
