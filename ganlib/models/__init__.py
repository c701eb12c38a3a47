"""Model families. `build_models` turns a family name and constructor arguments into (G, D);
checkpoints store exactly those arguments, so a file alone rebuilds its networks."""
from __future__ import annotations

import inspect

import torch.nn as nn

from .cyclegan import PatchDiscriminator, ResnetGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .stylegan import StyleGANDiscriminator, StyleGANGenerator

FAMILIES = {
    "gan": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "cgan": (DCGANGenerator, DCGANDiscriminator),
    "cyclegan": (ResnetGenerator, PatchDiscriminator),  # G: A -> B and F: B -> A share kwargs["G"]
    "stylegan": (StyleGANGenerator, StyleGANDiscriminator),
}


def model_kwargs(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    """Constructor arguments {'G': {...}, 'D': {...}} for a TrainConfig and a data set's shape."""
    cond = num_classes if config.model == "cgan" else 0
    # only when on, so the kwargs of older runs and checkpoints stay as they were (resume compares them)
    pack = {"pack": config.pack} if getattr(config, "pack", 1) > 1 else {}
    if config.model == "gan":
        is_image = len(data_shape) == 3
        hidden = 4 * config.width
        # 2-D points: no BatchNorm in G (see MLPGenerator); only stated when off, as with pack
        no_bn = {} if is_image else {"batch_norm": False}
        mixture = ({"latent_mixture": config.latent_mixture} if getattr(config, "latent_mixture", 0) else {})
        return {"G": dict(latent_dim=config.latent_dim, out_shape=list(data_shape), hidden=hidden,
                          num_classes=0, tanh=is_image, **no_bn, **mixture),
                "D": dict(in_shape=list(data_shape), hidden=hidden, num_classes=0,
                          spectral_norm=config.spectral_norm,
                          minibatch_discrimination=config.minibatch_discrimination, **pack)}
    channels, size = data_shape[0], data_shape[-1]
    if config.model == "stylegan":
        return {"G": dict(latent_dim=config.latent_dim, image_size=size, channels=channels, width=config.width,
                          mapping_layers=config.mapping_layers, mapping_lr_mul=config.mapping_lr_mul,
                          style_mode=config.style_mode),
                "D": dict(image_size=size, channels=channels, width=config.width)}
    if config.model == "cyclegan":
        return {"G": dict(image_size=size, channels=channels, width=config.width, blocks=config.res_blocks),
                "D": dict(image_size=size, channels=channels, width=config.width, patch=config.patch)}
    return {"G": dict(latent_dim=config.latent_dim, image_size=size, channels=channels, width=config.width,
                      num_classes=cond),
            "D": dict(image_size=size, channels=channels, width=config.width, num_classes=cond,
                      norm="layer" if config.loss == "wgan-gp" else "batch",
                      spectral_norm=config.spectral_norm, minibatch_std=config.minibatch_std,
                      minibatch_discrimination=config.minibatch_discrimination, **pack)}


def build_generator(family: str, kwargs: dict) -> nn.Module:
    """G alone (what sampling needs), from model_kwargs()."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown model family {family!r}; known: {', '.join(FAMILIES)}.")
    g = dict(kwargs["G"])
    if "out_shape" in g:
        g["out_shape"] = tuple(g["out_shape"])
    return _build(FAMILIES[family][0], g)


def build_discriminator(family: str, kwargs: dict) -> nn.Module:
    """D alone, from model_kwargs()."""
    d = dict(kwargs["D"])
    if "in_shape" in d:
        d["in_shape"] = tuple(d["in_shape"])
    return _build(FAMILIES[family][1], d)


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
