// oneDNN / MKL-DNN verbose log scanner: one pass over the bytes, every generation.
//
// The hot job only: find the marker, the optional v1/timestamp/component prefix, the operation,
// check the field count and the time field, and intern the rest of the line. Each timed line
// becomes one row (line number, timestamp, time, operation code, "body" code). The body is the
// text between the operation and the time (engine .. problem); it repeats across iterations, so
// interning it whole costs at most one hash per line (none when the body is the one that
// followed the previous body last time), and Python splits the few unique bodies into
// columns afterwards (mxprof/verbose.py). The pure-Python twin is mxprof/_verbose_py.py: both
// must agree row for row, so any rule changed here changes there too.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "verbose_interner.hpp"

namespace py = pybind11;
using mxprof_verbose::Interner;

namespace {

constexpr size_t kMaxInfoLines = 64;

struct Table {
    std::vector<int64_t> line_no;
    std::vector<double> timestamp, time_ms;
    std::vector<int32_t> op, body;
    Interner ops, bodies;
    std::vector<uint32_t> body_fields;  // field count of each interned body
    std::vector<int32_t> successor;     // body seen after each body last time (or -1)
    int32_t last_body = -1;
};

// Strict decimal grammar shared with the twin: [0-9]+(.[0-9]*)?([eE][+-]?[0-9]{1,2})? or
// .[0-9]+... (what printf %g/%f produce); no sign, no inf/nan, no spaces. At most 40 characters
// and a two-digit exponent: every accepted value is then a normal double, which from_chars and
// Python's float() round identically.
bool parse_number(std::string_view s, double &out, bool need_dot) {
    if (s.size() > 40) return false;
    size_t i = 0, n = s.size(), int_digits = 0, frac_digits = 0;
    bool dot = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
    if (i < n && s[i] == '.') {
        dot = true;
        ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
    }
    if (int_digits + frac_digits == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
        if (exp_digits == 0 || exp_digits > 2) return false;
    }
    if (i != n || (need_dot && !dot)) return false;
    // Fast path (Clinger): a mantissa below 2^53 and a power of ten up to 1e22 are exact
    // doubles, so one division or multiplication is correctly rounded, as from_chars would be.
    if (i == int_digits + frac_digits + (dot ? 1 : 0) && int_digits + frac_digits <= 15) {
        static const double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        uint64_t mant = 0;
        for (size_t k = 0; k < n; ++k)
            if (s[k] != '.') mant = mant * 10 + static_cast<uint64_t>(s[k] - '0');
        out = static_cast<double>(mant) / kPow10[frac_digits];
        return true;
    }
    auto res = std::from_chars(s.data(), s.data() + n, out);
    if (res.ec != std::errc() || res.ptr != s.data() + n) return false;
    return std::isfinite(out);
}

enum Marker { kNone, kMkldnn, kDnnl, kOnednn, kGraph };

// The marker may follow foreign output on the same line (two programs sharing one stdout).
Marker find_marker(std::string_view line, size_t &after) {
    static const std::string_view kSuffix = "_verbose,";
    // Fast path: nearly every line of a log starts with its marker.
    auto starts = [&](std::string_view w) { return line.substr(0, w.size()) == w; };
    if (starts("dnnl_verbose,")) return after = 13, kDnnl;
    if (starts("onednn_verbose,")) return after = 15, kOnednn;
    if (starts("mkldnn_verbose,")) return after = 15, kMkldnn;
    size_t from = 0;
    while (true) {
        const void *hit = memmem(line.data() + from, line.size() - from, kSuffix.data(),
                                 kSuffix.size());
        if (!hit) return kNone;
        size_t at = static_cast<const char *>(hit) - line.data();
        std::string_view before = line.substr(0, at);
        after = at + kSuffix.size();
        auto ends = [&](std::string_view w) {
            return before.size() >= w.size() && before.substr(before.size() - w.size()) == w;
        };
        if (ends("onednn_graph") || ends("dnnl_graph")) return kGraph;
        if (ends("mkldnn")) return kMkldnn;
        if (ends("onednn")) return kOnednn;
        if (ends("dnnl")) return kDnnl;
        from = at + 1;
    }
}

struct Counts {
    int64_t total = 0, verbose = 0, parsed = 0, graph = 0, untimed = 0, malformed = 0;
    bool unterminated = false;
};

class Scanner {
  public:
    void line(std::string_view s) {
        ++counts.total;
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        size_t pos;
        Marker m = find_marker(s, pos);
        if (m == kNone) return;
        ++counts.verbose;
        std::string_view rest = s.substr(pos);
        auto next = [&](std::string_view &field) {
            // Prefix tokens are short: a plain loop beats a memchr call here.
            size_t c = 0;
            while (c < rest.size() && rest[c] != ',') ++c;
            if (c == rest.size()) return false;
            field = rest.substr(0, c);
            rest.remove_prefix(c + 1);
            return true;
        };
        std::string_view tok;
        if (!next(tok)) return malformed();
        if (m == kOnednn && tok == "v1" && !next(tok)) return malformed();
        double ts = std::numeric_limits<double>::quiet_NaN();
        bool have_ts = false, have_comp = false, graph = (m == kGraph), other = false;
        // Timestamp and component, in either order (the order moved between releases).
        for (int k = 0; k < 2; ++k) {
            if (!have_ts && parse_number(tok, ts, true)) {
                have_ts = true;
            } else if (!have_comp && (tok == "primitive" || tok == "graph" || tok == "common" ||
                                      tok == "ukernel")) {
                have_comp = true;
                graph = tok == "graph";
                other = tok == "common" || tok == "ukernel";
            } else {
                break;
            }
            if (!next(tok)) return malformed();
        }
        if (!have_ts) ts = std::numeric_limits<double>::quiet_NaN();
        std::string_view op = tok;
        if (op == "info") return info(s);
        if (other) return untimed();
        if (op != "exec") {
            // Timed creation: primitives say create[:cache_*], graph partitions compile[:cache_*].
            std::string_view verb = graph ? "compile" : "create";
            if (op.substr(0, verb.size()) != verb ||
                (op.size() > verb.size() && op[verb.size()] != ':') ||
                op.find("check") != std::string_view::npos ||
                op.find("dispatch") != std::string_view::npos)
                return untimed();
        }
        // rest = body,TIME. Count the body's fields to check the generation's shape.
        size_t last = rest.rfind(',');
        if (last == std::string_view::npos) return malformed();
        std::string_view body = rest.substr(0, last), time = rest.substr(last + 1);
        Table &t = graph ? graph_ : prim_;
        // Inference repeats the same sequence of primitives every iteration, so the body that
        // followed the previous row's body last time is the likely one now: one memcmp and no
        // hash when the guess holds. The field count of a known body is cached.
        int32_t body_id = -1;
        uint64_t h = 0;
        int32_t guess = t.last_body >= 0 ? t.successor[t.last_body] : -1;
        if (guess >= 0 && t.bodies.equals(guess, body)) {
            body_id = guess;
        } else {
            h = Interner::hash(body);
            body_id = t.bodies.find(body, h);
        }
        size_t fields = 1;
        if (body_id >= 0) {
            fields = t.body_fields[body_id];
        } else {
            for (char c : body) fields += (c == ',');
        }
        bool shape_ok = graph ? (fields == 8 || fields == 9)
                        : m == kMkldnn ? (fields == 6 || fields == 7)
                                       : fields == 8;
        double ms;
        if (!shape_ok || !parse_number(time, ms, false)) return malformed();
        if (body_id < 0) {  // interned only once the line is known to be good
            body_id = t.bodies.insert(body, h);
            t.body_fields.push_back(static_cast<uint32_t>(fields));
            t.successor.push_back(-1);
        }
        if (t.last_body >= 0) t.successor[t.last_body] = body_id;
        t.last_body = body_id;
        t.line_no.push_back(counts.total);
        t.timestamp.push_back(ts);
        t.time_ms.push_back(ms);
        t.op.push_back(t.ops.intern_few(op));
        t.body.push_back(body_id);
        ++counts.parsed;
        if (graph) ++counts.graph;
    }

