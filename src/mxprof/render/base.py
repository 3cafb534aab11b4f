"""What every renderer is: `render(report) -> str` and the file extension it writes."""

from __future__ import annotations

from typing import Any


class Renderer:
    """Turns a schema-1 profile report (a dict, see `mxprof.jobs.profile.report`) into text."""

    name = "base"
    extension = ".txt"

    def render(self, report: dict[str, Any]) -> str:
        raise NotImplementedError

    def write(self, report: dict[str, Any], path: str) -> None:
        from mxprof.workers.jsonio import write_text  # atomic: never half a report

        write_text(path, self.render(report))


def fmt_ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
