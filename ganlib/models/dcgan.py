"""DCGAN (Radford et al. 2016) for 28x28, 32x32, 64x64 or 128x128 images; with num_classes > 0 it is
the conditional GAN (Mirza & Osindero 2014): the label embedding joins z in G and joins the image
as an extra input channel in D. One module, not a copy.

64x64 is the paper's architecture (pytorch/examples dcgan: G 8w -> 4w -> 2w -> w -> C from 4x4, D the
mirror image); each doubling of the image adds one up-block to G and one down-block to D, with twice
the channels at 4x4 (28 and 32 px have three up-blocks, 4w at 4x4)."""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import MinibatchDiscrimination, MinibatchStd, init_weights, norm2d, sn


IMAGE_SIZES = (28, 32, 64, 128)


def _doublings(image_size: int) -> int:
    """Extra blocks beyond the 32 px nets: 0 for 28/32, 1 for 64, 2 for 128."""
    return {28: 0, 32: 0, 64: 1, 128: 2}[image_size]


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) [+ labels (N,)] -> images (N, channels, S, S) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, image_size: int = 28, channels: int = 1, width: int = 64,
                 num_classes: int = 0, embed_dim: int = 16):
        super().__init__()
        assert image_size in IMAGE_SIZES, image_size
        self.latent_dim, self.image_size, self.channels, self.num_classes = latent_dim, image_size, channels, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        n_in = latent_dim + (embed_dim if num_classes else 0)
        w = width

        k = 3 if image_size == 28 else 4  # the 4 -> 7 step of 28x28 images takes a 3x3 kernel

        def up(cin, cout, kernel=4):  # doubles H and W (4 -> 7 with kernel 3)
            return [nn.ConvTranspose2d(cin, cout, kernel, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        # (N, n_in, 1, 1) -> (N, 4w, 4, 4) -> (N, 2w, 7|8, 7|8) -> (N, w, 14|16, ...) -> (N, C, 28|32, ...);
        # 64 px: (N, 8w, 4, 4) -> (N, 4w, 8, 8) -> ... -> (N, C, 64, 64); 128 px: one more from (N, 16w, 4, 4)
        extra = _doublings(image_size)
        top = 4 * w * 2 ** extra
        layers = [nn.ConvTranspose2d(n_in, top, 4, 1, 0, bias=False), nn.BatchNorm2d(top), nn.ReLU(True)]
        for i in range(extra, 0, -1):
            layers += up(4 * w * 2 ** i, 4 * w * 2 ** (i - 1))
        layers += [*up(4 * w, 2 * w, k), *up(2 * w, w), nn.ConvTranspose2d(w, channels, 4, 2, 1)]
        self.net = nn.Sequential(*layers, nn.Tanh())
        init_weights(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """images (N, channels, S, S) [+ labels (N,)] -> (N,) logits (or critic values); with pack = m
    (PacGAN), -> (N / m,): each m consecutive images are stacked as one input of m * channels."""

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 64, num_classes: int = 0,
                 norm: str = "batch", spectral_norm: bool = False, minibatch_std: bool = False,
                 minibatch_discrimination: bool = False, pack: int = 1):
        super().__init__()
        assert image_size in IMAGE_SIZES, image_size
        if pack > 1 and num_classes:
            raise ValueError("PacGAN packing is for unconditional discriminators.")
        self.image_size, self.num_classes, self.pack = image_size, num_classes, pack
        # the label becomes one extra input plane, learned per class
        self.embed = nn.Embedding(num_classes, image_size * image_size) if num_classes else None
        cin = channels * pack + (1 if num_classes else 0)
        w = width
        k = 3 if image_size == 28 else 4  # 7 -> 4 for 28x28 images
        # (N, C, 28|32, ...) -> (N, w, 14|16, ...) -> (N, 2w, 7|8, ...) -> (N, 4w, 4, 4)
        layers = [sn(nn.Conv2d(cin, w, 4, 2, 1), spectral_norm), nn.LeakyReLU(0.2, True),
                  sn(nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), spectral_norm), norm2d(norm, 2 * w),
                  nn.LeakyReLU(0.2, True),
                  sn(nn.Conv2d(2 * w, 4 * w, k, 2, 1, bias=False), spectral_norm), norm2d(norm, 4 * w),
                  nn.LeakyReLU(0.2, True)]
        cout, side = 4 * w, 4
        for _ in range(_doublings(image_size)):  # 64 px: (N, 4w, 8, 8) -> (N, 8w, 4, 4); 128 px: once more
            layers += [sn(nn.Conv2d(cout, 2 * cout, 4, 2, 1, bias=False), spectral_norm), norm2d(norm, 2 * cout),
                       nn.LeakyReLU(0.2, True)]
            cout *= 2
        if minibatch_std:
            layers.append(MinibatchStd())
            cout += 1
        self.body = nn.Sequential(*layers)
        n_feat = cout * side * side
        self.mbd = MinibatchDiscrimination(n_feat) if minibatch_discrimination else None
        # a linear head over the whole feature map is the DCGAN paper's final full-size conv
        self.head = sn(nn.Linear(n_feat + (self.mbd.n_kernels if self.mbd else 0), 1), spectral_norm)
        init_weights(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            plane = self.embed(y).view(-1, 1, self.image_size, self.image_size).to(x.dtype)
            x = torch.cat([x, plane], dim=1)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1, *x.shape[2:])  # (N / m, m * C, S, S)
        h = self.body(x).flatten(1)
        if self.mbd is not None:
            h = self.mbd(h)
        return self.head(h).squeeze(1)
