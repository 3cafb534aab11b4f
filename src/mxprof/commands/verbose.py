"""`mxprof verbose`: read oneDNN / MKL-DNN verbose logs of any generation.

    python -m mxprof verbose summary LOG [--by kind,impl] [--top N] [--json PATH|-] [--show-rejected]
    python -m mxprof verbose run [-o LOG] [--level 1|2] -- CMD ...

`summary` prints where the primitive time went (exec lines), creation cost (by kind and
implementation; the larger of exec and creation first), graph-API partitions, the reorder share,
GFLOP/s of convolution / inner product / matmul, and every rejected line with its reason. `run`
runs a command with verbose output switched on for every generation (MKLDNN_/DNNL_/
ONEDNN_VERBOSE and timestamps), writes the log, and prints the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from mxprof.errors import UsageError

REJECTED_SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="verbose_command", metavar="ACTION", required=True)
    summary = sub.add_parser("summary", help="summarize a verbose log (exec time by kind, ...)")
    summary.add_argument("log", help="log file with oneDNN/MKL-DNN verbose lines")
    _summary_options(summary)
    run = sub.add_parser("run", help="run CMD with verbose output on, save the log, summarize")
    run.add_argument("-o", "--output", default="onednn_verbose.log",
                     help="where to write the log (default: %(default)s)")
    run.add_argument("--level", default="1", choices=("1", "2"),
                     help="1: exec lines; 2: also creation lines (default: %(default)s)")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    _summary_options(run)


def _summary_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default="kind",
                   help="group by any of kind,impl,shape,prop_kind (comma separated; "
                        "default: %(default)s)")
    from mxprof.commands._protocol import count
    p.add_argument("--top", type=count, default=20, metavar="N",
                   help="rows to show per table (default: 20)")
    p.add_argument("--show-rejected", action="store_true",
                   help=f"list every rejected line (default: the first {REJECTED_SHOWN})")
    # --json PATH as every command ('-': stdout, instead of the tables). Never an optional
    # PATH: `summary --json a.log b.log` would write over a.log; the old bare switch still
    # means stdout where it cannot swallow a path (mxprof.commands._outputs.legacy_json).
    from mxprof.commands._outputs import add_outputs
    add_outputs(p, "verbose-summary", load=False, dry_run=False)


def run(args: argparse.Namespace) -> int:
    if args.verbose_command == "run":
        return _run_command(args)
    return _summarize(args.log, args)


def _check_json(args: argparse.Namespace, log: str) -> None:
    from mxprof.commands._outputs import check_outputs
    check_outputs(args, "verbose-summary", inputs=(log,))


def _summarize(path: str, args: argparse.Namespace, captured_here: bool = False) -> int:
    from mxprof.commands._outputs import write_outputs
    from mxprof.files import InputFileError, check_input
    _check_json(args, path)
    try:
        check_input(path, "verbose log", stream=True)
    except InputFileError as exc:
        raise UsageError(str(exc)) from None
    from mxprof.onednn import verbose  # pandas: only once the input looks usable
    try:
        log = verbose.parse(path)
        summary = log.summary(args.by)
        by = [b.strip() for b in args.by.split(",")]
        create_by = by if {"impl", "implementation"} & set(by) else [*by, "impl"]
        create_summary = log.summary(create_by, operation="create")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if log.stats.lines_verbose == 0:
        print(f"mxprof: {path} holds no oneDNN/MKL-DNN verbose lines ({log.stats.lines_total} "
              "lines read). Run the program with DNNL_VERBOSE=1 (mxnet 1.7+), MKLDNN_VERBOSE=1 "
              "(mxnet-mkl <= 1.6) or ONEDNN_VERBOSE=1, or use `mxprof verbose run -- CMD`.",
              file=sys.stderr)
        return 1
    machine = _machine() if captured_here else None
    out = {"kind": "mxprof-verbose-summary", "schema": 1, **log.totals(), "header": log.header,
           "stats": log.stats.to_dict(), "path": path, "machine": machine}
    if args.json == "-":
        write_outputs(args, out, "verbose-summary")
        return 0
    print("\n".join(format_summary(log, summary, args.by, args.top, path, create_summary,
                                    args.show_rejected, machine=machine)))
    for error in write_outputs(args, out, "verbose-summary"):
        print(f"mxprof: error: {error}", file=sys.stderr)
        return 2
    return 0


def _fmt_row(cells: list[str], widths: list[int], numeric_from: int) -> str:
    return "  ".join(c.rjust(w) if i >= numeric_from else c.ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


def format_table(headers: list[str], rows: list[list[str]], numeric_from: int) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = [_fmt_row(headers, widths, numeric_from), "  ".join("-" * w for w in widths)]
    return lines + [_fmt_row(r, widths, numeric_from) for r in rows]


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _ms(value: float, count: int, resolution: float | None, digits: int = 3) -> str:
    """A time in ms; a group whose calls all printed 0 was below the log's resolution."""
    if value == 0 and count and resolution:
        return f"< {resolution:g}"
    return f"{value:.{digits}f}"


