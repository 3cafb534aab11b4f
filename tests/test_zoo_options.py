"""Options after a zoo name: `gnmt[hidden_size=64,...]` reaches the factory in every process,
since workers receive only the name."""

from __future__ import annotations

import pytest

from mxprof.mx import models, rnn, zoo


def test_options_parse_to_factory_kwargs_and_a_canonical_name():
    base, options = zoo.split_options("GNMT[vocab_size=1000, hidden_size=64,decoder=loop]")
    assert (base, options) == ("GNMT", {"vocab_size": 1000, "hidden_size": 64, "decoder": "loop"})
    assert zoo.with_options("gnmt", options) == "gnmt[decoder=loop,hidden_size=64,vocab_size=1000]"
    assert zoo.split_options("dcgan") == ("dcgan", {})


@pytest.mark.parametrize("bad", ["gnmt[hidden_size=64", "gnmt[64]", "gnmt[a b=1]"])
def test_malformed_options_raise(bad):
    with pytest.raises(ValueError, match="bad model option"):
        zoo.split_options(bad)


def test_resolved_spec_builds_the_small_network_and_draws_ids_below_its_vocabulary():
    spec = models.resolve("gnmt[vocab_size=1000,hidden_size=8,encoder_layers=2,decoder_layers=1]")
    assert spec.name == "gnmt[decoder_layers=1,encoder_layers=2,hidden_size=8,vocab_size=1000]"
    assert spec.input_specs[0].high == 1000
    assert rnn.has_rnn(spec)
    net = models.build(spec)
    assert net.embedding.weight.shape == (1000, 8) and len(net.decoder) == 1
    assert models.resolve("dcgan[ngf=8]").name == "dcgan[ngf=8]"


def test_an_option_the_factory_does_not_take_is_refused_before_any_worker(cli):
    """It used to pass resolve() and fail only inside the worker, as a TypeError."""
    with pytest.raises(ValueError, match="dcgan takes no option no_such_option; its options: "
                                         "nc, ngf, nz"):
        models.resolve("dcgan[no_such_option=1]")
    assert "hidden_size" in zoo.ZOO["gnmt"].option_names()  # GNMT.__init__, behind **kwargs
    out = cli("profile", "dcgan[no_such_option=1]", "--dry-run")
    assert out.returncode == 2 and "takes no option no_such_option" in out.stderr
