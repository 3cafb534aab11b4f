"""An accuracy sweep (mxprof.jobs.accuracy.sweep_records.AccuracySweep) as a table: one row per
network x configuration, the reference's top-1/top-5, then one column group per machine
(class): measured top-1/top-5, top-1 agreement with mkldnn-off, tolerance and latency.

A top-1 measured on random weights is shown with "(random)" and never beside the reference's
figure as if comparable; the notes say why.
"""

from __future__ import annotations

import sys
from typing import Any

from mxprof.jobs.accuracy.sweep_records import AccuracySweep, SweepRow

# Per machine: labelled top-1/top-5 (0-1), top-1 agreement with mkldnn-off over the inputs,
# within the FP32 tolerance, median latency of one call (ms) at the timing batch [95% interval].
GROUP_COLUMNS = ("top-1", "top-5", "agree", "tol", "ms")


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _latency(row: SweepRow) -> str:
    if row.latency_ms is None:
        return "-"
    if row.latency_ci95_ms is None:
        return f"{row.latency_ms:.2f}"
    low, high = row.latency_ci95_ms
    return f"{row.latency_ms:.2f} [{low:.2f}, {high:.2f}]"


def _cells(row: SweepRow | None) -> list[str]:
    """One machine's cells of a row (GROUP_COLUMNS)."""
    if row is None:
        return ["", "", "", "", ""]
    if not row.ok:
        return ["failed", (row.error or "").splitlines()[0][:40] if row.error else "", "", "",
                ""]
    random = " (random)" if row.weights == "random" and row.top1 is not None else ""
    tol = {True: "ok", False: "OUTSIDE", None: "-"}[row.within_tolerance]
    agree = _fraction(row.top1_agreement)
    if row.config == "mkldnn-off":  # the reference itself
        tol, agree = "reference", "-"
    return [_fraction(row.top1) + random, _fraction(row.top5), agree,
            tol, _latency(row)]


def table_rows(result: AccuracySweep) -> tuple[list[str], list[list[str]]]:
    """(the column groups, one list of cells per network x configuration)."""
    machines = result.machines
    by: dict[tuple[str, str], dict[str, SweepRow]] = {}
    for r in result.rows:
        by.setdefault((r.model, r.config), {})[r.machine] = r
    lines = []
    for (model, config), per in by.items():
        first = next(iter(per.values()))
        lines.append([model, config, _fraction(first.reference_top1),
                      _fraction(first.reference_top5),
                      *[c for m in machines for c in _cells(per.get(m))]])
    return machines, lines


def render_terminal(result: AccuracySweep, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    # A column group per machine needs room: a pipe or a file gets a wide page.
    console = console or Console(width=None if sys.stdout.isatty() else 100 + 70 * len(
        result.machines))
    machines, lines = table_rows(result)
    table = Table(title="mxprof accuracy: top-1/top-5 and agreement with mkldnn-off, per "
                        "machine", title_justify="left")
    for name in ("network", "config", "ref top-1", "ref top-5"):
        table.add_column(name)
    for m in machines:
        for i, c in enumerate(GROUP_COLUMNS):
            table.add_column(f"{escape(m)}\n{c}" if i == 0 else c, justify="right",
                             no_wrap=True)
    for line in lines:
        table.add_row(*[escape(c) for c in line])
    console.print(table)
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)


def render_markdown(result: AccuracySweep | dict[str, Any]) -> str:
    if isinstance(result, dict):
        result = AccuracySweep.from_dict(result)
    machines, lines = table_rows(result)
    head = ["network", "config", "ref top-1", "ref top-5",
            *[f"{m}: {c}" for m in machines for c in GROUP_COLUMNS]]
    out = ["# mxprof accuracy sweep", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in line) + " |" for line in lines]
    out += ["", *[f"- {n}" for n in result.notes]]
    return "\n".join(out) + "\n"


def write_markdown(result: AccuracySweep, path: str) -> None:
    """`--markdown PATH` (mxprof.render.outputs), written atomically."""
    from mxprof.jsonio import write_text
    write_text(path, render_markdown(result))
