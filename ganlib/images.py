"""Turning generator outputs into pictures (PNG bytes): image grids and 2-D point scatters."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .files import atomic_write_bytes


def grid_image(x: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """(N, C, H, W) in [-1, 1] -> one PIL image, nrow images per row (default: a square)."""
    from torchvision.utils import make_grid   # lazy: torchvision pulls torch._dynamo, ~2-3 s on every CLI start

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


# ---------------------------------------------------------------- uploads and drawings -> MNIST digits

MAX_UPLOAD_BYTES = 20_000_000      # larger files are refused before decoding
MAX_UPLOAD_PIXELS = 40_000_000     # and so are images with more pixels than a 40-megapixel photo


def _ink_array(img: Image.Image) -> "np.ndarray":
    """Any PIL image -> float (H, W) ink in [0, 1], white strokes on black, whatever the input's polarity.

    Transparency counts: strokes on a transparent background are laid on the colour that contrasts with them.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.asarray(img, dtype=np.float64)
        alpha = None
    else:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
        grey = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
        alpha = rgba[..., 3]
        if alpha.min() < 1.0 and alpha.max() > 0.0:
            opaque = alpha > 0.5
            stroke = grey[opaque].mean() if opaque.any() else 0.0
            background = 1.0 if stroke < 0.5 else 0.0   # dark strokes go on white, light ones on black
            grey = alpha * grey + (1 - alpha) * background
    lo, hi = float(grey.min()), float(grey.max())
    if hi - lo < 1e-6 * max(abs(hi), 1.0):
        raise ValueError("The image is blank: draw or upload a digit.")
    grey = (grey - lo) / (hi - lo)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:   # black on white (paper, most drawings): MNIST is white on black
        grey = 1.0 - grey
        border = 1.0 - border
    return np.clip((grey - np.median(border)) / max(1.0 - np.median(border), 1e-6), 0.0, 1.0)


def to_mnist_digit(data: "bytes | str | Path | Image.Image | np.ndarray | torch.Tensor") -> torch.Tensor:
    """An uploaded file's bytes, a path, a PIL image or an array -> (1, 28, 28) in [-1, 1], white on black.

    Like MNIST's own preparation: the digit's bounding box is scaled to fit 20x20 (aspect kept) and
    placed in the 28x28 frame so that its centre of mass is at the centre. Any common format, mode
    (RGBA, palette, 16-bit) and size; black-on-white is inverted. Raises ValueError with one sentence
    for non-images, files over 20 MB or 40 megapixels, and blank images.
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise ValueError(f"{path} does not exist.")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise ValueError(f"{path.name} is too large ({path.stat().st_size / 1e6:.0f} MB; the limit is "
                             f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB).")
        data = path.read_bytes()
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValueError(f"The file is too large ({len(data) / 1e6:.0f} MB; the limit is "
                             f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB).")
        if not data:
            raise ValueError("The file is empty, not an image.")
        try:
            img = Image.open(io.BytesIO(bytes(data)))
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise ValueError(f"The image is too large ({img.width}x{img.height} pixels; the limit is "
                                 f"{MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels).")
            img.seek(0)   # the first frame of an animation
            img.load()
        except ValueError:
            raise
        except Exception:  # noqa: BLE001 - PIL raises many kinds for a file that is not an image
            raise ValueError("The file is not an image PIL can read (try PNG, JPEG, GIF, BMP, TIFF or WebP).") from None
    elif isinstance(data, Image.Image):
        img = data
    else:
        arr = data.detach().cpu().float().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        arr = np.squeeze(arr)
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
            arr = np.moveaxis(arr, 0, -1)   # (C, H, W) -> (H, W, C)
        if arr.ndim == 3:
            arr = arr[..., :3].mean(-1)
        if arr.ndim != 2 or min(arr.shape) < 1:
            raise ValueError(f"An image array must be (H, W) or (H, W, C), not {tuple(np.shape(data))}.")
        if not np.isfinite(arr).all():
            raise ValueError("The image array holds values that are not finite numbers (NaN or infinity).")
        img = Image.fromarray(arr.astype(np.float32), mode="F")
    if img.width * img.height > MAX_UPLOAD_PIXELS:
        raise ValueError(f"The image is too large ({img.width}x{img.height} pixels; the limit is "
                         f"{MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels).")
    if max(img.size) > 1024:   # speed: a photo's detail is lost at 20x20 anyway
        img = img.copy()
        img.thumbnail((1024, 1024), Image.BOX if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") else Image.LANCZOS)
    return torch.from_numpy(frame_ink(_ink_array(img)))[None] * 2.0 - 1.0


def frame_ink(ink: "np.ndarray") -> "np.ndarray":
    """Ink (H, W) in [0, 1], white on black -> float32 (28, 28) in [0, 1], framed as MNIST frames its
    digits: the bounding box of the ink (> 0.1) scaled to fit 20x20, aspect kept, and placed so that its
    centre of mass is at the centre. Raises ValueError for a blank image."""
    rows, cols = np.nonzero(ink > 0.1)
    if len(rows) == 0:
        raise ValueError("The image is blank: draw or upload a digit.")
    box = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = box.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(box.astype(np.float32), mode="F").resize((new_w, new_h), Image.LANCZOS
                                                                                if scale < 1 else Image.BILINEAR))
    small = np.clip(small, 0.0, 1.0)
    if small.max() <= 0:
        raise ValueError("The image is blank: draw or upload a digit.")
    small = small / small.max()
    ys, xs = np.mgrid[0:new_h, 0:new_w]
    mass = small.sum()
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    top, left = int(round(13.5 - cy)), int(round(13.5 - cx))
    top, left = min(max(top, 0), 28 - new_h), min(max(left, 0), 28 - new_w)
    out = np.zeros((28, 28), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = small
    return out


def gif_bytes(frames: torch.Tensor, scale: int = 4, duration_ms: int = 80, bounce: bool = True) -> bytes:
    """Frames (N, C, H, W) in [-1, 1] -> an animated GIF that loops (forth and back when bounce)."""
    images = [grid_image(f[None], padding=0) for f in frames]
    images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST).convert("P") for im in images]
    if bounce and len(images) > 2:
        images = images + images[-2:0:-1]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()
