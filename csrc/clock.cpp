// The clock of mxprof.measure and the Timer.
//
// The invariant TSC converted to nanoseconds by a fixed-point multiplier, where the kernel
// trusts it, otherwise clock_gettime(CLOCK_MONOTONIC). The TSC is used only if the CPU has
// constant_tsc and nonstop_tsc (/proc/cpuinfo) and the kernel uses tsc as its clocksource or
// still lists it among the usable ones (a TSC that its watchdog found unstable is dropped from
// available_clocksource). Its rate is calibrated once at import against CLOCK_MONOTONIC_RAW,
// which NTP never slews, and its epoch anchored on CLOCK_MONOTONIC, so now_ns() compares with
// time.monotonic_ns(). clock_choice() makes the decision from any sysfs root (tests use fake
// ones); the pure-Python twin is mxprof.timing._clock_py.clock_choice. The timing loop that
// reads this clock is timing_loop.cpp.
#include "clock.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mxprof_clock {
ClockState g_clock;
}

namespace {

using namespace mxprof_clock;

inline int64_t clock_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// The first line of a file, trimmed; nullopt if it cannot be read.
std::optional<std::string> read_line(const std::string &path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::string line;
    std::getline(in, line);
    const auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return std::string();
    return line.substr(first, line.find_last_not_of(" \t\r\n") - first + 1);
}

// The words of the first "flags" line of a cpuinfo file; nullopt if there is none.
std::optional<std::vector<std::string>> cpu_flags(const std::string &cpuinfo) {
    std::ifstream in(cpuinfo);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::vector<std::string> flags;
        for (std::string w; words >> w;) flags.push_back(w);
        return flags;
    }
    return std::nullopt;
}

std::vector<std::string> split_words(const std::string &text) {
    std::istringstream words(text);
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
}

bool contains(const std::vector<std::string> &words, const std::string &word) {
    return std::find(words.begin(), words.end(), word) != words.end();
}

// Which clock to use and why. The reason strings are matched word for word by the Python twin
// (mxprof.timing._clock_py.clock_choice): keep both in step.
struct ClockChoice {
    bool tsc = false;
    std::string reason;
    bool cpu_invariant_tsc = false;
    std::optional<std::string> current, available;
};

ClockChoice choose_clock(const std::string &sysfs_root, const std::string &cpuinfo) {
    ClockChoice c;
    const std::string dir = sysfs_root + "/devices/system/clocksource/clocksource0";
    c.current = read_line(dir + "/current_clocksource");
    c.available = read_line(dir + "/available_clocksource");
#if !MXPROF_HAVE_TSC
    c.reason = "not an x86_64 CPU: no TSC";
    return c;
#endif
    const auto flags = cpu_flags(cpuinfo);
    if (!flags) {
        c.reason = "no CPU flags in " + cpuinfo;
        return c;
    }
    std::string missing;
    for (const char *f : {"constant_tsc", "nonstop_tsc"})
        if (!contains(*flags, f)) missing += (missing.empty() ? "" : ", ") + std::string(f);
    if (!missing.empty()) {
        c.reason = "the TSC is not invariant (" + missing + " missing from " + cpuinfo + ")";
        return c;
    }
    c.cpu_invariant_tsc = true;
    if (!c.current && !c.available) {
        c.reason = "cannot read the kernel's clocksources in " + dir + ": the TSC is used only where the kernel trusts it";
        return c;
    }
    const std::string current = c.current.value_or("?");
    const std::string available = c.available.value_or("?");
    if (current == "tsc") {
        c.tsc = true;
        c.reason = "invariant TSC, the kernel's current clocksource";
    } else if (contains(split_words(available), "tsc")) {
        c.tsc = true;
        c.reason = "invariant TSC, which the kernel lists as usable (current clocksource " + current + ")";
    } else {
        c.reason = "the kernel does not list tsc among its usable clocksources (" + available +
                   "): it found the TSC unstable or never trusted it";
    }
    return c;
}

#if MXPROF_HAVE_TSC
// One (tsc, clock ns) pair: the clock_gettime call bracketed by two TSC reads, the tightest of
// a few tries, its TSC taken at the midpoint. The pair is then good to a few tens of ns.
struct Anchor {
    uint64_t tsc;
    int64_t ns;
};

Anchor take_anchor(clockid_t id) {
    Anchor best{0, 0};
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < 16; ++i) {
        uint64_t a = read_tsc();
        int64_t ns = clock_ns(id);
        uint64_t b = read_tsc();
        if (b >= a && b - a < best_width) {
            best_width = b - a;
            best = Anchor{a + (b - a) / 2, ns};
        }
    }
    return best;
}

// The rate against CLOCK_MONOTONIC_RAW (NTP slews CLOCK_MONOTONIC by up to 500 ppm, and a slew
// during the window would bias the rate), the epoch on CLOCK_MONOTONIC. False if the TSC did not
// advance at a plausible rate (then it is not used).
bool calibrate_tsc(int64_t duration_ns) {
    const int64_t t_start = monotonic_ns();
    const Anchor first = take_anchor(CLOCK_MONOTONIC_RAW);
    while (clock_ns(CLOCK_MONOTONIC_RAW) - first.ns < duration_ns) {
    }
    const Anchor last = take_anchor(CLOCK_MONOTONIC_RAW);
    const Anchor epoch = take_anchor(CLOCK_MONOTONIC);
    const double ticks = static_cast<double>(static_cast<int64_t>(last.tsc - first.tsc));
    const double hz = ticks * 1e9 / static_cast<double>(last.ns - first.ns);
    g_clock.calibration_ms = static_cast<double>(monotonic_ns() - t_start) / 1e6;
    if (!std::isfinite(hz) || hz < 1e7 || hz > 1e11) return false;
    g_clock.tsc_hz = hz;
    g_clock.mult = static_cast<uint64_t>(1e9 / hz * static_cast<double>(uint64_t(1) << kShift) + 0.5);
    g_clock.tsc0 = epoch.tsc;
    g_clock.ns0 = epoch.ns;
    g_clock.tsc_calibrated = true;
    return true;
}
#endif

