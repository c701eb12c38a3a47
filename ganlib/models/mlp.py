"""The seeds' fully connected GAN: for 2-D toy mixtures and for flattened MNIST."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .layers import MinibatchDiscrimination, MixtureLatent, init_weights, sn


class MLPGenerator(nn.Module):
    """z (N, latent_dim) [+ labels (N,)] -> (N, *out_shape); Tanh output for images only.

    batch_norm=False drops the two BatchNorm layers: for 2-D points their batch statistics jitter
    every point by a few % of its range, wider than a grid mode (std 0.05 at +-4): at 10k steps the
    vanilla grid GAN (ganlib.arena recipe, seed 0) reached 21% high-quality samples with them, 51% without.
    latent_mixture=K feeds the layers DeLiGAN's mixture of K learned Gaussians instead of z (MixtureLatent).
    """

    def __init__(self, latent_dim: int = 100, out_shape: tuple[int, ...] = (2,), hidden: int = 256,
                 num_classes: int = 0, tanh: bool = True, batch_norm: bool = True, latent_mixture: int = 0):
        super().__init__()
        self.latent_dim, self.out_shape, self.num_classes = latent_dim, tuple(out_shape), num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        norm = (lambda: nn.BatchNorm1d(hidden)) if batch_norm else nn.Identity
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, hidden), nn.ReLU(True),
            nn.Linear(hidden, hidden), norm(), nn.ReLU(True),
            nn.Linear(hidden, hidden), norm(), nn.ReLU(True),
            nn.Linear(hidden, math.prod(self.out_shape)),
            nn.Tanh() if tanh else nn.Identity(),
        )
        init_weights(self)
        # made last, so a seed gives the layers the same weights with or without it
        self.mixture = MixtureLatent(latent_dim, latent_mixture) if latent_mixture else None

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.mixture is not None:
            z = self.mixture(z)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    """(N, *in_shape) [+ labels] -> (N,) logits; with pack = m, (N, *in_shape) -> (N / m,): PacGAN
    (Lin et al. 2018) judges m samples at once, concatenated into one input m times as wide."""

    def __init__(self, in_shape: tuple[int, ...] = (2,), hidden: int = 256, num_classes: int = 0,
                 spectral_norm: bool = False, minibatch_discrimination: bool = False, pack: int = 1):
        super().__init__()
        if pack > 1 and num_classes:
            raise ValueError("PacGAN packing is for unconditional discriminators.")
        self.num_classes, self.pack = num_classes, pack
        n_in = math.prod(in_shape) * pack
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        self.body = nn.Sequential(
            sn(nn.Linear(n_in + num_classes, hidden), spectral_norm), nn.LeakyReLU(0.2, True),
            sn(nn.Linear(hidden, hidden), spectral_norm), nn.LeakyReLU(0.2, True),
        )
        self.mbd = MinibatchDiscrimination(hidden) if minibatch_discrimination else None
        self.head = sn(nn.Linear(hidden + (self.mbd.n_kernels if self.mbd else 0), 1), spectral_norm)
        init_weights(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None,
                mbd_reference: torch.Tensor | None = None) -> torch.Tensor:
        """mbd_reference (M, *in_shape), unconditional only: minibatch discrimination compares each
        input with these samples instead of with the rest of x (D's output over a grid of points)."""
        h = x.reshape(x.shape[0] // self.pack, -1)  # (N / pack, pack * prod(in_shape)), packs of consecutive rows
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], dim=1)
        h = self.body(h)
        if self.mbd is not None:
            ref = None
            if mbd_reference is not None:
                ref = self.body(mbd_reference.reshape(mbd_reference.shape[0] // self.pack, -1))
            h = self.mbd(h, ref)
        return self.head(h).squeeze(1)
