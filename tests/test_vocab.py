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