    // Scans the complete lines of a block; returns how many bytes they used (the rest is a
    // partial line, carried to the next block).
    size_t feed(const char *data, size_t n) {
        size_t start = 0;
        while (start < n) {
            const void *nl = std::memchr(data + start, '\n', n - start);
            if (!nl) break;
            size_t end = static_cast<const char *>(nl) - data;
            line(std::string_view(data + start, end - start));
            start = end + 1;
        }
        return start;
    }

    void finish(const char *data, size_t n) {
        if (n) {
            counts.unterminated = true;
            line(std::string_view(data, n));
        }
    }

    py::dict result() {  // moves the columns out: call once
        py::dict stats;
        stats["lines_total"] = counts.total;
        stats["lines_verbose"] = counts.verbose;
        stats["lines_parsed"] = counts.parsed;
        stats["lines_graph"] = counts.graph;
        stats["lines_untimed"] = counts.untimed;
        stats["lines_malformed"] = counts.malformed;
        stats["lines_skipped"] = counts.total - counts.parsed;
        stats["unterminated_last_line"] = counts.unterminated;
        py::list infos;
        for (const auto &s : info_) {
            PyObject *o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()),
                                               "replace");
            if (!o) throw py::error_already_set();
            infos.append(py::reinterpret_steal<py::str>(o));
        }
        py::dict out;
        out["primitive"] = table(prim_);
        out["graph"] = table(graph_);
        out["stats"] = stats;
        out["info"] = infos;
        return out;
    }

    Counts counts;

  private:
    void malformed() { ++counts.malformed; }
    void untimed() { ++counts.untimed; }
    void info(std::string_view s) {
        ++counts.untimed;
        if (info_.size() < kMaxInfoLines) info_.emplace_back(s);
    }

    // Hands the vector's memory to numpy (no copy); the capsule frees it with the array.
    template <typename T>
    static py::array_t<T> array(std::vector<T> &v) {
        if (v.empty()) return py::array_t<T>(0);
        auto *owned = new std::vector<T>(std::move(v));
        py::capsule free_when_done(owned, [](void *p) { delete static_cast<std::vector<T> *>(p); });
        return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(),
                              free_when_done);
    }

    static py::dict table(Table &t) {
        py::dict d;
        d["line_no"] = array(t.line_no);
        d["timestamp_ms"] = array(t.timestamp);
        d["time_ms"] = array(t.time_ms);
        d["op"] = array(t.op);
        d["op_strings"] = t.ops.strings();
        d["body"] = array(t.body);
        d["body_strings"] = t.bodies.strings();
        return d;
    }

    Table prim_, graph_;
    std::vector<std::string> info_;
};

