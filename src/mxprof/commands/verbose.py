"""`mxprof verbose`: read oneDNN / MKL-DNN verbose logs of any generation.

    python -m mxprof verbose summary LOG [--by kind,impl] [--top N] [--json]
    python -m mxprof verbose run [-o LOG] [--level 1|2] -- CMD ...

`summary` prints where the primitive time went (exec lines), creation cost, graph-API
partitions, the reorder share and GFLOP/s of convolution / inner product / matmul. `run` runs a
command with verbose output switched on for every generation (MKLDNN_/DNNL_/ONEDNN_VERBOSE and
timestamps), writes the log, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from mxprof.errors import UsageError


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
    p.add_argument("--top", type=int, default=20, help="rows to show per table (default: 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")


def run(args: argparse.Namespace) -> int:
    if args.verbose_command == "run":
        return _run_command(args)
    return _summarize(args.log, args)


def _summarize(path: str, args: argparse.Namespace) -> int:
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: not readable")
    from mxprof.onednn import verbose  # pandas: only once the input looks usable
    try:
        log = verbose.parse(path)
        summary = log.summary(args.by)
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
    if args.json:
        out = {**log.totals(), "header": log.header, "stats": log.stats.to_dict(), "path": path}
        print(json.dumps(out, indent=2, sort_keys=False))
    else:
        print("\n".join(format_summary(log, summary, args.by, args.top, path)))
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


def format_summary(log: Any, summary: Any, by: str, top: int, path: str) -> list[str]:
    h, s, t = log.header, log.stats, log.totals()
    lib = f"{h['library']} v{h['version']}" if h["version"] else "unknown library version"
    lines = [
        f"{path}: {lib}, format generation {h['generation'] or 'unknown'}",
        f"  isa: {h['isa'] or '-'}; runtime: {h['runtime'] or '-'}",
        f"  lines: {s.lines_total} read, {s.lines_parsed} timed rows, {s.lines_untimed} "
        f"untimed verbose (info/check/dispatch), {s.lines_malformed} malformed, "
        f"{s.lines_total - s.lines_verbose} other",
        f"  primitive exec: {t['exec_count']} calls, {t['exec_ms']:.3f} ms total "
        f"(sum of per-call wall times reported by oneDNN)",
        f"  primitive create: {t['create_count']} timed, {t['create_ms']:.3f} ms",
        "  wall span of the log (first timestamp to last end): " + (
            f"{t['span_ms']:.3f} ms" if t["span_ms"] is not None
            else "- (no timestamps: set DNNL_VERBOSE_TIMESTAMP=1 / ONEDNN_VERBOSE_TIMESTAMP=1)"),
        f"  reorder share of exec time: {100 * t['reorder_share']:.1f} %",
    ]
    if t["graph_exec_count"] or t["graph_compile_count"]:
        lines.append(f"  graph partitions: {t['graph_exec_count']} exec, "
                     f"{t['graph_exec_ms']:.3f} ms; {t['graph_compile_count']} compiled")
    lines += ["", f"Exec time by {by} ({min(top, len(summary))} of {len(summary)} groups):"]
    keys = list(summary.index.names)
    rows = []
    for idx, r in summary.head(top).iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        rows.append([_shorten(str(v)) for v in idx] + [
            str(int(r["count"])), f"{r['total_ms']:.3f}", f"{r['mean_ms']:.4f}",
            f"{r['min_ms']:.4f}", f"{r['max_ms']:.4f}", f"{r['percent']:.1f}"])
    lines += format_table([*keys, "calls", "total ms", "mean ms", "min ms", "max ms", "%"], rows,
                          len(keys))
    flops = log.gflops()
    if len(flops):
        lines += ["", f"GFLOP/s (GOP/s for int8) of convolution / inner product / matmul "
                      f"(top {top} by time; FLOPs from the problem descriptor, time = sum of "
                      "exec ms):"]
        rows = [[k, _shorten(i, 28), _shorten(p, 56), str(int(r["calls"])), f"{r['total_ms']:.3f}",
                 "-" if r["gflops"] != r["gflops"] else f"{r['gflops']:.2f}"]
                for (k, i, p), r in flops.head(top).iterrows()]
        lines += format_table(["kind", "impl", "problem", "calls", "total ms", "GFLOP/s"], rows, 3)
    return lines


def _run_command(args: argparse.Namespace) -> int:
    import subprocess

    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        raise UsageError("verbose run needs a command: mxprof verbose run -- python script.py")
    env = dict(os.environ)
    for prefix in ("MKLDNN", "DNNL", "ONEDNN"):
        env[f"{prefix}_VERBOSE"] = args.level
        env[f"{prefix}_VERBOSE_TIMESTAMP"] = "1"
    try:
        # oneDNN writes to the C stdout; foreign lines go on to our stdout, all lines to the log.
        from mxprof.workers.process import managed_popen  # killed with mxprof, group and all

        with open(args.output, "wb") as out, managed_popen(
                cmd, stdout=subprocess.PIPE, env=env) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if b"_verbose," not in line:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
            code = proc.wait()
    except FileNotFoundError:
        raise UsageError(f"command not found: {cmd[0]}") from None
    except OSError as exc:
        raise UsageError(f"cannot run {cmd[0]} or write {args.output}: {exc}") from None
    print(f"mxprof: wrote {args.output} (command exit status {code})", file=sys.stderr)
    status = _summarize(args.output, args)
    return code if code else status
