"""Append-only results file: one JSON line per finished run, so a sweep loses nothing.

Every line is a complete record (`mxprof.jobs.compare.matrix.make_record`): the run's key, its
build, its worker results and their environment fingerprints. A line is appended whole or not at
all and fsync'd before the next run starts (mxprof.jsonio.append_line). Reading skips a
damaged line with a warning (files written by older versions could end in half a line), and
so a line that does not decode as mxprof.jobs.compare.records.ResultsLine, naming the field.

Where: `--results PATH`, else `default_results_path(sweep_key(planned))`, a file per sweep
under the user's cache folder ($MXPROF_CACHE, else $XDG_CACHE_HOME/mxprof, else
~/.cache/mxprof; then compare/<sweep key>.jsonl), never the current directory.

Resuming: `done_keys` gives the keys of runs that finished with status "ok"; a sweep skips
those and runs the rest (failed and timed-out runs are tried again). When a key appears more
than once, the last line wins. A run's key covers the whole environment fingerprint
(`reuse_fingerprint`: package versions, the build's MXNet, mxprof's version, the worker
protocol, the MXNet/OpenMP/oneDNN variables, affinity, platform), so a new MXNet build or mxprof
version is never answered with old numbers; `reuse_notes` says which results were reused, from
which file and when they were measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mxprof.jobs import sweeps
from mxprof.jobs.compare.records import ResultsLine
from mxprof.jobs.sweeps import (  # noqa: F401 - one definition each, shared by every sweep
    ResultsFileError,
    done_keys,
    latest_by_key,
    reuse_fingerprint,
)

KIND = "mxprof-compare-run"


class ResultsLog(sweeps.ResultsLog):
    """The compare results file (mxprof.jobs.sweeps.ResultsLog with compare's records)."""

    kind = KIND
    line = ResultsLine
    what = "compare"


def read_lines(path: str | os.PathLike, *, stream: bool = True
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """All well-formed compare records, in file order, and warnings for the lines skipped
    (mxprof.jobs.sweeps.read_lines)."""
    return sweeps.read_lines(path, kind=KIND, line=ResultsLine, what="compare", stream=stream)


def default_results_path(key: str) -> Path:
    """The results file of the sweep whose `sweep_key` is `key`, under the cache folder."""
    from mxprof.cache import cache_root

    return cache_root() / "compare" / f"{key}.jsonl"


def sweep_key(planned: Iterable[Any]) -> str:
    """What the user asked for (models, shapes, configurations, batches, builds, protocol,
    binding, instances), not the environment: the same sweep run again after an MXNet upgrade
    lands in the same file, where its old lines are kept but not reused (their keys differ).
    The wait policy is left out as `matrix.run_key` leaves it out: what "auto" chose under the
    load of the moment must not move a resumed sweep to another file (it did: CI, 2026-12-08)."""
    what = sorted(json.dumps([{k: v for k, v in p.spec.to_dict().items()
                               if k not in ("test_hook", "wait_policy")},
                              [p.build.name, p.build.python, p.build.pip_spec],
                              list(p.instance_cpus)], sort_keys=True, default=str)
                  for p in planned)
    return hashlib.sha256("\n".join(what).encode()).hexdigest()[:16]


def reuse_notes(path: Path, reused: list[dict[str, Any]], labels: dict[str, str]) -> list[str]:
    """One line naming the file and the measurement times, then one line per reused run."""
    if not reused:
        return []
    times = sorted(r.get("finished_at") or "?" for r in reused)
    span = times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"
    return [f"reused {len(reused)} result(s) from {path}, measured {span} (same key: same "
            "spec, build, machine and environment fingerprint; --fresh runs them again)",
            *[f"reused: {labels.get(r['key'], r['key'])} (measured {r.get('finished_at')})"
              for r in reused]]
