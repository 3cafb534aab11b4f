"""The README renders and its commands are real: every ``` fence is closed, and every
`python -m mxprof ...` line in a fenced block parses with the argument parser users get.

A README edit that leaves a block open (today's `compare` block once swallowed two sections) or
documents a flag that was renamed fails here, with the line number.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
# Any interpreter spelling: python, python3.11, .venv/bin/python, /usr/bin/python3 ...
MXPROF = re.compile(r"(?:^|\s)(?:\S*/)?python[0-9.]*\s+-m\s+mxprof(?=\s|$)")


def fenced_blocks(text: str) -> list[tuple[int, list[tuple[int, str]]]]:
    """[(opening line number, [(line number, line), ...])]; raises AssertionError naming the
    line of a fence that is never closed (CommonMark: a closing fence is the same character,
    at least as long, with no info string)."""
    blocks, current, opener = [], None, None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if current is None:
            if m:
                opener, current = (m.group(1), number), []
            continue
        fence, info = (m.group(1), m.group(2).strip()) if m else (None, None)
        if fence and fence[0] == opener[0][0] and len(fence) >= len(opener[0]) and not info:
            blocks.append((opener[1], current))
            current = None
            continue
        # Legal Markdown, but never meant: a ```bash inside a block means the block above was
        # left open and is swallowing the sections after it.
        assert not (fence and info and fence[0] == opener[0][0]), (
            f"README.md:{opener[1]}: the ``` block opened here is never closed (line {number} "
            f"opens another one: {line.strip()})")
        current.append((number, line))
    assert current is None, f"README.md:{opener[1]}: the ``` block opened here is never closed"
    return blocks


def mxprof_commands(blocks) -> list[tuple[int, list[str]]]:
    """(line number, arguments after `python -m mxprof`) for every such command in a block;
    backslash continuations are joined, comments and `&&`/`;`/`|` chains are split off."""
    out = []
    for _, lines in blocks:
        pending, start = "", None
        for number, line in lines:
            if start is None:
                start = number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            logical, pending = pending + line, ""
            out += [(start, args) for args in _commands_in(logical)]
            start = None
    return out


def _commands_in(line: str) -> list[list[str]]:
    found = []
    for m in MXPROF.finditer(line):
        rest = line[m.end():]
        try:
            tokens = shlex.split(rest, comments=True)
        except ValueError:  # an unbalanced quote: keep what shlex can read of the line
            tokens = rest.split("#", 1)[0].split()
        args = []
        for token in tokens:
            if token in ("&&", "||", ";", "|", ">", "2>", "<") or token.endswith(";"):
                args += [token.rstrip(";")] if token.endswith(";") and token != ";" else []
                break
            args.append(token)
        found.append(args)
    return found


def parse(args: list[str]) -> str | None:
    """None when the real parser accepts `args`, else its error message."""
    from mxprof.cli import _subparser, build_parser, suggest_options

    parser = build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            ns, unknown = parser.parse_known_args(args)
    except SystemExit:
        return err.getvalue().strip().splitlines()[-1] if err.getvalue() else "exit"
    if unknown:
        return suggest_options(_subparser(parser, ns), unknown)
    if not getattr(ns, "command", None):
        return "no command"
    return None


def test_every_fence_is_closed():
    blocks = fenced_blocks(README.read_text())
    assert blocks, "README.md has no fenced block"


def test_fence_checker_catches_an_open_block():
    with pytest.raises(AssertionError, match=r"README\.md:2: .* never closed"):
        fenced_blocks("text\n```bash\n```python\nx\n```\n")
    with pytest.raises(AssertionError, match=r"README\.md:2: .* never closed"):
        fenced_blocks("text\n```bash\nx\n")
    # A shorter fence inside a longer one is content (how a README shows a fence).
    assert fenced_blocks("````md\n```\n````\n") == [(1, [(2, "```")])]


def test_command_extraction():
    blocks = fenced_blocks("```bash\n"
                           "python3.11 -m venv .venv && .venv/bin/python -m mxprof profile m\n"
                           "python -m mxprof accuracy m --params p \\\n"
                           "       --int8   # a comment\n"
                           "PYTHONPATH=src python -m mxprof topology --json | jq .cpus\n"
                           "```\n")
    assert mxprof_commands(blocks) == [(2, ["profile", "m"]),
                                       (3, ["accuracy", "m", "--params", "p", "--int8"]),
                                       (5, ["topology", "--json"])]
    assert parse(["profile", "m", "--cores", "0"]) is None
    assert "did you mean --json?" in parse(["profile", "m", "--jsn", "x"])


def test_every_mxprof_command_in_the_readme_parses():
    commands = mxprof_commands(fenced_blocks(README.read_text()))
    assert commands, "no `python -m mxprof` command in a fenced block"
    bad = [f"README.md:{n}: mxprof {' '.join(args)}: {error}"
           for n, args in commands if (error := parse(args))]
    assert not bad, "\n".join(bad)
