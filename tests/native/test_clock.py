"""The native clock and timing loop (mxprof._core), and the pure-Python twin of the loop.

Every loop test runs against three implementations: the native loop on the TSC, the native loop
on clock_gettime, and the Python twin. They must behave the same.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mxprof
from fake_sysfs import make_clocksource, make_cpuinfo
from mxprof._native import core
from mxprof.timing import _clock_py


def _cpu_has_invariant_tsc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return {"constant_tsc", "nonstop_tsc"} <= flags
    return False


HAVE_TSC = _cpu_has_invariant_tsc() and __import__("platform").machine() == "x86_64"


@pytest.fixture(params=["tsc", "clock_gettime", "python"])
def loop(request):
    """The timing loop under test; native ones with the clock source switched for the test."""
    if request.param == "python":
        yield _clock_py.timing_loop
        return
    if request.param == "tsc" and not HAVE_TSC:
        pytest.skip("no invariant TSC on this CPU")
    core.clock_select(request.param)
    try:
        yield core.timing_loop
    finally:
        core.clock_select("auto")


class Counter:
    def __init__(self, sleep_s: float = 0.0, fail_at: int | None = None, exc=None):
        self.calls = 0
        self.sleep_s = sleep_s
        self.fail_at = fail_at
        self.exc = exc

    def __call__(self):
        self.calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.fail_at is not None and self.calls == self.fail_at:
            raise self.exc


def test_import_choice_follows_the_cpu_and_the_kernel():
    info = core.clock_info()
    rule = _clock_py.clock_choice()
    assert core.clock_choice() == rule
    assert (info["source"], info["reason"]) == (rule["source"], rule["reason"])
    assert info["kernel_clocksource"] == rule["kernel_clocksource"]
    if info["source"] == "tsc":
        assert HAVE_TSC
        assert 1e8 < info["tsc_hz"] < 1e10
        assert info["calibrated_against"] == "CLOCK_MONOTONIC_RAW"
        assert info["ns_per_tick"] == pytest.approx(1e9 / info["tsc_hz"])
        assert 0 < info["calibration_ms"] < 200
    else:
        assert info["tsc_hz"] is None and info["calibrated_against"] is None


XEON_INVARIANT = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz
flags\t\t: fpu sse2 avx2 constant_tsc nonstop_tsc rdtscp
"""
XEON_VARIABLE = XEON_INVARIANT.replace(" nonstop_tsc", "")

# (cpuinfo, available, current) -> source, words of the reason
CHOICES = {
    "kernel uses tsc": (XEON_INVARIANT, "tsc hpet acpi_pm", "tsc", "tsc", "current clocksource"),
    "kernel lists tsc (KVM guest)": (XEON_INVARIANT, "kvm-clock tsc", "kvm-clock", "tsc",
                                     "current clocksource kvm-clock"),
    "kernel dropped tsc": (XEON_INVARIANT, "hpet acpi_pm", "hpet", "clock_gettime",
                           "does not list tsc"),
    "no clocksource files": (XEON_INVARIANT, None, None, "clock_gettime",
                             "cannot read the kernel's clocksources"),
    "TSC not invariant": (XEON_VARIABLE, "tsc hpet", "tsc", "clock_gettime", "nonstop_tsc missing"),
}
RULES = [pytest.param(core.clock_choice, id="native"),
         pytest.param(_clock_py.clock_choice, id="python")]


@pytest.mark.skipif(__import__("platform").machine() != "x86_64", reason="the TSC is x86_64's")
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", list(CHOICES))
def test_tsc_only_where_the_kernel_trusts_it(case, rule, tmp_path):
    cpuinfo, available, current, source, words = CHOICES[case]
    make_cpuinfo(tmp_path / "cpuinfo", cpuinfo)
    if available is not None:
        make_clocksource(tmp_path / "sys", available=available, current=current)
    choice = rule(str(tmp_path / "sys"), str(tmp_path / "cpuinfo"))
    assert choice["source"] == source, choice
    assert words in choice["reason"], choice
    assert choice["kernel_clocksource"] == current
    assert choice["kernel_available_clocksources"] == available


