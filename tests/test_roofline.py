"""Roofline of real verbose lines, against figures computed by hand in the comments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mxprof.onednn import attribution, roofline, verbose
from mxprof.onednn.descriptors import memory_dtypes
from mxprof.onednn.roofline import Ceilings
from mxprof.onednn.work import work

FIXTURES = Path(__file__).parent / "fixtures" / "verbose"
# Round ceilings so the expected figures can be checked by hand: 100 GFLOP/s f32, 400 int8,
# 10 GB/s; the ridge point is 10 FLOP/byte for f32.
CEIL = Ceilings({"f32": 100.0, "int8": 400.0}, 10.0, "test")


def _line(log: str, kind: str, n: int = 0) -> pd.Series:
    rows = verbose.parse(str(FIXTURES / log)).exec()
    return rows[rows["kind"] == kind].iloc[n].astype(str)


def test_convolution_flops_and_bytes_from_a_real_line():
    row = _line("mxnet191_dnnl_v2.4.4_ts_level1.log", "convolution")
    # mb1_ic3oc64_ih64oh32kh7sh2_iw64ow32kw7sw2, f32, no bias:
    # flops 2*1*64*3*32*32*7*7 = 19,267,584; src 3*64*64*4 = 49,152 B; wei 64*3*7*7*4 = 37,632 B;
    # dst 64*32*32*4 = 262,144 B; total 348,928 B.
    w = work(row["kind"], row["problem"], row["mds"], row["aux"])
    assert w.flops == 19_267_584
    assert (w.src_bytes, w.wei_bytes, w.dst_bytes) == (49_152, 37_632, 262_144)
    assert w.compute == "f32"
    assert w.intensity == pytest.approx(19_267_584 / 348_928)


def test_int8_convolution_uses_byte_sizes_and_the_int8_peak():
    row = _line("mxnet191_dnnl_v2.4.4_int8_ts_level2.log", "convolution")
    # mb1_ic128oc128_ih8oh8kh3_iw8ow8kw3, u8 src/dst, s8 weights, s32 bias:
    # src 128*8*8 = 8,192 B; wei 128*128*9 = 147,456 B + bias 128*4 = 512 B; dst 8,192 B.
    w = work(row["kind"], row["problem"], row["mds"], row["aux"])
    assert (w.src_bytes, w.wei_bytes, w.dst_bytes) == (8_192, 147_968, 8_192)
    assert w.flops == 2 * 128 * 128 * 64 * 9
    assert w.compute == "int8"


@pytest.mark.parametrize("log,kind,flops,nbytes", [
    # bnorm mb1ic64ih32iw32 flags:GS (global stats): 2 per element of 65,536; read+write f32
    # 2*65,536*4 = 524,288 B plus 4 f32 statistics per channel 64*16 = 1,024 B.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "batch_normalization", 131_072, 525_312),
    # relu 1x64x32x32: one op per element; 65,536 elements read and written in f32.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "eltwise", 65_536, 524_288),
    # max pool 3x3 stride 2: 64*16*16 outputs x 9 taps; src 64*32*32*4 + dst 64*16*16*4.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "pooling_v2", 147_456, 262_144 + 65_536),
    # sum of two 1x64x16x16 f32 tensors: 16,384 adds; 2 reads + 1 write of 65,536 B.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "sum", 16_384, 3 * 65_536),
    # reorder 1x3x64x64 f32 -> f32: no flops, 12,288 elements read and written.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "reorder", 0, 2 * 12_288 * 4),
    # fc mb1ic512oc1000: 2*512*1000; src 2,048 B, wei 2,048,000 B, bias 4,000, dst 4,000.
    ("mxnet191_dnnl_v2.4.4_ts_level1.log", "inner_product", 1_024_000, 2_058_048),
    # MKL-DNN v0.19 prints layouts only: f32 sizes.
    ("mxnetmkl151_mkldnn_v0.19.0.log", "inner_product", 1_024_000, 2_058_048),
    # matmul 128x256:256x512 f32 (v3.4 form): 2*128*512*256; (128*256+256*512+128*512)*4.
    ("constructed_onednn_v3.4_and_older.log", "matmul", 33_554_432, 917_504),
])
def test_work_of_each_kind(log, kind, flops, nbytes):
    row = _line(log, kind)
    w = work(row["kind"], row["problem"], row["mds"], row["aux"])
    assert (w.flops, w.bytes) == (flops, nbytes)


def test_rnn_lstm_and_lbr_gru_descriptors():
    # l1t10mb2sic16slc8dhc16dic16, LSTM: cells 10*2 = 20; flops 2*20*4*16*(8+16) = 61,440;
    # weights 4*16*(8+16)*4 B = 6,144; src 10*2*8*4 = 640 B; dst 10*2*16*4 = 1,280 B.
    mds = "src_layer_f32::blocked:abc:f0 wei_layer_f32::blocked:abcde:f0 dst_layer_f32::blocked:abc:f0"
    lstm = work("rnn", "l1t10mb2sic16slc8dhc16dic16", mds,
                "alg:vanilla_lstm direction:unidirectional_left2right activation:undef")
    assert lstm.flops == 61_440
    gru = work("rnn", "l1t10mb2sic16slc8dhc16dic16", mds, "alg:lbr_gru direction:bidirectional_concat")
    assert gru.flops == 61_440 / 4 * 3 * 2  # 3 gates, 2 directions


def test_memory_dtypes_of_every_generation():
    assert memory_dtypes("src_u8::blocked:acdb:f0 wei_s8::blocked:AcdB64a4b:f0 "
                         "bia_undef::undef::f0") == {"src": ["u8"], "wei": ["s8"]}
    assert memory_dtypes("src:f32::blocked:ab::f0 wei:bf16:ap:blocked:BA16a64b::f0") == {
        "src": ["f32"], "wei": ["bf16"]}
    assert memory_dtypes("in:f32_oihw out:s8_Ohwi16o") == {"in": ["f32"], "out": ["s8"]}
    assert memory_dtypes("fsrc:nchw fwei:Ohwi16o fbia:undef") == {"src": ["f32"], "wei": ["f32"]}


def test_roofline_classes_and_efficiency_by_hand():
    # Conv 19,267,584 flops / 348,928 B (55 FLOP/B: above the ridge of 10): compute-bound.
    # At 100 GFLOP/s its roof is 0.19267584 ms; measured 0.385 ms -> efficiency ~0.5.
    # Reorder 98,304 B at 10 GB/s = 0.0098304 ms; measured 0.5 ms -> 2%: overhead-bound.
    # ReLU 524,288 B -> 0.0524288 ms; measured 0.06 ms -> memory-bound at 87%.
    frame = pd.DataFrame({
        "kind": ["convolution", "reorder", "eltwise"], "calls": [1.0, 1.0, 1.0],
        "flops": [19_267_584.0, 0.0, 65_536.0], "bytes": [348_928.0, 98_304.0, 524_288.0],
        "compute": ["f32"] * 3, "ms": [0.38535168, 0.5, 0.06]})
    out = roofline.add_roofline(frame, CEIL, calls="calls")
    assert out["efficiency"].tolist() == pytest.approx([0.5, 0.0098304 / 0.5, 0.0524288 / 0.06])
    assert out["bound"].tolist() == ["compute-bound", "overhead-bound", "memory-bound"]
    assert out.loc[0, "attained_gflops"] == pytest.approx(50.0)
    assert out.loc[2, "bound_gflops"] == pytest.approx(0.125 * 10)  # intensity x bandwidth


def _attributed(log: str) -> pd.DataFrame:
    """Real primitives, each given a layer window of its own kind (one layer per kind)."""
    prims = verbose.parse(str(FIXTURES / log)).exec().reset_index(drop=True)
    ts = prims["timestamp_ms"].to_numpy()
    windows = pd.DataFrame({"iteration": 0, "layer": prims["kind"].astype(str) + "_layer",
                            "op": prims["kind"].astype(str), "start_ms": ts,
                            "end_ms": ts + prims["time_ms"].to_numpy()})
    return attribution.attribute_primitives(windows, prims)


def test_layer_sums_and_headroom_from_a_real_log():
    attributed = _attributed("mxnet191_dnnl_v2.4.4_ts_level1.log")
    prims = roofline.primitive_roofline(attributed, CEIL, iterations=1)
    layers = roofline.layer_roofline(prims, CEIL)
    conv = layers[layers["layer"] == "convolution_layer"].iloc[0]
    conv_prims = prims[prims["kind"] == "convolution"]
    assert conv["ms"] == pytest.approx(conv_prims["ms"].sum())
    assert conv["flops"] == pytest.approx((conv_prims["flops"] * conv_prims["calls"]).sum())
    assert conv["roof_ms"] == pytest.approx(conv_prims["roof_ms"].sum())
    assert conv["efficiency"] == pytest.approx(conv["roof_ms"] / conv["ms"])
    total = float(prims["ms"].sum())
    head = roofline.headroom(layers, latency_ms=total + 1.0)
    assert head["primitives_ms"] == pytest.approx(total)
    # 1 ms outside the primitives stays as measured; no layer counts above its measured time.
    capped = sum(min(r, m) for r, m in zip(layers["roof_ms"], layers["ms"]))
    assert head["model_at_roof_ms"] == pytest.approx(1.0 + capped)
    assert head["model_at_roof_ms"] <= total + 1.0
    assert head["speedup_bound"] > 1.0


def test_unknown_descriptor_is_none_not_a_guess():
    assert work("convolution", "garbage", "", "") is None
    assert work("inner_product", "mb1", "", "") is None


def test_primitives_above_the_compute_roof_refute_it():
    """A roof below what timed primitives attain is wrong (measured under load): said so."""
    import pandas as pd

    from mxprof.jobs.profile.roofline_section import ABOVE_ROOF_MARK, above_roof, raised_roofs
    from mxprof.onednn.roofline import Ceilings

    roof = Ceilings({"f32": 20.0, "int8": 60.0}, 2.0)

    def frame(*rows):
        return pd.DataFrame(rows, columns=["layer", "kind", "compute", "ms", "calls",
                                           "attained_gflops"])

    fine = frame(("conv1", "convolution", "f32", 3.0, 3, 22.0),  # within 1.2x of the roof
                 ("fc", "inner_product", "int8", 0.3, 3, 70.0),
                 ("tiny", "eltwise", "f32", 0.003, 3, 500.0))  # 0.001 ms a call: not timed
    assert above_roof(fine, roof) is None
    bad = frame(("conv1", "convolution", "f32", 3.0, 3, 112.8),
                ("fc", "inner_product", "int8", 0.3, 3, 70.0))
    text = above_roof(bad, roof)
    assert ABOVE_ROOF_MARK in text and "conv1 attains 112.8 GFLOP/s, 5.6x" in text
    # No primitive can beat a true roof: the refuted one is raised to the best timed rate,
    # the others (and the memory roof) stay as measured.
    raised = raised_roofs(bad, roof)
    assert raised.peak_gflops == {"f32": 112.8, "int8": 60.0} and raised.bandwidth_gbs == 2.0
    assert "f32 raised to the best timed primitive" in raised.source
    assert raised_roofs(fine, roof) is None
