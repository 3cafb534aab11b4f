// mxprof._core: the small, hot parts of mxprof. Each capability lives in its own file and
// registers its functions here; statistics, grouping and rendering stay in Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

// Registration functions, one per capability file.
void init_clock(py::module_ &m);    // clock.cpp, timing_loop.cpp, sections.cpp: clock, loop, sections
void init_cpu(py::module_ &m);      // cpu.cpp: CPU lists, affinity, memory policy
void init_verbose(py::module_ &m);  // verbose.cpp: oneDNN verbose log scanner
void init_mxhooks(py::module_ &m);  // mxhooks.cpp: per-layer timestamps from MXNet's op hook

PYBIND11_MODULE(_core, m) {
    m.doc() = "mxprof native core: clock and timing loop, CPU/NUMA binding, oneDNN verbose scanner";
    init_clock(m);
    init_cpu(m);
    init_verbose(m);
    init_mxhooks(m);
}
