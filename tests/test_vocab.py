"""One vocabulary across the measuring commands (docs/trial-2026-12-08.md, items NOT FIXED):
the same protocol flags with the same help in int8 as in profile/fusion/accuracy/compare, the
same count checks and messages, one oversubscription warning from the one Placement, and the
wait policy in every report header."""

from __future__ import annotations

import pytest

TINY = ("mobilenet0.25", "--shape", "3,32,32")


def _help(cli, command: str) -> str:
    return " ".join(cli(command, "--help").stdout.split())


def _option_help(command: str, flag: str) -> str:
    """The help of one option of a command, as --help prints it (argparse's % escapes read)."""
    from mxprof.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    action = next(a for a in sub._actions if flag in a.option_strings)
    return " ".join((action.help % {**vars(action), "default": action.default}).split())


def test_int8_takes_the_shared_protocol_group(cli):
    """Before: `int8 --fast` was 'unrecognized arguments', and its --processes read
    `--processes PROCESSES ... (2)` where every other command says `--processes N ...
    (default 3; ...)`."""
    int8 = _help(cli, "int8")
    for flag in ("--fast", "--rigorous", "--processes N"):
        assert flag in int8, f"int8 --help lacks {flag}"
    # The same wording; int8 keeps its own count (each process quantizes again).
    shared = "timing worker processes per configuration"
    assert shared in _option_help("profile", "--processes")
    processes = _option_help("int8", "--processes")
    assert processes.startswith(shared) and "(default 2; the 95% intervals cover" in processes
    assert _option_help("int8", "--fast") == _option_help("profile", "--fast")
    assert _option_help("int8", "--rigorous") == _option_help("profile", "--rigorous")


def test_int8_names_its_evaluation_batch(cli):
    """--eval-batch is int8's evaluation batch; --batch-size (the old spelling, the throughput
    batch in profile/compare) still parses and is not advertised."""
    text = _help(cli, "int8")
    assert "--eval-batch N" in text and "--batch-size" not in text
    assert "--timing-batch" in _option_help("int8", "--eval-batch")
    for flag in ("--eval-batch", "--batch-size"):
        proc = cli("int8", *TINY, flag, "4", "--fast", "--dry-run")
        assert proc.returncode == 0, proc.stderr
        assert "evaluation batch 4" in proc.stdout
        # --fast: 2 processes, half the default --min-time, said in the plan.
        assert ">= 0.5 s of timed calls" in proc.stdout and "2 timing process(es)" in proc.stdout
    proc = cli("int8", *TINY, "--batch-size", "0", "--dry-run")
    assert proc.returncode == 2 and "mxprof: error: --eval-batch must be at least 1, got 0" \
        in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["int8", "fusion", "profile"])
def test_processes_zero_is_the_shared_message_before_any_wait_window(cli, command):
    """Before: int8 said '--processes must be at least 1' (no value), fusion '--processes
    must be >= 1'. Without --dry-run: no wait policy was decided (no 0.5 s window) first."""
    proc = cli(command, *TINY, "--processes", "0")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "mxprof: error: --processes must be at least 1, got 0"


