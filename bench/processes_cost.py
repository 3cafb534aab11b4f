"""What each second of `mxprof profile MODEL` buys: phases, processes and process reuse.

Runs the real command several times in one session, everything else at its defaults:
  --processes 3 --no-share   every pass in a process of its own (before reuse): the baseline
  --processes 3              the default: the operators pass joins the last timing process
  --processes 1 --no-share   one timing process per configuration, no reuse
  --processes 1              one timing process per configuration, with reuse
and prints, for each, the wall time as a ratio to the baseline's, the seconds per phase summed
over every worker (start-up: interpreter, binding, MXNet import, model build; then first call,
warm-up, timed calls and the rest of each pass, from the `phases` each worker records:
mxprof.jobs.profile.worker), the seconds of each worker and companion check as the command saw
them (its progress lines: interpreter start included), and /proc/loadavg before and after
each run (figures are only comparable at the same load). The machine ceilings are measured
once before the first run, so no run pays for them.

    PYTHONPATH=src python bench/processes_cost.py [--model resnet50_v1]
        [--variants "3 noshare,3,1 noshare,1"] [--extra "--checks none"]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PHASES = ("start", "import", "build", "first_call", "warmup", "timed", "rest of pass")
_DONE = re.compile(r"\] done (?P<label>.+?): (?P<status>.+?) \((?P<s>[\d.]+) s;")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _phases(workdir: Path) -> tuple[dict[str, float], dict[str, float], int]:
    """(seconds per phase, seconds per pass, worker processes) from the workers' result files."""
    phases: dict[str, float] = defaultdict(float)
    passes: dict[str, float] = defaultdict(float)
    files = sorted(workdir.glob("*.result.json"))
    for path in files:
        for result in json.loads(path.read_text()).get("results") or ():
            ph = result.get("phases") or {}
            inside = sum(ph.get(k, 0.0) for k in ("first_call", "warmup", "timed"))
            for k in ("start", "import", "build", "first_call", "warmup", "timed"):
                phases[k] += ph.get(k, 0.0)
            phases["rest of pass"] += ph.get("pass", 0.0) - inside
            passes[result["spec"]["pass_name"]] += ph.get("pass", 0.0)
    return phases, passes, len(files)


def _run(model: str, processes: int, share: bool, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="mxprof-cost-") as tmp:
        out, work = Path(tmp) / "r.json", Path(tmp) / "work"
        before = _loadavg()
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "mxprof", "profile", model, "--processes",
                               str(processes), "--json", str(out), "--workdir", str(work),
                               *([] if share else ["--no-share"]), *extra],
                              capture_output=True, text=True, env=os.environ.copy())
        wall = time.monotonic() - t0
        if proc.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"profile failed:\n{proc.stderr[-2000:]}")
        phases, passes, workers = _phases(work)
        steps = [(m["label"], float(m["s"])) for m in _DONE.finditer(proc.stderr)]
        report = json.loads(out.read_text())
        return {"wall": wall, "load": f"{before} -> {_loadavg()}", "phases": phases,
                "passes": passes, "workers": workers, "steps": steps, "report": report}


def _speedup(report: dict) -> str:
    sp = (report.get("reference") or {}).get("speedup") or {}
    return (sp.get("latency_ratio") or {}).get("text") or f"{sp.get('latency') or 0:.2f}x"


def _print_run(name: str, run: dict, base: float) -> None:
    lat = run["report"].get("latency_ms") or {}
    print(f"\n== {name}: wall {run['wall']:.0f} s = {run['wall'] / base:.2f}x the baseline; "
          f"{run['workers']} profile worker processes; loadavg {run['load']}")
    print(f"   latency {lat.get('median', 0):.2f} ms (95% CI {lat.get('ci95_low', 0):.2f}-"
          f"{lat.get('ci95_high', 0):.2f}), MKL-DNN speedup {_speedup(run['report'])}, "
          f"threads {run['report']['protocol'].get('threads')}")
    phases = run["phases"]
    print("   phase seconds, summed over workers: " + ", ".join(
        f"{k} {phases.get(k, 0.0):.1f}" for k in PHASES))
    print("   pass seconds (after start-up): " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(run["passes"].items())))
    for label, seconds in run["steps"]:
        print(f"   {seconds:6.1f} s  {label}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50_v1")
    ap.add_argument("--variants", default="3 noshare,3,1 noshare,1",
                    help="comma-separated 'PROCESSES [noshare]'; the first is the baseline")
    ap.add_argument("--extra", default="", help="more profile arguments, one shell string")
    args = ap.parse_args()
    extra = shlex.split(args.extra)
    print(f"loadavg at start {_loadavg()}; measuring the ceilings once (cached for every run)",
          flush=True)
    subprocess.run([sys.executable, "-m", "mxprof", "ceilings"], capture_output=True,
                   env=os.environ.copy())
    runs = {}
    for variant in args.variants.split(","):
        words = variant.split()
        name = f"--processes {words[0]}" + (" --no-share" if "noshare" in words else "")
        runs[name] = _run(args.model, int(words[0]), "noshare" not in words, extra)
        print(f"ran {name}: {runs[name]['wall']:.0f} s (loadavg {runs[name]['load']})",
              flush=True)
    base_name = next(iter(runs))
    base = runs[base_name]["wall"]
    print(f"\nbaseline: {base_name} ({base:.0f} s), measured in this session")
    for name, run in runs.items():
        _print_run(name, run, base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