constexpr int64_t kCalibrationNs = 15 * 1000 * 1000;

// Applies a choice: calibrates the TSC if it is chosen and not yet calibrated.
void apply_choice(const ClockChoice &c) {
    g_clock.cpu_invariant_tsc = c.cpu_invariant_tsc;
    g_clock.kernel_current = c.current.value_or("");
    g_clock.kernel_available = c.available.value_or("");
    g_clock.use_tsc = false;
    g_clock.reason = c.reason;
#if MXPROF_HAVE_TSC
    if (c.tsc) {
        if (g_clock.tsc_calibrated || calibrate_tsc(kCalibrationNs)) {
            g_clock.use_tsc = true;
        } else {
            g_clock.reason = c.reason + "; but its calibration against CLOCK_MONOTONIC_RAW failed";
        }
    }
#endif
}

void init_clock_state() { apply_choice(choose_clock("/sys", "/proc/cpuinfo")); }

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

py::object text_or_none(const std::string &text) {
    return text.empty() ? py::object(py::none()) : py::object(py::str(text));
}

py::dict clock_info_native() {
    py::dict info;
    info["source"] = g_clock.use_tsc ? "tsc" : "clock_gettime";
    info["reason"] = g_clock.reason;
    info["cpu_invariant_tsc"] = g_clock.cpu_invariant_tsc;
    // The TSC figures only describe now_ns() when the TSC is what it reads.
    info["tsc_hz"] = g_clock.use_tsc ? py::object(py::float_(g_clock.tsc_hz)) : py::object(py::none());
    info["calibrated_against"] = g_clock.use_tsc ? py::object(py::str("CLOCK_MONOTONIC_RAW")) : py::object(py::none());
    info["calibration_ms"] = g_clock.calibration_ms;
    timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    const double ns_per_tick = g_clock.use_tsc ? 1e9 / g_clock.tsc_hz
                                               : static_cast<double>(res.tv_sec * 1000000000LL + res.tv_nsec);
    info["ns_per_tick"] = ns_per_tick;
    info["resolution_ns"] = ns_per_tick;
    info["kernel_clocksource"] = text_or_none(g_clock.kernel_current);
    info["kernel_available_clocksources"] = text_or_none(g_clock.kernel_available);
    return info;
}

py::dict clock_choice_native(const std::string &sysfs_root, const std::string &cpuinfo) {
    const ClockChoice c = choose_clock(sysfs_root, cpuinfo);
    py::dict out;
    out["source"] = c.tsc ? "tsc" : "clock_gettime";
    out["reason"] = c.reason;
    out["cpu_invariant_tsc"] = c.cpu_invariant_tsc;
    out["kernel_clocksource"] = c.current ? py::object(py::str(*c.current)) : py::object(py::none());
    out["kernel_available_clocksources"] =
        c.available ? py::object(py::str(*c.available)) : py::object(py::none());
    return out;
}

void clock_select(const std::string &source) {
    if (source == "auto") {
        init_clock_state();
    } else if (source == "clock_gettime") {
        g_clock.use_tsc = false;
        g_clock.reason = "selected by clock_select('clock_gettime')";
    } else if (source == "tsc") {
        if (!g_clock.cpu_invariant_tsc) throw py::value_error("clock_select: this CPU has no invariant TSC");
#if MXPROF_HAVE_TSC
        if (!g_clock.tsc_calibrated && !calibrate_tsc(kCalibrationNs))
            throw py::value_error("clock_select: the TSC calibration against CLOCK_MONOTONIC_RAW failed");
#endif
        g_clock.use_tsc = true;
        g_clock.reason = "selected by clock_select('tsc')";
    } else {
        throw py::value_error("clock_select: source must be 'tsc', 'clock_gettime' or 'auto'");
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
    init_timing_loop(m);
    m.def("clock_info", &clock_info_native, "Which clock now_ns reads, why, and its calibration.");
    m.def("clock_choice", &clock_choice_native, py::arg("sysfs_root") = "/sys",
          py::arg("cpuinfo") = "/proc/cpuinfo",
          "The clock the import-time rule picks on a machine described by a sysfs root and a\n"
          "cpuinfo file, and why; changes nothing (tests pass fake trees).");
    m.def("clock_ticks_to_ns",
          [](int64_t ticks) -> int64_t { return g_clock.use_tsc ? tsc_to_ns_delta(ticks) : ticks; },
          py::arg("ticks"),
          "ns of a difference of two raw reads of the current clock (TSC ticks, or ns for\n"
          "clock_gettime); negative differences stay negative.");
    m.def("clock_read_cost_ns", &native_read_cost_ns, py::arg("pairs") = 2001,
          "Median ns between two back-to-back native clock reads.");
    m.def("clock_select", &clock_select, py::arg("source"),
          "Switch the native clock ('tsc' or 'clock_gettime'), or back to the import-time\n"
          "choice ('auto'); for tests and comparisons.");
    init_sections(m);
}