def test_both_rules_give_the_same_reasons(tmp_path):
    for i, (cpuinfo, available, current, _, _) in enumerate(CHOICES.values()):
        make_cpuinfo(tmp_path / f"cpuinfo{i}", cpuinfo)
        if available is not None:
            make_clocksource(tmp_path / f"sys{i}", available=available, current=current)
        args = (str(tmp_path / f"sys{i}"), str(tmp_path / f"cpuinfo{i}"))
        assert core.clock_choice(*args) == _clock_py.clock_choice(*args)
    missing = (str(tmp_path / "nowhere"), str(tmp_path / "no-cpuinfo"))
    assert core.clock_choice(*missing) == _clock_py.clock_choice(*missing)


def test_clock_select_auto_returns_to_the_import_choice():
    first = core.clock_info()
    core.clock_select("clock_gettime")
    assert core.clock_info()["reason"] == "selected by clock_select('clock_gettime')"
    core.clock_select("auto")
    again = core.clock_info()
    assert (again["source"], again["reason"]) == (first["source"], first["reason"])


@pytest.mark.skipif(not HAVE_TSC, reason="no invariant TSC on this CPU")
def test_a_negative_tick_delta_is_a_small_negative_duration():
    """A TSC read behind the anchor (another CPU's TSC, an early read) must not wrap to 2^64."""
    core.clock_select("tsc")
    try:
        ns_per_tick = core.clock_info()["ns_per_tick"]
        assert core.clock_ticks_to_ns(-1) in (-1, 0)
        assert core.clock_ticks_to_ns(-1_000_000) == pytest.approx(-1_000_000 * ns_per_tick, abs=2)
        assert core.clock_ticks_to_ns(1_000_000) == pytest.approx(1_000_000 * ns_per_tick, abs=2)
    finally:
        core.clock_select("auto")


