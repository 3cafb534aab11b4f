"""Equality of two verbose scan results (native scanner vs its pure-Python twin)."""

from __future__ import annotations

import numpy as np


def assert_same_scan(a: dict, b: dict) -> None:
    assert a["stats"] == b["stats"] and a["info"] == b["info"]
    assert a["malformed"] == b["malformed"] and a["layout"] == b["layout"]
    for table in ("primitive", "graph"):
        for col, value in a[table].items():
            if isinstance(value, list):
                assert value == b[table][col]
            else:
                assert np.array_equal(value, b[table][col], equal_nan=True), (table, col)
