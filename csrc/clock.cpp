// The clock and the timing loop of mxprof.measure.
//
// Clock: the invariant TSC (x86_64 with constant_tsc and nonstop_tsc in /proc/cpuinfo) converted
// to nanoseconds by a fixed-point multiplier calibrated against CLOCK_MONOTONIC once at import;
// otherwise clock_gettime(CLOCK_MONOTONIC). Both report nanoseconds on CLOCK_MONOTONIC's epoch, so
// now_ns() can be compared with time.monotonic_ns().
//
// Timing loop: calls a Python callable with no arguments, with the GIL held, and writes one int64
// sample per call into a buffer that numpy then owns through a capsule (no copy). Statistics are
// computed in Python.
#include "clock.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mxprof_clock {
ClockState g_clock;
}

namespace {

using namespace mxprof_clock;

bool cpu_has_invariant_tsc() {
#if MXPROF_HAVE_TSC
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        // Flags are space separated; pad so that whole words match.
        std::string flags = " " + line.substr(line.find(':') + 1) + " ";
        return flags.find(" constant_tsc ") != std::string::npos &&
               flags.find(" nonstop_tsc ") != std::string::npos;
    }
#endif
    return false;
}

#if MXPROF_HAVE_TSC
// One (tsc, monotonic ns) pair: the clock_gettime call bracketed by two TSC reads, the tightest of
// a few tries, its TSC taken at the midpoint. The pair is then good to a few tens of ns.
struct Anchor {
    uint64_t tsc;
    int64_t ns;
};

Anchor take_anchor() {
    Anchor best{0, 0};
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < 16; ++i) {
        uint64_t a = read_tsc();
        int64_t ns = monotonic_ns();
        uint64_t b = read_tsc();
        if (b - a < best_width) {
            best_width = b - a;
            best = Anchor{a + (b - a) / 2, ns};
        }
    }
    return best;
}

void calibrate_tsc(int64_t duration_ns) {
    int64_t t_start = monotonic_ns();
    Anchor first = take_anchor();
    while (monotonic_ns() - first.ns < duration_ns) {
    }
    Anchor last = take_anchor();
    double hz = static_cast<double>(last.tsc - first.tsc) * 1e9 / static_cast<double>(last.ns - first.ns);
    g_clock.tsc_hz = hz;
    g_clock.mult = static_cast<uint64_t>(1e9 / hz * static_cast<double>(uint64_t(1) << kShift) + 0.5);
    g_clock.tsc0 = last.tsc;
    g_clock.ns0 = last.ns;
    g_clock.calibration_ms = static_cast<double>(monotonic_ns() - t_start) / 1e6;
}
#endif

void init_clock_state() {
    g_clock.tsc_usable = cpu_has_invariant_tsc();
#if MXPROF_HAVE_TSC
    if (g_clock.tsc_usable) {
        calibrate_tsc(15 * 1000 * 1000);
        g_clock.use_tsc = true;
    }
#endif
}

// Both clocks share one shape for the loop: raw reads, and a conversion of a difference of raw
// reads to ns (done after the loop, outside the timed region).
struct MonotonicClock {
    static inline int64_t read() { return monotonic_ns(); }
    static inline int64_t to_ns(int64_t delta) { return delta; }
    static inline int64_t from_ns(int64_t ns) { return ns; }
};

#if MXPROF_HAVE_TSC
struct TscClock {
    static inline int64_t read() { return static_cast<int64_t>(read_tsc()); }
    static inline int64_t to_ns(int64_t delta) { return tsc_to_ns_delta(static_cast<uint64_t>(delta)); }
    static inline int64_t from_ns(int64_t ns) {
        const double ticks = static_cast<double>(ns) * g_clock.tsc_hz / 1e9;
        return ticks >= 9.0e18 ? INT64_MAX : static_cast<int64_t>(ticks);  // "never", not overflow
    }
};
#endif

PyObject *call_without_vectorcall(PyObject *fn, PyObject *const *, size_t, PyObject *) {
    return PyObject_CallNoArgs(fn);
}

[[noreturn]] void throw_call_error() {
    // A callable returning NULL without an exception is a broken C extension: say so, as
    // PyObject_Call would, instead of letting pybind11 find no error to raise.
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "timed callable returned NULL without an exception");
    throw py::error_already_set();
}

