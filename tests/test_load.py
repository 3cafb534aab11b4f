"""The busy-machine rule (mxprof.cpu.load): /proc parsing, the threshold, the record."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import pytest

from mxprof.cpu import load

STAT = """cpu  100 5 50 1000 20 3 2 7 11 0
cpu0 50 2 25 500 10 1 1 3 5 0
intr 12345
"""


def test_system_busy_counts_everything_but_idle_and_iowait():
    assert load.system_busy_jiffies(STAT) == 100 + 5 + 50 + 3 + 2 + 7


def test_own_jiffies_survive_a_command_with_spaces_and_parentheses():
    fields = ["S", *["0"] * 10, "11", "22", "33", "44", "20", "0"]
    text = f"4242 (a (b) c) {' '.join(fields)}"
    assert load.own_jiffies(text) == 11 + 22 + 33 + 44


def test_the_threshold_is_a_fraction_of_wall_time_times_cpus():
    quiet = load.load_record("mkldnn timing #1", wall_s=10, cpus=2, system_busy_s=21.5,
                             own_s=20.0, load_before=1.0, load_after=2.0)
    assert quiet.other_cpu_fraction == pytest.approx(0.075) and not quiet.busy
    assert quiet.warning() is None
    busy = load.load_record("mkldnn timing #2", wall_s=10, cpus=2, system_busy_s=23.0,
                            own_s=20.0, load_before=4.5, load_after=6.8)
    assert busy.busy and busy.other_cpu_fraction == pytest.approx(0.15)
    text = busy.warning()
    assert "mkldnn timing #2" in text and "15%" in text and "limit 10%" in text
    assert "4.5 -> 6.8" in text
    back = load.MachineLoad.from_dict(json.loads(json.dumps(busy.to_dict())))
    assert back == busy
    assert load.busy_summary([quiet, None]) is None
    assert load.busy_summary([quiet, busy]) == text
    two = load.busy_summary([busy, quiet, msgspec.structs.replace(busy, label="ref timing #1",
                                                              other_cpu_fraction=0.4)])
    assert two.startswith("busy machine during 2 of 3 runs (mkldnn timing #2, ref timing #1)")
    assert "15-40%" in two


def test_our_own_workers_are_not_counted_as_other_load():
    # A child burning 0.3 s of CPU time (its own clock, not the wall's) and reaped inside the
    # window is ours: it must appear in own_cpu_s.
    burn = ("import time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3:\n    pass\n")
    mon = load.LoadMonitor.start()
    if mon is None:
        pytest.skip("no /proc on this system")
    subprocess.run([sys.executable, "-c", burn], check=True)
    rec = mon.stop("burn")
    assert rec.own_cpu_s >= 0.25
    assert rec.cpus >= 1 and rec.wall_s > 0 and rec.label == "burn"


@pytest.mark.parametrize("load", [0.0, 0.5, 0.51, 2.5, 2.51, 10.0])
def test_bind_warns_by_the_one_load_average_rule(load):
    from mxprof.commands.bind import busy_warning
    from mxprof.cpu.load import bound_cpus_shared

    shared = bound_cpus_shared(bound=2, online=4, load=load)
    assert shared == (load > 2.5)
    assert (busy_warning(4, 2, 2, load) is not None) == shared


def test_per_cpu_lines_and_the_window_rule():
    assert load.per_cpu_busy_jiffies(STAT) == {0: 50 + 2 + 25 + 1 + 1 + 3}
    before = {0: 100, 1: 200, 2: 0}
    after = {0: 140, 1: 230, 2: 50}  # CPU 2 is not the worker's: never counted
    rec = load.share_record([1, 0], window_s=0.5, busy_before=before, busy_after=after,
                            own_s=0.1, tick=100, load_average=3.0)
    assert rec.cpus == (0, 1)
    assert rec.other_cpu_s == pytest.approx(0.6) and rec.share == pytest.approx(0.6)
    assert "60% of CPUs 0-1 over 0.50 s (1-min load average 3.0)" in rec.text
    # our own time is never more than the CPUs' busy time: the share stays in 0..1
    assert load.share_record([0], window_s=0.5, busy_before=before, busy_after=after,
                             own_s=5.0).share == 0.0
