"""The new-user trial's open defects (docs/trial-2026-12-08.md), each with the run that showed it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("content", [b"", b'{"kind": "mxprof-profile", "schema": 1}\n',
                                     bytes(range(256)) * 8],
                         ids=["empty", "json", "binary"])
def test_a_file_without_verbose_lines_is_one_error_line_naming_it(cli, tmp_path, content):
    """Before: exit 1 without `error:` (empty, JSON), exit 0 (binary); a log without a verbose
    line is the wrong file, so bad input."""
    path = tmp_path / "not-a-verbose.log"
    path.write_bytes(content)
    proc = cli("verbose", "summary", str(path))
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mxprof: error:"), proc.stderr
    assert str(path) in err[0] and "DNNL_VERBOSE=1" in err[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("command", ["profile", "fusion", "compare", "int8"])
@pytest.mark.parametrize("flag,value", [("--min-time", "-1"), ("--min-time", "0"),
                                        ("--timeout", "-5")])
def test_a_nonpositive_time_is_one_error_line_not_the_usage(cli, command, flag, value):
    """Before: argparse printed the whole usage, then `mxprof PROFILE: error: argument
    --min-time: ...`; every other bad value is one `mxprof: error:` line (exit 2)."""
    proc = cli(command, "mobilenet0.25", "--shape", "3,32,32", flag, value, "--dry-run")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith(f"mxprof: error: {flag} must be"), \
        proc.stderr
    assert "usage:" not in proc.stderr and value in errors[0]


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
