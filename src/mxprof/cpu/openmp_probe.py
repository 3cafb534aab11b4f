"""`python -m mxprof.cpu.openmp_probe`: print the OpenMP runtime ('intel' | 'gnu' | 'unknown')
that the MXNet of the interpreter running it links (mxprof.cpu.openmp.detect_openmp_runtime).

Run under another venv's interpreter with only mxprof and msgspec on its path
(mxprof.workers.process.openmp_runtime_for), so that the answer is that venv's MXNet. A probe
that prints one word, not a worker: nothing to hand over but that word.
"""

from __future__ import annotations

from mxprof.cpu.openmp import detect_openmp_runtime


def main() -> int:
    print(detect_openmp_runtime())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
