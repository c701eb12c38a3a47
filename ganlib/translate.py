"""Using a trained CycleGAN: translate images A -> B ('a2b', with G) or B -> A ('b2a', with F), the
round trip and its error map, the identity mapping, a font gallery, and the translation-quality
evaluation (label preservation, FID on our features, a typeset-vs-handwriting judge, cycle errors).

CycleGAN is deterministic: one input gives one output. What the cycle loss buys is the round trip
F(G(a)) ~ a, so the page shows its error map rather than a spread of samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from .checkpoints import CheckpointError, load_checkpoint, saved_generator
from .data import IMAGE_EXTS, font_name, load_dataset, render_digit, render_typeset_digits, typeset_fonts, uint8_to_images
from .images import grid_image, to_mnist_digit
from .metrics.classifier import load_classifier
from .metrics.image import classify, compare_features, compute_reference

DIRECTIONS = ("a2b", "b2a")


@dataclass
class CycleGAN:
    """The two generators of a CycleGAN checkpoint (eval mode) and its metadata."""

    G: nn.Module      # A -> B
    F: nn.Module      # B -> A
    meta: dict

    @property
    def domains(self) -> tuple[str, str]:
        """(domain A's data set name, domain B's), e.g. ('typeset', 'mnist')."""
        return self.meta["dataset"]["name"], self.meta.get("dataset_b", {}).get("name", "B")

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["dataset"]["shape"])

    def forward_net(self, direction: str) -> nn.Module:
        check_direction(direction)
        return self.G if direction == "a2b" else self.F

    def backward_net(self, direction: str) -> nn.Module:
        check_direction(direction)
        return self.F if direction == "a2b" else self.G

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """(N, C, H, W) in [-1, 1] -> (N, C, H, W): G(x) for 'a2b', F(x) for 'b2a'."""
        net = self.forward_net(direction)
        return _run(net, x)

    @torch.no_grad()
    def round_trip(self, x: torch.Tensor, direction: str = "a2b") -> tuple[torch.Tensor, torch.Tensor]:
        """(translation, reconstruction): (G(x), F(G(x))) for 'a2b', (F(x), G(F(x))) for 'b2a'."""
        y = self.translate(x, direction)
        return y, _run(self.backward_net(direction), y)

    @torch.no_grad()
    def identity(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """What the identity loss trains: the 'a2b' generator G given a B image (x), or F given an A image."""
        return self.translate(x, direction)


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"Direction must be a2b or b2a, not {direction!r}.")


def _run(net: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    dev = next(net.parameters()).device
    return torch.cat([net(x[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)])


def load_cyclegan(path: str | Path, device="cpu", prefer_ema: bool = True) -> CycleGAN:
    """Both generators of a CycleGAN checkpoint or run directory (EMA weights when present).
    Raises CheckpointError with one sentence (also for a checkpoint of another family)."""
    ckpt = load_checkpoint(path)
    if ckpt["family"] != "cyclegan":
        raise CheckpointError(f"{path} holds a {ckpt['family']} model, not a CycleGAN; translation needs a "
                              "cyclegan checkpoint such as checkpoints/cyclegan_typeset_mnist.pt.")
    nets = []
    for name in ("G", "F"):
        net = saved_generator(ckpt, path)
        state = ckpt.get(f"{name}_ema") if prefer_ema and ckpt.get(f"{name}_ema") else ckpt[name]
        try:
            net.load_state_dict(state)
        except RuntimeError:
            raise CheckpointError(f"{path} does not match its own model description (damaged or edited).") from None
        nets.append(net.to(device).eval())
    meta = {k: v for k, v in ckpt.items()
            if k not in ("G", "F", "G_ema", "F_ema", "D_A", "D_B", "opt_g", "opt_d", "rng", "pool_a", "pool_b")}
    meta["ema"] = bool(prefer_ema and ckpt.get("G_ema"))
    return CycleGAN(nets[0], nets[1], meta)


def cycle_error_map(x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """|reconstruction - x| averaged over channels: (N, C, H, W) -> (N, H, W), in [0, 2]."""
    return (reconstruction - x).abs().mean(1)


# ---------------------------------------------------------------- inputs and outputs of the CLI

def load_images(path: str | Path) -> torch.Tensor:
    """What `translate --input` accepts, as (N, 1, 28, 28) in [-1, 1]:
    an image file (any common format and size, converted like MNIST: white on black, centred),
    a folder of image files, or a .npy array (N, 1, 28, 28) or (N, 28, 28) already in [-1, 1].
    Raises ValueError with one sentence."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist.")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise ValueError(f"{path} holds no images ({', '.join(IMAGE_EXTS)}).")
        out = []
        for p in files:
            try:
                out.append(to_mnist_digit(p))
            except ValueError as e:
                raise ValueError(f"{p.name}: {e}") from None
        return torch.stack(out)
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception:  # noqa: BLE001 - a damaged or non-numpy file
            raise ValueError(f"{path} is not a readable .npy array.") from None
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4 or arr.shape[1:] != (1, 28, 28) or len(arr) == 0 or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{path.name} must hold an (N, 1, 28, 28) or (N, 28, 28) number array, "
                             f"not {arr.dtype} {tuple(np.shape(arr))}.")
        x = torch.from_numpy(arr.astype(np.float32))
        if not torch.isfinite(x).all() or x.min() < -1.001 or x.max() > 1.001:
            raise ValueError(f"{path.name} must hold finite values in [-1, 1] (white digits on -1 background).")
        return x.clamp(-1, 1)
    return to_mnist_digit(path)[None]


