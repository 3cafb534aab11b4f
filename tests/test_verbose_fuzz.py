"""Fuzzing the verbose scanner: random bytes and mutated real lines never crash it, never make
it count garbage (a counted line has a real primitive kind, an engine of cpu/gpu and a finite
non-negative time), and the native scanner and the pure-Python twin agree on every input,
rejected lines and reasons included. Deterministic (derandomized); bench/verbose_fuzz.py runs
the same checks on >= 10^6 lines outside CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxprof._native import core
from mxprof.onednn import _verbose_py
from scan_compare import assert_same_scan

FIXTURES = Path(__file__).parent / "fixtures" / "verbose"
CASES = Path(__file__).parent / "fixtures" / "verbose_cases"  # logs from public bug reports
REAL_LINES = sorted({line for p in [*FIXTURES.glob("*.log"), *CASES.glob("*.log")]
                     for line in p.read_bytes().splitlines() if b"_verbose," in line})
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_corpus_has_every_generation():
    assert any(b"11,4111" in line for line in REAL_LINES)  # the bug-report cases were read
    for marker in (b"mkldnn_verbose,exec,convolution", b"mkldnn_verbose,exec,cpu",
                   b"dnnl_verbose,", b"onednn_verbose,v1,primitive", b"onednn_verbose,v1,graph",
                   b"onednn_graph_verbose"):
        assert any(marker in line for line in REAL_LINES), marker


def _timed_lines(data: bytes, result: dict) -> list[bytes]:
    lines = data.split(b"\n")
    rows = [*result["primitive"]["line_no"], *result["graph"]["line_no"]]
    return [lines[i - 1].rstrip(b"\r") for i in rows]


def _check(data: bytes) -> dict:
    native = core.scan_verbose_buffer(data)
    assert_same_scan(native, _verbose_py.scan_buffer(data))
    for line in _timed_lines(data, native):
        # Every counted line ends in a plain non-negative decimal number (or digits,digits).
        assert _verbose_py.parse_number(line.rsplit(b",", 1)[1], need_dot=False) is not None
    kinds = [native["primitive"]["body_strings"][b] for b in native["primitive"]["body"]]
    for body in kinds:
        fields = body.split(",")
        kind = fields[1] if fields[0] in ("cpu", "gpu") else fields[0]
        assert kind.encode() in _verbose_py.PRIMITIVE_KINDS, body
    assert np.all(np.isfinite(native["primitive"]["time_ms"]))
    assert np.all(np.isfinite(native["graph"]["time_ms"])) and np.all(native["graph"]["time_ms"] >= 0)
    s = native["stats"]
    assert s["lines_parsed"] + s["lines_skipped"] == s["lines_total"]
    assert s["lines_parsed"] == len(native["primitive"]["time_ms"]) + len(native["graph"]["time_ms"])
    assert np.all(native["primitive"]["time_ms"] >= 0)
    return native


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(data):
    _check(data)


_MUTATIONS = st.sampled_from(["delete", "insert", "replace", "truncate", "comma", "dup_field",
                              "drop_field", "swap_point", "swap_stamp"])


@st.composite
def mutated_line(draw):
    line = bytearray(draw(st.sampled_from(REAL_LINES)))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(_MUTATIONS)
        pos = draw(st.integers(0, max(len(line) - 1, 0)))
        if kind == "delete" and line:
            del line[pos:pos + draw(st.integers(1, 8))]
        elif kind == "insert":
            line[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "replace" and line:
            line[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del line[pos:]
        elif kind == "comma":
            line[pos:pos] = b","
        elif kind == "dup_field":
            fields = bytes(line).split(b",")
            i = draw(st.integers(0, len(fields) - 1))
            line = bytearray(b",".join([*fields[:i + 1], fields[i], *fields[i + 1:]]))
        elif kind == "drop_field":
            fields = bytes(line).split(b",")
            i = draw(st.integers(0, len(fields) - 1))
            line = bytearray(b",".join(fields[:i] + fields[i + 1:]))
        elif kind == "swap_stamp":  # only the timestamp's point becomes a locale's comma
            i = line.find(b".", line.find(b"_verbose,") + 1)
            if 0 <= i < 48:
                line[i] = 0x2C
        elif kind == "swap_point":  # a locale's decimal comma, or the reverse
            text = bytes(line)
            line = bytearray(text.replace(b".", b",") if b"." in text[-12:]
                             else text[:-12] + text[-12:].replace(b",", b"."))
    return bytes(line)


@SETTINGS
@given(st.lists(mutated_line(), max_size=30), st.sampled_from([b"\n", b"\r\n"]))
def test_mutated_real_lines(lines, eol):
    _check(eol.join(lines) + eol)


@SETTINGS
@given(st.lists(st.sampled_from(REAL_LINES), min_size=1, max_size=20),
       st.lists(mutated_line(), max_size=20), st.randoms())
def test_exec_total_equals_valid_lines_alone(valid, noise, rnd):
    """Mixing garbage into a log changes nothing about the valid lines' totals."""
    clean = core.scan_verbose_buffer(b"\n".join(valid) + b"\n")
    # keep only noise the scanner itself rejects, then shuffle it among the valid lines
    junk = [n for n in noise if core.scan_verbose_buffer(n + b"\n")["stats"]["lines_parsed"] == 0]
    mixed = list(valid) + junk
    rnd.shuffle(mixed)
    dirty = _check(b"\n".join(mixed) + b"\n")
    for table in ("primitive", "graph"):
        assert sorted(dirty[table]["time_ms"]) == sorted(clean[table]["time_ms"])
    assert dirty["stats"]["lines_parsed"] == clean["stats"]["lines_parsed"]
