// The fields of one verbose line, for the scanner (csrc/verbose.cpp): the number grammar, the
// primitive kinds and engines, the body's shape, the marker and the operation's class. The
// pure-Python twin of every rule is in mxprof/onednn/_verbose_py.py: both must agree.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mxprof_verbose {


// What the scanner needs to know of a body (the fields between operation and time), computed
// once per distinct body and cached with its interned code.
struct BodyInfo {
    uint32_t fields = 1;   // comma-separated fields (graph: commas inside {...} do not count)
    size_t cut = std::string_view::npos;  // position of the last comma
    bool engine0 = false;  // first field is cpu or gpu
    bool kind0 = false, kind1 = false;  // first / second field is a primitive kind
    bool tail_digits = false;           // last field is all digits
};

// Strict decimal grammar shared with the twin: [0-9]+(.[0-9]*)?([eE][+-]?[0-9]{1,2})? or
// .[0-9]+... (what printf %g/%f produce); no sign, no inf/nan, no spaces. At most 40 characters
// and a two-digit exponent: every accepted value is then a normal double, which from_chars and
// Python's float() round identically. `decimals` gets the decimal places the text prints.
inline bool parse_number(std::string_view s, double &out, bool need_dot, int *decimals = nullptr) {
    if (s.size() > 40) return false;
    size_t i = 0, n = s.size(), int_digits = 0, frac_digits = 0;
    bool dot = false;
    int exp = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
    if (i < n && s[i] == '.') {
        dot = true;
        ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
    }
    if (int_digits + frac_digits == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool neg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') exp = exp * 10 + (s[i++] - '0'), ++exp_digits;
        if (exp_digits == 0 || exp_digits > 2) return false;
        if (neg) exp = -exp;
    }
    if (i != n || (need_dot && !dot)) return false;
    if (decimals) *decimals = std::max(0, static_cast<int>(frac_digits) - exp);
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

inline bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// oneDNN's dnnl_prim_kind2str names, all releases (v0.x convolution_relu included); the same
// list as PRIMITIVE_KINDS in the twin.
inline bool is_kind(std::string_view s) {
    static const std::string_view kKinds[] = {
        "convolution", "deconvolution", "convolution_relu", "inner_product", "matmul",
        "reorder", "sum", "concat", "shuffle", "eltwise", "softmax", "softmax_v2", "logsoftmax",
        "lrn", "pooling", "pooling_v2", "batch_normalization", "layer_normalization",
        "group_normalization", "binary", "prelu", "reduction", "resampling", "rnn", "gemm",
        "sdpa", "gated_mlp", "zero_pad"};
    for (auto k : kKinds)
        if (s == k) return true;
    return false;
}

inline bool is_engine(std::string_view s) { return s == "cpu" || s == "gpu"; }

inline BodyInfo describe(std::string_view body, bool graph) {
    BodyInfo d;
    int depth = 0;
    for (char c : body) {
        if (c == ',') {
            if (!graph || depth == 0) ++d.fields;
        } else if (graph && c == '{') {
            ++depth;
        } else if (graph && c == '}') {
            depth = depth > 0 ? depth - 1 : 0;
        }
    }
    d.cut = body.rfind(',');
    d.tail_digits = all_digits(d.cut == std::string_view::npos ? body : body.substr(d.cut + 1));
    size_t c0 = body.find(',');
    std::string_view f0 = body.substr(0, c0), f1;
    if (c0 != std::string_view::npos) f1 = body.substr(c0 + 1, body.find(',', c0 + 1) - c0 - 1);
    d.engine0 = is_engine(f0);
    d.kind0 = is_kind(f0);
    d.kind1 = is_kind(f1);
    return d;
}

enum Marker { kNone, kMkldnn, kDnnl, kOnednn, kGraph };
inline const char *const kMarkerNames[] = {"", "mkldnn", "dnnl", "onednn", "graph"};

// The marker may follow foreign output on the same line (two programs sharing one stdout).
inline Marker find_marker(std::string_view line, size_t &after) {
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

enum OpClass { kInfo, kUntimed, kTimed, kUnknown };

inline OpClass classify_op(std::string_view op, bool graph) {
    if (op == "exec") return kTimed;  // the common case first
    if (op == "info") return kInfo;
    size_t colon = op.find(':');
    std::string_view verb = op.substr(0, colon);
    bool sep = colon != std::string_view::npos;
    std::string_view suffix = sep ? op.substr(colon + 1) : std::string_view();
    if (verb == "error" || verb == "warn" || verb == "warning") return kUntimed;
    if (verb == "exec") return suffix == "check" ? kUntimed : kUnknown;
    if (verb == "create" || verb == "create_nested" || verb == "compile") {
        if (sep && (suffix == "check" || suffix == "dispatch" || suffix == "start"))
            return kUntimed;
        if ((verb == "compile") != graph) return kUnknown;
        auto ends = [&](std::string_view w) {
            return suffix.size() >= w.size() && suffix.substr(suffix.size() - w.size()) == w;
        };
        if (!sep || suffix == "cache_miss" || suffix == "cache_hit" ||
            suffix == "from_cache_blob" || ends("_cache_hit") || ends("_cache_miss"))
            return kTimed;
    }
    return kUnknown;
}

inline std::string quote(std::string_view s) {
    std::string out = "\"";
    out.append(s.substr(0, 40));
    if (s.size() > 40) out.append("...");
    return out + "\"";
}

}  // namespace mxprof_verbose