@pytest.mark.parametrize("value", ["0", "-3"])
def test_accuracy_iterations_is_a_count_as_everywhere(cli, value):
    """Before: `accuracy --iterations 0` planned '0 timed calls'; profile/fusion refuse it."""
    proc = cli("accuracy", *TINY, "--iterations", value, "--dry-run")
    assert proc.returncode == 2, proc.stdout
    assert f"mxprof: error: --iterations must be at least 1, got {value}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_accuracy_no_timing_says_so_in_the_plan(cli):
    proc = cli("accuracy", *TINY, "--no-timing", "--processes", "2", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "latency not timed" in proc.stdout and "timed calls" not in proc.stdout


def test_accuracy_presets_do_not_mention_a_min_time_it_has_not(cli):
    """accuracy times a fixed --iterations: --fast/--rigorous change the process count only."""
    text = _help(cli, "accuracy")
    assert "--min-time" not in text
    assert _option_help("accuracy", "--fast") == "2 processes"
    assert _option_help("accuracy", "--rigorous") == "6 processes"


# ---- oversubscription: one warning, from the one Placement, in every command that binds ----

def _oversubscribed() -> str:
    """The warning `bind --cores 0 --threads 2` gives (one CPU, two threads)."""
    return "2 OpenMP threads on 1 CPU: threads will share CPUs"


@pytest.mark.parametrize("command", ["profile", "fusion", "accuracy", "compare", "int8"])
def test_every_plan_warns_of_more_threads_than_cpus(cli, tmp_path, command):
    """Before: `profile --cores 0 --threads 2` (or --threads 8 on 2 CPUs) planned silently;
    only `bind` warned."""
    extra = ["--results", str(tmp_path / "r.jsonl")] if command == "compare" else []
    proc = cli(command, *TINY, "--cores", "0", "--threads", "2", *extra, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {_oversubscribed()}" in proc.stdout, proc.stdout
    fine = cli(command, *TINY, "--cores", "0", "--threads", "1", *extra, "--dry-run")
    assert fine.returncode == 0 and "share CPUs" not in fine.stdout + fine.stderr


def test_bind_and_the_jobs_say_it_from_the_same_placement(cli):
    """`bind` resolves the Placement every job does (mxprof.cpu.placement.resolve) and says
    its warning; a run (not a dry run) says the plan's warnings on stderr (_job.announce)."""
    import contextlib
    import io

    from mxprof.commands import _job
    from mxprof.cpu.placement import resolve
    from mxprof.jobs import int8

    placement = resolve("0", None, threads=2, wait_policy="passive")
    assert placement.oversubscription.startswith(_oversubscribed())
    assert resolve("0", None, threads=1, wait_policy="passive").oversubscription is None
    proc = cli("bind", "--cores", "0", "--threads", "2", "--wait-policy", "passive",
               "--dry-run", "--", "true")
    assert proc.returncode == 0, proc.stderr
    # A dry run says it in its plan (stdout), as every command's; a run on stderr.
    assert f"\nwarning: {placement.oversubscription}\n" in proc.stdout
    assert "share CPUs" not in proc.stderr
    ran = cli("bind", "--cores", "0", "--threads", "2", "--wait-policy", "passive", "--",
              "true")
    assert ran.returncode == 0, ran.stderr
    assert f"mxprof: warning: {placement.oversubscription}\n" in ran.stderr
    plan = int8.plan(int8.Options(model="mobilenet0.25", cores="0", threads=2,
                                  wait_policy="passive"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        _job.announce(plan.placement)
    assert err.getvalue().splitlines()[1:] == [f"mxprof: warning: {placement.oversubscription}"]


def test_ceilings_plan_warns_too(tmp_path, monkeypatch):
    """ceilings binds its worker as the jobs do: the same warning in its plan (the command
    prints it on stderr)."""
    from mxprof.jobs import ceilings

    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))  # the plan looks the figures up
    plan = ceilings.plan(ceilings.Options(cores="0", threads=2))
    assert f"warning: {_oversubscribed()}" in " ".join(plan.notes)
    assert not any("warning" in n for n in ceilings.plan(ceilings.Options(cores="0",
                                                                          threads=1)).notes)


# ---- the wait policy in the int8 and ceilings headers ----------------------------------------

def test_int8_header_names_the_wait_policy_it_ran_with():
    """Before: 'machine: MXNet ..., affinity CPUs 0-1, OpenMP threads 2; ISA ...' and no
    wait policy (every other report names it)."""
    import msgspec

    from mxprof.jobs.int8.records import Int8Result
    from mxprof.render.int8 import header_lines

    env = {"mxnet": {"version": "1.9.1", "openmp_threads": 2}, "onednn_version": "v2.4.4",
           "cpu_model": "CPU X", "physical_cores": 2, "affinity": {"cpus": "0-1"},
           "wait_policy": {"policy": "passive", "variables": {"OMP_WAIT_POLICY": "PASSIVE"}}}
    r = Int8Result(model="m", weights="random", calib_mode="naive", calib_source="random",
                   quantized_dtype="auto", inputs="64 random", threshold_db=20.0, probe=8,
                   protocol={"threads": 2}, environment=env)

    def machine(result) -> str:
        return next(line for line in header_lines(result) if line.startswith("machine:"))

    assert "MXNet 1.9.1, oneDNN v2.4.4; CPU X, 2 cores; affinity CPUs 0-1, OpenMP threads 2, " \
        "wait policy passive" in machine(r)
    # A record without the workers' policy: the one the run asked for (its protocol).
    older = msgspec.structs.replace(
        r, environment={k: v for k, v in env.items() if k != "wait_policy"},
        protocol={"threads": 2, "wait_policy": "active"})
    assert "wait policy active" in machine(older)


def test_ceilings_header_names_the_wait_policy():
    from mxprof.commands.ceilings import format_ceilings

    peaks = {"f32": 100.0, "int8": 400.0}
    theory = {"peak_gflops": peaks, "ghz": 2.0, "cores": 2, "f32_per_cycle": 32,
              "int8_per_cycle": 128, "isa_f32": "avx512", "isa_int8": "vnni",
              "frequency_source": "cpuinfo", "cpu_model": "CPU X"}
    fig = {"median": 50.0, "min": 49.0, "max": 51.0, "values": [50.0], "unit": "GFLOP/s",
           "method": "FullyConnected"}
    measured = {"f32": fig, "int8": {**fig, "median": 200.0}, "cpus": [0, 1], "threads": 2,
                "bandwidth": {**fig, "unit": "GB/s", "array_mib": 64, "llc_mib": 32},
                "mxnet": "1.9.1", "onednn": "v2.4.4", "wait_policy": "active"}
    result = {"theoretical": theory, "measured": measured, "cache": {"hit": True, "path": "x"}}
    line = next(x for x in format_ceilings(result) if "measured with" in x)
    assert "affinity CPUs 0-1, OpenMP threads 2, wait policy active" in line
    cached = {**result, "measured": {k: v for k, v in measured.items() if k != "wait_policy"}}
    line = next(x for x in format_ceilings(cached) if "measured with" in x)
    assert line.endswith("wait policy ?")  # figures cached before the worker recorded it
