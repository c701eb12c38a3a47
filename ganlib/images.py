"""Turning generator outputs into pictures (PNG bytes): image grids and 2-D point scatters."""
from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from .train.rundir import atomic_write_bytes


def grid_image(x: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """(N, C, H, W) in [-1, 1] -> one PIL image, nrow images per row (default: a square)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(x.shape[0])))
    grid = make_grid(x.detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5, nrow=nrow, padding=padding, pad_value=0.3)
    arr = grid.mul(255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 or (arr[:, :, 0] == arr[:, :, 1]).all() else arr)


def points_image(points: torch.Tensor, modes: torch.Tensor | None = None, size: int = 320,
                 limit: float | None = None) -> Image.Image:
    """A scatter of 2-D points (N, 2) on a white square; mode centres as red crosses."""
    pts = points.detach().float().cpu()
    if limit is None:
        ref = modes if modes is not None else pts
        limit = float(ref.abs().max()) * 1.5 + 1e-6 if len(ref) else 1.0
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def to_px(p):
        return ((p[0] / limit + 1) * 0.5 * (size - 1), (1 - (p[1] / limit + 1) * 0.5) * (size - 1))

    mid = (size - 1) / 2
    draw.line([(0, mid), (size, mid)], fill=(230, 230, 230))
    draw.line([(mid, 0), (mid, size)], fill=(230, 230, 230))
    for p in pts.tolist():
        x, y = to_px(p)
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(31, 119, 180))
    if modes is not None:
        for m in modes.tolist():
            x, y = to_px(m)
            draw.line([(x - 4, y - 4), (x + 4, y + 4)], fill=(214, 39, 40), width=2)
            draw.line([(x - 4, y + 4), (x + 4, y - 4)], fill=(214, 39, 40), width=2)
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_samples(x: torch.Tensor, path: str | Path, modes: torch.Tensor | None = None, nrow: int | None = None) -> None:
    """Atomically write images (N, C, H, W) as a grid, or points (N, 2) as a scatter, to a PNG."""
    img = points_image(x, modes) if x.dim() == 2 else grid_image(x, nrow)
    atomic_write_bytes(path, png_bytes(img))