def save_images(x: torch.Tensor, out: str | Path, nrow: int | None = None) -> None:
    """.npy: the (N, 1, 28, 28) array in [-1, 1]; any image suffix: a grid picture."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, x.float().numpy())
    else:
        grid_image(x, nrow=nrow).save(out)


# ---------------------------------------------------------------- the font gallery

def font_gallery(model: CycleGAN, size: int = 28) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits 0-9 typeset in every font, upright and centred, their translations to domain B and the
    round trips back.

    Returns (font names (K,), typeset, translated, round trip (each (K, 10, 1, S, S))); fonts held out
    of CycleGAN's training are named with ' (held out)'.
    """
    held = set(typeset_fonts("held_out"))
    fonts = typeset_fonts("all")
    u8 = torch.stack([render_digit(d, f, size=size) for f in fonts for d in range(10)])
    x = uint8_to_images(u8, model.image_shape[-1], model.image_shape[0])
    y, back = model.round_trip(x, "a2b")
    names = [font_name(f) + (" (held out)" if f in held else "") for f in fonts]
    return names, *(t.view(len(fonts), 10, *t.shape[1:]) for t in (x, y, back))


# ---------------------------------------------------------------- evaluation

class DomainJudge(nn.Module):
    """A small CNN that tells typeset (0) from handwritten (1) digits: (N, 1, 28, 28) -> (N,) logits; with
    outputs=10, a digit reader: (N, 1, 28, 28) -> (N, 10) logits."""

    def __init__(self, width: int = 16, outputs: int = 1):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * w * 16, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.squeeze(1) if out.shape[1] == 1 else out


