"""Model families. `build_models` turns a family name and constructor arguments into (G, D);
checkpoints store exactly those arguments, so a file alone rebuilds its networks."""
from __future__ import annotations

import inspect

import torch.nn as nn

from ..families import family
from .cyclegan import PatchDiscriminator, ResnetGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .stylegan import StyleGANDiscriminator, StyleGANGenerator

NETWORK_CLASSES = {  # each family's (G, D) classes
    "gan": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "cgan": (DCGANGenerator, DCGANDiscriminator),
    "cyclegan": (ResnetGenerator, PatchDiscriminator),  # G: A -> B and F: B -> A share kwargs["G"]
    "stylegan": (StyleGANGenerator, StyleGANDiscriminator),
}


def model_kwargs(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    """Constructor arguments {'G': {...}, 'D': {...}} for a TrainConfig and a data set's shape (its family's
    networks, ganlib.families)."""
    return family(config.model).networks(config, data_shape, num_classes)


def build_generator(family: str, kwargs: dict) -> nn.Module:
    """G alone (what sampling needs), from model_kwargs()."""
    if family not in NETWORK_CLASSES:
        raise ValueError(f"Unknown model family {family!r}; known: {', '.join(NETWORK_CLASSES)}.")
    g = dict(kwargs["G"])
    if "out_shape" in g:
        g["out_shape"] = tuple(g["out_shape"])
    return _build(NETWORK_CLASSES[family][0], g)


def build_discriminator(family: str, kwargs: dict) -> nn.Module:
    """D alone, from model_kwargs()."""
    d = dict(kwargs["D"])
    if "in_shape" in d:
        d["in_shape"] = tuple(d["in_shape"])
    return _build(NETWORK_CLASSES[family][1], d)


def _build(cls: type, kwargs: dict) -> nn.Module:
    """cls(**kwargs); a setting cls does not take (saved by another version of GAN Studio) is a ValueError
    that names it, not a TypeError from deep inside."""
    unknown = sorted(set(kwargs) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ValueError(f"its {cls.__name__} has settings this version does not know: {', '.join(unknown)}")
    return cls(**kwargs)


def build_models(family: str, kwargs: dict) -> tuple[nn.Module, nn.Module]:
    """(G, D) for a family from model_kwargs()."""
    return build_generator(family, kwargs), build_discriminator(family, kwargs)
