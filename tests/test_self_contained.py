"""The repository is self-contained: its tests read nothing outside the checkout, and every
document the code cites is in the repository (issue 19)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Absolute folders of one machine, and paths that climb out of the checkout.
_OUTSIDE = re.compile(r"^/(work|home|root|Users|mnt)/|(^|/)\.\./")
_CITED = re.compile(r"(?<![\w/.-])((?:docs/)?[\w-]+\.md)\b")


def _strings(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def outside_paths(files) -> list[str]:
    found = [f"{p.name}:{line}: {text!r}" for p in files
             for line, text in _strings(p) if _OUTSIDE.search(text)]
    # `Path(__file__).parents[2]` of a test is the folder above the checkout.
    found += [f"{p.name}: climbs above the checkout" for p in files
              if re.search(r"__file__\)\.resolve\(\)\.parents\[[2-9]\]", p.read_text())]
    return found


def missing_citations(files) -> list[str]:
    out = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in _CITED.findall(line):
                document = name.startswith("docs/") or name[:-3].isupper()
                if document and not (ROOT / name).is_file():
                    out.append(f"{path.relative_to(ROOT)}:{number}: cites {name}")
    return out


def test_no_test_reads_outside_the_checkout():
    files = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py"))
    assert outside_paths(files) == []


def test_the_check_sees_a_path_of_one_machine(tmp_path):
    probe = tmp_path / "probe.py"
    # Spelled in pieces, so this file does not hold what it looks for.
    machine, climb = "/" + "work/shared/cases", ".".join(("resolve()", "parents[2]"))
    probe.write_text(f'CASES = "{machine}"\nX = Path(__file__).{climb}\n')
    assert len(outside_paths([probe])) == 2


def test_every_cited_document_is_in_the_repository():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "bench").rglob("*.py")]
    assert missing_citations(sorted(files)) == []
    assert (ROOT / "docs" / "onednn-verbose-formats.md").is_file()


def test_the_bug_report_logs_name_their_source():
    readme = (ROOT / "tests" / "fixtures" / "verbose_cases" / "README.md").read_text()
    for log in (ROOT / "tests" / "fixtures" / "verbose_cases").glob("*.log"):
        assert f"`{log.name}`" in readme
    assert "github.com/uxlfoundation/oneDNN" in readme