def _machine() -> dict[str, Any]:
    """This machine, for a log `verbose run` captured here (a pasted log does not say)."""
    from mxprof.host.environment import host_fingerprint
    env = host_fingerprint()
    return {"hostname": env.hostname, "cpu_model": env.cpu_model,
            "physical_cores": env.physical_cores, "logical_cpus": env.logical_cpus,
            "affinity": env.affinity.get("cpus"), "mxnet_installed": env.packages.get("mxnet")}


def _machine_line(machine: dict[str, Any] | None) -> str:
    if machine is None:
        return ("  machine: not recorded in a verbose log (CPU model, cores, affinity and the "
                "MXNet version are not in it); the library, ISA and threads above are the log's")
    return (f"  machine (captured here by `mxprof verbose run`): {machine['hostname']}, CPU "
            f"{machine['cpu_model'] or '?'}, {machine['physical_cores'] or '?'} physical cores / "
            f"{machine['logical_cpus']} logical CPUs, affinity {machine['affinity'] or '?'}; "
            f"MXNet installed here {machine['mxnet_installed'] or 'none'} (the command may "
            "have loaded another)")


def _header(log: Any, t: dict[str, Any], path: str,
            machine: dict[str, Any] | None = None) -> list[str]:
    h, s = log.header, log.stats
    lib = f"{h['library']} v{h['version']}" if h["version"] else "no version header"
    generation = h["generation"] or "unknown"
    if h.get("generation_inferred"):
        generation += " (inferred from the line layout)"
    threads = f"; threads: {h['threads']}" if h.get("threads") else ""
    res = log.resolution_ms
    lines = [
        f"{path}: {lib}, format generation {generation}",
        f"  isa: {h['isa'] or '-'}; runtime: {h['runtime'] or '-'}{threads}",
        _machine_line(machine),
        f"  lines: {s.lines_total} read, {s.lines_parsed} timed rows, {s.lines_untimed} "
        f"untimed verbose (info/check/dispatch/start/error), {s.lines_total - s.lines_verbose} "
        "other",
    ]
    if s.lines_malformed:
        lines.append(f"  {s.lines_malformed} lines rejected, see below")
    lines += [
        f"  primitive exec: {t['exec_count']} calls, {t['exec_ms']:.3f} ms total "
        f"(sum of per-call wall times reported by oneDNN)",
        f"  primitive create: {t['create_count']} timed, {t['create_ms']:.3f} ms"
        + (f"; nested creation: {t['create_nested_count']}, {t['create_nested_ms']:.3f} ms "
           "(inside their parent's time)" if t["create_nested_count"] else ""),
        "  wall span of the log (first timestamp to last end): " + (
            f"{t['span_ms']:.3f} ms" if t["span_ms"] is not None
            else "- (no timestamps: set DNNL_VERBOSE_TIMESTAMP=1 / ONEDNN_VERBOSE_TIMESTAMP=1)"),
        f"  reorder share of exec time: {100 * t['reorder_share']:.1f} %",
        "  time resolution: " + (f"{res:g} ms (finest step printed; 0 prints as < {res:g})"
                                 if res is not None else "-"),
    ]
    if t["graph_exec_count"] or t["graph_compile_count"]:
        lines.append(f"  graph partitions: {t['graph_exec_count']} exec, "
                     f"{t['graph_exec_ms']:.3f} ms; {t['graph_compile_count']} compiled")
    return lines


def _time_table(title: str, summary: Any, top: int, resolution: float | None) -> list[str]:
    if not len(summary):
        return ["", f"{title}: no such lines in the log"]
    lines = ["", f"{title} ({min(top, len(summary))} of {len(summary)} groups):"]
    keys = list(summary.index.names)
    rows = []
    for idx, r in summary.head(top).iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        n = int(r["count"])
        rows.append([_shorten(str(v)) for v in idx] + [
            str(n), _ms(r["total_ms"], n, resolution), _ms(r["mean_ms"], n, resolution, 4),
            _ms(r["min_ms"], n, resolution, 4), _ms(r["max_ms"], n, resolution, 4),
            f"{r['percent']:.1f}"])
    return lines + format_table([*keys, "calls", "total ms", "mean ms", "min ms", "max ms", "%"],
                                rows, len(keys))


def _rejected(log: Any, show_all: bool) -> list[str]:
    bad = log.malformed
    if not bad:
        return []
    shown = bad if show_all else bad[:REJECTED_SHOWN]
    more = "" if len(shown) == len(bad) else \
        f"; first {len(shown)}, --show-rejected for all"
    lines = ["", f"Rejected lines ({len(bad)}{more}):"]
    width = len(str(shown[-1][0]))
    for n, reason, text in shown:
        lines += [f"  line {n:>{width}}: {reason}", f"{' ' * (width + 9)}{text!r}"]
    return lines


