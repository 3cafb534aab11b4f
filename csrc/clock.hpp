// The mxprof clock, shared by the timing loop (clock.cpp) and the Timer sections (sections.cpp):
// the invariant TSC converted to ns on CLOCK_MONOTONIC's epoch, where the kernel trusts the TSC,
// or clock_gettime(CLOCK_MONOTONIC) itself.
#pragma once

#include <pybind11/pybind11.h>

#include <time.h>

#include <cstdint>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#define MXPROF_HAVE_TSC 1
#else
#define MXPROF_HAVE_TSC 0
#endif

namespace mxprof_clock {

inline int64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

#if MXPROF_HAVE_TSC
// Plain rdtsc, no lfence: the fence cost 12 ns a read here (39 vs 51 ns per sample of an empty
// function). Without it a read may run up to an out-of-order window (tens of ns) early; since one
// read ends a sample and starts the next, that skew moves time between neighbours and never
// accumulates: the samples still sum to the loop's elapsed time.
inline uint64_t read_tsc() { return __rdtsc(); }
#endif

// ns = ns0 + ((ticks - tsc0) * mult) >> kShift. A 128-bit product never overflows; 2^-32 of
// quantisation is below 1 ns per second of elapsed time.
constexpr int kShift = 32;

struct ClockState {
    bool use_tsc = false;
    bool cpu_invariant_tsc = false;  // the CPU flags allow it (the kernel may still not trust it)
    bool tsc_calibrated = false;
    double tsc_hz = 0.0;
    uint64_t tsc0 = 0;
    int64_t ns0 = 0;
    uint64_t mult = 0;
    double calibration_ms = 0.0;
    std::string reason;           // why use_tsc has its value, for reports
    std::string kernel_current;   // current_clocksource at import ("" if unreadable)
    std::string kernel_available; // available_clocksource at import ("" if unreadable)
};

extern ClockState g_clock;  // set once at import by init_clock

// Signed: a TSC read behind the anchor (another CPU's TSC, or a read executed early) is a small
// negative duration, never a wrapped unsigned one of 2^64 ticks.
inline int64_t tsc_to_ns_delta(int64_t ticks) {
    return static_cast<int64_t>((static_cast<__int128>(ticks) * static_cast<__int128>(g_clock.mult)) >> kShift);
}

inline int64_t now_ns_impl() {
#if MXPROF_HAVE_TSC
    if (g_clock.use_tsc)
        return g_clock.ns0 + tsc_to_ns_delta(static_cast<int64_t>(read_tsc() - g_clock.tsc0));
#endif
    return monotonic_ns();
}

}  // namespace mxprof_clock

// Timer sections: a native accumulator table (sections.cpp), registered by init_clock.
void init_sections(pybind11::module_ &m);
// The timing loop (timing_loop.cpp), registered by init_clock.
void init_timing_loop(pybind11::module_ &m);