// Calls fn until one of: max_calls calls; at least min_calls calls and target_ns of wall time
// since the loop started; limit_ns of wall time (after at least one call). Negative times are off.
//
// One clock read per call: the read that ends sample i starts sample i+1, which halves the clock
// cost of the loop. A sample therefore also holds the few instructions of loop bookkeeping (a
// store, a decref, two compares), the same for every sample. Work that is not the same for every
// sample (growing the buffer, checking for Ctrl-C) re-reads the clock after it, so no sample
// carries it. The buffer is allocated and touched before the loop (up to 8 MiB, then doubled as
// needed), so that no page fault lands in a sample.
template <class Clock>
std::vector<int64_t> run_loop(PyObject *fn, int64_t max_calls, int64_t target_ns, int64_t min_calls,
                              int64_t limit_ns) {
    constexpr int64_t kSignalEvery = 1 << 14;
    constexpr int64_t kUpfront = 1 << 20;
    std::vector<int64_t> samples(static_cast<size_t>(std::min(max_calls, kUpfront)));
    // Calling the vectorcall slot directly skips PyObject_CallNoArgs' dispatch (3-4 ns a call).
    vectorcallfunc call = PyVectorcall_Function(fn);
    if (call == nullptr) call = call_without_vectorcall;
    const int64_t never = INT64_MAX;
    const int64_t target = target_ns < 0 ? never : Clock::from_ns(target_ns);
    const int64_t limit = limit_ns < 0 ? never : Clock::from_ns(limit_ns);
    const int64_t start = Clock::read();
    int64_t i = 0;
    bool done = max_calls <= 0;
    while (!done) {
        // A callable that never enters the eval loop (a builtin) would not see Ctrl-C otherwise.
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (static_cast<size_t>(i) == samples.size())
            samples.resize(static_cast<size_t>(std::min(max_calls, 2 * i)));
        const int64_t stretch_end =
            std::min(static_cast<int64_t>(samples.size()), i + kSignalEvery);
        int64_t *out = samples.data();
        int64_t t_prev = Clock::read();
        for (; i < stretch_end; ++i) {
            PyObject *result = call(fn, nullptr, PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
            const int64_t t = Clock::read();
            if (result == nullptr) throw_call_error();
            Py_DECREF(result);
            out[i] = t - t_prev;
            t_prev = t;
            const int64_t elapsed = t - start;
            if (elapsed >= limit || (elapsed >= target && i + 1 >= min_calls)) {
                ++i;
                done = true;
                break;
            }
        }
        if (i >= max_calls) done = true;
    }
    samples.resize(static_cast<size_t>(i));
    if (samples.size() < samples.capacity() / 2) samples.shrink_to_fit();  // a copy only if small
    for (auto &s : samples) s = Clock::to_ns(s);
    return samples;
}

py::array_t<int64_t> to_numpy(std::vector<int64_t> &&samples) {
    auto *owned = new std::vector<int64_t>(std::move(samples));
    py::capsule owner(owned, [](void *p) { delete static_cast<std::vector<int64_t> *>(p); });
    return py::array_t<int64_t>({static_cast<py::ssize_t>(owned->size())}, {sizeof(int64_t)},
                                owned->data(), owner);
}

py::array_t<int64_t> timing_loop(py::object fn, int64_t max_calls, int64_t target_ns,
                                 int64_t min_calls, int64_t limit_ns) {
    if (!PyCallable_Check(fn.ptr())) throw py::type_error("timing_loop: fn must be callable");
    if (max_calls < 0) throw py::value_error("timing_loop: max_calls must be >= 0");
#if MXPROF_HAVE_TSC
    if (g_clock.use_tsc)
        return to_numpy(run_loop<TscClock>(fn.ptr(), max_calls, target_ns, min_calls, limit_ns));
#endif
    return to_numpy(run_loop<MonotonicClock>(fn.ptr(), max_calls, target_ns, min_calls, limit_ns));
}

// Median of back-to-back differences of the native clock: what one read adds to each sample.
double native_read_cost_ns(int pairs) {
    std::vector<int64_t> d(static_cast<size_t>(std::max(pairs, 1)));
    for (auto &x : d) {
        int64_t a = now_ns_impl();
        int64_t b = now_ns_impl();
        x = b - a;
    }
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    return static_cast<double>(d[d.size() / 2]);
}

py::dict clock_info_native() {
    py::dict info;
    info["source"] = g_clock.use_tsc ? "tsc" : "clock_gettime";
    info["tsc_usable"] = g_clock.tsc_usable;
    // The TSC frequency only describes now_ns() when the TSC is what it reads.
    info["tsc_hz"] = g_clock.use_tsc ? py::object(py::float_(g_clock.tsc_hz)) : py::object(py::none());
    info["calibration_ms"] = g_clock.calibration_ms;
    timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    info["resolution_ns"] = g_clock.use_tsc ? 1e9 / g_clock.tsc_hz
                                            : static_cast<double>(res.tv_sec * 1000000000LL + res.tv_nsec);
    return info;
}

void clock_select(const std::string &source) {
    if (source == "clock_gettime") {
        g_clock.use_tsc = false;
    } else if (source == "tsc") {
        if (!g_clock.tsc_usable) throw py::value_error("clock_select: this CPU has no invariant TSC");
        g_clock.use_tsc = true;
    } else {
        throw py::value_error("clock_select: source must be 'tsc' or 'clock_gettime'");
    }
}

// now_ns is bound as a plain METH_NOARGS function: pybind11's dispatcher would add ~50 ns to a
// call whose whole point is to be cheap.
PyObject *py_now_ns(PyObject *, PyObject *) { return PyLong_FromLongLong(now_ns_impl()); }

PyMethodDef now_ns_def = {"now_ns", py_now_ns, METH_NOARGS,
                          "now_ns() -> int\n\nNanoseconds on CLOCK_MONOTONIC's epoch, read from the "
                          "calibrated invariant TSC where available."};

}  // namespace

void init_clock(py::module_ &m) {
    init_clock_state();
    PyObject *fn = PyCFunction_NewEx(&now_ns_def, nullptr, m.attr("__name__").ptr());
    if (fn == nullptr) throw py::error_already_set();
    m.add_object("now_ns", py::reinterpret_steal<py::object>(fn));
    m.def("timing_loop", &timing_loop, py::arg("fn"), py::arg("max_calls"), py::arg("target_ns") = -1,
          py::arg("min_calls") = 1, py::arg("limit_ns") = -1,
          "Call fn() up to max_calls times; one int64 ns sample per call, returned without copy.\n"
          "Stops early once target_ns of wall time has passed and min_calls were made, or once\n"
          "limit_ns has passed (negative: off). Exceptions from fn propagate unchanged.");
    m.def("clock_info", &clock_info_native, "Which clock now_ns reads and its calibration.");
    m.def("clock_read_cost_ns", &native_read_cost_ns, py::arg("pairs") = 2001,
          "Median ns between two back-to-back native clock reads.");
    m.def("clock_select", &clock_select, py::arg("source"),
          "Switch the native clock ('tsc' or 'clock_gettime'); for tests and comparisons.");
    init_sections(m);
}
