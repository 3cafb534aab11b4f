"""Every kind of callable a user may hand to `measure`, and a check that a timing loop calls it.

Shared by tests/native/test_callables.py, in process (the pure-Python loop) and as a script in
a child process (the native loops: a crash there must fail a test, not kill pytest):

    python tests/native/callable_kinds.py KIND... -> "start<TAB>KIND", then "ok<TAB>KIND<TAB>{json}"

Each factory returns (callable, count) where count() is how many times the callable has run,
or None where a C callable leaves no trace to count.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import types

CALLS = 37  # odd and small: a count that a wrong loop would not hit by chance


class Widget:
    class_calls = 0
    static_calls = 0

    def __init__(self):
        self.calls = 0

    def method(self):
        self.calls += 1

    @classmethod
    def klass(cls):
        cls.class_calls += 1

    @staticmethod
    def static():
        Widget.static_calls += 1

    def __call__(self):
        self.calls += 1


class SlottedWidget:
    __slots__ = ("calls",)

    def __init__(self):
        self.calls = 0

    def method(self):
        self.calls += 1


class Namespace:
    """A function in a class body without `self`: what an unbound method is in Python 3."""

    calls = 0

    def bump():
        Namespace.calls += 1


def _counter():
    box = [0]

    def bump(*args, **kwargs):
        box[0] += 1

    return bump, lambda: box[0]


def _function():
    return _counter()


def _nested_function():
    count = [0]

    def outer():
        def inner():
            count[0] += 1
        return inner

    return outer(), lambda: count[0]


def _lambda():
    count = [0]
    return (lambda: count.__setitem__(0, count[0] + 1)), lambda: count[0]


def _bound_method():
    w = Widget()
    return w.method, lambda: w.calls


def _bound_method_slots():
    w = SlottedWidget()
    return w.method, lambda: w.calls


def _method_type():
    w = Widget()
    return types.MethodType(Widget.method, w), lambda: w.calls


def _unbound_method():
    Namespace.calls = 0
    return Namespace.bump, lambda: Namespace.calls


def _unbound_method_with_partial():
    w = Widget()
    return functools.partial(Widget.method, w), lambda: w.calls


def _classmethod():
    Widget.class_calls = 0
    return Widget.klass, lambda: Widget.class_calls


def _classmethod_of_instance():
    Widget.class_calls = 0
    return Widget().klass, lambda: Widget.class_calls


def _staticmethod():
    Widget.static_calls = 0
    return Widget.static, lambda: Widget.static_calls


def _staticmethod_of_instance():
    Widget.static_calls = 0
    return Widget().static, lambda: Widget.static_calls


def _builtin_bound_method():
    return [].clear, lambda: None


def _builtin_bound_method_counted():
    items = list(range(10 * CALLS))
    return items.pop, lambda: 10 * CALLS - len(items)


def _slot_wrapper_bound():
    return [1, 2].__len__, lambda: None


def _partial():
    fn, count = _counter()
    return functools.partial(fn), count


def _partial_with_arguments():
    fn, count = _counter()
    return functools.partial(fn, 1, 2, key=3), count


def _partial_of_bound_method():
    w = Widget()
    return functools.partial(w.method), lambda: w.calls


def _callable_instance():
    w = Widget()
    return w, lambda: w.calls


def _c_function():
    return time.monotonic_ns, lambda: None


def _c_type():
    return object, lambda: None


def _mxprof_c_function():
    from mxprof._native import core

    return core.now_ns, lambda: None


KINDS = {
    "function": _function,
    "nested function": _nested_function,
    "lambda": _lambda,
    "bound method": _bound_method,
    "bound method of a __slots__ class": _bound_method_slots,
    "types.MethodType": _method_type,
    "unbound method (no self)": _unbound_method,
    "unbound method given its self by partial": _unbound_method_with_partial,
    "classmethod": _classmethod,
    "classmethod of an instance": _classmethod_of_instance,
    "staticmethod": _staticmethod,
    "staticmethod of an instance": _staticmethod_of_instance,
    "builtin bound method [].clear": _builtin_bound_method,
    "builtin bound method list.pop": _builtin_bound_method_counted,
    "method-wrapper [].__len__": _slot_wrapper_bound,
    "functools.partial": _partial,
    "functools.partial with arguments": _partial_with_arguments,
    "functools.partial of a bound method": _partial_of_bound_method,
    "callable instance": _callable_instance,
    "C function time.monotonic_ns": _c_function,
    "type object()": _c_type,
    "mxprof C function now_ns": _mxprof_c_function,
}


def check(kind: str, loop) -> dict:
    """Run `loop(fn, CALLS)` on a fresh callable of `kind`; facts for the test to assert on."""
    fn, count = KINDS[kind]()
    refs = sys.getrefcount(fn)
    samples = loop(fn, CALLS)
    return {
        "samples": len(samples),
        "dtype": str(samples.dtype),
        "negative": int((samples < 0).sum()),
        "calls": count(),
        "refcount_change": sys.getrefcount(fn) - refs,
    }


def check_missing_self(loop) -> str:
    """An unbound method that needs `self`, called with nothing: the TypeError must propagate."""
    try:
        loop(Widget.method, CALLS)
    except TypeError as exc:
        return str(exc)
    return "no exception"


def _native_loops():
    from mxprof._native import core

    for source in ("tsc", "clock_gettime"):
        try:
            core.clock_select(source)
        except ValueError:  # no invariant TSC on this CPU
            continue
        yield source, core.timing_loop
    core.clock_select("auto")


def main(kinds: list[str]) -> None:
    from mxprof.timing.timer import measure

    for kind in kinds:
        print(f"start\t{kind}", flush=True)
        out = {}
        for source, loop in _native_loops():
            out[source] = check_missing_self(loop) if kind == "missing self" else check(kind, loop)
        if kind != "missing self":
            fn, count = KINDS[kind]()
            out["measure"] = {"samples": measure(fn, repeat=CALLS, warmup=2).stats.n,
                              "calls": count()}
        print(f"ok\t{kind}\t{json.dumps(out)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
