"""Networks of the reference table that neither Gluon's nor GluonCV's zoo ships, written from
their papers: Inception-v4, Inception-ResNet-v2, the DCGAN generator and GNMT.

`ZOO` maps each zoo-style name to its factory (imported only when built, so looking a name up
needs no MXNet), its default inputs, the reference table's spellings and the paper. No weights
exist for them anywhere mxprof looks: they are always initialised at random.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path
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
        """The network, built by its factory with `kwargs` (e.g. from `split_options`);
        an option the factory does not take raises TypeError."""
        module, func = self.factory.split(":")
        return getattr(importlib.import_module(f"mxprof.mx.zoo.{module}"), func)(**kwargs)

    def option_names(self) -> frozenset[str]:
        """The keyword arguments the factory takes, read from its source without importing it
        (which would import MXNet): the function's own, and where it passes `**kwargs` on to a
        class of its module, that class's `__init__` arguments. Lets a misspelled option be
        refused before any worker starts."""
        module, func = self.factory.split(":")
        tree = ast.parse((Path(__file__).parent / f"{module}.py").read_text())
        defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        names = set(_arg_names(defs[func]))
        for call in ast.walk(defs[func]):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and isinstance(defs.get(call.func.id), ast.ClassDef)):
                init = next((n for n in defs[call.func.id].body
                             if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
                names.update(_arg_names(init) if init else ())
        return frozenset(names - {"self", "kwargs"})


def _arg_names(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    return [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]


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
    """The entry a name or alias means, ignoring case, spaces, dashes and underscores, and any
    `[options]` suffix (see `split_options`)."""
    found = _BY_KEY.get(_key(name.split("[", 1)[0]))
    return ZOO[found] if found else None


def split_options(name: str) -> tuple[str, dict[str, int | str]]:
    """`"gnmt[hidden_size=64,vocab_size=1000]"` -> ("gnmt", {"hidden_size": 64, ...}): the
    factory's keyword arguments written after a zoo name, so every command and every worker
    (which receive only the name) build the same smaller or different network, e.g. for tests.
    Integer values become ints. Raises ValueError on a malformed suffix."""
    if "[" not in name:
        return name, {}
    if not name.endswith("]"):
        raise ValueError(f"bad model options in {name!r}: expected NAME[key=value,...]")
    base, text = name[:-1].split("[", 1)
    options: dict[str, int | str] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"bad model option {item!r} in {name!r}: expected key=value")
        value = value.strip()
        options[key.strip()] = int(value) if value.lstrip("-").isdigit() else value
    return base, options


def with_options(name: str, options: dict[str, int | str]) -> str:
    """The canonical spelling `name[k=v,...]` (keys sorted), or `name` without options."""
    if not options:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"
