"""Exploring a trained generator's latent space: sampling, interpolation, truncation, steering, inversion.

Everything works in a named latent *space*: "z" (the Gaussian input of every family) or StyleGAN's "w"
(the mapping network's output, broadcast to every layer; the tracked mean w is truncation's centre).
`sample_latents`, `synthesize` and `mean_latent` hold the w branches; every function above them works
unchanged. Finding directions to steer along (SeFa, PCA, attributes) and their cache: ganlib.directions.
Per-layer ws: ganlib.style.
"""
from __future__ import annotations

import base64
import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .metrics.image import classify

SPACES = ("z", "w")        # w: StyleGAN only


def check_space(space: str, G: nn.Module | None = None) -> None:
    """ValueError with one sentence unless `space` is a latent space G has."""
    if space not in SPACES:
        raise ValueError(f"Unknown latent space {space!r}; this model is steered in {', '.join(SPACES)}.")
    if space == "w" and G is not None and not is_stylegan(G):
        raise ValueError("Only StyleGAN models have a w space; steer this model in z.")


def is_stylegan(G: nn.Module) -> bool:
    """Whether G has StyleGAN's mapping and synthesis networks (and so a w space)."""
    return hasattr(G, "mapping") and hasattr(G, "synthesis")


def model_device(G: nn.Module) -> torch.device:
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
    check_space(space)
    return int(G.latent_dim)


def sample_latents(G: nn.Module, n: int, seed: int, space: str = "z") -> torch.Tensor:
    """(n, D) latents for a seed, on the CPU; z of seed s is what `python -m ganlib sample --seed s` uses;
    w of seed s is that z through StyleGAN's mapping network."""
    check_space(space, G)
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, latent_dim(G, space), generator=g)
    if space == "w":
        with torch.no_grad():
            return G.mapping(z.to(model_device(G))).float().cpu()
    return z


def mean_latent(G: nn.Module, space: str = "z") -> torch.Tensor:
    """(D,) the centre that truncation pulls toward: 0 for Gaussian z, the tracked mean w for StyleGAN's w."""
    check_space(space, G)
    if space == "w":
        return G.w_avg.detach().float().cpu().clone()
    return torch.zeros(latent_dim(G, space))


def class_labels(G: nn.Module, labels, n: int) -> torch.Tensor | None:
    """(n,) class labels for a conditional G (one label is repeated), None for an unconditional one."""
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
    check_space(space, G)
    z = latents.to(model_device(G))
    if space == "w":   # w (N, D) for every layer, or per-layer ws (N, num_ws, D); the fixed noise
        ws = z if z.dim() == 3 else G.broadcast(z)
        return G.crop(G.synthesis(ws, noise_mode="const"))
    if class_embedding is not None:
        h = torch.cat([z, class_embedding.to(z)], 1)
        out = G.net(h[:, :, None, None] if hasattr(G, "image_size") else h)
        return out.view(len(z), *G.out_shape) if hasattr(G, "out_shape") else out
    y = class_labels(G, labels, len(z))
    return G(z, y.to(z.device) if y is not None else None)


@torch.no_grad()
def render(G: nn.Module, latents: torch.Tensor, labels=None, space: str = "z", batch_size: int = 256) -> torch.Tensor:
    """Like synthesize, without gradients, in batches; float images on the CPU."""
    out = []
    y = class_labels(G, labels, len(latents))
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
    ya, yb = class_labels(G, [label_a], 1), class_labels(G, [label_b], 1)
    dev = model_device(G)
    emb = lerp(G.embed(ya.to(dev))[0].cpu(), G.embed(yb.to(dev))[0].cpu(), t)
    return synthesize(G, path, space=space, class_embedding=emb).float().cpu()


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
    dev = model_device(G)
    target = target.float().to(dev)
    if target.dim() == 4:
        target = target[0]
    if num_classes(G) and label is None:
        if classifier is not None:
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
    return base64.urlsafe_b64encode(latent.detach().cpu().half().numpy().tobytes()).decode().rstrip("=")


def decode_latent(code: str, dim: int) -> torch.Tensor:
    """The inverse of encode_latent; ValueError with one sentence for a damaged code."""
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        arr = np.frombuffer(raw, dtype=np.float16)
    except (ValueError, TypeError):
        raise ValueError("The latent code in the link is damaged.") from None
    if arr.size != dim or not np.isfinite(arr).all():
        raise ValueError(f"The latent code in the link is for a {arr.size}-d latent, not this model's {dim}-d one.")
    return torch.from_numpy(arr.astype(np.float32))
