// Timer sections: per-name count/total/min/max of durations, read on the mxprof clock.
//
// SectionTable.section(name) returns a fresh Section whose __enter__/__exit__ are plain C methods:
// a `with` block costs two C calls, two clock reads and an allocation, about what a hand-written
// `t0 = perf_counter_ns(); ...; total += perf_counter_ns() - t0` costs, while a Python class
// with __enter__/__exit__ costs several times more. Each Section carries its own start, so blocks
// may nest and recurse; updates of an accumulator happen inside one C call with the GIL held, so
// threads need no lock. Raw CPython types rather than pybind11: its dispatcher would cost more
// than the work here.
#include "clock.hpp"

#include <Python.h>

#include <algorithm>

namespace py = pybind11;
using mxprof_clock::now_ns_impl;

namespace {

struct Acc {
    PyObject_HEAD
    int64_t count, total, min, max;
};

struct Section {
    PyObject_HEAD
    Acc *acc;
    int64_t start;
};

struct Table {
    PyObject_HEAD
    PyObject *accs;  // dict: name -> Acc, in order of first use
};

PyTypeObject *g_acc_type = nullptr;
PyTypeObject *g_section_type = nullptr;

inline void acc_add(Acc *a, int64_t ns) {
    if (a->count == 0) {
        a->min = a->max = ns;
    } else {
        a->min = std::min(a->min, ns);
        a->max = std::max(a->max, ns);
    }
    a->count += 1;
    a->total += ns;
}

void plain_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);  // instances of heap types own a reference to their type
}

void section_dealloc(PyObject *self) {
    Py_XDECREF(reinterpret_cast<Section *>(self)->acc);
    plain_dealloc(self);
}

PyObject *section_enter(PyObject *self, PyObject *) {
    reinterpret_cast<Section *>(self)->start = now_ns_impl();
    Py_INCREF(self);
    return self;
}

PyObject *section_exit(PyObject *self, PyObject *const *, Py_ssize_t) {
    const int64_t end = now_ns_impl();
    auto *s = reinterpret_cast<Section *>(self);
    acc_add(s->acc, end - s->start);
    Py_RETURN_FALSE;  // never swallow the block's exception
}

PyMethodDef section_methods[] = {
    {"__enter__", section_enter, METH_NOARGS, "Start the clock."},
    {"__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(section_exit)),
     METH_FASTCALL, "Stop the clock and add the duration to the section (also on exceptions)."},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot section_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void *>(section_dealloc)},
    {Py_tp_methods, section_methods},
    {Py_tp_doc, const_cast<char *>("One timed `with` block of a named section.")},
    {0, nullptr}};

PyType_Spec section_spec = {"mxprof._core.Section", sizeof(Section), 0, Py_TPFLAGS_DEFAULT,
                            section_slots};

PyType_Slot acc_slots[] = {{Py_tp_dealloc, reinterpret_cast<void *>(plain_dealloc)}, {0, nullptr}};
PyType_Spec acc_spec = {"mxprof._core._SectionAcc", sizeof(Acc), 0, Py_TPFLAGS_DEFAULT, acc_slots};

// The accumulator of `name`, created on first use; a borrowed reference, or null with an error.
Acc *table_acc(Table *t, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "section name must be str, not %.100s", Py_TYPE(name)->tp_name);
        return nullptr;
    }
    PyObject *found = PyDict_GetItemWithError(t->accs, name);
    if (found != nullptr) return reinterpret_cast<Acc *>(found);
    if (PyErr_Occurred()) return nullptr;
    Acc *a = PyObject_New(Acc, g_acc_type);
    if (a == nullptr) return nullptr;
    a->count = a->total = a->min = a->max = 0;
    int rc = PyDict_SetItem(t->accs, name, reinterpret_cast<PyObject *>(a));
    Py_DECREF(a);  // the dict holds it now
    return rc == 0 ? a : nullptr;
}

