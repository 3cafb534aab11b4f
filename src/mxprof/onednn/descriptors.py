"""oneDNN descriptors as the verbose log prints them, read in one place (pure functions).

Memory descriptors (the `mds` field, space separated; every generation, see
docs/onednn-verbose-formats.md):
- v1.0-3.1 `src_f32::blocked:abcd:f0`, v3.2-3.5 `src_f32:a:blocked:aBcd16b::f0`
  (arg_dtype, props, format kind, tag, ...);
- v3.6+ `src:f32:a:blocked:aBcd16b::f0` (arg, dtype, props, format kind, tag, ...);
- MKL-DNN v0.x: layouts only, `fsrc:nChw16c` (conv/ip/bnorm: f32, the only type it ran) and
  `in:f32_nchw out:f32_nChw16c` (reorder, sum).
`memory_descs` reads each into (arg, dtype, tag); `memory_dtypes`, `memory_tags` and
`conversion` are the views the byte counts, the findings and the reorder report use. A v0.x
descriptor has no tag here (None): the layout rules read v1.0+ tags only.

Problem descriptors (the `problem` field): named sizes `mb1_ic64oc64_ih56oh56kh3...` read by
`problem_dims`, plain dims `1x64x56x56` or `a:b[:c]` read by `problem_shapes`, and the element
count of a data tensor (`problem_elements`). FLOPs from them are mxprof.onednn.flops.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

_TOKENS = re.compile(r"([a-z]+)(\d+)")


class MemoryDesc(NamedTuple):
    """One memory descriptor: its argument (src, wei, bia, dst, in, out...), data type ('undef'
    for an absent tensor) and layout tag (None where the generation prints none)."""

    arg: str
    dtype: str
    tag: str | None


def _tag(parts: list[str]) -> str | None:
    """The layout tag of a v1.0+ descriptor split on ':' (v3.2+ have one more slot before it,
    v3.6+ one more again); None when the descriptor has too few fields."""
    if len(parts) < 4:
        return None
    tag = parts[3] if parts[3] or len(parts) < 5 else parts[4]
    if parts[2] != "blocked" and len(parts) > 4 and parts[3] == "blocked":
        tag = parts[4]  # v3.6+: arg:dtype:props:blocked:tag
    return tag


def memory_desc(md: str) -> MemoryDesc | None:
    """One descriptor of any generation, or None when it is not one."""
    fields = md.split(":")
    head = fields[0]
    if "_" in head and not head.startswith("f"):  # v1.0-3.5: src_f32::blocked:abcd:f0
        arg, _, dtype = head.partition("_")
        return MemoryDesc(arg, dtype, _tag(fields))
    if len(fields) < 2:
        return None
    if head in ("in", "out"):  # v0.x: in:f32_nchw
        return MemoryDesc(head, fields[1].split("_")[0], None)
    if head.startswith("f"):  # v0.x: fsrc:nchw, fwei:..., fdata:... (f32 alone)
        return MemoryDesc(head[1:], "undef" if fields[1] == "undef" else "f32", None)
    return MemoryDesc(head, fields[1], _tag(fields))  # v3.6+: src:f32:...


def memory_descs(mds: str) -> list[MemoryDesc]:
    """Every descriptor of an `mds` field, in order (repeated args, e.g. sum inputs, each)."""
    out = (memory_desc(md) for md in (mds or "").split())
    return [d for d in out if d is not None]


def memory_dtypes(mds: str) -> dict[str, list[str]]:
    """Dtypes by argument: `src_u8::blocked:acdb:f0 wei_s8:...` -> {'src': ['u8'], 'wei': ...};
    repeated args (sum inputs) list each one; `undef` tensors (no bias, no workspace) are left
    out."""
    out: dict[str, list[str]] = {}
    for d in memory_descs(mds):
        if d.dtype != "undef":
            out.setdefault(d.arg, []).append(d.dtype)
    return out


def memory_tags(mds: str) -> dict[str, str]:
    """`src_f32::blocked:abcd:f0 wei_f32::blocked:Acdb64a:f0` -> {'src': 'abcd', 'wei': ...}
    (v1.0+ descriptors, every slot layout; a repeated arg, e.g. sum inputs: the last one)."""
    return {d.arg: d.tag for d in memory_descs(mds) if d.tag is not None}


def conversion(mds: object) -> str:
    """What a reorder converts: 'src_f32::blocked:abcd:f0 dst_f32::blocked:Acdb64a:f0' ->
    'f32 abcd -> f32 Acdb64a' ('?' for a missing field)."""
    if not isinstance(mds, str):
        return "?"
    descs = memory_descs(mds)[:2]
    return " -> ".join(f"{d.dtype} {d.tag if d.tag is not None else '?'}" for d in descs)


def problem_dims(problem: str) -> dict[str, int]:
    """The named sizes of a descriptor, first of each name: `mb1ic64ih56oc64oh56kh3` ->
    {mb: 1, ic: 64, ih: 56, oc: 64, oh: 56, kh: 3}."""
    d: dict[str, int] = {}
    for name, value in _TOKENS.findall(problem):
        d.setdefault(name, int(value))
    return d


def problem_shapes(problem: str) -> list[list[int]]:
    """Plain dims `1x64x56x56` or `a:b:c` (binary, matmul); [] when the descriptor is named."""
    head = problem.split("_")[0] if "x" in problem else problem
    out = []
    for part in head.split(":"):
        try:
            out.append([int(x) for x in part.split("x")])
        except ValueError:
            return []
    return out


def problem_elements(problem: str) -> float | None:
    """Element count of a data tensor: plain dims, or mb/ic/id/ih/iw (v0.x-1.x names)."""
    shapes = problem_shapes(problem)
    if shapes:
        return float(math.prod(shapes[0]))
    d = problem_dims(problem)
    if "mb" in d and ("ic" in d or "c" in d):
        return float(d["mb"] * d.get("ic", d.get("c", 1)) * d.get("id", 1) * d.get("ih", 1)
                     * d.get("iw", 1))
    return None