def test_now_ns_is_on_the_monotonic_epoch_and_monotonic():
    values = [core.now_ns() for _ in range(10000)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert isinstance(values[0], int)
    # best of five: a preemption between the two reads is not an error of the clock
    assert min(abs(core.now_ns() - time.monotonic_ns()) for _ in range(5)) < 1_000_000


@pytest.mark.parametrize("source", ["tsc", "clock_gettime"])
def test_now_ns_runs_at_the_monotonic_rate(source):
    if source == "tsc" and not HAVE_TSC:
        pytest.skip("no invariant TSC on this CPU")
    core.clock_select(source)
    try:
        errors = []
        for _ in range(3):  # best of three: a preemption between paired reads is not an error
            m0, n0 = time.monotonic_ns(), core.now_ns()
            time.sleep(0.2)
            n1, m1 = core.now_ns(), time.monotonic_ns()
            errors.append(abs((n1 - n0) - (m1 - m0)))
        # 200 us over 0.2 s: the calibration is good to 0.1% at worst (it is ~1e-5 in practice)
        assert min(errors) < 200_000
    finally:
        core.clock_select("auto")


def test_clock_select_refuses_unknown_sources():
    with pytest.raises(ValueError, match="'tsc', 'clock_gettime' or 'auto'"):
        core.clock_select("hpet")


def test_read_cost_is_measured():
    cost = core.clock_read_cost_ns()
    assert 0 <= cost < 10_000


def test_counts_and_dtype(loop):
    fn = Counter()
    samples = loop(fn, 50)
    assert fn.calls == 50
    assert samples.dtype == np.int64 and samples.shape == (50,)
    assert (samples >= 0).all()


def test_zero_calls(loop):
    fn = Counter()
    assert loop(fn, 0).shape == (0,)
    assert fn.calls == 0


def test_samples_measure_a_known_sleep(loop):
    gaps = []
    for _ in range(3):  # best of three for the gap: other processes may preempt us outside the loop
        fn = Counter(sleep_s=0.005)
        t0 = time.monotonic_ns()
        samples = loop(fn, 6)
        wall = time.monotonic_ns() - t0
        assert fn.calls == 6
        assert (samples >= 5_000_000).all()
        assert np.median(samples) < 30_000_000
        # one read ends a sample and starts the next, so the samples add up to the loop's time
        assert samples.sum() <= wall
        gaps.append(wall - samples.sum())
    assert min(gaps) < 2_000_000


def test_target_time_stops_the_loop(loop):
    fn = Counter(sleep_s=0.002)
    samples = loop(fn, 100_000, 20_000_000, 1)
    assert 1 <= len(samples) <= 11  # each call sleeps >= 2 ms
    # it stopped at the first call that ended past the target, not before
    assert samples.sum() >= 20_000_000 - 100_000
    assert samples[:-1].sum() < 20_000_000


def test_min_calls_wins_over_target(loop):
    fn = Counter()
    samples = loop(fn, 1000, 0, 7)
    assert len(samples) == 7 == fn.calls


def test_limit_stops_the_loop_after_at_least_one_call(loop):
    fn = Counter(sleep_s=0.002)
    samples = loop(fn, 100_000, -1, 1, 15_000_000)
    assert 1 <= len(samples) <= 8  # each call sleeps >= 2 ms
    assert samples.sum() >= 15_000_000 - 100_000
    assert samples[:-1].sum() < 15_000_000
    fn = Counter(sleep_s=0.002)
    assert len(loop(fn, 100, 50_000_000, 10, 0)) == 1


def test_exception_propagates_unchanged(loop):
    error = ValueError("boom on call 3")
    fn = Counter(fail_at=3, exc=error)
    refs = sys.getrefcount(fn)
    with pytest.raises(ValueError) as info:
        loop(fn, 100)
    assert info.value is error
    assert fn.calls == 3
    del info
    error.__traceback__ = None  # its frames hold fn; once dropped, nothing else may
    gc.collect()
    assert sys.getrefcount(fn) == refs


def test_keyboard_interrupt_from_fn_propagates(loop):
    fn = Counter(fail_at=2, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        loop(fn, 100)
    assert fn.calls == 2


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_ctrl_c_stops_a_loop_over_a_builtin(loop):
    """A builtin never enters the eval loop: the native loop must check for signals itself."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            loop(int, 10**12)
        assert time.monotonic() - t0 < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


SLOW_CHILD = r"""
import ctypes, functools, sys, time
from mxprof.timing import _clock_py
from mxprof.timing.timer import measure

usleep = ctypes.CDLL(None).usleep
usleep.argtypes = [ctypes.c_uint]
fn = functools.partial(usleep, 20000)  # 20 ms in C, and nothing in the call checks for signals
loop = _clock_py.timing_loop if sys.argv[1] == "python" else None
print("ready", flush=True)
try:
    measure(fn, repeat=100_000, warmup=0, loop=loop)
except KeyboardInterrupt:
    print(time.monotonic_ns(), flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.parametrize("which", ["native", "python"])
def test_ctrl_c_stops_measure_of_a_slow_function_promptly(which):
    """SIGINT during measure() of a 20 ms C call: KeyboardInterrupt at the end of that call.

    The child stamps CLOCK_MONOTONIC (system-wide) when it catches KeyboardInterrupt; the delay
    from the parent's kill() is printed, and bounded generously (2 s) so that a loaded machine
    cannot fail the test: before the fix the loop went on for 16384 more calls (5 minutes).
    """
    env = {**os.environ, "PYTHONPATH": str(Path(mxprof.__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, which], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # inside the loop by now: many 20 ms calls have run
        sent = time.monotonic_ns()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail("measure() was still running 20 s after SIGINT")
    assert child.returncode == 0, err
    delay = (int(out.split()[-1]) - sent) / 1e9
    print(f"{which}: KeyboardInterrupt {delay * 1e3:.1f} ms after SIGINT "
          f"(load {os.getloadavg()[0]:.1f})")
    assert delay < 2.0


def test_results_of_fn_are_released(loop):
    result = object()
    refs = sys.getrefcount(result)
    loop(lambda: result, 1000)
    assert sys.getrefcount(result) == refs


def test_bad_arguments(loop):
    with pytest.raises(TypeError, match="callable"):
        loop(42, 10)
    with pytest.raises(ValueError, match="max_calls"):
        loop(Counter(), -1)


def test_native_buffer_reaches_numpy_without_copy():
    samples = core.timing_loop(Counter(), 1000)
    assert not samples.flags.owndata
    assert type(samples.base).__name__ == "PyCapsule"
    view = samples[10:20]
    expected = view.copy()
    del samples
    gc.collect()
    assert (view == expected).all()  # the capsule keeps the buffer alive for its views


def test_python_twin_with_a_fake_clock():
    ticks = iter(range(0, 10**9, 10))  # each read is 10 ns after the previous one
    samples = _clock_py.timing_loop(Counter(), 100, 45, 1, clock=lambda: next(ticks))
    # start=0; after call i the clock reads 10 * (i + 1): 50 >= 45 after the 5th call
    assert samples.tolist() == [10] * 5
    ticks = iter(range(0, 10**9, 10))
    samples = _clock_py.timing_loop(Counter(), 100, -1, 1, 30, clock=lambda: next(ticks))
    assert samples.tolist() == [10] * 3


# Section tables: the native one (on the mxprof clock) and its twin (on perf_counter_ns)


@pytest.fixture(params=["native", "python"])
def table(request):
    return core.SectionTable() if request.param == "native" else _clock_py.SectionTable()


def test_sections_accumulate_a_known_sleep(table):
    for _ in range(3):
        with table.section("sleep"):
            time.sleep(0.003)
    with table.section("quick"):
        pass
    snap = table.snapshot()
    assert list(snap) == ["sleep", "quick"]
    count, total, low, high = snap["sleep"]
    assert count == 3 and low >= 3_000_000 and high < 100_000_000
    assert low <= total / 3 <= high and total >= 9_000_000
    assert snap["quick"][0] == 1 and snap["quick"][1] < 50_000_000


def test_sections_nest_and_record_on_exceptions(table):
    with table.section("outer"):
        with table.section("outer"):
            time.sleep(0.002)
        time.sleep(0.002)
    with pytest.raises(ZeroDivisionError), table.section("bad"):
        _ = 1 / 0
    count, total, low, high = table.snapshot()["outer"]
    assert count == 2 and low >= 2_000_000 and high >= 4_000_000 and total == low + high
    assert table.snapshot()["bad"][0] == 1


def test_add_snapshot_clear(table):
    table.add("a", 30)
    table.add("a", 10)
    table.add("a", 20)
    assert table.snapshot() == {"a": (3, 60, 10, 30)}
    table.clear()
    assert table.snapshot() == {}
    with pytest.raises(TypeError, match="section name must be str"):
        table.section(3)
    with pytest.raises(TypeError):
        table.add("a", "ten")


def test_sections_from_many_threads(table):
    import threading

    def work():
        for _ in range(3000):
            with table.section("t"):
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    count, total, low, high = table.snapshot()["t"]
    assert count == 12000 and 0 <= low <= high <= total


def test_native_section_objects_are_freed():
    table = core.SectionTable()
    name = "a-name-used-only-here"
    refs = sys.getrefcount(name)
    for _ in range(1000):
        with table.section(name):
            pass
    table.clear()
    assert sys.getrefcount(name) == refs
    section = table.section("x")
    assert sys.getrefcount(section) == 2  # the local and the call's argument
