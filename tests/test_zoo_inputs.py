"""Model inputs: `--input NAME:SHAPE[:DTYPE]` parsing, merging over defaults, random draws."""

from __future__ import annotations

import numpy as np
import pytest

from mxprof.mx import inputs
from mxprof.mx.inputs import InputSpec


def test_parse_input_forms():
    assert inputs.parse_input("src:64,50:int32") == ("src", (64, 50), "int32")
    assert inputs.parse_input("data:1x3x224x224") == ("data", (1, 3, 224, 224), None)
    for bad in ("data", "data:", ":1,2", "data:1,a", "data:0,3", "data:1,3:complex", "a:1:b:c",
                "src:2,x", "src:2,,3", "src:x"):
        with pytest.raises(ValueError, match="bad --input"):
            inputs.parse_input(bad)


def test_merge_replaces_by_name_and_checks_what_is_given():
    defaults = (InputSpec("src", (50,), "int32", "tokens", 32000),)
    batch, merged = inputs.merge(defaults, [inputs.parse_input("src:8,20")])
    assert batch == 8
    assert merged == (InputSpec("src", (20,), "int32", "tokens", 32000),)
    assert inputs.merge(defaults, []) == (None, defaults)
    with pytest.raises(ValueError, match="batch sizes differ"):
        inputs.merge(defaults, [("src", (2, 20), None), ("x", (3, 4), None)])
    # A model with known inputs: an unknown name, another rank, a float for token ids.
    with pytest.raises(ValueError, match="no input 'mask'; its inputs are src"):
        inputs.merge(defaults, [("src", (2, 20), None), ("mask", (2, 20), "int32")])
    with pytest.raises(ValueError, match=r"src has 2 \(N,50\), batch first, e.g. src:1,50"):
        inputs.merge(defaults, [inputs.parse_input("src:50:int32")])
    with pytest.raises(ValueError, match="dtype float32 does not fit; src takes integer ids"):
        inputs.merge(defaults, [("src", (2, 20), "float32")])
    with pytest.raises(ValueError, match="given twice"):
        inputs.merge(defaults, [("src", (2, 20), None), ("src", (2, 20), None)])


def test_merge_names_without_defaults_and_open_blocks():
    # An exported model with two inputs and no default shapes: each must be given.
    with pytest.raises(ValueError, match="data1 have no default shape"):
        inputs.merge((), [("data0", (2, 3, 8, 8), None)], names=["data0", "data1"])
    batch, fed = inputs.merge((), [("data1", (2, 6), "int32"), ("data0", (2, 3, 8, 8), None)],
                              names=["data0", "data1"])
    assert batch == 2 and [i.name for i in fed] == ["data0", "data1"]  # the model's order
    assert fed[1] == InputSpec("data1", (6,), "int32", "tokens", 2 ** 15)
    # A block that declares nothing: the given inputs are its inputs, any name, any rank.
    guess = (InputSpec("data", (3, 224, 224)),)
    batch, fed = inputs.merge(guess, [("x", (4, 7), None)], open_names=True)
    assert batch == 4 and fed == (InputSpec("x", (7,)),)
    assert inputs.merge(guess, [("data", (1, 3, 9), None)], open_names=True)[1] == \
        (InputSpec("data", (3, 9)),)


def test_a_factory_declares_inputs_as_text_or_specs():
    assert inputs.input_from("tokens:1,6:int32") == InputSpec("tokens", (6,), "int32",
                                                              "tokens", 2 ** 15)
    spec = InputSpec("noise", (100,), "float32", "normal")
    assert inputs.input_from(spec) is spec


def test_random_arrays_follow_dtype_and_range():
    specs = (InputSpec("data", (3, 8, 8)), InputSpec("noise", (100, 1, 1), "float32", "normal"),
             InputSpec("src", (50,), "int32", "tokens", 7))
    image, noise, tokens = inputs.random_arrays(specs, 16, seed=3)
    assert image.shape == (16, 3, 8, 8) and image.dtype == np.float32
    # ImageNet-normalised pixels of [0, 1]: channel 0 spans (0-0.485)/0.229 .. (1-0.485)/0.229.
    assert image[:, 0].min() >= -0.485 / 0.229 - 1e-6 and image[:, 0].max() <= 0.515 / 0.229
    assert noise.shape == (16, 100, 1, 1) and 0.8 < noise.std() < 1.2
    assert tokens.dtype == np.int32 and tokens.min() >= 0 and tokens.max() < 7
    assert set(np.unique(tokens)) == set(range(7))  # 800 draws reach every id
    again = inputs.random_arrays(specs, 16, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (image, noise, tokens)))


def test_bad_specs_raise():
    with pytest.raises(ValueError, match="vocabulary"):
        InputSpec("src", (5,), "int32", "tokens")
    with pytest.raises(ValueError, match="dtype"):
        InputSpec("x", (5,), "complex64")
    assert InputSpec("src", (50,), "int32", "tokens", 32000).describe() == \
        "src: int32 (N,50) token ids < 32000"


def test_importing_the_registry_starts_no_numpy():
    # Workers import the registry before binding their CPUs: numpy's BLAS threads must not
    # start unbound then.
    import subprocess
    import sys
    code = ("import sys, mxprof.jobs.profile.worker, mxprof.mx.models; "
            "print(sorted(m for m in ('numpy', 'mxnet') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_profile_rejects_a_bad_input_before_starting_workers(cli):
    proc = cli("profile", "gnmt", "--input", "src:2,x:int32")
    assert proc.returncode == 2 and "bad --input" in proc.stderr
    proc = cli("profile", "gnmt", "--input", "src:2,8", "--input", "mask:3,8:int32")
    assert proc.returncode == 2 and "batch sizes differ" in proc.stderr