py::dict scan_buffer(py::buffer buf) {
    py::buffer_info info = buf.request();
    const char *data = static_cast<const char *>(info.ptr);
    size_t n = static_cast<size_t>(info.size * info.itemsize);
    Scanner sc;
    {
        py::gil_scoped_release nogil;
        size_t used = sc.feed(data, n);
        sc.finish(data + used, n - used);
    }
    return sc.result();
}

py::dict scan_file(const std::string &path, size_t chunk_size) {
    if (chunk_size < 64) chunk_size = 64;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) throw py::value_error("cannot open " + path + ": " + std::strerror(errno));
    Scanner sc;
    std::vector<char> buf(chunk_size);
    size_t have = 0;  // bytes of an unfinished line carried at the front of buf
    bool failed = false;
    {
        py::gil_scoped_release nogil;
        while (true) {
            if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than a chunk
            size_t got = std::fread(buf.data() + have, 1, buf.size() - have, f);
            if (got == 0) {
                failed = std::ferror(f) != 0;
                break;
            }
            have += got;
            size_t used = sc.feed(buf.data(), have);
            std::memmove(buf.data(), buf.data() + used, have - used);
            have -= used;
        }
        if (!failed) sc.finish(buf.data(), have);
        std::fclose(f);
    }
    if (failed) throw py::value_error("read error on " + path);
    return sc.result();
}

}  // namespace

void init_verbose(py::module_ &m) {
    m.def("scan_verbose_buffer", &scan_buffer, py::arg("data"),
          "Scan oneDNN/MKL-DNN verbose output held in a bytes-like object.");
    m.def("scan_verbose_file", &scan_file, py::arg("path"), py::arg("chunk_size") = 1 << 20,
          "Scan a verbose log file in fixed-size chunks (memory does not grow with the file).");
}
