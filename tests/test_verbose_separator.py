"""The decimal separator is the log's, not the line's (issue 20), with both scanners.

MXNet 1.9.1's INT8 log has bias reorders whose problem descriptor is one number and whose time
oneDNN printed as `0` (`...,,64,0`): the last two fields all digits, which a line on its own
cannot tell from a decimal-comma time with a field missing. Every other line of the log prints
its times with a decimal point, so these read as descriptor 64, time 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mxprof._native import core
from mxprof.onednn import _verbose_py, verbose
from scan_compare import assert_same_scan

INT8 = Path(__file__).parent / "fixtures" / "verbose" / "mxnet191_dnnl_v2.4.4_int8_ts_level2.log"
# A bias reorder of the real log (line 10 holds `,,128,0.000976562`).
BIAS = re.compile(r",,(\d+),(\d+\.\d+)$")


@pytest.fixture(params=[True, False], ids=["native", "python"])
def native(request):
    return request.param


def _scan(text: str, native: bool) -> verbose.VerboseLog:
    data = text.encode()
    assert_same_scan(core.scan_verbose_buffer(data), _verbose_py.scan_buffer(data))
    return verbose.parse(data, native=native)


def _zeroed(text: str, times: int) -> tuple[str, list[int]]:
    """The log with the first `times` bias reorders printed as `,,64,0`, and their lines."""
    out, changed = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if len(changed) < times and ",exec," in line and BIAS.search(line):
            line = BIAS.sub(",,64,0", line)
            changed.append(n)
        out.append(line)
    return "\n".join(out) + "\n", changed


def test_a_real_int8_log_keeps_its_zero_time_lines(native):
    original = INT8.read_text()
    text, changed = _zeroed(original, 4)
    assert len(changed) == 4
    before, after = _scan(original, native), _scan(text, native)
    assert after.totals()["exec_count"] == before.totals()["exec_count"]
    assert after.malformed == before.malformed == ()
    rows = after.primitives.set_index("line_no").loc[changed]
    assert list(rows["time_ms"]) == [0.0] * 4 and set(rows["problem"]) == {"64"}


def _comma_log(lines: list[str]) -> list[str]:
    """The lines as a decimal-comma locale prints them (time and timestamp)."""
    out = []
    for line in lines:
        if ",exec," in line:
            head, _, time = line.rpartition(",")
            line = head + "," + time.replace(".", ",")
            line = re.sub(r"^dnnl_verbose,(\d+)\.(\d+),", r"dnnl_verbose,\1,\2,", line)
        out.append(line)
    return out


def test_in_a_decimal_comma_log_the_same_line_stays_ambiguous(native):
    lines = [line for line in INT8.read_text().splitlines()
             if ",exec," in line and not BIAS.search(line)][:20]
    zero = BIAS.sub(",,64,0", next(line for line in INT8.read_text().splitlines()
                                    if ",exec," in line and BIAS.search(line)))
    log = _scan("\n".join([*_comma_log(lines), zero]) + "\n", native)
    assert log.totals()["exec_count"] == 20
    assert len(log.malformed) == 1
    number, reason, _ = log.malformed[0]
    assert number == 21 and reason.startswith('ambiguous time "64,0"')


def test_a_lone_ambiguous_line_reads_with_a_decimal_point(native):
    # No line says otherwise: oneDNN's C locale prints a point.
    zero = BIAS.sub(",,64,0", next(line for line in INT8.read_text().splitlines()
                                    if ",exec," in line and BIAS.search(line)))
    log = _scan(zero + "\n", native)
    assert log.totals()["exec_count"] == 1 and log.malformed == ()
