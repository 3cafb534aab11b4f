"""Networks of the reference table that neither Gluon's nor GluonCV's zoo ships, written from
their papers: Inception-v4, Inception-ResNet-v2, the DCGAN generator and GNMT.

`ZOO` maps each zoo-style name to its factory (imported only when built, so looking a name up
needs no MXNet), its default inputs, the reference table's spellings and the paper. No weights
exist for them anywhere mxprof looks: they are always initialised at random.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from mxprof.mx.inputs import InputSpec, image_input


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    name: str
    factory: str  # "module:function" under mxprof.mx.zoo
    inputs: tuple[InputSpec, ...]
    aliases: tuple[str, ...]
    category: str
    paper: str

    def build(self, **kwargs: Any):
        module, func = self.factory.split(":")
        return getattr(importlib.import_module(f"mxprof.mx.zoo.{module}"), func)(**kwargs)


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("inceptionv4", "inception_v4:inception_v4", (image_input((3, 299, 299)),),
             ("Inception v4", "inception-v4", "inception_v4"), "classification",
             "Szegedy et al. 2016, arXiv:1602.07261"),
    ZooEntry("inceptionresnetv2", "inception_resnet_v2:inception_resnet_v2",
             (image_input((3, 299, 299)),),
             ("inception-resnet v2", "Inception-ResNet-v2", "inception_resnet_v2"),
             "classification", "Szegedy et al. 2016, arXiv:1602.07261"),
    ZooEntry("dcgan", "dcgan:dcgan", (InputSpec("noise", (100, 1, 1), "float32", "normal"),),
             ("DCGAN", "dcgan_generator"), "GAN", "Radford et al. 2016, arXiv:1511.06434"),
    ZooEntry("gnmt", "gnmt:gnmt", (InputSpec("src", (50,), "int32", "tokens", 32000),),
             ("GNMT", "gnmt_4_layer"), "RNN", "Wu et al. 2016, arXiv:1609.08144"),
)}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY: dict[str, str] = {_key(a): e.name for e in ZOO.values() for a in (e.name, *e.aliases)}


def lookup(name: str) -> ZooEntry | None:
    """The entry a name or alias means, ignoring case, spaces, dashes and underscores."""
    found = _BY_KEY.get(_key(name))
    return ZOO[found] if found else None
