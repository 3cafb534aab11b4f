"""The new-user trial's open defects (docs/trial-2026-12-08.md), each with the run that showed it."""

from __future__ import annotations

import pytest


def test_the_pattern_table_marks_a_gain_that_is_not_significant(fixtures_dir):
    """Before: the groups table put `~` after a not-significant `gain %`, the pattern table
    (the same kind of figure, summed per pattern) did not."""
    import copy
    import json

    from mxprof.jobs.fusion.report import upgrade
    from mxprof.render.fusion import pattern_group_table

    report = upgrade(json.loads((fixtures_dir / "results" / "fusion.json").read_text()))
    measured = next(g["gain_ratio"] for g in report["groups"] if g.get("gain_ratio"))
    unclear = {**copy.deepcopy(measured), "ci95_low": 0.8, "significant": False}
    clear_row, unclear_row = report["pattern_groups"][:2]
    clear_row["gain_ratio"], unclear_row["gain_ratio"] = measured, unclear
    table = pattern_group_table(report)
    gain = table.headers.index("gain %")
    cells = {row[0]: row[gain] for row in table.rows}
    assert cells[unclear_row["pattern"]].endswith(" ~")
    assert not cells[clear_row["pattern"]].endswith("~")
    assert "~ = no significant difference" in table.title
