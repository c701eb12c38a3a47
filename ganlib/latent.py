"""Exploring a trained generator's latent space: interpolation, directions, truncation, inversion.

Everything works in a named latent *space*: "z" (the Gaussian input of every family) or StyleGAN's "w"
(the mapping network's output, broadcast to every layer; the tracked mean w is truncation's centre).
`sample_latents`, `synthesize`, `mean_latent`, `latent_reading_weight` and `_early_activations` (PCA of
w itself) hold the w branches; every function above them works unchanged. Per-layer ws: ganlib.style.

Directions (each a unit vector in the space, rows of `Directions.vectors`):
- "sefa":  closed form from the first layer's weights A that read the latent (Shen & Zhou 2021):
           top eigenvectors of A^T A; no sampling, instant for any checkpoint;
- "pca":   GANSpace (Harkonen et al. 2020): PCA of early activations over many samples, each
           component carried back to the latent by least squares, then orthonormalised in order;
- "attribute": InterFaceGAN (Shen et al. 2020): sample, measure (ink, slant, width from the image,
           "more like a k" from our MNIST classifier), fit a linear boundary; its unit normal;
- "raw":   the latent's own coordinates.
Directions are cached per checkpoint in memory and on disk (keyed by the file's sha256): next to a
run's checkpoint (`<run>/latent/`), under the GAN Studio cache for shipped models.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .paths import CHECKPOINTS_DIR, cache_root

SPACES = ("z", "w")        # w: StyleGAN only
DIRECTION_KINDS = ("sefa", "pca", "attribute", "raw")
KIND_TITLES = {"sefa": "closed-form (SeFa)", "pca": "PCA (GANSpace)", "attribute": "attribute (InterFaceGAN)",
               "raw": "raw z dimension"}
ATTRIBUTES = ("thickness", "slant", "width")
CACHE_VERSION = 1


def _check_space(space: str, G: nn.Module | None = None) -> None:
    if space not in SPACES:
        raise ValueError(f"Unknown latent space {space!r}; this model is steered in {', '.join(SPACES)}.")
    if space == "w" and G is not None and not _is_stylegan(G):
        raise ValueError("Only StyleGAN models have a w space; steer this model in z.")


def _is_stylegan(G: nn.Module) -> bool:
    return hasattr(G, "mapping") and hasattr(G, "synthesis")


def _device(G: nn.Module) -> torch.device:
    return next(G.parameters()).device


def num_classes(G: nn.Module) -> int:
    return int(getattr(G, "num_classes", 0) or 0)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block on n intra-op threads (None: leave as is), then restore the process's setting.

    Small batches (one image, 8 inversion restarts) run fastest on one thread: measured on 2 shared,
    busy cores, an inversion took 2 s on one thread and 11-38 s on two (the threads wait on each other).
    """
    if n is None or n == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- latents and images

def latent_dim(G: nn.Module, space: str = "z") -> int:
    _check_space(space)
    return int(G.latent_dim)


def sample_latents(G: nn.Module, n: int, seed: int, space: str = "z") -> torch.Tensor:
    """(n, D) latents for a seed, on the CPU; z of seed s is what `python -m ganlib sample --seed s` uses;
    w of seed s is that z through StyleGAN's mapping network."""
    _check_space(space, G)
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, latent_dim(G, space), generator=g)
    if space == "w":
        with torch.no_grad():
            return G.mapping(z.to(_device(G))).float().cpu()
    return z


def mean_latent(G: nn.Module, space: str = "z") -> torch.Tensor:
    """(D,) the centre that truncation pulls toward: 0 for Gaussian z, the tracked mean w for StyleGAN's w."""
    _check_space(space, G)
    if space == "w":
        return G.w_avg.detach().float().cpu().clone()
    return torch.zeros(latent_dim(G, space))


def _labels(G: nn.Module, labels, n: int) -> torch.Tensor | None:
    if not num_classes(G):
        return None
    if labels is None:
        raise ValueError("This is a conditional model: give a class for each image.")
    y = torch.as_tensor(labels, dtype=torch.long).view(-1)
    y = y.expand(n) if len(y) == 1 else y
    if ((y < 0) | (y >= num_classes(G))).any():
        raise ValueError(f"The class must be between 0 and {num_classes(G) - 1}.")
    return y


