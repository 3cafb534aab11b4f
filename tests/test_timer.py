"""measure() and Timer: counts, stopping rules, errors, records; Timer logic on a fake clock."""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pytest

import mxprof
from mxprof.timing import _clock_py
from mxprof.timing import clock as native_clock
from mxprof.timing.stats import Stats, summarize
from mxprof.timing.timer import Measurement, SectionStats, Timer, format_ns, measure

LOOPS = {"native": native_clock.timing_loop, "python": _clock_py.timing_loop}


@pytest.fixture(params=sorted(LOOPS))
def loop(request):
    return LOOPS[request.param]


class Counter:
    def __init__(self, sleep_s: float = 0.0):
        self.calls = 0
        self.sleep_s = sleep_s

    def __call__(self):
        self.calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)


class FakeClock:
    """A clock that moves only when told to: Timer logic tested to the nanosecond."""

    def __init__(self, start: int = 1_000):
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


def test_public_exports():
    assert mxprof.Timer is Timer and mxprof.measure is measure
    assert {"Timer", "measure"} <= set(mxprof.__all__)


def test_clock_info_contract():
    info = native_clock.clock_info()
    assert info["source"] in ("tsc", "clock_gettime")
    assert info["tsc_hz"] is None or info["tsc_hz"] > 1e8
    assert 0 < info["overhead_ns"] < 10_000
    assert info["now_ns_call_ns"] >= 0
    json.dumps(info)


def test_repeat_and_warmup_counts(loop):
    fn = Counter()
    m = measure(fn, repeat=25, warmup=3, loop=loop)
    assert fn.calls == 28
    assert m.warmup == 3 and m.stats.n == 25
    assert m.samples_ns.dtype == np.int64 and m.samples_ns.shape == (25,)
    assert not m.samples_ns.flags.writeable
    assert m.clock == native_clock.clock_info()


def test_native_samples_are_a_view_of_the_native_buffer():
    m = measure(Counter(), repeat=100, warmup=0)
    assert type(m.samples_ns.base).__name__ == "PyCapsule"


def test_known_sleep_is_measured(loop):
    m = measure(Counter(sleep_s=0.004), repeat=5, warmup=1, loop=loop)
    assert m.stats.min >= 4e6
    assert 4e6 <= m.stats.median < 3e7
    assert m.wall_ns >= m.samples_ns.sum()


def test_calibrated_repeat_runs_for_min_time(loop):
    fn = Counter(sleep_s=0.002)
    m = measure(fn, min_time=0.03, warmup=0, loop=loop)
    assert 6 <= m.stats.n <= 16
    assert m.samples_ns.sum() >= 0.03e9 - m.stats.max


def test_calibrated_repeat_takes_at_least_six_calls_of_a_slow_function(loop):
    fn = Counter(sleep_s=0.02)
    m = measure(fn, min_time=0.01, warmup=0, loop=loop)
    assert m.stats.n == 6


def test_max_repeat_caps_a_fast_function(loop):
    m = measure(lambda: None, min_time=10.0, max_repeat=500, warmup=0, loop=loop)
    assert m.stats.n == 500


def test_max_time_bounds_a_slow_function(loop):
    """A 50 ms function, repeat=None: max_time=0.12 s must stop it well before 6 calls."""
    fn = Counter(sleep_s=0.05)
    t0 = time.monotonic()
    m = measure(fn, warmup=1, min_time=0.2, max_time=0.12, loop=loop)
    # The call count is the check (6 calls would fill min_time); the wall bound only catches a
    # loop that ignores max_time entirely, with room for a loaded machine's late wake-ups.
    assert time.monotonic() - t0 < 2.0
    assert 1 <= m.stats.n <= 3
    assert any("max_time" in w and "stopped the loop" in w for w in m.stats.warnings)


def test_max_time_cuts_warmup_too(loop):
    fn = Counter(sleep_s=0.03)
    m = measure(fn, repeat=10, warmup=20, max_time=0.05, loop=loop)
    assert m.warmup < 20 and m.stats.n == 1
    assert any("warm-up" in w for w in m.stats.warnings)