PyObject *table_section(PyObject *self, PyObject *name) {
    Acc *a = table_acc(reinterpret_cast<Table *>(self), name);
    if (a == nullptr) return nullptr;
    Section *s = PyObject_New(Section, g_section_type);
    if (s == nullptr) return nullptr;
    Py_INCREF(a);
    s->acc = a;
    s->start = 0;
    return reinterpret_cast<PyObject *>(s);
}

PyObject *table_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(name, ns) takes exactly 2 arguments");
        return nullptr;
    }
    const long long ns = PyLong_AsLongLong(args[1]);
    if (ns == -1 && PyErr_Occurred()) return nullptr;
    Acc *a = table_acc(reinterpret_cast<Table *>(self), args[0]);
    if (a == nullptr) return nullptr;
    acc_add(a, ns);
    Py_RETURN_NONE;
}

PyObject *table_snapshot(PyObject *self, PyObject *) {
    PyObject *out = PyDict_New();
    if (out == nullptr) return nullptr;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(reinterpret_cast<Table *>(self)->accs, &pos, &key, &value)) {
        auto *a = reinterpret_cast<Acc *>(value);
        if (a->count == 0) continue;
        PyObject *row = Py_BuildValue("(LLLL)", static_cast<long long>(a->count),
                                      static_cast<long long>(a->total), static_cast<long long>(a->min),
                                      static_cast<long long>(a->max));
        if (row == nullptr || PyDict_SetItem(out, key, row) != 0) {
            Py_XDECREF(row);
            Py_DECREF(out);
            return nullptr;
        }
        Py_DECREF(row);
    }
    return out;
}

PyObject *table_clear(PyObject *self, PyObject *) {
    PyDict_Clear(reinterpret_cast<Table *>(self)->accs);
    Py_RETURN_NONE;
}

PyObject *table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "SectionTable() takes no arguments");
        return nullptr;
    }
    auto *t = reinterpret_cast<Table *>(type->tp_alloc(type, 0));
    if (t == nullptr) return nullptr;
    t->accs = PyDict_New();
    if (t->accs == nullptr) {
        Py_DECREF(t);
        return nullptr;
    }
    return reinterpret_cast<PyObject *>(t);
}

void table_dealloc(PyObject *self) {
    Py_XDECREF(reinterpret_cast<Table *>(self)->accs);
    plain_dealloc(self);
}

PyMethodDef table_methods[] = {
    {"section", table_section, METH_O,
     "section(name) -> Section: a context manager adding its block's time to `name`."},
    {"add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(table_add)), METH_FASTCALL,
     "add(name, ns): add one duration measured elsewhere."},
    {"snapshot", table_snapshot, METH_NOARGS,
     "snapshot() -> {name: (count, total_ns, min_ns, max_ns)}, in order of first use."},
    {"clear", table_clear, METH_NOARGS, "Forget every section."},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot table_slots[] = {
    {Py_tp_new, reinterpret_cast<void *>(table_new)},
    {Py_tp_dealloc, reinterpret_cast<void *>(table_dealloc)},
    {Py_tp_methods, table_methods},
    {Py_tp_doc, const_cast<char *>("Accumulated time per section name, on the mxprof clock.")},
    {0, nullptr}};

PyType_Spec table_spec = {"mxprof._core.SectionTable", sizeof(Table), 0, Py_TPFLAGS_DEFAULT,
                          table_slots};

py::object make_type(PyType_Spec *spec) {
    PyObject *type = PyType_FromSpec(spec);
    if (type == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(type);
}

}  // namespace

void init_sections(py::module_ &m) {
    py::object acc = make_type(&acc_spec);
    py::object section = make_type(&section_spec);
    py::object table = make_type(&table_spec);
    // The module keeps the types alive for the life of the process.
    g_acc_type = reinterpret_cast<PyTypeObject *>(acc.ptr());
    g_section_type = reinterpret_cast<PyTypeObject *>(section.ptr());
    m.attr("_SectionAcc") = acc;
    m.attr("Section") = section;
    m.attr("SectionTable") = table;
}