def synthesize(G: nn.Module, latents: torch.Tensor, labels=None, space: str = "z",
               class_embedding: torch.Tensor | None = None) -> torch.Tensor:
    """latents (N, D) [+ labels (N,) or one label] -> images (N, C, H, W) in [-1, 1], on G's device.

    Differentiable (wrap in torch.no_grad() to render). `class_embedding` (N, E) replaces the label
    embedding of a conditional model: what interpolating between two classes blends.
    """
    _check_space(space, G)
    z = latents.to(_device(G))
    if space == "w":   # w (N, D) for every layer, or per-layer ws (N, num_ws, D); the fixed noise
        ws = z if z.dim() == 3 else G.broadcast(z)
        return G.crop(G.synthesis(ws, noise_mode="const"))
    if class_embedding is not None:
        h = torch.cat([z, class_embedding.to(z)], 1)
        out = G.net(h[:, :, None, None] if hasattr(G, "image_size") else h)
        return out.view(len(z), *G.out_shape) if hasattr(G, "out_shape") else out
    y = _labels(G, labels, len(z))
    return G(z, y.to(z.device) if y is not None else None)


@torch.no_grad()
def render(G: nn.Module, latents: torch.Tensor, labels=None, space: str = "z", batch_size: int = 256) -> torch.Tensor:
    """Like synthesize, without gradients, in batches; float images on the CPU."""
    out = []
    y = _labels(G, labels, len(latents))
    for i in range(0, len(latents), batch_size):
        yb = y[i:i + batch_size] if y is not None else None
        out.append(synthesize(G, latents[i:i + batch_size], yb, space).float().cpu())
    return torch.cat(out)


def truncate(latents: torch.Tensor, mean: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: mean + psi (latent - mean); psi = 0 gives the mean, psi = 1 changes nothing."""
    if not 0.0 <= psi <= 1.5:
        raise ValueError("Truncation psi must be between 0 and 1.5.")
    return mean + psi * (latents - mean)


# ---------------------------------------------------------------- interpolation

def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """(D,), (D,), t (T,) -> (T, D) on the straight line (t = 0 gives a, t = 1 gives b)."""
    t = torch.as_tensor(t, dtype=a.dtype).view(-1, 1)
    return (1 - t) * a[None] + t * b[None]   # this form gives a and b exactly at t = 0 and 1


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation (T, D): along the great circle, with the norm going linearly from |a| to |b|
    (so two latents of equal norm keep it, where lerp would cut through the low-density centre)."""
    t = torch.as_tensor(t, dtype=a.dtype).view(-1, 1)
    na, nb = a.norm(), b.norm()
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    omega = torch.arccos((ua * ub).sum().clamp(-1.0, 1.0))
    if float(omega) < 1e-6:
        return lerp(a, b, t)
    so = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) / so) * ua[None] + (torch.sin(t * omega) / so) * ub[None]
    out = direction * ((1 - t) * na + t * nb)
    out[t.view(-1) == 0] = a
    out[t.view(-1) == 1] = b
    return out


@torch.no_grad()
def interpolate(G: nn.Module, a: torch.Tensor, b: torch.Tensor, frames: int = 16, spherical: bool = True,
                label_a: int | None = None, label_b: int | None = None, space: str = "z") -> torch.Tensor:
    """Images (frames, C, H, W) from latent a to latent b (slerp or lerp). For a conditional model,
    label_a -> label_b blends the two class embeddings (pass a == b to keep the noise fixed)."""
    if frames < 2:
        raise ValueError("An interpolation needs at least 2 frames.")
    t = torch.linspace(0, 1, frames)
    path = slerp(a, b, t) if spherical else lerp(a, b, t)
    if not num_classes(G):
        return render(G, path, space=space)
    label_b = label_a if label_b is None else label_b
    ya, yb = _labels(G, [label_a], 1), _labels(G, [label_b], 1)
    dev = _device(G)
    emb = lerp(G.embed(ya.to(dev))[0].cpu(), G.embed(yb.to(dev))[0].cpu(), t)
    return synthesize(G, path, space=space, class_embedding=emb).float().cpu()


