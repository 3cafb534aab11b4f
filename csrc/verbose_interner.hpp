// String interning for the verbose scanner (csrc/verbose.cpp): byte strings to dense int32
// codes, first seen first numbered.
#pragma once

#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mxprof_verbose {

namespace py = pybind11;

// Interns byte strings into dense int32 codes. Open addressing over an arena, so a lookup that
// hits (the common case: the same primitive runs every iteration) allocates nothing.
class Interner {
  public:
    Interner() : slots_(1024, -1) {}

    int32_t intern(std::string_view s) {
        uint64_t h = hash(s);
        int32_t id = find(s, h);
        return id >= 0 ? id : insert(s, h);
    }

    // For tiny sets (operations: exec, create:cache_miss, ...): compare before hashing.
    int32_t intern_few(std::string_view s) {
        size_t n = std::min<size_t>(offsets_.size(), 8);
        for (size_t id = 0; id < n; ++id)
            if (equals(static_cast<int32_t>(id), s)) return static_cast<int32_t>(id);
        return intern(s);
    }

    bool equals(int32_t id, std::string_view s) const {
        return lengths_[id] == s.size() &&
               std::memcmp(arena_.data() + offsets_[id], s.data(), s.size()) == 0;
    }

    // The code of `s` (whose hash is `h`), or -1 when it was never interned.
    int32_t find(std::string_view s, uint64_t h) const {
        size_t mask = slots_.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            int32_t id = slots_[i];
            if (id < 0) return -1;
            if (hashes_[id] == h && lengths_[id] == s.size() &&
                std::memcmp(arena_.data() + offsets_[id], s.data(), s.size()) == 0)
                return id;
        }
    }

    int32_t insert(std::string_view s, uint64_t h) {
        size_t mask = slots_.size() - 1;
        size_t i = h & mask;
        while (slots_[i] >= 0) i = (i + 1) & mask;
        int32_t id = static_cast<int32_t>(offsets_.size());
        offsets_.push_back(arena_.size());
        lengths_.push_back(s.size());
        hashes_.push_back(h);
        arena_.append(s.data(), s.size());
        slots_[i] = id;
        if (offsets_.size() * 2 > slots_.size()) grow();
        return id;
    }

    py::list strings() const {
        py::list out;
        for (size_t i = 0; i < offsets_.size(); ++i) {
            // Logs may hold any bytes; decoding with "replace" matches the twin's bytes.decode.
            PyObject *o = PyUnicode_DecodeUTF8(arena_.data() + offsets_[i],
                                               static_cast<Py_ssize_t>(lengths_[i]), "replace");
            if (!o) throw py::error_already_set();
            out.append(py::reinterpret_steal<py::str>(o));
        }
        return out;
    }

    static uint64_t hash(std::string_view s) {
        // Four independent multiply-xorshift lanes over 32-byte blocks (descriptor strings are
        // long; one serial chain would wait on multiply latency), then the tail 8 at a time.
        constexpr uint64_t kMul = 0xFF51AFD7ED558CCDull;
        uint64_t a = 0x9E3779B97F4A7C15ull ^ s.size(), b = 0xC2B2AE3D27D4EB4Full, c = 0x165667B19E3779F9ull,
                 d = 0x27D4EB2F165667C5ull;
        const char *p = s.data();
        size_t n = s.size();
        auto load = [](const char *q) {
            uint64_t w;
            std::memcpy(&w, q, 8);
            return w;
        };
        while (n >= 32) {
            a = (a ^ load(p)) * kMul;
            b = (b ^ load(p + 8)) * kMul;
            c = (c ^ load(p + 16)) * kMul;
            d = (d ^ load(p + 24)) * kMul;
            a ^= a >> 29, b ^= b >> 29, c ^= c >> 29, d ^= d >> 29;
            p += 32;
            n -= 32;
        }
        uint64_t h = a ^ (b * 3) ^ (c * 5) ^ (d * 7);
        while (n >= 8) {
            h = (h ^ load(p)) * kMul;
            h ^= h >> 32;
            p += 8;
            n -= 8;
        }
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 29;
        return h;
    }

  private:
    void grow() {
        std::vector<int32_t> bigger(slots_.size() * 2, -1);
        size_t mask = bigger.size() - 1;
        for (size_t id = 0; id < offsets_.size(); ++id) {
            size_t i = hashes_[id] & mask;
            while (bigger[i] >= 0) i = (i + 1) & mask;
            bigger[i] = static_cast<int32_t>(id);
        }
        slots_.swap(bigger);
    }

    std::vector<int32_t> slots_;
    std::vector<size_t> offsets_, lengths_;
    std::vector<uint64_t> hashes_;
    std::string arena_;
};

}  // namespace mxprof_verbose
