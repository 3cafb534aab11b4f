// Per-layer timestamps from MXNet's CachedOp monitor hook, with no Python in the hot path.
//
// MXNet (1.x C API) calls the hook once per input (monitor_all) before an operator is invoked and
// once per output after it; under NaiveEngine "after" means "after the kernel finished". Each call
// hands over a freshly allocated NDArray copy that the hook must free. We record one event per call
// (CLOCK_MONOTONIC ns, interned name) into a preallocated buffer; grouping calls into layers and
// timing them is done in Python (mxprof.layers).
//
// libmxnet's symbols are looked up at run time (dlopen of the already loaded library + dlsym), so
// one build serves every MXNet install and the module loads without MXNet. Only a library that
// is already loaded is used (RTLD_NOLOAD): a second copy of libmxnet would have its own engine
// and its own CachedOp registry, in which the handle given here means nothing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <dlfcn.h>
#include <time.h>

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace py = pybind11;

namespace {

using MonitorCallback = void (*)(const char *, const char *, void *);
using RegisterOpHookFn = int (*)(void *, MonitorCallback, bool);
using NDArrayFreeFn = int (*)(void *);
using GetLastErrorFn = const char *(*)();

struct Api {
    void *lib = nullptr;
    RegisterOpHookFn register_op_hook = nullptr;
    NDArrayFreeFn ndarray_free = nullptr;
    GetLastErrorFn get_last_error = nullptr;
};

// The recorder is process-global: MXNet's hook is a bare function pointer without user data.
// CachedOp calls it from the one thread that invokes the graph, so no locking is needed.
struct Recorder {
    std::vector<int64_t> t_ns;
    std::vector<int32_t> name_id;
    size_t count = 0;
    uint64_t dropped = 0;
    bool enabled = false;
    // Interned names: views point into `storage`, whose elements never move (deque).
    std::deque<std::string> storage;
    std::unordered_map<std::string_view, int32_t> ids;
};

Api g_api;
Recorder g_rec;

inline int64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

inline int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int32_t intern(const char *name) {
    std::string_view key(name);
    auto it = g_rec.ids.find(key);
    if (it != g_rec.ids.end()) return it->second;
    g_rec.storage.emplace_back(key);
    auto id = static_cast<int32_t>(g_rec.storage.size() - 1);
    g_rec.ids.emplace(std::string_view(g_rec.storage.back()), id);
    return id;
}

extern "C" void on_op(const char *name, const char * /*op*/, void *ndarray) {
    // Timestamp first: everything after it is hook cost, not the operator's.
    int64_t t = monotonic_ns();
    if (g_rec.enabled) {
        if (g_rec.count < g_rec.t_ns.size()) {
            g_rec.t_ns[g_rec.count] = t;
            g_rec.name_id[g_rec.count] = intern(name);
            ++g_rec.count;
        } else {
            ++g_rec.dropped;
        }
    }
    if (ndarray != nullptr && g_api.ndarray_free != nullptr) g_api.ndarray_free(ndarray);
}

void load_api(const std::string &libmxnet_path) {
    if (g_api.lib != nullptr) return;
    void *lib = dlopen(libmxnet_path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (lib == nullptr) {
        throw std::runtime_error(libmxnet_path +
                                 " is not loaded in this process: import mxnet first (the layer "
                                 "hook never loads a second copy of libmxnet)");
    }
    Api api;
    api.lib = lib;
    api.register_op_hook = reinterpret_cast<RegisterOpHookFn>(dlsym(lib, "MXCachedOpRegisterOpHook"));
    api.ndarray_free = reinterpret_cast<NDArrayFreeFn>(dlsym(lib, "MXNDArrayFree"));
    api.get_last_error = reinterpret_cast<GetLastErrorFn>(dlsym(lib, "MXGetLastError"));
    if (api.register_op_hook == nullptr || api.ndarray_free == nullptr) {
        throw std::runtime_error(libmxnet_path +
                                 " lacks MXCachedOpRegisterOpHook/MXNDArrayFree "
                                 "(op hooks need MXNet >= 1.6)");
    }
    g_api = api;
}

void hook_install(const std::string &libmxnet_path, uintptr_t cached_op_handle, size_t capacity,
                  bool monitor_all) {
    if (cached_op_handle == 0) throw std::invalid_argument("cached op handle is null");
    if (capacity == 0) throw std::invalid_argument("capacity must be positive");
    load_api(libmxnet_path);
    g_rec.t_ns.assign(capacity, 0);
    g_rec.name_id.assign(capacity, 0);
    g_rec.count = 0;
    g_rec.dropped = 0;
    g_rec.enabled = false;
    int rc = g_api.register_op_hook(reinterpret_cast<void *>(cached_op_handle), &on_op, monitor_all);
    if (rc != 0) {
        std::string msg = g_api.get_last_error ? g_api.get_last_error() : "unknown error";
        throw std::runtime_error("MXCachedOpRegisterOpHook failed: " + msg);
    }
}

py::tuple hook_events() {
    auto n = static_cast<py::ssize_t>(g_rec.count);
    py::array_t<int64_t> t(n);
    py::array_t<int32_t> ids(n);
    std::copy_n(g_rec.t_ns.data(), n, t.mutable_data());
    std::copy_n(g_rec.name_id.data(), n, ids.mutable_data());
    return py::make_tuple(t, ids);
}

}  // namespace

void init_mxhooks(py::module_ &m) {
    m.def("hook_install", &hook_install, py::arg("libmxnet_path"), py::arg("cached_op_handle"),
          py::arg("capacity"), py::arg("monitor_all") = true,
          "Register the native recorder as the op hook of a CachedOp (handle as an int address). "
          "Recording starts disabled; the hook stays registered for the CachedOp's lifetime.");
    m.def("hook_enable", [](bool on) { g_rec.enabled = on; }, py::arg("on"),
          "Start (True) or stop (False) recording; when stopped the hook only frees its NDArray.");
    m.def("hook_clear", []() { g_rec.count = 0; g_rec.dropped = 0; },
          "Forget recorded events (interned names are kept, so ids stay stable).");
    m.def("hook_events", &hook_events,
          "Recorded events as (t_ns int64 CLOCK_MONOTONIC, name_id int32) numpy arrays.");
    m.def("hook_names", []() { return std::vector<std::string>(g_rec.storage.begin(), g_rec.storage.end()); },
          "Interned names, indexed by name_id.");
    m.def("hook_dropped", []() { return g_rec.dropped; }, "Events lost because the buffer was full.");
    m.def("monotonic_ns", &monotonic_ns, "CLOCK_MONOTONIC in ns (the hook's clock).");
    m.def("realtime_ns", &realtime_ns, "CLOCK_REALTIME in ns (oneDNN verbose timestamps' clock).");
}