# ---------------------------------------------------------------- directions

@dataclass
class Directions:
    """Unit directions (K, D) in a latent space, best first, with what each one scores."""

    kind: str                     # "sefa" | "pca" | "attribute" | "raw"
    space: str
    vectors: torch.Tensor         # (K, D), rows of unit norm
    names: list[str]
    scores: list[float]           # sefa: share of the eigenvalue sum; pca: explained variance; attribute: accuracy
    score_name: str
    seconds: float = 0.0          # time it took to find them
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "space": self.space, "vectors": self.vectors.float().contiguous(),
                "names": list(self.names), "scores": [float(s) for s in self.scores], "score_name": self.score_name,
                "seconds": float(self.seconds), "info": dict(self.info)}

    @classmethod
    def from_dict(cls, d: dict) -> "Directions":
        return cls(d["kind"], d["space"], d["vectors"], list(d["names"]), list(d["scores"]), d["score_name"],
                   d.get("seconds", 0.0), dict(d.get("info", {})))


def latent_reading_weight(G: nn.Module, space: str = "z") -> torch.Tensor:
    """A (out_features, D): the first layer's weights applied to the latent (label inputs left out).
    StyleGAN: in z the mapping network's first layer; in w every styled layer's affine (w -> style), stacked."""
    _check_space(space, G)
    if _is_stylegan(G):
        if space == "w":
            from .style import _style_affine

            return torch.cat([_style_affine(G, i).effective_weight().detach() for i in range(G.num_ws)]).float().cpu()
        return G.mapping.fcs[0].effective_weight().detach().float().cpu()
    first = G.net[0]
    d = latent_dim(G, space)
    if isinstance(first, nn.ConvTranspose2d):   # weight (in, out, k, k) on a 1x1 input: a linear map
        return first.weight.detach()[:d].reshape(d, -1).T.float().cpu()
    if isinstance(first, nn.Linear):            # weight (out, in)
        return first.weight.detach()[:, :d].float().cpu()
    raise ValueError(f"SeFa needs a first layer that reads the latent; this model starts with {type(first).__name__}.")