def _fit(net: nn.Module, steps: int, batch, loss_fn) -> nn.Module:
    """Adam (lr 2e-3) on loss_fn(net(x), target) for `steps` batches (x, target) = batch(); net in eval mode."""
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(steps):
        x, target = batch()
        loss = loss_fn(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def train_domain_judge(typeset: torch.Tensor, handwritten: torch.Tensor, steps: int = 400,
                       seed: int = 0) -> DomainJudge:
    """Fit a DomainJudge on two sets of (N, 1, 28, 28) images (Adam, batch 64 of each, a few seconds)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    target = torch.cat([torch.zeros(64), torch.ones(64)])

    def batch():
        a = typeset[torch.randint(len(typeset), (64,), generator=g)]
        b = handwritten[torch.randint(len(handwritten), (64,), generator=g)]
        return torch.cat([a, b]), target

    return _fit(DomainJudge(), steps, batch, nn.functional.binary_cross_entropy_with_logits)


def train_digit_reader(x: torch.Tensor, y: torch.Tensor, steps: int = 600, seed: int = 0) -> DomainJudge:
    """A second digit reader, independent of the shipped MNIST classifier: DomainJudge's CNN with ten outputs,
    fitted on (N, 1, 28, 28) digits and their labels (Adam, batch 128, shifted by up to 2 px; a few seconds).
    evaluate_cyclegan reads the translations with it too, so that a model trained to please the shipped
    classifier (the semantic loss) cannot pass the label bar on that classifier's quirks alone."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)

    def batch():
        i = torch.randint(len(x), (128,), generator=g)
        dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
        return torch.roll(x[i], shifts=(dy, dx), dims=(2, 3)), y[i]

    return _fit(DomainJudge(outputs=10), steps, batch, nn.functional.cross_entropy)


@torch.no_grad()
def _read(reader: DomainJudge, x: torch.Tensor) -> torch.Tensor:
    return reader(x).argmax(1)


@torch.no_grad()
def _handwritten_frac(judge: DomainJudge, x: torch.Tensor) -> float:
    return float((judge(x) > 0).float().mean())


def evaluate_cyclegan(model: CycleGAN, n: int = 2000, seed: int = 0, mnist_test_dir: str | Path = "") -> dict:
    """Translation quality of a typeset <-> MNIST CycleGAN, measured with our MNIST classifier.

    - label_a2b: share of G(typeset digit) that the classifier reads as the typed digit, on n digits
      in the fonts held out of training (data.HELD_OUT_FONTS), each in its font's plain weight;
      label_typeset_direct: the classifier on those typeset digits themselves, for comparison;
    - label_b2a: share of F(handwritten digit) read as the handwritten label, on n MNIST digits: from
      mnist_test_dir (a folder of the official t10k idx files: digits the model never trained on;
      handwriting_unseen True) or else the bundled 5k subset, which CycleGAN saw without labels in training;
    - fid_a2b: FID of G(typeset) against real MNIST on the classifier's features; fid_typeset: the
      typeset digits themselves against MNIST (what translation starts from); fid_real_floor: real
      MNIST vs real MNIST with the same n;
    - second_reader_a2b, second_reader_b2a, second_reader_typeset, second_reader_mnist: label shares read by a
      second, independent digit CNN (train_digit_reader, fitted here on the bundled MNIST digits) in G(typeset),
      F(handwriting), the typeset digits and the handwritten ones themselves;
    - judge_handwritten_a2b: share of G(typeset) a small typeset-vs-handwriting CNN (trained here on
      the training fonts vs MNIST) calls handwritten; judge_accuracy: its accuracy on held-out fonts
      vs MNIST, judge_typeset_b2a: share of F(handwritten) it calls typeset;
    - cycle_a, cycle_b: mean |F(G(a)) - a| and |G(F(b)) - b| per pixel on the [-1, 1] scale;
      identity_b: mean |G(b) - b|.
    """
    a_name, b_name = model.domains
    if (a_name, b_name) != ("typeset", "mnist") or model.image_shape[0] != 1:
        raise ValueError(f"The translation evaluation measures typeset <-> MNIST digit models; this one maps "
                         f"{a_name} <-> {b_name}.")
    size = model.image_shape[-1]
    u8, y_a = render_typeset_digits(n, seed=10_000 + seed, fonts="held_out", plain=True)
    x_a = uint8_to_images(u8, size, 1)
    mnist = load_dataset("mnist", image_size=size)
    perm = torch.randperm(len(mnist), generator=torch.Generator().manual_seed(seed))
    x_b, y_b = mnist.x[perm[:n]], mnist.y[perm[:n]]
    floor_real = mnist.x[perm[n:2 * n]] if 2 * n <= len(mnist) else None
    if mnist_test_dir:   # handwriting the model never saw (the judge below learns from the bundled digits)
        unseen = load_dataset("mnist", data_dir=str(mnist_test_dir), image_size=size, subset=n, seed=seed)
        x_b, y_b = unseen.x, unseen.y

    ga, fga = model.round_trip(x_a, "a2b")
    fb, gfb = model.round_trip(x_b, "b2a")
    idt_b = model.identity(x_b, "a2b")

    classifier = load_classifier()
    f_ga, p_ga = classify(classifier, ga)
    f_a, p_a = classify(classifier, x_a)
    _, p_fb = classify(classifier, fb)
    ref = compute_reference(classifier, mnist.x, name="mnist")

    u8_train, _ = render_typeset_digits(4000, seed=20_000 + seed, fonts="train")
    prep = classifier.prepare  # (N, 1, 28, 28) for the judge too (32 px is centre-cropped)
    judge = train_domain_judge(prep(uint8_to_images(u8_train, size, 1)), prep(mnist.x), seed=seed)
    judge_acc = 0.5 * ((1 - _handwritten_frac(judge, prep(x_a))) + _handwritten_frac(judge, prep(x_b)))
    reader = train_digit_reader(prep(mnist.x), mnist.y, seed=seed)

    out = {
        "n": n,
        "handwriting_unseen": bool(mnist_test_dir),
        "label_a2b": float((p_ga.argmax(1) == y_a).float().mean()),
        "label_typeset_direct": float((p_a.argmax(1) == y_a).float().mean()),
        "label_b2a": float((p_fb.argmax(1) == y_b).float().mean()),
        "fid_a2b": compare_features(f_ga, ref, seed=seed)["fid"],
        "fid_typeset": compare_features(f_a, ref, seed=seed)["fid"],
        "second_reader_a2b": float((_read(reader, prep(ga)) == y_a).float().mean()),
        "second_reader_b2a": float((_read(reader, prep(fb)) == y_b).float().mean()),
        "second_reader_typeset": float((_read(reader, prep(x_a)) == y_a).float().mean()),
        "second_reader_mnist": float((_read(reader, prep(x_b)) == y_b).float().mean()),
        "judge_handwritten_a2b": _handwritten_frac(judge, prep(ga)),
        "judge_typeset_b2a": 1.0 - _handwritten_frac(judge, prep(fb)),
        "judge_accuracy": judge_acc,
        "cycle_a": float((fga - x_a).abs().mean()),
        "cycle_b": float((gfb - x_b).abs().mean()),
        "identity_b": float((idt_b - x_b).abs().mean()),
    }
    if floor_real is not None:
        f_floor, _ = classify(classifier, floor_real)
        out["fid_real_floor"] = compare_features(f_floor, compute_reference(classifier, x_b, name="half"),
                                                 seed=seed)["fid"]
    return out


# ---------------------------------------------------------------- what the Translate page shows

def N_(text: str) -> str:
    """Marks a text for the app's catalogue (babel.cfg); the app translates it where it is shown."""
    return text


DOMAIN_WORDS = {"typeset": N_("typeset"), "mnist": N_("handwriting"), "fashion-mnist": N_("clothing"),
                "folder": N_("your images")}


def domain_word(name: str) -> str:
    """A data set's name as a domain: 'mnist' -> 'handwriting'."""
    return DOMAIN_WORDS.get(name, name)


def domain_batch(name: str, n: int = 10, seed: int = 0, size: int = 28) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n example images (n, 1, S, S) of a built-in domain and their labels: typeset digits in the fonts held
    out of training, or MNIST digits. ValueError (one sentence) for other domains."""
    if name == "typeset":
        u8, y = render_typeset_digits(n, seed=30_000 + seed, fonts="held_out")
        return uint8_to_images(u8, size, 1), y
    if name in ("mnist", "fashion-mnist"):
        data = load_dataset(name, image_size=size)
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        return data.x[idx], data.y[idx]
    raise ValueError(f"Examples of the {name} domain are not built in; upload or draw an image instead.")


def error_map_image(err: torch.Tensor, scale: int = 10):
    """A cycle-error map (H, W) in [0, 2] as a PIL heat-map image (inferno; black = no error, yellow = 2)."""
    from matplotlib import colormaps   # lazy: only the Translate page draws error maps (~0.1 s to import)

    rgb = colormaps["inferno"]((err.clamp(0, 2) / 2).numpy())[..., :3]
    img = Image.fromarray((rgb * 255).astype(np.uint8))
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)
