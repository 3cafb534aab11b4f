// oneDNN / MKL-DNN verbose log scanner: one pass over the bytes, every generation.
//
// The hot job only: find the marker, the optional v1/timestamp/component prefix, the operation,
// check the field count, engine, kind and time field, and intern the rest of the line. A line
// with a marker that is neither counted nor untimed is kept with its reason (the first 320
// bytes: at least its first 80 characters). The rules are listed in the twin's docstring. Each timed line
// becomes one row (line number, timestamp, time, operation code, "body" code). The body is the
// text between the operation and the time (engine .. problem); it repeats across iterations, so
// interning it whole costs at most one hash per line (none when the body is the one that
// followed the previous body last time), and Python splits the few unique bodies into
// columns afterwards (mxprof/verbose.py). The pure-Python twin is mxprof/_verbose_py.py: both
// must agree row for row, so any rule changed here changes there too.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "verbose_fields.hpp"
#include "verbose_interner.hpp"

namespace py = pybind11;
// The line grammar (verbose_fields.hpp) and the interner are this scanner's own vocabulary.
using namespace mxprof_verbose;  // NOLINT(google-build-using-namespace)

namespace {

constexpr size_t kMaxInfoLines = 64;
constexpr size_t kTextBytes = 320;

struct Table {
    std::vector<int64_t> line_no;
    std::vector<double> timestamp, time_ms;
    std::vector<int32_t> op, body;
    Interner ops, bodies;
    std::vector<BodyInfo> body_info;    // of each interned body
    std::vector<int32_t> successor;     // body seen after each body last time (or -1)
    int32_t last_body = -1;
};

struct Rejected {
    int64_t line;
    std::string reason, text;
};

struct Counts {
    int64_t total = 0, verbose = 0, parsed = 0, graph = 0, untimed = 0;
    int time_decimals = 0;
    bool unterminated = false;
};

class Scanner {
  public:
    void line(std::string_view s) {
        ++counts.total;
        while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t' ||
                              s.back() == '`'))
            s.remove_suffix(1);
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
        auto ends_after = [&] { reject(s, "line ends after " + quote(rest)); };
        std::string_view tok;
        if (!next(tok)) return ends_after();
        bool v1 = false;
        if (m == kOnednn && tok == "v1") {
            v1 = true;
            if (!next(tok)) return ends_after();
        }
        double ts = std::numeric_limits<double>::quiet_NaN();
        bool have_ts = false, have_comp = false, graph = (m == kGraph), other = false;
        line_ts_comma_ = false;
        // Timestamp and component, in either order (the order moved between releases).
        for (int k = 0; k < 2; ++k) {
            if (!have_ts && parse_number(tok, ts, true)) {
                have_ts = true;
                ++point_lines_;
            } else if (!have_ts && comma_timestamp(tok, rest, graph, ts)) {
                have_ts = true;
                line_ts_comma_ = true;
                ++comma_lines_;
                next(tok);  // the fraction after the comma is part of the timestamp
            } else if (!have_comp && (tok == "primitive" || tok == "graph" || tok == "common" ||
                                      tok == "ukernel")) {
                have_comp = true;
                graph = tok == "graph";
                other = tok == "common" || tok == "ukernel";
            } else {
                break;
            }
            if (!next(tok)) return ends_after();
        }
        if (!have_ts) ts = std::numeric_limits<double>::quiet_NaN();
        std::string_view op = tok;
        OpClass cls = classify_op(op, graph);
        if (cls == kInfo) return info(s);
        if (other || cls == kUntimed) return untimed();
        if (cls == kUnknown) return reject(s, "unknown operation " + quote(op));
        if (timed(s, m, graph, ts, op, rest) && layout_.empty()) {
            layout_ = kMarkerNames[m];
            layout_ += v1 ? ",v1" : have_comp ? ",component" : "";
        }
    }

    // A timestamp printed with a decimal comma ("1795911005473,738037"): `whole` and the next
    // token all digits, and the token after them a component or a known operation, all three
    // followed by a comma. An all-digit token is never an operation, so that shape has no other
    // reading; any other shape is left to the usual rejection. Same rule as the twin's
    // comma_timestamp.
    bool comma_timestamp(std::string_view whole, std::string_view rest, bool graph, double &ts) {
        if (!all_digits(whole)) return false;
        size_t c1 = rest.find(',');
        if (c1 == std::string_view::npos || !all_digits(rest.substr(0, c1))) return false;
        size_t c2 = rest.find(',', c1 + 1);
        if (c2 == std::string_view::npos) return false;
        std::string_view after = rest.substr(c1 + 1, c2 - c1 - 1);
        if (after != "primitive" && after != "graph" && after != "common" &&
            after != "ukernel" && classify_op(after, graph) == kUnknown)
            return false;
        number_.assign(whole).append(".").append(rest.substr(0, c1));
        return parse_number(number_, ts, true);
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
        settle();
        py::dict stats;
        stats["lines_total"] = counts.total;
        stats["lines_verbose"] = counts.verbose;
        stats["lines_parsed"] = counts.parsed;
        stats["lines_graph"] = counts.graph;
        stats["lines_untimed"] = counts.untimed;
        stats["lines_malformed"] = static_cast<int64_t>(rejected_.size());
        stats["lines_skipped"] = counts.total - counts.parsed;
        stats["unterminated_last_line"] = counts.unterminated;
        stats["time_decimals"] = counts.time_decimals;
        py::list infos;
        for (const auto &s : info_) infos.append(decode(s));
        py::list rejected;
        for (const auto &r : rejected_)
            rejected.append(py::make_tuple(r.line, decode(r.reason), decode(r.text)));
        py::dict out;
        out["primitive"] = table(prim_);
        out["graph"] = table(graph_);
        out["stats"] = stats;
        out["info"] = infos;
        out["malformed"] = rejected;
        out["layout"] = py::str(layout_);
        return out;
    }

    Counts counts;

  private:
    static py::str decode(const std::string &s) {
        PyObject *o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
        if (!o) throw py::error_already_set();
        return py::reinterpret_steal<py::str>(o);
    }

    // Looks a body up (the guessed successor first, then the hash table); -1 when new.
    int32_t lookup(Table &t, std::string_view body, uint64_t &h) {
        int32_t guess = t.last_body >= 0 ? t.successor[t.last_body] : -1;
        if (guess >= 0 && t.bodies.equals(guess, body)) return guess;
        h = Interner::hash(body);
        return t.bodies.find(body, h);
    }

    // A timed line: check shape, time, engine and kind; add the row. True when counted.
    bool timed(std::string_view s, Marker m, bool graph, double ts, std::string_view op,
               std::string_view rest) {
        size_t last = rest.rfind(',');
        if (last == std::string_view::npos)
            return reject(s, "fields missing after " + quote(op)), false;
        std::string_view body = rest.substr(0, last), time = rest.substr(last + 1);
        Table &t = graph ? graph_ : prim_;
        // Inference repeats the same sequence of primitives every iteration, so the body that
        // followed the previous row's body last time is the likely one now: one memcmp and no
        // hash when the guess holds. What the checks need of a known body is cached.
        uint64_t h = 0;
        int32_t body_id = lookup(t, body, h);
        BodyInfo d = body_id >= 0 ? t.body_info[body_id] : describe(body, graph);
        bool engine_first = graph || m != kMkldnn || d.engine0;
        auto allowed = [&](uint32_t f) {
            return graph ? (f == 6 || f == 8 || f == 9)
                   : m == kMkldnn ? f == (d.engine0 ? 7u : 6u) : f == 8;
        };
        bool ambiguous = d.tail_digits && all_digits(time);
        std::string_view number = time;
        bool comma = false;
        std::string pending_reason;
        if (allowed(d.fields - 1) && ambiguous) {  // decimal comma: "11,4111" = 11.4111 ms
            number_.assign(body.substr(d.cut + 1)).append(".").append(time);
            number = number_;
            body = body.substr(0, d.cut);
            body_id = lookup(t, body, h);
            d = body_id >= 0 ? t.body_info[body_id] : describe(body, graph);
            comma = true;
        } else if (allowed(d.fields)) {
            if (ambiguous && line_ts_comma_)  // its own timestamp says comma: a field is missing
                return reject(s, "ambiguous time " + quote(std::string(body.substr(d.cut + 1)) +
                                                           "," + std::string(time)) +
                                     ": the line's timestamp uses a decimal comma, so its time "
                                     "does too, and then a field is missing"),
                       false;
            if (ambiguous) {  // read with a decimal point for now; the log's majority decides
                std::string both(body.substr(d.cut + 1));
                pending_reason = "ambiguous time " + quote(both + "," + std::string(time)) +
                                 ": a decimal comma or a missing field, in a log whose times "
                                 "use decimal commas";
            }
        } else {
            const char *label = graph ? "graph" : m != kMkldnn ? "v1.1+" : d.engine0 ? "v1.0" : "v0.x";
            const char *counts_text = graph ? "6, 8 or 9" : m != kMkldnn ? "8" : d.engine0 ? "7" : "6";
            return reject(s, std::to_string(d.fields) + (d.fields == 1 ? " field" : " fields") +
                                 " where " + label +
                                 " lines have " + counts_text), false;
        }
        double ms;
        int decimals = 0;
        if (!parse_number(number, ms, false, &decimals))
            return reject(s, "time field " + quote(number) + " is not a number"), false;
        if (engine_first && !d.engine0)
            return reject(s, "engine " + quote(body.substr(0, body.find(','))) +
                                 " is not cpu or gpu"), false;
        if (!graph && !(engine_first ? d.kind1 : d.kind0)) {
            size_t c0 = body.find(',');
            std::string_view kind = engine_first
                ? body.substr(c0 + 1, body.find(',', c0 + 1) - c0 - 1) : body.substr(0, c0);
            return reject(s, "kind " + quote(kind) + " is not a oneDNN primitive kind"), false;
        }
        if (body_id < 0) {  // interned only once the line is known to be good
            if (h == 0) h = Interner::hash(body);
            body_id = t.bodies.insert(body, h);
            t.body_info.push_back(d);
            t.successor.push_back(-1);
        }
        if (t.last_body >= 0) t.successor[t.last_body] = body_id;
        t.last_body = body_id;
        t.line_no.push_back(counts.total);
        t.timestamp.push_back(ts);
        t.time_ms.push_back(ms);
        t.op.push_back(t.ops.intern_few(op));
        t.body.push_back(body_id);
        counts.time_decimals = std::max(counts.time_decimals, decimals);
        ++counts.parsed;
        if (graph) ++counts.graph;
        if (comma) ++comma_lines_;
        else if (number.find('.') != std::string_view::npos) ++point_lines_;
        if (!pending_reason.empty())
            pending_.push_back({counts.total, graph, std::move(pending_reason),
                                std::string(s.substr(0, kTextBytes))});
        return true;
    }

    // The decimal separator is the log's, not the line's: a line whose last two fields are
    // digits at a valid field count ("...,64,0": descriptor 64, time 0) reads with a decimal
    // point unless most of the log's times and timestamps use decimal commas; then its rows
    // go and the lines are rejected as ambiguous (a decimal comma there leaves a field short).
    void settle() {
        if (pending_.empty() || comma_lines_ <= point_lines_) return;
        for (bool g : {false, true}) {
            Table &t = g ? graph_ : prim_;
            std::vector<int64_t> drop;
            for (const auto &p : pending_)
                if (p.graph == g) drop.push_back(p.line);
            if (drop.empty()) continue;
            size_t w = 0;
            for (size_t r = 0; r < t.line_no.size(); ++r) {
                if (std::binary_search(drop.begin(), drop.end(), t.line_no[r])) continue;
                t.line_no[w] = t.line_no[r];
                t.timestamp[w] = t.timestamp[r];
                t.time_ms[w] = t.time_ms[r];
                t.op[w] = t.op[r];
                t.body[w] = t.body[r];
                ++w;
            }
            int64_t dropped = static_cast<int64_t>(t.line_no.size() - w);
            t.line_no.resize(w);
            t.timestamp.resize(w);
            t.time_ms.resize(w);
            t.op.resize(w);
            t.body.resize(w);
            counts.parsed -= dropped;
            if (g) counts.graph -= dropped;
        }
        for (auto &p : pending_) rejected_.push_back({p.line, std::move(p.reason), std::move(p.text)});
        std::stable_sort(rejected_.begin(), rejected_.end(),
                         [](const Rejected &a, const Rejected &b) { return a.line < b.line; });
        pending_.clear();
    }

    void reject(std::string_view s, std::string reason) {
        rejected_.push_back({counts.total, std::move(reason), std::string(s.substr(0, kTextBytes))});
    }
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

    struct Pending {
        int64_t line;
        bool graph;
        std::string reason, text;
    };

    Table prim_, graph_;
    std::vector<Pending> pending_;  // ambiguous lines read with a decimal point (settle())
    int64_t point_lines_ = 0, comma_lines_ = 0;
    bool line_ts_comma_ = false;  // the current line's timestamp used a decimal comma  // times/timestamps printed with '.' or ','
    std::vector<std::string> info_;
    std::vector<Rejected> rejected_;
    std::string layout_, number_;
};

