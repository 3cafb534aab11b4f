"""Files a user hands mxprof, and files mxprof writes over (mxprof.files; issue 20).

A device, folder or FIFO given as a results file, `--load` file or log is refused by name
before a byte is read; `verbose run` keeps the earlier log when the command fails; no output
replaces a file that is not an earlier mxprof output of the same kind without `--force`.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mxprof.files import (
    InputFileError,
    OutputFileError,
    check_input,
    check_replace,
    input_lines,
    output_kind,
)

LOG = "mxnet191_dnnl_v2.4.4_ts_level1.log"


@pytest.mark.parametrize("argv", [
    ["compare", "--results", "/dev/zero", "--dry-run", "resnet18_v1"],
    ["merge", "/dev/zero"],
    ["profile", "--load", "/dev/zero"],
    ["fusion", "--load", "/dev/zero"],
    ["accuracy", "--load", "/dev/zero"],
    ["compare", "--load", "/dev/zero"],
    ["verbose", "summary", "/dev/zero"],
])
def test_a_device_is_refused_before_it_is_read(cli, argv):
    # Reading /dev/zero to EOF exhausted the machine's memory: 20 s is far more than a refusal
    # needs and far less than the read took before.
    r = cli(*argv, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "/dev/zero: is a character device" in r.stderr


def test_check_input_names_what_the_path_is(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="is a folder"):
        check_input(tmp_path, "verbose log")
    with pytest.raises(InputFileError, match="is a FIFO"):
        check_input(fifo, "results file")
    check_input(fifo, "results file", stream=True)  # streaming readers take a pipe
    with pytest.raises(InputFileError, match="no such file"):
        check_input(tmp_path / "missing", "results file")


def test_results_are_read_a_line_at_a_time(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c"')
    lines = input_lines(path, "results file")
    assert next(lines) == b'{"a": 1}\n'  # a generator: nothing past the first line was read
    assert list(lines) == [b'{"b": 2}\n', b'{"c"']


def test_a_folder_or_fifo_log_is_not_no_such_file(cli, tmp_path):
    r = cli("verbose", "summary", str(tmp_path))
    assert r.returncode == 2
    assert "is a folder" in r.stderr and "no such file" not in r.stderr


def test_a_failed_verbose_run_keeps_the_earlier_log(cli, tmp_path, fixtures_dir):
    log = tmp_path / "keep.log"
    shutil.copy(fixtures_dir / "verbose" / LOG, log)
    before = log.read_bytes()
    r = cli("verbose", "run", "-o", str(log), "--", "false")
    assert r.returncode == 1
    assert log.read_bytes() == before
    assert "left as it was" in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name != "keep.log"]  # no temporary left


def test_json_never_takes_the_log_as_its_output(cli, tmp_path, fixtures_dir):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    shutil.copy(fixtures_dir / "verbose" / LOG, a)
    shutil.copy(fixtures_dir / "verbose" / LOG, b)
    before = a.read_bytes()
    r = cli("verbose", "summary", "--json", str(a), str(b))
    assert r.returncode == 2
    assert "--force" in r.stderr
    assert a.read_bytes() == before
    # the same file as input and output is refused even with --force
    r = cli("verbose", "summary", "--json", str(b), str(b), "--force")
    assert r.returncode == 2 and "input" in r.stderr


def test_an_earlier_output_of_the_same_kind_is_replaced(cli, tmp_path, fixtures_dir):
    out = tmp_path / "s.json"
    log = str(fixtures_dir / "verbose" / LOG)
    assert cli("verbose", "summary", "--json", str(out), log).returncode == 0
    assert json.loads(out.read_text())["kind"] == "mxprof-verbose-summary"
    assert cli("verbose", "summary", "--json", str(out), log).returncode == 0


@pytest.mark.parametrize("argv_of", [
    lambda p: ["topology", "--json", p],
    lambda p: ["verbose", "summary", "--json", p,
               "tests/fixtures/verbose/" + LOG],
])
def test_a_file_mxprof_did_not_write_needs_force(cli, tmp_path, argv_of):
    mine = tmp_path / "notes.json"
    mine.write_text('{"my": "notes"}\n')
    r = cli(*argv_of(str(mine)))
    assert r.returncode == 2, r.stderr
    assert "--force" in r.stderr
    assert mine.read_text() == '{"my": "notes"}\n'
    r = cli(*argv_of(str(mine)), "--force")
    assert r.returncode == 0, r.stderr
    assert mine.read_text() != '{"my": "notes"}\n'


def test_verbose_run_does_not_replace_a_file_that_is_not_a_log(cli, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("print('mine')\n")
    r = cli("verbose", "run", "-o", str(script), "--", "true")
    assert r.returncode == 2 and "--force" in r.stderr
    assert script.read_text() == "print('mine')\n"


def test_report_outputs_check_their_kind(cli, tmp_path):
    # A profile's outputs: the check happens before any worker (--load renders, runs nothing).
    fusion = tmp_path / "fusion.json"
    fusion.write_text(json.dumps({"schema": 1, "kind": "fusion"}))
    page = tmp_path / "page.md"
    page.write_text("# my notes\n")
    r = cli("profile", "resnet18_v1", "--dry-run", "--json", str(fusion))
    assert r.returncode == 2 and "an mxprof fusion file, not profile" in r.stderr
    r = cli("profile", "resnet18_v1", "--dry-run", "--markdown", str(page))
    assert r.returncode == 2 and "--force" in r.stderr
    assert page.read_text() == "# my notes\n"


def test_output_kind_recognises_what_mxprof_writes(tmp_path):
    cases = {
        "p.md": ("markdown", "# mxprof profile: resnet18_v1\n\n", "profile"),
        "f.md": ("markdown", "# Fusion report: resnet18_v1\n", "fusion"),
        "c.html": ("html", "<!DOCTYPE html>\n<html><head><title>mxprof accuracy: x</title>",
                   "accuracy"),
        "c.csv": ("csv", "machine,build,instances,category,model,throughput_batch,"
                  "latency_ms_reference\n", "compare"),
        "p.json": ("json", json.dumps({"schema": 1, "tool": "mxprof 0.1 profile"}), "profile"),
        "e.md": ("markdown", "", "empty"),
        "x.md": ("markdown", "# notes\n", None),
    }
    for name, (fmt, text, kind) in cases.items():
        (tmp_path / name).write_text(text)
        assert output_kind(tmp_path / name, fmt) == kind, name
    check_replace("--json", tmp_path / "p.json", "json", "profile")
    with pytest.raises(OutputFileError, match="an mxprof profile file, not fusion"):
        check_replace("--json", tmp_path / "p.json", "json", "fusion")
    check_replace("--json", tmp_path / "p.json", "json", "fusion", force=True)
    check_replace("--json", "/dev/null", "json", "fusion")  # written in place, never renamed


def test_load_reads_stdin_and_names_the_other_kind(cli, tmp_path):
    f = tmp_path / "f.json"
    f.write_text(json.dumps({"schema": 1, "kind": "fusion"}))
    r = cli("profile", "--load", str(f))
    assert r.returncode == 2
    assert ("not an mxprof profile result: it is an mxprof fusion file; mxprof fusion --load "
            "reads it") in r.stderr
    with open(f) as stdin:
        import subprocess
        import sys
        r = subprocess.run([sys.executable, "-m", "mxprof", "profile", "--load", "-"],
                           stdin=stdin, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "stdin: not an mxprof profile result: it is an mxprof " \
        "fusion file" in r.stderr


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_load_refuses_non_finite_numbers(cli, tmp_path, constant):
    f = tmp_path / "r.json"
    f.write_text('{"schema": 1, "tool": "mxprof 0.1 profile", "x": ' + constant + "}")
    r = cli("profile", "--load", str(f))
    assert r.returncode == 2
    assert f"{constant.lstrip('-')} is not a JSON value" in r.stderr or \
        f"{constant} is not a JSON value" in r.stderr


def test_a_utf16_log_reads_like_its_utf8_original(cli, tmp_path, fixtures_dir):
    # What a Windows shell's `python run.py > log.txt` writes: UTF-16 with a byte order mark.
    original = fixtures_dir / "verbose" / LOG
    wide = tmp_path / "wide.log"
    wide.write_bytes(original.read_text().encode("utf-16"))
    a = cli("verbose", "summary", "--json", "-", str(original))
    b = cli("verbose", "summary", "--json", "-", str(wide))
    assert a.returncode == b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert jb["exec_count"] == ja["exec_count"] > 0 and jb["exec_ms"] == ja["exec_ms"]


def test_mxnet_prints_never_reach_a_json_stdout():
    # MXNet's infer_shape prints its error from Python (mxnet/symbol/symbol.py), other
    # messages from C: `models --json -` counts parameters under stdout_to_stderr.
    import subprocess
    import sys
    code = ("import os, mxnet as mx\n"
            "from mxprof.commands._files import stdout_to_stderr\n"
            "y = mx.sym.FullyConnected(mx.sym.var('x'), num_hidden=2, name='fc')\n"
            "with stdout_to_stderr():\n"
            "    try:\n"
            "        y.infer_shape(x=(1, 2), fc_weight=(3, 3))\n"
            "    except Exception:\n"
            "        pass\n"
            "    os.write(1, b'from C\\n')\n"
            "print('{}')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "{}\n"
    assert "infer_shape error" in r.stderr and "from C" in r.stderr


def test_every_declared_kind_is_recognised_so_a_second_run_replaces_its_file(tmp_path):
    """The kinds the contract added (ceilings, int8, diff...) are mxprof outputs too: a second
    `--json`/`--markdown`/`--html` of the same kind replaces the first without --force."""
    from mxprof.render.outputs import OUTPUTS
    for kind in OUTPUTS:
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps({"kind": kind, "schema": 1}))
        assert output_kind(path, "json") == kind, kind
        check_replace("--json", path, "json", kind)
    for fmt, name, text, kind in (
            ("markdown", "i.md", "# INT8: resnet18_v1\n", "int8"),
            ("markdown", "d.md", "# mxprof diff: resnet18_v1 A vs B\n", "diff"),
            ("html", "i.html", "<!DOCTYPE html>\n<title>mxprof int8: x</title>", "int8"),
            ("html", "d.html", "<!DOCTYPE html>\n<title>mxprof diff: x</title>", "diff")):
        (tmp_path / name).write_text(text)
        assert output_kind(tmp_path / name, fmt) == kind, name
