// The timing loop of mxprof.measure: calls a Python callable with no arguments, with the GIL
// held, and writes one int64 sample per call of the mxprof clock (clock.hpp) into a buffer that
// numpy then owns through a capsule (no copy). Statistics are computed in Python.
#include "clock.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace py = pybind11;

namespace {

using namespace mxprof_clock;

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
    static inline int64_t to_ns(int64_t delta) { return tsc_to_ns_delta(delta); }
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
// store, a decref, three compares), the same for every sample. Work that is not the same for
// every sample (growing the buffer, checking for Ctrl-C) re-reads the clock after it, so no
// sample carries it. The buffer is allocated and touched before the loop (up to 8 MiB, then
// doubled as needed), so that no page fault lands in a sample.
//
// Signals are checked after any call that ends kSignalCheckNs or more after the last check: so
// after every call of a slow function (Ctrl-C stops it at the end of the call in progress) and
// once a millisecond for a fast one. A callable that never enters the eval loop (a builtin, a
// ctypes function) would not see Ctrl-C otherwise.
constexpr int64_t kSignalCheckNs = 1000 * 1000;

template <class Clock>
std::vector<int64_t> run_loop(PyObject *fn, int64_t max_calls, int64_t target_ns, int64_t min_calls,
                              int64_t limit_ns) {
    constexpr int64_t kUpfront = 1 << 20;
    std::vector<int64_t> samples(static_cast<size_t>(std::min(max_calls, kUpfront)));
    // Calling the vectorcall slot directly skips PyObject_CallNoArgs' dispatch (3-4 ns a call).
    // PY_VECTORCALL_ARGUMENTS_OFFSET lets a bound method put `self` in args[-1] instead of
    // allocating a new argument array, so args[-1] must be writable memory: the spare slot.
    vectorcallfunc call = PyVectorcall_Function(fn);
    if (call == nullptr) call = call_without_vectorcall;
    PyObject *arg_slots[1] = {nullptr};
    PyObject *const *no_args = arg_slots + 1;
    const int64_t never = INT64_MAX;
    const int64_t target = target_ns < 0 ? never : Clock::from_ns(target_ns);
    const int64_t limit = limit_ns < 0 ? never : Clock::from_ns(limit_ns);
    const int64_t check_every = Clock::from_ns(kSignalCheckNs);
    if (max_calls > 0 && PyErr_CheckSignals() != 0) throw py::error_already_set();
    const int64_t start = Clock::read();
    int64_t t_prev = start, last_check = start;
    int64_t i = 0;
    bool done = max_calls <= 0;
    while (!done) {
        if (static_cast<size_t>(i) == samples.size()) {
            samples.resize(static_cast<size_t>(std::min(max_calls, 2 * i)));
            t_prev = Clock::read();
        }
        const int64_t end = static_cast<int64_t>(samples.size());
        int64_t *out = samples.data();
        for (; i < end; ++i) {
            PyObject *result = call(fn, no_args, PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
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
            if (t - last_check >= check_every) {
                if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                t_prev = last_check = Clock::read();
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

}  // namespace

void init_timing_loop(py::module_ &m) {
    m.def("timing_loop", &timing_loop, py::arg("fn"), py::arg("max_calls"), py::arg("target_ns") = -1,
          py::arg("min_calls") = 1, py::arg("limit_ns") = -1,
          "Call fn() up to max_calls times; one int64 ns sample per call, returned without copy.\n"
          "Stops early once target_ns of wall time has passed and min_calls were made, or once\n"
          "limit_ns has passed (negative: off). Exceptions from fn propagate unchanged.");
}
