"""oneDNN descriptors and FLOPs each have one owner (issue 19): mxprof.onednn.descriptors reads
memory and problem descriptors of every generation, mxprof.onednn.flops counts FLOPs of every
kind; work (bytes, roofline), findings (layouts) and attribution (reorders, GFLOP/s per layer)
call them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mxprof.onednn import attribution, descriptors, flops, work
from mxprof.onednn.descriptors import MemoryDesc, conversion, memory_descs

ONEDNN = Path(descriptors.__file__).parent


@pytest.mark.parametrize("mds, expected", [
    ("src_f32::blocked:abcd:f0 wei_f32::blocked:Acdb64a:f0",  # v1.0-3.1
     [MemoryDesc("src", "f32", "abcd"), MemoryDesc("wei", "f32", "Acdb64a")]),
    ("src_f32:a:blocked:aBcd16b::f0", [MemoryDesc("src", "f32", "aBcd16b")]),  # v3.2-3.5
    ("src:f32:a:blocked:aBcd16b::f0 bia:undef::undef:::",  # v3.6+
     [MemoryDesc("src", "f32", "aBcd16b"), MemoryDesc("bia", "undef", "undef")]),
    ("fsrc:nChw16c fwei:undef", [MemoryDesc("src", "f32", None),  # MKL-DNN v0.x
                                 MemoryDesc("wei", "undef", None)]),
    ("in:f32_nchw out:s8_nChw16c", [MemoryDesc("in", "f32", None), MemoryDesc("out", "s8", None)]),
    ("", []),
])
def test_one_reader_for_every_generation(mds, expected):
    assert memory_descs(mds) == expected


def test_a_v36_reorder_names_its_formats():
    # attribution read v3.6+ descriptors with its own parser: "src blocked -> dst blocked".
    mds = "src:f32::blocked:abcd::f0 dst:f32:a:blocked:Acdb64a::f0"
    assert conversion(mds) == "f32 abcd -> f32 Acdb64a"
    assert conversion("src_f32::blocked:abcd:f0 dst_s8::blocked:Acdb64a:f0") == \
        "f32 abcd -> s8 Acdb64a"


@pytest.mark.parametrize("kind, problem, mds, aux", [
    ("convolution", "mb1_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56ow56kw3sw1dw0pw1",
     "src_f32::blocked:aBcd16b:f0", ""),
    ("rnn", "l1t50mb1sic1024slc1024dhc1024dic1024", "", "alg:vanilla_lstm direction:unidirectional"),
    ("matmul", "2x3:3x4", "", ""),
    ("sum", "1x8x4x4:1x8x4x4", "src_f32::blocked:abcd:f0 src_f32::blocked:abcd:f0", ""),
])
def test_every_caller_gets_the_same_flops(kind, problem, mds, aux):
    expected = flops.flops(kind, problem, mds, aux)
    assert expected is not None and expected > 0
    assert work.work(kind, problem, mds, aux).flops == expected
    if kind in flops.GFLOP_KINDS:
        assert attribution._flops(kind, problem, mds, aux) == expected


def test_no_other_onednn_module_parses_descriptors_or_counts_flops():
    owned = {"memory_desc", "memory_descs", "memory_dtypes", "memory_tags", "conversion",
             "problem_dims", "problem_shapes", "problem_elements", "_conversion", "_shapes",
             "_elements"}
    found = []
    for path in sorted(ONEDNN.glob("*.py")):
        if path.name == "descriptors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in owned:
                found.append(f"{path.name}: {node.name}")
            if (isinstance(node, ast.FunctionDef) and "flops" in node.name
                    and path.name != "flops.py"):
                found.append(f"{path.name}: {node.name}")
    # Both delegate to mxprof.onednn.flops: attribution's _flops only chooses which kinds get
    # GFLOP/s, VerboseLog.gflops calls gflops_table.
    assert found == ["attribution.py: _flops", "verbose.py: gflops"]