def _fix_signs(v: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign: make each row's largest entry positive, so results are reproducible."""
    idx = v.abs().argmax(1)
    return v * v.gather(1, idx[:, None]).sign()


def sefa_directions(G: nn.Module, k: int = 10, space: str = "z") -> Directions:
    """Top-k eigenvectors of A^T A for the layer A that reads the latent (closed form, no sampling)."""
    t0 = time.perf_counter()
    A = latent_reading_weight(G, space).double()
    eigvals, eigvecs = torch.linalg.eigh(A.T @ A)             # ascending
    order = eigvals.argsort(descending=True)[:k]
    vectors = _fix_signs(eigvecs[:, order].T).float()
    share = (eigvals[order] / eigvals.clamp_min(0).sum()).tolist()
    return Directions("sefa", space, vectors, [f"SeFa {i}" for i in range(len(order))], share,
                      "share of the eigenvalue sum", time.perf_counter() - t0)


@torch.no_grad()
def _early_activations(G: nn.Module, latents: torch.Tensor, labels, space: str = "z") -> torch.Tensor:
    """(N, F): the first block's output (after its nonlinearity), where GANSpace takes its PCA;
    for StyleGAN, w itself (GANSpace's choice for StyleGAN; from z, through the mapping network)."""
    _check_space(space, G)
    z = latents.to(_device(G))
    if _is_stylegan(G):
        return (z if space == "w" else G.mapping(z)).float().cpu()
    y = _labels(G, labels, len(z))
    h = torch.cat([z, G.embed(y.to(z.device))], 1) if y is not None else z
    if isinstance(G.net[0], nn.ConvTranspose2d):
        return G.net[:3](h[:, :, None, None]).flatten(1).float().cpu()   # ConvT, BN, ReLU: (N, 4w * 16)
    return G.net[:2](h).float().cpu()                                  # Linear, ReLU: (N, hidden)


def _random_labels(G: nn.Module, n: int, seed: int) -> torch.Tensor | None:
    if not num_classes(G):
        return None
    return torch.randint(0, num_classes(G), (n,), generator=torch.Generator().manual_seed(seed + 1))


def pca_directions(G: nn.Module, k: int = 10, n: int = 2000, seed: int = 0, space: str = "z") -> Directions:
    """GANSpace: PCA of early activations of n samples; each component regressed back onto the latent
    (least squares, as the paper does for BigGAN's z), then orthonormalised in order (Gram-Schmidt)."""
    t0 = time.perf_counter()
    z = sample_latents(G, n, seed, space)
    acts = _early_activations(G, z, _random_labels(G, n, seed), space)
    acts = acts - acts.mean(0)
    k = min(k, latent_dim(G, space), *acts.shape)
    torch.manual_seed(seed)   # pca_lowrank's random projection
    _, s, v = torch.pca_lowrank(acts, q=min(k + 10, *acts.shape), center=False, niter=4)   # v: (F, q)
    coords = (acts @ v[:, :k]).double()                         # (N, k) PCA coordinates
    to_latent = torch.linalg.lstsq(coords, z.double()).solution  # (k, D): coords @ to_latent ~ z
    q, r = torch.linalg.qr(to_latent.T)                         # orthonormal columns, same order
    vectors = (q * torch.sign(torch.diagonal(r))[None]).T.float()   # keep each direction's sense
    explained = (s[:k].double() ** 2 / acts.double().square().sum()).tolist()
    return Directions("pca", space, vectors, [f"PC {i}" for i in range(k)], explained,
                      "explained variance", time.perf_counter() - t0, {"samples": n})


def raw_directions(G: nn.Module, k: int = 10, space: str = "z") -> Directions:
    d = latent_dim(G, space)
    k = min(k, d)
    return Directions("raw", space, torch.eye(d)[:k], [f"{space}[{i}]" for i in range(k)], [0.0] * k, "")


def image_attributes(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Measurable attributes of digits (N, 1, H, W) in [-1, 1], each (N,), in pixels (slant: a ratio):

    thickness: the mean stroke width, 2 x ink area / ink perimeter of the binarised digit (a stroke of
    length L and width t has area L t and perimeter ~2 L), so a big 0 is not "thicker" than a 1;
    slant: how far the ink leans right as it goes up (second moments, -mu11 / mu02);
    width: the horizontal spread of the ink (2 x its standard deviation).
    """
    ink = ((x.float() + 1) / 2).clamp(0, 1)[:, 0]              # (N, H, W)
    n, h, w = ink.shape
    mask = F.pad((ink > 0.5).float(), (1, 1, 1, 1))
    perimeter = ((mask[:, 1:, :] - mask[:, :-1, :]).abs().sum((1, 2))
                 + (mask[:, :, 1:] - mask[:, :, :-1]).abs().sum((1, 2)))
    thickness = 2 * mask.sum((1, 2)) / perimeter.clamp_min(1)
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    mass = ink.sum((1, 2)).clamp_min(1e-6)
    cy = (ink * ys).sum((1, 2)) / mass
    cx = (ink * xs).sum((1, 2)) / mass
    dy, dx = ys - cy.view(-1, 1, 1), xs - cx.view(-1, 1, 1)
    mu02 = (ink * dy * dy).sum((1, 2)) / mass
    mu11 = (ink * dx * dy).sum((1, 2)) / mass
    mu20 = (ink * dx * dx).sum((1, 2)) / mass
    return {"thickness": thickness, "slant": -mu11 / mu02.clamp_min(1e-6), "width": 2 * mu20.sqrt()}


def fit_linear_boundary(latents: torch.Tensor, positive: torch.Tensor, steps: int = 100,
                        weight_decay: float = 1e-3, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Logistic regression on latents (N, D) with 0/1 labels (N,): (unit normal (D,), held-out balanced accuracy).

    A fifth of the samples is held out; classes are weighted so a rare class counts as much as a common one.
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(latents), generator=g)
    n_val = max(1, len(latents) // 5)
    val, train = perm[:n_val], perm[n_val:]
    x, y = latents.double(), positive.double()
    pos_weight = (1 - y[train]).sum() / y[train].sum().clamp_min(1)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = x[train] @ w + b
        loss = F.binary_cross_entropy_with_logits(logits, y[train], pos_weight=pos_weight)
        loss = loss + weight_decay * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (x[val] @ w + b) > 0
        truth = y[val] > 0.5
        recalls = [(pred[truth == c] == c).double().mean() for c in (True, False) if (truth == c).any()]
        accuracy = float(sum(recalls) / len(recalls))
        normal = (w / w.norm().clamp_min(1e-12)).float()
    return normal.detach(), accuracy


def attribute_directions(G: nn.Module, classifier: nn.Module | None = None, n: int = 2000, seed: int = 0,
                         extreme: float = 0.3, space: str = "z") -> Directions:
    """InterFaceGAN: sample n latents, measure each attribute on the images, label the top and bottom
    `extreme` fractions, and fit a linear boundary; the unit normal points toward more of the attribute.
    With a classifier, unconditional models also get "more like a k" for each digit k (k vs the rest)."""
    t0 = time.perf_counter()
    z = sample_latents(G, n, seed, space)
    images = render(G, z, _random_labels(G, n, seed), space)
    if images.dim() != 4:
        raise ValueError("Attribute directions need an image generator, not a 2-D point model.")
    vectors, names, scores = [], [], []
    for name, values in image_attributes(images).items():
        lo, hi = values.quantile(extreme), values.quantile(1 - extreme)
        keep = (values <= lo) | (values >= hi)
        normal, acc = fit_linear_boundary(z[keep], (values[keep] >= hi).float(), seed=seed)
        vectors.append(normal)
        names.append({"thickness": "thicker", "slant": "more slanted", "width": "wider"}[name])
        scores.append(acc)
    info = {"samples": n}
    if classifier is not None and not num_classes(G) and tuple(images.shape[1:]) == (1, 28, 28):
        from .metrics.image import classify

        _, probs = classify(classifier, images)
        pred = probs.argmax(1)
        class_vectors = []
        for digit in range(probs.shape[1]):
            positive = (pred == digit).float()
            if positive.sum() < 10:   # too few to fit a boundary
                continue
            normal, acc = fit_linear_boundary(z, positive, seed=seed)
            class_vectors.append(normal)
            names.append(f"more like a {digit}")
            scores.append(acc)
        if class_vectors:
            # InterFaceGAN's conditional edit: the style directions lose their part along the class
            # directions, so "thicker" thickens the digit instead of turning a 1 into a 0
            basis, _ = torch.linalg.qr(torch.stack(class_vectors).T.double())   # (D, C) orthonormal
            for i, v in enumerate(vectors):
                v = v.double() - basis @ (basis.T @ v.double())
                vectors[i] = (v / v.norm()).float()
            vectors += class_vectors
            info["style_directions_off_class"] = True
    return Directions("attribute", space, torch.stack(vectors), names, scores,
                      "boundary accuracy (held out, balanced)", time.perf_counter() - t0, info)


def find_directions(G: nn.Module, kind: str, k: int = 10, classifier: nn.Module | None = None,
                    space: str = "z") -> Directions:
    """Directions of one kind (no caching): see the module docstring."""
    if kind == "sefa":
        return sefa_directions(G, k, space)
    if kind == "pca":
        return pca_directions(G, k, space=space)
    if kind == "attribute":
        return attribute_directions(G, classifier, space=space)
    if kind == "raw":
        return raw_directions(G, k, space)
    raise ValueError(f"Unknown direction kind {kind!r}; choose one of {', '.join(DIRECTION_KINDS)}.")


def directions_cache_dir(checkpoint: str | Path) -> Path:
    """Where a checkpoint's directions are kept: `<run>/latent/` for a run's checkpoint.pt; the GAN
    Studio cache (GAN_STUDIO_CACHE, else ~/.cache/gan-studio) for shipped models and other files."""
    path = Path(checkpoint).resolve()
    if path.name == "checkpoint.pt" and CHECKPOINTS_DIR not in path.parents and os.access(path.parent, os.W_OK):
        return path.parent / "latent"
    return cache_root() / "latent"


_DIRECTIONS: dict[tuple, Directions] = {}


def cached_directions(G: nn.Module, checkpoint: str | Path, kind: str, k: int = 10,
                      classifier: nn.Module | None = None, space: str = "z") -> Directions:
    """find_directions, cached in memory and on disk per (checkpoint sha256, kind, k, space)."""
    from .metrics.image import file_sha256
    from .files import atomic_write_bytes

    path = Path(checkpoint)
    path = path / "checkpoint.pt" if path.is_dir() else path
    sha = file_sha256(path)
    key = (sha, kind, k, space, classifier is not None, CACHE_VERSION)
    if key in _DIRECTIONS:
        return _DIRECTIONS[key]
    file = directions_cache_dir(path) / f"{kind}-{space}-k{k}{'-clf' if classifier is not None else ''}-v{CACHE_VERSION}-{sha[:16]}.pt"
    found = None
    if file.is_file():
        try:
            found = Directions.from_dict(torch.load(file, map_location="cpu", weights_only=True))
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed, never fatal
            found = None
    if found is None:
        found = find_directions(G, kind, k, classifier, space)
        try:
            import io

            buf = io.BytesIO()
            torch.save(found.to_dict(), buf)
            atomic_write_bytes(file, buf.getvalue())
        except OSError:
            pass   # a read-only place: the memory cache still holds it
    _DIRECTIONS[key] = found
    return found


@torch.no_grad()
def direction_strip(G: nn.Module, latent: torch.Tensor, direction: torch.Tensor, values, labels=None,
                    space: str = "z") -> torch.Tensor:
    """Images (len(values), C, H, W) of latent + a * direction for each a in values."""
    a = torch.as_tensor(list(values), dtype=torch.float32).view(-1, 1)
    return render(G, latent.view(1, -1) + a * direction.view(1, -1), labels, space)


def steer(latent: torch.Tensor, directions: torch.Tensor, amounts) -> torch.Tensor:
    """latent (D,) + sum_i amounts[i] * directions[i]; directions (K, D), amounts (K,)."""
    a = torch.as_tensor(list(amounts), dtype=torch.float32, device=directions.device)
    return latent + (a[:, None] * directions[:len(a)]).sum(0)


# ---------------------------------------------------------------- inversion and nearest training images

@dataclass
class Inversion:
    latent: torch.Tensor      # (D,)
    label: int | None         # the class used, for conditional models
    image: torch.Tensor       # (C, H, W) in [-1, 1], the reconstruction
    error: float              # pixel mean squared error against the target (images in [-1, 1])
    start_error: float        # the same for the best random start, before any optimisation
    seconds: float
    steps: int


def invert(G: nn.Module, target: torch.Tensor, *, label: int | None = None, classifier: nn.Module | None = None,
           restarts: int = 8, steps: int = 120, lr: float = 0.08, feature_weight: float = 0.05,
           prior_weight: float = 1e-3, seed: int = 0, space: str = "z", threads: int | None = 1,
           progress_fn: Callable[[int, int, float], None] | None = None) -> Inversion:
    """Find the latent whose image best matches target (C, H, W) in [-1, 1].

    Adam on `restarts` random starts at once, with pixel MSE + feature_weight x MSE of the classifier's
    features (when given) + a small prior keeping |z|^2 near D. After a quarter of the steps only the best
    quarter of the starts goes on (the losers rarely catch up; this halves the time). For a conditional
    model without a label the classifier's reading of the target is used (class 0 without a classifier).
    progress_fn(step, steps, best pixel error) is called every few steps. `threads`: see torch_threads.
    """
    with torch_threads(threads):
        return _invert(G, target, label, classifier, restarts, steps, lr, feature_weight, prior_weight, seed, space,
                       progress_fn)


def _invert(G, target, label, classifier, restarts, steps, lr, feature_weight, prior_weight, seed, space,
            progress_fn) -> Inversion:
    t0 = time.perf_counter()
    dev = _device(G)
    target = target.float().to(dev)
    if target.dim() == 4:
        target = target[0]
    if num_classes(G) and label is None:
        if classifier is not None:
            from .metrics.image import classify

            label = int(classify(classifier, target[None].cpu())[1][0].argmax())
        else:
            label = 0
    d = latent_dim(G, space)
    z = sample_latents(G, restarts, seed, space).to(dev).requires_grad_(True)
    labels = [label] if label is not None else None
    target_feats = None
    if classifier is not None and tuple(target.shape) == (1, 28, 28):
        classifier.eval()
        clf_dev = next(classifier.parameters()).device   # may differ from G's (e.g. G on CUDA)
        with torch.no_grad():
            target_feats = classifier.features(target[None].to(clf_dev))
    G.eval()   # BatchNorm must use its running statistics (shared models are in eval mode already)
    opt = torch.optim.Adam([z], lr=lr)
    keep_from = max(1, steps // 4)

    def losses(zz):
        x = synthesize(G, zz, labels, space)
        pixel = (x - target[None]).square().flatten(1).mean(1)
        total = pixel + prior_weight * (zz.square().sum(1) / d - 1).square()
        if target_feats is not None:
            feats = classifier.features(x.to(clf_dev))
            total = total + feature_weight * (feats - target_feats).square().mean(1).to(total.device)
        return total, pixel

    with torch.no_grad():
        start_error = float(losses(z)[1].min())
    for step in range(steps):
        if step == keep_from and restarts > 1:
            with torch.no_grad():
                best = losses(z)[0].argsort()[:max(1, restarts // 4)]
            z = z.detach()[best].clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
        total, pixel = losses(z)
        # gradients for z only: the networks' weights (shared by every session) are left alone
        (z.grad,) = torch.autograd.grad(total.sum(), z)
        opt.step()
        if progress_fn is not None and (step % 5 == 4 or step == steps - 1):
            progress_fn(step + 1, steps, float(pixel.detach().min()))
    with torch.no_grad():
        total, pixel = losses(z)
        i = int(total.argmin())
        image = synthesize(G, z[i:i + 1], labels, space)[0].float().cpu()
    return Inversion(z[i].detach().cpu(), label, image, float(pixel[i]), start_error,
                     time.perf_counter() - t0, steps)


def nearest_images(x: torch.Tensor, pool: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The k images of pool (M, C, H, W) nearest (pixel L2) to each of x (N, C, H, W): indices and
    root-mean-square distances, both (N, k). Small distances to training images mean the GAN copies."""
    a, b = x.float().flatten(1).cpu(), pool.float().flatten(1).cpu()
    d = torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist").clamp_min(0) / math.sqrt(a.shape[1])
    dist, idx = d.topk(min(k, len(b)), dim=1, largest=False)
    return idx, dist


# ---------------------------------------------------------------- compact latent codes (for URLs)

def encode_latent(latent: torch.Tensor) -> str:
    """(D,) -> a URL-safe string (float16, base64): 100 numbers in 268 characters."""
    import base64

    return base64.urlsafe_b64encode(latent.detach().cpu().half().numpy().tobytes()).decode().rstrip("=")


def decode_latent(code: str, dim: int) -> torch.Tensor:
    """The inverse of encode_latent; ValueError with one sentence for a damaged code."""
    import base64

    import numpy as np

    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        arr = np.frombuffer(raw, dtype=np.float16)
    except (ValueError, TypeError):
        raise ValueError("The latent code in the link is damaged.") from None
    if arr.size != dim or not np.isfinite(arr).all():
        raise ValueError(f"The latent code in the link is for a {arr.size}-d latent, not this model's {dim}-d one.")
    return torch.from_numpy(arr.astype(np.float32))
