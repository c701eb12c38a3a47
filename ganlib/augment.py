"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

With little data (our offline MNIST is 5,000 images) D memorises the real set and its feedback to G
gets worse as training goes on. DiffAugment shows D only augmented images, real and fake alike, and
the augmentations are differentiable, so G learns through them. Because both sides are augmented the
same way, G is not pushed to generate augmented-looking images (Zhao et al. 2020, sec. 3).

    x_aug = diff_augment(x, ("translation", "cutout"))   # (N, C, H, W) in [-1, 1] -> same shape

Policy names are parsed (and listed) by ganlib.config.parse_augment, so the config stays torch-free.

Empty regions are filled with -1, the background of our digits, not with 0 (mid grey).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BACKGROUND = -1.0


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in x and y (integers), background fill."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    # index of the source pixel for every output pixel, into a padded copy of the image
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy + sh).expand(n, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx + sw).expand(n, h, w)
    padded = F.pad(x, (sw, sw, sh, sh), value=BACKGROUND)                     # (N, C, H+2sh, W+2sw)
    flat = (rows * (w + 2 * sw) + cols).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, flat).view_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Blank one square of ratio * size per image at a random place (it may hang over the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(-(ch // 2), h - ch // 2 + 1, (n, 1, 1), device=x.device)
    left = torch.randint(-(cw // 2), w - cw // 2 + 1, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)   # (N, H, W)
    return x.masked_fill(inside.unsqueeze(1), BACKGROUND)


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2, RGB only) and contrast (x0.5..1.5), per image."""
    def factor(low: float, high: float) -> torch.Tensor:
        return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * (high - low) + low

    x = x + factor(-0.5, 0.5)
    if x.shape[1] == 3:
        grey = x.mean(dim=1, keepdim=True)
        x = (x - grey) * factor(0.0, 2.0) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor(0.5, 1.5) + mean


_FUNCTIONS = {"translation": translate, "cutout": cutout, "color": color}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """Apply each augmentation of `policy` in order, fresh random parameters per image. (N, C, H, W)."""
    for name in policy:
        x = _FUNCTIONS[name](x)
    return x
