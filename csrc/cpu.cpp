// CPU and NUMA binding: CPU-list parsing ("0-17,36-53"), sched_{set,get}affinity for any task,
// and set_mempolicy/get_mempolicy by raw syscall so that no libnuma is needed at build or run time.
// Topology reading stays in Python (mxprof.topology): it runs once and is not hot.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace py = pybind11;

namespace {

// Largest CPU or node id accepted: far above any real machine, low enough that "0-99999999" is
// rejected instead of allocating a huge list.
constexpr long kMaxId = 1L << 16;

// Node masks handed to the kernel. 4096 bits covers MAX_NUMNODES on every Linux configuration
// (NODES_SHIFT is at most 10); the kernel accepts a larger mask as long as the extra bits are 0.
constexpr std::size_t kNodeMaskBits = 4096;
constexpr std::size_t kBitsPerWord = 8 * sizeof(unsigned long);
constexpr std::size_t kNodeMaskWords = kNodeMaskBits / kBitsPerWord;

[[noreturn]] void bad_list(const std::string &text, const std::string &why) {
    throw py::value_error("invalid CPU list '" + text + "': " + why);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string strip(const std::string &s) {
    std::size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

long parse_number(const std::string &text, const std::string &token) {
    std::string t = strip(token);
    if (t.empty()) bad_list(text, "empty number");
    for (char c : t)
        if (c < '0' || c > '9') bad_list(text, "'" + t + "' is not a number");
    long value = 0;
    for (char c : t) {
        value = value * 10 + (c - '0');
        if (value > kMaxId) bad_list(text, "id " + t + " is larger than " + std::to_string(kMaxId));
    }
    return value;
}

std::vector<long> parse_cpu_list(const std::string &text) {
    std::vector<long> out;
    if (strip(text).empty()) bad_list(text, "empty list");
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string item = text.substr(start, comma - start);
        if (strip(item).empty()) bad_list(text, "empty item between commas");
        std::size_t dash = item.find('-');
        if (dash == std::string::npos) {
            out.push_back(parse_number(text, item));
        } else {
            long lo = parse_number(text, item.substr(0, dash));
            long hi = parse_number(text, item.substr(dash + 1));
            if (lo > hi) bad_list(text, "range " + strip(item) + " runs backwards");
            for (long c = lo; c <= hi; ++c) out.push_back(c);
        }
        start = comma + 1;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string format_cpu_list(std::vector<long> cpus) {
    for (long c : cpus)
        if (c < 0) throw py::value_error("CPU ids must be >= 0, got " + std::to_string(c));
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    std::string out;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) out += '-' + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

[[noreturn]] void raise_errno(int err, const std::string &what) {
    // OSError with the errno set, so Python code can tell EPERM from EINVAL.
    PyErr_SetObject(PyExc_OSError,
                    py::make_tuple(err, what + ": " + std::system_category().message(err)).ptr());
    throw py::error_already_set();
}

// A cpu_set_t sized for the largest requested CPU (glibc's fixed cpu_set_t stops at 1024).
struct CpuSet {
    int ncpus;
    cpu_set_t *set;
    std::size_t size;
    explicit CpuSet(int n) : ncpus(std::max(n, 1024)), set(CPU_ALLOC(ncpus)), size(CPU_ALLOC_SIZE(ncpus)) {
        if (!set) throw std::bad_alloc();
        CPU_ZERO_S(size, set);
    }
    ~CpuSet() { CPU_FREE(set); }
    CpuSet(const CpuSet &) = delete;
    CpuSet &operator=(const CpuSet &) = delete;
};

void set_affinity(const std::vector<long> &cpus, long pid) {
    if (cpus.empty()) throw py::value_error("cannot bind to an empty CPU set");
    long top = 0;
    for (long c : cpus) {
        if (c < 0 || c >= kMaxId) throw py::value_error("CPU id out of range: " + std::to_string(c));
        top = std::max(top, c);
    }
    CpuSet s(static_cast<int>(top + 1));
    for (long c : cpus) CPU_SET_S(static_cast<std::size_t>(c), s.size, s.set);
    if (sched_setaffinity(static_cast<pid_t>(pid), s.size, s.set) != 0)
        raise_errno(errno, "sched_setaffinity(" + format_cpu_list(cpus) + ")");
}

std::vector<long> get_affinity(long pid) {
    // Grow the mask until the kernel accepts it (EINVAL means its cpumask is larger than ours).
    for (int n = 1024; n <= kMaxId; n *= 2) {
        CpuSet s(n);
        if (sched_getaffinity(static_cast<pid_t>(pid), s.size, s.set) == 0) {
            std::vector<long> out;
            for (int c = 0; c < s.ncpus; ++c)
                if (CPU_ISSET_S(static_cast<std::size_t>(c), s.size, s.set)) out.push_back(c);
            return out;
        }
        if (errno != EINVAL) raise_errno(errno, "sched_getaffinity");
    }
    raise_errno(EINVAL, "sched_getaffinity");
}

// Returns 0 or the errno: refusal (EPERM in containers, ENOSYS without NUMA) is an expected
// outcome that Python turns into a warning, not an exception.
int set_mempolicy(int mode, const std::vector<long> &nodes) {
    std::vector<unsigned long> mask(kNodeMaskWords, 0);
    for (long n : nodes) {
        if (n < 0 || static_cast<std::size_t>(n) >= kNodeMaskBits)
            throw py::value_error("NUMA node id out of range: " + std::to_string(n));
        mask[n / kBitsPerWord] |= 1UL << (n % kBitsPerWord);
    }
    // maxnode is one more than the bits passed: the kernel has dropped the last bit since 2.6.
    long rc = nodes.empty() ? syscall(SYS_set_mempolicy, mode, nullptr, 0UL)
                            : syscall(SYS_set_mempolicy, mode, mask.data(), kNodeMaskBits + 1);
    return rc == 0 ? 0 : errno;
}

py::tuple get_mempolicy() {
    std::vector<unsigned long> mask(kNodeMaskWords, 0);
    int mode = -1;
    long rc = syscall(SYS_get_mempolicy, &mode, mask.data(), kNodeMaskBits + 1, nullptr, 0UL);
    std::vector<long> nodes;
    if (rc != 0) return py::make_tuple(errno, -1, nodes);
    for (std::size_t n = 0; n < kNodeMaskBits; ++n)
        if (mask[n / kBitsPerWord] & (1UL << (n % kBitsPerWord))) nodes.push_back(static_cast<long>(n));
    return py::make_tuple(0, mode, nodes);
}

}  // namespace

void init_cpu(py::module_ &m) {
    m.def("parse_cpu_list", &parse_cpu_list, py::arg("text"),
          "Parse a Linux CPU list ('0-17,36-53') into sorted unique ids; ValueError on garbage.");
    m.def("format_cpu_list", &format_cpu_list, py::arg("cpus"),
          "Format CPU ids as a compact Linux CPU list ('0-17,36-53').");
    m.def("sched_setaffinity", &set_affinity, py::arg("cpus"), py::arg("pid") = 0,
          "Bind task `pid` (0: the calling thread) to `cpus`; OSError with errno on refusal.");
    m.def("sched_getaffinity", &get_affinity, py::arg("pid") = 0,
          "CPUs task `pid` (0: the calling thread) may run on.");
    m.def("set_mempolicy", &set_mempolicy, py::arg("mode"), py::arg("nodes"),
          "set_mempolicy(2) for the calling thread; returns 0 or the errno.");
    m.def("get_mempolicy", &get_mempolicy,
          "get_mempolicy(2) for the calling thread: (errno, mode, nodes).");
    m.attr("MPOL_DEFAULT") = 0;
    m.attr("MPOL_PREFERRED") = 1;
    m.attr("MPOL_BIND") = 2;
    m.attr("MPOL_INTERLEAVE") = 3;
    m.attr("MPOL_LOCAL") = 4;
    // Flags the kernel may OR into the mode returned by get_mempolicy.
    m.attr("MPOL_MODE_FLAGS") = (1 << 15) | (1 << 14) | (1 << 13);
}