// A C-contiguous view of a buffer, released with the view (also when an exception unwinds).
struct BufferView {
    Py_buffer view{};
    explicit BufferView(py::handle obj) {
        if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0)
            throw py::error_already_set();
    }
    ~BufferView() { PyBuffer_Release(&view); }
    BufferView(const BufferView &) = delete;
    BufferView &operator=(const BufferView &) = delete;
};

[[noreturn]] void raise_os_error(int err, const std::string &path) {
    errno = err;
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());  // picks the subclass
    throw py::error_already_set();
}

py::dict scan_buffer(py::handle obj) {
    BufferView buf(obj);  // BufferError for a strided or reversed view: never read past it
    const char *data = static_cast<const char *>(buf.view.buf);
    size_t n = static_cast<size_t>(buf.view.len);
    Scanner sc;
    {
        py::gil_scoped_release nogil;
        size_t used = sc.feed(data, n);
        sc.finish(data + used, n - used);
    }
    return sc.result();
}

struct FileCloser {
    void operator()(FILE *f) const { std::fclose(f); }
};

py::dict scan_file(const std::string &path, size_t chunk_size) {
    if (chunk_size < 64) chunk_size = 64;
    // Owned by a unique_ptr: a bad_alloc (or any exception) below still closes the file.
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) raise_os_error(errno, path);
    struct stat st;
    if (fstat(fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode)) raise_os_error(EISDIR, path);
    Scanner sc;
    std::vector<char> buf(chunk_size);
    size_t have = 0;  // bytes of an unfinished line carried at the front of buf
    int read_error = 0;
    {
        py::gil_scoped_release nogil;
        while (true) {
            if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than a chunk
            size_t got = std::fread(buf.data() + have, 1, buf.size() - have, f.get());
            if (got == 0) {
                if (std::ferror(f.get())) read_error = errno ? errno : EIO;
                break;
            }
            have += got;
            size_t used = sc.feed(buf.data(), have);
            std::memmove(buf.data(), buf.data() + used, have - used);
            have -= used;
        }
        if (!read_error) sc.finish(buf.data(), have);
    }
    if (read_error) raise_os_error(read_error, path);
    return sc.result();
}

}  // namespace

void init_verbose(py::module_ &m) {
    m.def("scan_verbose_buffer", &scan_buffer, py::arg("data"),
          "Scan oneDNN/MKL-DNN verbose output held in a C-contiguous bytes-like object "
          "(BufferError otherwise).");
    m.def("scan_verbose_file", &scan_file, py::arg("path"), py::arg("chunk_size") = 1 << 20,
          "Scan a verbose log file in fixed-size chunks (memory does not grow with the file). "
          "Raises OSError (FileNotFoundError, PermissionError, IsADirectoryError) like open().");
}