def test_exceptions_propagate_unchanged(loop):
    error = RuntimeError("model failed")

    def fails():
        raise error

    with pytest.raises(RuntimeError) as info:
        measure(fails, repeat=10, loop=loop)
    assert info.value is error

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure(interrupted, warmup=0, loop=loop)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repeat": 0}, "repeat must be an integer >= 1"),
    ({"repeat": 2.5}, "repeat must be an integer"),
    ({"warmup": -1}, "warmup must be an integer >= 0"),
    ({"max_repeat": 0}, "max_repeat must be an integer >= 1"),
    ({"min_time": -1}, "min_time must be a number of seconds >= 0"),
    ({"max_time": 0}, "max_time must be a number of seconds > 0"),
    ({"min_time": float("inf")}, "min_time must be a number of seconds"),
    ({"max_time": "1"}, "max_time must be a number of seconds"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure(lambda: None, **kwargs)


def test_non_callable_is_refused():
    with pytest.raises(TypeError, match="fn must be callable"):
        measure(3)


def test_measurement_json_round_trip():
    m = measure(Counter(), repeat=30, warmup=2)
    text = json.dumps(m.to_dict())
    back = Measurement.from_dict(json.loads(text))
    assert (back.samples_ns == m.samples_ns).all()
    assert back.stats == m.stats
    assert (back.warmup, back.clock, back.wall_ns) == (m.warmup, m.clock, m.wall_ns)
    assert json.loads(text)["schema"] == 1
    with pytest.raises(ValueError, match="schema"):
        Measurement.from_dict({**m.to_dict(), "schema": 99})


def test_measurement_prints_its_figures_and_warnings():
    m = measure(Counter(), repeat=3, warmup=0)
    text = str(m)
    assert text.startswith("median ") and "n=3" in text and "warm-up 0 calls" in text
    assert "warning: only 3 samples" in text
    assert isinstance(m.stats, Stats)


# Timer, on a fake clock


def test_sections_accumulate_count_total_min_max():
    clock = FakeClock()
    t = Timer(clock=clock)
    for ns in (30, 10, 20):
        with t.section("infer"):
            clock.advance(ns)
    with t.section("load"):
        clock.advance(500)
    assert t.sections == {
        "infer": SectionStats("infer", count=3, total_ns=60, min_ns=10, max_ns=30),
        "load": SectionStats("load", count=1, total_ns=500, min_ns=500, max_ns=500),
    }
    assert t.sections["infer"].mean_ns == 20


def test_named_timer_as_context_manager_nests_and_records():
    clock = FakeClock()
    t = Timer("outer", clock=clock)
    with t as same:
        assert same is t
        clock.advance(5)
        with t:
            clock.advance(7)
        assert t.elapsed_ns == 7
        clock.advance(1)
    assert t.elapsed_ns == 13
    assert t.sections["outer"] == SectionStats("outer", 2, 20, 7, 13)


def test_time_is_recorded_when_the_block_raises():
    clock = FakeClock()
    t = Timer(clock=clock)
    with pytest.raises(ZeroDivisionError), t.section("bad"):
        clock.advance(4)
        _ = 1 / 0
    assert t.sections["bad"].total_ns == 4


def test_decorator_accumulates_across_calls_and_recursion():
    clock = FakeClock()

    @Timer(clock=clock)
    def fact(n):
        clock.advance(1)
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(4) == 24
    stats = fact.timer.sections["test_decorator_accumulates_across_calls_and_recursion.<locals>.fact"]
    # calls of depth 4, 3, 2, 1 took 4, 3, 2, 1 ticks
    assert (stats.count, stats.total_ns, stats.min_ns, stats.max_ns) == (4, 10, 1, 4)
    assert fact.__name__ == "fact"


def test_decorator_records_and_reraises():
    clock = FakeClock()
    timer = Timer("predict", clock=clock)

    @timer
    def predict(x):
        clock.advance(3)
        if x < 0:
            raise ValueError("negative")
        return x

    assert predict(2) == 2
    with pytest.raises(ValueError, match="negative"):
        predict(-1)
    assert timer.sections["predict"] == SectionStats("predict", 2, 6, 3, 3)


def test_unnamed_timer_measures_without_recording():
    clock = FakeClock()
    with Timer(clock=clock) as t:
        clock.advance(42)
    assert t.elapsed_ns == 42 and t.sections == {}
    assert t.report() == ["(no sections timed)"]


def test_log_receives_one_line_per_block():
    clock = FakeClock()
    lines = []
    with Timer("load", clock=clock, log=lines.append):
        clock.advance(12_345_678)
    assert lines == ["load: 12.35 ms"]


def test_log_receives_one_line_per_section_block():
    """README: `Timer(log=print)` prints each block's time: section blocks included."""
    clock = FakeClock()
    lines = []
    t = Timer(clock=clock, log=lines.append)
    with t.section("load"):
        clock.advance(20_000_000)
    for ns in (7_000_000, 8_500_000):
        with t.section("infer"):
            clock.advance(ns)
    with pytest.raises(ZeroDivisionError), t.section("bad"):
        clock.advance(1_000)
        _ = 1 / 0
    assert lines == ["load: 20 ms", "infer: 7 ms", "infer: 8.5 ms", "bad: 1 us"]
    assert t.sections["infer"] == SectionStats("infer", 2, 15_500_000, 7_000_000, 8_500_000)
    with pytest.raises(TypeError, match="section name must be str"):
        t.section(3)


def test_log_print_prints_section_blocks_with_the_native_clock(capsys):
    t = Timer(log=print)
    with t.section("sleep"):
        time.sleep(0.002)
    with t.section("quick"):
        pass
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert re.fullmatch(r"sleep: [0-9.]+ ms", out[0]), out
    assert re.fullmatch(r"quick: [0-9.]+ [mun]?s", out[1]), out
    assert t.sections["sleep"].total_ns >= 2_000_000


def test_report_table():
    clock = FakeClock()
    t = Timer(clock=clock)
    with t.section("load"):
        clock.advance(2_000_000_000)
    for _ in range(4):
        with t.section("infer"):
            clock.advance(12_500_000)
    t.record("infer", 17_500_000)
    lines = t.report()
    assert lines[0].split() == ["section", "count", "total", "mean", "min", "max"]
    assert lines[1].split() == ["load", "1", "2", "s", "2", "s", "2", "s", "2", "s"]
    assert lines[2].split() == ["infer", "5", "67.5", "ms", "13.5", "ms", "12.5", "ms", "17.5", "ms"]
    assert len({len(line) for line in lines}) == 1  # right-aligned columns
    t.reset()
    assert t.sections == {}


def test_timer_json():
    clock = FakeClock()
    t = Timer(clock=clock)
    with t.section("a"):
        clock.advance(9)
    d = json.loads(json.dumps(t.to_dict()))
    assert d["sections"][0]["mean_ns"] == 9.0
    assert SectionStats.from_dict(d["sections"][0]) == t.sections["a"]


def test_sections_are_thread_safe_with_the_real_clock():
    t = Timer()

    def work():
        for _ in range(2000):
            with t.section("shared"):
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = t.sections["shared"]
    assert s.count == 8000
    assert 0 <= s.min_ns <= s.max_ns and s.total_ns >= s.max_ns


def test_real_clock_section_sees_a_sleep():
    t = Timer()
    with t.section("sleep"):
        time.sleep(0.01)
    assert 10_000_000 <= t.sections["sleep"].total_ns < 200_000_000


def test_a_negative_sample_is_reported_not_hidden():
    stats = summarize([-50] + [1_000] * 20)
    assert stats.min == -50
    assert any("went backwards" in w for w in stats.warnings)
    assert not any("went backwards" in w for w in summarize([1_000] * 20).warnings)


def test_format_ns():
    assert format_ns(1234) == "1.234 us"
    assert format_ns(5, "ns") == "5 ns"
