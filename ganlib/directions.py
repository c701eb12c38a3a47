"""Directions in a generator's latent space (each a unit vector, rows of `Directions.vectors`):

- "sefa":  closed form from the first layer's weights A that read the latent (Shen & Zhou 2021):
           top eigenvectors of A^T A; no sampling, instant for any checkpoint;
- "pca":   GANSpace (Harkonen et al. 2020): PCA of early activations over many samples, each
           component carried back to the latent by least squares, then orthonormalised in order;
- "attribute": InterFaceGAN (Shen et al. 2020): sample, measure (ink, slant, width from the image,
           "more like a k" from our MNIST classifier), fit a linear boundary; its unit normal;
- "raw":   the latent's own coordinates.
Directions are cached per checkpoint in memory and on disk (keyed by the file's sha256): next to a
run's checkpoint (`<run>/latent/`), under the GAN Studio cache for shipped models.
Moving along them (direction_strip, steer) and the latent spaces themselves: ganlib.latent.
"""
from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .files import atomic_write_bytes
from .latent import check_space, class_labels, is_stylegan, latent_dim, model_device, num_classes, render, sample_latents
from .metrics.image import classify, file_sha256
from .paths import CHECKPOINTS_DIR, cache_root

DIRECTION_KINDS = ("sefa", "pca", "attribute", "raw")
CACHE_VERSION = 1


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
    check_space(space, G)
    if is_stylegan(G):
        if space == "w":
            affines = [G.synthesis.affine(i) for i in range(G.num_ws)]
            return torch.cat([a.effective_weight().detach() for a in affines]).float().cpu()
        return G.mapping.fcs[0].effective_weight().detach().float().cpu()
    first = G.net[0]
    d = latent_dim(G, space)
    if isinstance(first, nn.ConvTranspose2d):   # weight (in, out, k, k) on a 1x1 input: a linear map
        return first.weight.detach()[:d].reshape(d, -1).T.float().cpu()
    if isinstance(first, nn.Linear):            # weight (out, in)
        return first.weight.detach()[:, :d].float().cpu()
    raise ValueError(f"SeFa needs a first layer that reads the latent; this model starts with {type(first).__name__}.")


def fix_signs(v: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign: make each row's largest entry positive, so results are reproducible."""
    idx = v.abs().argmax(1)
    return v * v.gather(1, idx[:, None]).sign()


def sefa_directions(G: nn.Module, k: int = 10, space: str = "z") -> Directions:
    """Top-k eigenvectors of A^T A for the layer A that reads the latent (closed form, no sampling)."""
    t0 = time.perf_counter()
    A = latent_reading_weight(G, space).double()
    eigvals, eigvecs = torch.linalg.eigh(A.T @ A)             # ascending
    order = eigvals.argsort(descending=True)[:k]
    vectors = fix_signs(eigvecs[:, order].T).float()
    share = (eigvals[order] / eigvals.clamp_min(0).sum()).tolist()
    return Directions("sefa", space, vectors, [f"SeFa {i}" for i in range(len(order))], share,
                      "share of the eigenvalue sum", time.perf_counter() - t0)


@torch.no_grad()
def _early_activations(G: nn.Module, latents: torch.Tensor, labels, space: str = "z") -> torch.Tensor:
    """(N, F): the first block's output (after its nonlinearity), where GANSpace takes its PCA;
    for StyleGAN, w itself (GANSpace's choice for StyleGAN; from z, through the mapping network)."""
    check_space(space, G)
    z = latents.to(model_device(G))
    if is_stylegan(G):
        return (z if space == "w" else G.mapping(z)).float().cpu()
    y = class_labels(G, labels, len(z))
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
            buf = io.BytesIO()
            torch.save(found.to_dict(), buf)
            atomic_write_bytes(file, buf.getvalue())
        except OSError:
            pass   # a read-only place: the memory cache still holds it
    _DIRECTIONS[key] = found
    return found