def format_summary(log: Any, summary: Any, by: str, top: int, path: str,
                   create_summary: Any = None, show_rejected: bool = False,
                   machine: dict[str, Any] | None = None) -> list[str]:
    t = log.totals()
    lines = _header(log, t, path, machine)
    res = log.resolution_ms
    tables = [(t["exec_ms"], _time_table(f"Exec time by {by}", summary, top, res))]
    if create_summary is not None and len(create_summary):
        tables.append((t["create_ms"], _time_table(f"Creation time by {by}", create_summary,
                                                   top, res)))
    for _, table in sorted(tables, key=lambda x: -x[0]):  # the larger of the two first
        lines += table
    flops = log.gflops()
    if len(flops):
        lines += ["", f"GFLOP/s (GOP/s for int8) of convolution / inner product / matmul "
                      f"(top {top} by time; FLOPs from the problem descriptor, time = sum of "
                      "exec ms):"]
        rows = [[k, _shorten(i, 28), _shorten(p, 56), str(int(r["calls"])), f"{r['total_ms']:.3f}",
                 "-" if r["gflops"] != r["gflops"] or r["total_ms"] == 0
                 else f"{r['gflops']:.2f}"]
                for (k, i, p), r in flops.head(top).iterrows()]
        lines += format_table(["kind", "impl", "problem", "calls", "total ms", "GFLOP/s"], rows, 3)
    return lines + _rejected(log, show_rejected)


def _log_target(path: str, force: bool) -> tuple[Path, int, str]:
    """Checks the log path before anything runs and opens a temporary file beside it (the
    existing log is replaced only once the command succeeded, and only when it is an earlier
    verbose log or --force): (target, fd, temp path)."""
    target = Path(os.path.realpath(path))  # a link stays a link: the file it names is replaced
    folder = target.parent
    from mxprof.files import OutputFileError, check_replace
    try:
        check_replace("-o", path, "log", "verbose-log", force=force)
    except OutputFileError as exc:
        raise UsageError(str(exc)) from None
    if target.is_dir():
        raise UsageError(f"cannot write the log {path}: it is a folder")
    if target.exists() and not target.is_file():
        # Renaming over /dev/null or a FIFO would replace the node itself; the log is also
        # read back for the summary, which a device cannot give.
        raise UsageError(f"cannot write the log {path}: not a regular file")
    if not folder.is_dir():
        raise UsageError(f"cannot write the log {path}: folder {folder} does not exist")
    if target.exists() and not os.access(target, os.W_OK):  # a log its owner write-protected
        raise UsageError(f"cannot write the log {path}: permission denied")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write the log {path}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the log from other users
    return target, fd, tmp


def _run_command(args: argparse.Namespace) -> int:
    import subprocess

    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        raise UsageError("verbose run needs a command: mxprof verbose run -- python script.py")
    _check_json(args, args.output)
    target, fd, tmp = _log_target(args.output, args.force)
    env = dict(os.environ)
    for prefix in ("MKLDNN", "DNNL", "ONEDNN"):
        env[f"{prefix}_VERBOSE"] = args.level
        env[f"{prefix}_VERBOSE_TIMESTAMP"] = "1"
    kept = f" ({args.output} was left as it was)" if target.exists() else ""
    try:
        # oneDNN writes to the C stdout; foreign lines go on to our stdout, all lines to the log.
        from mxprof.workers.process import managed_popen  # killed with mxprof, group and all
        with os.fdopen(fd, "wb") as out, contextlib.ExitStack() as stack:
            try:
                proc = stack.enter_context(managed_popen(cmd, stdout=subprocess.PIPE, env=env))
            except FileNotFoundError:
                raise UsageError(f"command not found: {cmd[0]}{kept}") from None
            except OSError as exc:
                raise UsageError(f"cannot run {cmd[0]}: {exc.strerror or exc}{kept}") from None
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if b"_verbose," not in line:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
            code = proc.wait()
        if code and target.exists():
            # The README's promise: a failed command leaves the earlier log as it was.
            print(f"mxprof: the command failed (exit status {code}); {args.output} was left as "
                  "it was, the failed run's log discarded", file=sys.stderr)
            return code
        os.replace(tmp, target)
    except OSError as exc:  # writing the temporary log failed (disk full, ...)
        raise UsageError(f"cannot write the log {args.output}: {exc.strerror or exc}{kept}") \
            from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"mxprof: wrote {args.output} (command exit status {code})", file=sys.stderr)
    status = _summarize(args.output, args, captured_here=True)
    return code if code else status
