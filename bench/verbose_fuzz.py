"""Fuzz the verbose scanner with mutated real lines (not in CI: about a minute per 10^6 lines).

Takes every verbose line of tests/fixtures/verbose and tests/fixtures/verbose_cases (all
generations, bug-report logs included), mutates copies of them with a fixed seed (field drops,
duplications, random bytes, truncation, comma/point swaps in times and timestamps, inserted
commas, deletions), scans them in batches with the native scanner and the pure-Python twin,
and checks:

- no crash (an exception from either scanner is counted; a native crash ends the run);
- zero garbage counted: every counted primitive line has a real primitive kind, every counted
  line an engine of cpu/gpu, a finite non-negative time equal to its time field (or to
  `A.B` for a decimal-comma `A,B`);
- native and twin agree on every line (rows, rejections and reasons, counts).

Prints the counts; exits 1 when any check failed.

    python bench/verbose_fuzz.py [--lines 1000000] [--seed 12] [--batch 20000]
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "tests" / "fixtures" / "verbose", REPO / "tests" / "fixtures" / "verbose_cases"]


def real_lines() -> list[bytes]:
    seen: set[bytes] = set()
    for folder in SOURCES:
        for p in sorted(folder.glob("*.log")) if folder.is_dir() else ():
            seen.update(line for line in p.read_bytes().splitlines() if b"_verbose," in line)
    return sorted(seen)


def swap_decimal(b: bytearray, kind: str, rnd: random.Random) -> None:
    """A locale's decimal comma: the time's point and comma both ways (swap_point), or the
    timestamp's point printed as a comma (swap_stamp)."""
    if kind == "swap_stamp":
        i = b.find(b".", b.find(b"_verbose,") + 1)
        if 0 <= i < 48:
            b[i] = 0x2C
        return
    tail = len(b) - 14
    i = b.rfind(b".", max(tail, 0))
    j = b.rfind(b",", max(tail, 0))
    if i >= 0 and rnd.random() < 0.7:
        b[i] = 0x2C
    elif j >= 0:
        b[j] = 0x2E


def mutate(line: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """One to three mutations; returns the line and the name of the first one."""
    b = bytearray(line)
    names = []
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.choice(("drop_field", "dup_field", "random_bytes", "truncate", "swap_point",
                           "swap_stamp", "comma", "delete", "replace"))
        names.append(kind)
        fields = bytes(b).split(b",")
        pos = rnd.randrange(len(b) + 1)
        if kind == "drop_field" and len(fields) > 1:
            del fields[rnd.randrange(len(fields))]
            b = bytearray(b",".join(fields))
        elif kind == "dup_field":
            i = rnd.randrange(len(fields))
            fields.insert(i, fields[i])
            b = bytearray(b",".join(fields))
        elif kind == "random_bytes":
            b[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 6)))
        elif kind == "truncate":
            del b[pos:]
        elif kind in ("swap_point", "swap_stamp"):
            swap_decimal(b, kind, rnd)
        elif kind == "comma":
            b[pos:pos] = b","
        elif kind == "delete" and b:
            del b[pos:pos + rnd.randint(1, 10)]
        elif kind == "replace" and b:
            b[min(pos, len(b) - 1)] = rnd.randrange(256)
    return bytes(b), names[0]


def garbage(result: dict, lines: list[bytes], kinds: frozenset, parse_number) -> int:
    """Counted rows that break the contract (see module docstring)."""
    bad = 0
    for name in ("primitive", "graph"):
        t = result[name]
        bodies = t["body_strings"]
        for line_no, body_id, ms in zip(t["line_no"], t["body"], t["time_ms"]):
            fields = bodies[body_id].split(",")
            engine = fields[0] in ("cpu", "gpu")
            kind = (fields[1] if engine else fields[0]).encode()
            text = lines[line_no - 1].rstrip(b" \t\r`")
            head, _, last = text.rpartition(b",")
            expected = {parse_number(last, False),
                        parse_number(head.rpartition(b",")[2] + b"." + last, False)}
            ok = (math.isfinite(ms) and ms >= 0 and ms in expected
                  and ((name == "graph" and engine) or (name == "primitive" and kind in kinds)))
            bad += not ok
    return bad


def disagreements(native_scan, twin_scan, batch: list[bytes], same) -> int:
    data = b"\n".join(batch) + b"\n"
    if same(native_scan(data), twin_scan(data)):
        return 0
    return sum(not same(native_scan(line + b"\n"), twin_scan(line + b"\n")) for line in batch)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from mxprof._native import core
    from mxprof.onednn import _verbose_py
    from scan_compare import assert_same_scan

    def same(a: dict, b: dict) -> bool:
        try:
            assert_same_scan(a, b)
        except AssertionError:
            return False
        return True

    corpus = real_lines()
    rnd = random.Random(args.seed)
    counts: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    t0 = time.perf_counter()
    done = 0
    while done < args.lines:
        n = min(args.batch, args.lines - done)
        batch, kinds = [], []
        for _ in range(n):
            line, kind = mutate(rnd.choice(corpus), rnd)
            batch.append(line.replace(b"\n", b" "))
            kinds.append(kind)
        counts.update(kinds)
        data = b"\n".join(batch) + b"\n"
        try:
            native = core.scan_verbose_buffer(data)
            _verbose_py.scan_buffer(data)
        except Exception as exc:  # noqa: BLE001 - every exception is a finding to count
            counts["crashes"] += 1
            print(f"exception: {exc!r}", file=sys.stderr)
            done += n
            continue
        s = native["stats"]
        for key in ("lines_parsed", "lines_graph", "lines_untimed", "lines_malformed"):
            counts[key] += s[key]
        counts["foreign"] += s["lines_total"] - s["lines_verbose"]
        counts["garbage"] += garbage(native, batch, _verbose_py.PRIMITIVE_KINDS,
                                     _verbose_py.parse_number)
        counts["disagreements"] += disagreements(core.scan_verbose_buffer,
                                                 _verbose_py.scan_buffer, batch, same)
        reasons.update(re.sub(r"^\d+ fields", "N fields", r.split('"')[0].strip())
                       for _, r, _ in native["malformed"])
        done += n
    elapsed = time.perf_counter() - t0
    print(f"corpus: {len(corpus)} distinct real verbose lines; seed {args.seed}; "
          f"{done} mutated lines in {elapsed:.0f} s")
    print("mutations (first of each line): " + ", ".join(
        f"{k} {counts[k]}" for k in sorted(counts) if not k.startswith(("lines_", "foreign",
                                                                          "garbage", "disagree",
                                                                          "crashes"))))
    print(f"counted {counts['lines_parsed']} (graph {counts['lines_graph']}), rejected with a "
          f"reason {counts['lines_malformed']}, untimed {counts['lines_untimed']}, foreign "
          f"(marker destroyed) {counts['foreign']}")
    print("rejection reasons: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    print(f"crashes {counts['crashes']}, garbage counted {counts['garbage']}, native/twin "
          f"disagreements {counts['disagreements']}")
    with open("/proc/loadavg") as f:
        print(f"/proc/loadavg: {f.read().strip()}")
    return 1 if counts["crashes"] or counts["garbage"] or counts["disagreements"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
