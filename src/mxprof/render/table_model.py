"""The one table model of every report: a `Table` of text cells, and its three outputs.

Every report (profile, compare, fusion, accuracy) builds `Table`s from its JSON-ready dict and
hands them to the same functions: `rich_table(t)` for the terminal, `markdown_lines(t)` for
GitHub-flavoured Markdown (`|` escaped, line breaks inside a cell as `<br>`). Cells are already
formatted text; a renderer never writes table syntax itself. (CSV, for `compare`, is written
from unformatted numbers instead: `mxprof.render.csv_.csv_records`.)

The one spread display: a timing's spread is the 95% interval of its median as
`mxprof.timing.stats.Stats` gives it (order statistics for one process, the hierarchical
bootstrap for several), shown by `median_ci_cell` as "12.34 [12.10-12.61]" in one cell, or by
`ci_cell` as "12.10-12.61" in a column of its own beside the median. A dash stands for a figure
that was not measured or that the sample cannot support (see `Stats.notes`).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Table:
    """Titled rows of text cells. `align` has one letter per column, "l" or "r"; empty means
    the first column left and the others right (a label, then figures)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnote: str = ""
    align: str = ""

    def justify(self, i: int) -> str:
        if self.align:
            return "left" if self.align[i] == "l" else "right"
        return "left" if i == 0 else "right"


def rich_table(t: Table, *, caption: bool = True):
    """A rich Table of `t` (cells as plain Text, never markup: they hold the user's names).
    With `caption`, the footnote is printed under it."""
    from rich.table import Table as RichTable
    from rich.text import Text

    out = RichTable(title=Text(t.title) if t.title else None, title_justify="left",
                    caption=Text(t.footnote) if caption and t.footnote else None,
                    caption_justify="left")
    for i, h in enumerate(t.headers):
        # A figure is never split across lines (a pipe gives rich 80 columns): its column is
        # at least as wide as its widest cell; text columns wrap instead.
        numeric = t.justify(i) != "left"
        widest = max((len(row[i]) for row in t.rows), default=0) if numeric else None
        out.add_column(h, justify=t.justify(i), overflow="fold", min_width=widest,
                       no_wrap=numeric)
    for row in t.rows:
        out.add_row(*(Text(c) for c in row))
    return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def markdown_lines(t: Table, *, heading: str = "##", footnote: bool = True) -> list[str]:
    """`t` as Markdown lines: a heading with the title (none when `heading` is empty), the
    table, then the footnote in italics."""
    out = [f"{heading} {t.title}", ""] if heading and t.title else []
    rule = "|" + "".join("---|" if t.justify(i) == "left" else "---:|"
                         for i in range(len(t.headers)))
    out += ["| " + " | ".join(_md_cell(h) for h in t.headers) + " |", rule]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    if footnote and t.footnote:
        out += ["", *(f"_{line}_" for line in t.footnote.splitlines())]
    return out


def print_wide(console, table) -> None:
    """Print a rich table at least as wide as its figures need: a table narrower than its
    numeric columns (a pipe: rich's 80 columns) is printed wider, never cut or split."""
    from rich.measure import Measurement
    need = Measurement.get(console, console.options.update_width(1 << 14), table).minimum
    if need <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = need
    try:
        console.print(table)
    finally:
        console.width = width


def print_tables(console, tables, *, blank_line: bool = True) -> None:
    """Print each table on `console` (a rich Console), a blank line before each, its footnote
    under it at the console's width (a caption would wrap at the table's)."""
    for t in tables:
        if blank_line:
            console.print()
        print_wide(console, rich_table(t, caption=False))
        for line in t.footnote.splitlines():
            console.print(line, soft_wrap=True, markup=False, highlight=False)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def ci_cell(stats: dict[str, Any] | None, digits: int = 2) -> str:
    """'low-high', the 95% interval of the median of a `Stats.to_dict(unit)` dict; '-' when
    the record has none (files written before intervals)."""
    if not stats or stats.get("ci95_low") is None or stats.get("ci95_high") is None:
        return "-"
    return f"{_num(stats['ci95_low'], digits)}-{_num(stats['ci95_high'], digits)}"


def median_ci_cell(stats: dict[str, Any] | None, digits: int = 2) -> str:
    """'median [low-high]' of a `Stats.to_dict(unit)` dict: the one spread display."""
    if not stats:
        return "-"
    ci = ci_cell(stats, digits)
    median = _num(stats.get("median"), digits)
    return median if ci == "-" else f"{median} [{ci}]"
