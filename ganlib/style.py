"""StyleGAN's controls as plain functions: per-layer ws, style mixing, per-layer-group directions,
noise, truncation, feature maps, and the disentanglement check of a trained model.

Everything works on ws (N, num_ws, D): one w per styled layer (ganlib.models.stylegan). A layer
*range* is a pair of resolutions (lo, hi); the layers whose resolution lies in it are "from A" in a
mix, or the ones a group direction moves. Images are (N, C, H, W) in [-1, 1] on the CPU.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from .checkpoints import CheckpointError, load_checkpoint, load_generator
from .directions import Directions, fix_signs, image_attributes
from .metrics.image import classify
from .models.stylegan import RESOLUTIONS

# the page's presets: coarse = pose and digit identity, middle = shape details, fine = stroke and texture
GROUPS = {"coarse": (4, 8), "middle": (16, 16), "fine": (32, 32)}


def load_stylegan(path: str | Path, device="cpu") -> tuple[nn.Module, dict]:
    """(G in eval mode, metadata) of a StyleGAN checkpoint; CheckpointError (one sentence) for any other file."""
    family = load_checkpoint(path)["family"]
    if family != "stylegan":
        raise CheckpointError(f"{path} holds a {family} model; the Style studio needs a stylegan checkpoint "
                              "(train one with --model stylegan).")
    return load_generator(path, device=device)


def _device(G: nn.Module) -> torch.device:
    return next(G.parameters()).device


def parse_range(text: str) -> tuple[int, int]:
    """'coarse' | 'middle' | 'fine' | '4-8' | '16' -> (lo, hi) resolutions; ValueError with one sentence."""
    text = str(text).strip().lower()
    if text in GROUPS:
        return GROUPS[text]
    try:
        parts = [int(p) for p in text.replace("x", "-").split("-") if p]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or any(p not in RESOLUTIONS for p in parts) or parts[0] > parts[-1]:
        raise ValueError(f"A layer range is coarse, middle, fine or LO-HI with resolutions from "
                         f"{', '.join(map(str, RESOLUTIONS))} (e.g. 4-8), not {text!r}.")
    return parts[0], parts[-1]


def layer_mask(G: nn.Module, lo: int, hi: int) -> torch.Tensor:
    """(num_ws,) bool: the styled layers whose resolution is in [lo, hi]."""
    return torch.tensor([lo <= r <= hi for r in G.layer_resolutions])


@torch.no_grad()
def seeds_to_w(G: nn.Module, seeds) -> torch.Tensor:
    """(len(seeds), D) w = mapping(z), z of seed s being `python -m ganlib sample --seed s`'s first z."""
    z = torch.stack([torch.randn(G.latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    return G.mapping(z.to(_device(G))).float().cpu()


def random_w(G: nn.Module, n: int, seed: int) -> torch.Tensor:
    """(n, D) w's of n latents drawn from one seed (what the checks use)."""
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    with torch.no_grad():
        return G.mapping(z.to(_device(G))).float().cpu()


def broadcast(G: nn.Module, w: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, num_ws, D); (N, num_ws, D) is returned as is."""
    return w if w.dim() == 3 else w[:, None, :].expand(-1, G.num_ws, -1).clone()


def truncate(G: nn.Module, ws: torch.Tensor, psi: float) -> torch.Tensor:
    """w_avg + psi (ws - w_avg) on every layer: psi = 0 is the mean-w image, psi = 1 changes nothing."""
    if not 0.0 <= psi <= 1.5:
        raise ValueError("Truncation psi must be between 0 and 1.5.")
    return torch.lerp(G.w_avg.float().cpu().expand_as(ws), ws, psi) if psi != 1.0 else ws


@torch.no_grad()
def render(G: nn.Module, ws: torch.Tensor, noise_mode: str = "const", noise_scale=None,
           noises: list[torch.Tensor] | None = None, batch_size: int = 256) -> torch.Tensor:
    """ws (N, num_ws, D) or w (N, D) -> images (N, C, H, W) (G's crop, clamped to [-1, 1]) on the CPU."""
    ws = broadcast(G, ws)
    out = []
    for i in range(0, len(ws), batch_size):
        nb = [n if n.shape[0] == 1 else n[i:i + batch_size] for n in noises] if noises is not None else None
        x = G.synthesis(ws[i:i + batch_size].to(_device(G)), noise_mode=noise_mode, noise_scale=noise_scale,
                        noises=nb)
        out.append(G.crop(x).float().cpu().clamp(-1, 1))
    return torch.cat(out)


def mix(G: nn.Module, ws_a: torch.Tensor, ws_b: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Layers with resolution in [lo, hi] from A, the rest from B: (N, num_ws, D) each -> (N, num_ws, D)."""
    mask = layer_mask(G, lo, hi)[None, :, None]
    return torch.where(mask, broadcast(G, ws_a), broadcast(G, ws_b))


def mixing_grid(G: nn.Module, w_a: torch.Tensor, w_b: torch.Tensor, lo: int, hi: int,
                noise_mode: str = "const") -> dict[str, torch.Tensor]:
    """The style-mixing figure: sources A (Na, D) across the top, B (Nb, D) down the side, and
    cells (Nb, Na, C, H, W) where cell [i, j] takes the layers in [lo, hi] from A_j and the rest from B_i."""
    na, nb = len(w_a), len(w_b)
    ws = mix(G, broadcast(G, w_a).repeat(nb, 1, 1), broadcast(G, w_b).repeat_interleave(na, 0), lo, hi)
    cells = render(G, ws, noise_mode)
    return {"a": render(G, w_a, noise_mode), "b": render(G, w_b, noise_mode),
            "cells": cells.view(nb, na, *cells.shape[1:])}


def grid_tensor(grid: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """The mixing figure as one image batch for ganlib.images.grid_image: (a blank corner, A's row; then
    each B and its row of mixes) and the row length Na + 1."""
    a, b, cells = grid["a"], grid["b"], grid["cells"]
    corner = torch.full_like(a[:1], -1.0)
    rows = [torch.cat([corner, a])] + [torch.cat([b[i:i + 1], cells[i]]) for i in range(len(b))]
    return torch.cat(rows), len(a) + 1


# ---------------------------------------------------------------- per-layer-group directions

def group_directions(G: nn.Module, lo: int, hi: int, k: int = 5):
    """Closed-form (SeFa) directions in w for the layers in [lo, hi]: top eigenvectors of A^T A with A the
    stacked style affine weights of those layers, i.e. the w moves that change their styles most.
    Applied to those layers only (`apply_direction`), a slider then changes only what they control."""
    mask = layer_mask(G, lo, hi)
    A = torch.cat([G.synthesis.affine(i).effective_weight().detach().double().cpu()
                   for i in range(G.num_ws) if mask[i]])
    eigvals, eigvecs = torch.linalg.eigh(A.T @ A)
    order = eigvals.argsort(descending=True)[:k]
    vectors = fix_signs(eigvecs[:, order].T).float()
    share = (eigvals[order] / eigvals.clamp_min(0).sum()).tolist()
    return Directions("sefa", "w", vectors, [f"{lo}-{hi} SeFa {i}" for i in range(len(order))], share,
                      "share of the eigenvalue sum", info={"layers": [lo, hi]})


def apply_direction(G: nn.Module, ws: torch.Tensor, direction: torch.Tensor, amount: float, lo: int, hi: int) -> torch.Tensor:
    """ws + amount * direction on the layers in [lo, hi] only."""
    ws = broadcast(G, ws)
    mask = layer_mask(G, lo, hi)[None, :, None].to(ws.dtype)
    return ws + amount * mask * direction.view(1, 1, -1).to(ws)


# ---------------------------------------------------------------- noise

def noise_draws(G: nn.Module, n: int, seed: int, batch: int = 1) -> list[torch.Tensor]:
    """One explicit noise input per conv, (batch, 1, R, R) each, drawn from a seed."""
    g = torch.Generator().manual_seed(int(seed))
    return [torch.randn(batch, 1, c.resolution, c.resolution, generator=g) for c in G.synthesis.convs]


@torch.no_grad()
def noise_study(G: nn.Module, ws: torch.Tensor, draws: int = 8, seed: int = 0, noise_scale=None) -> dict[str, torch.Tensor]:
    """One style (ws (1, num_ws, D) or w (1, D)) under several noise draws: frames (draws, C, H, W) and the
    change map (C, H, W): each pixel's mean absolute deviation from the frames' mean, in [0, 1] image units."""
    ws = broadcast(G, ws[:1] if ws.dim() == 3 else ws.view(1, -1))
    frames = torch.cat([render(G, ws, noise_scale=noise_scale, noises=noise_draws(G, 1, seed + i))
                        for i in range(draws)])
    change = (frames - frames.mean(0, keepdim=True)).abs().mean(0) / 2
    return {"frames": frames, "change": change}


# ---------------------------------------------------------------- feature maps

@torch.no_grad()
def feature_maps(G: nn.Module, ws: torch.Tensor, layer: str, noise_mode: str = "const",
                 noise_scale=None) -> torch.Tensor:
    """The conv layer `layer`'s output channels for one image: (C_l, R, R), each channel scaled to [-1, 1]
    (its own min..max), as in the StyleGAN3 visualizer's layer view."""
    ws = broadcast(G, ws[:1] if ws.dim() == 3 else ws.view(1, -1))
    _, feats = G.synthesis(ws.to(_device(G)), noise_mode=noise_mode, noise_scale=noise_scale, return_features=True)
    if layer not in feats:
        raise ValueError(f"Unknown layer {layer!r}; the conv layers are {', '.join(feats)}.")
    f = feats[layer][0].float().cpu()
    lo, hi = f.amin((1, 2), keepdim=True), f.amax((1, 2), keepdim=True)
    return ((f - lo) / (hi - lo).clamp_min(1e-8) * 2 - 1)


def conv_layer_names(G: nn.Module) -> list[str]:
    return [G.layer_names[i] for i in G.synthesis.conv_ws]


# ---------------------------------------------------------------- the disentanglement check

def ink(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) in [-1, 1] -> (N,) mean ink in [0, 1] (how much of the image is stroke)."""
    return ((x.float() + 1) / 2).clamp(0, 1).flatten(1).mean(1)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


@torch.no_grad()
def style_check(G: nn.Module, classifier: nn.Module, n: int = 1000, seed: int = 0) -> dict:
    """Measured disentanglement of a digit StyleGAN (the issue's three figures), on n random pairs (A, B):

    - coarse_keeps_a: share of mixes (coarse 4-8 from A, 16-32 from B) our classifier reads as A's digit
      (its reading of A itself); coarse_reads_b: the share read as B's digit instead (for contrast);
      coarse_keeps_a_when_differ: the same share over the pairs_differ pairs whose A and B read as different
      digits (a generator that draws one digit for everything would pass coarse_keeps_a, not this);
    - ink_corr_b: Pearson correlation of the mix's ink with B's (fine 16-32 come from B); ink_corr_a with A's;
      thickness_corr_b / thickness_corr_a: the same for stroke thickness (directions.image_attributes), the style
      itself: total ink also grows with the digit's shape (an 8 holds more than a 1), which comes from A;
    - noise_pixel_change: mean absolute pixel change (in [0, 1] units) between two noise draws with w fixed;
      noise_keeps_label: share of images whose classifier reading is the same under both draws.
    All images use the fixed noise except the noise test.
    """
    w_a, w_b = random_w(G, n, seed), random_w(G, n, seed + 1)
    x_a, x_b = render(G, w_a), render(G, w_b)
    lo, hi = GROUPS["coarse"]
    x_mix = render(G, mix(G, broadcast(G, w_a), broadcast(G, w_b), lo, hi))
    label = lambda x: classify(classifier, x)[1].argmax(1)   # noqa: E731
    y_a, y_b, y_mix = label(x_a), label(x_b), label(x_mix)
    x_n1 = render(G, w_a, noises=noise_draws(G, n, seed + 2, n))
    x_n2 = render(G, w_a, noises=noise_draws(G, n, seed + 3, n))
    th_a, th_b = image_attributes(x_a)["thickness"], image_attributes(x_b)["thickness"]
    th_mix = image_attributes(x_mix)["thickness"]
    differ = y_a != y_b   # pairs where keeping A's digit is not the same as keeping B's (a collapsed G has few)
    return {"n": n, "seed": seed, "coarse_layers": [lo, hi],
            "coarse_keeps_a": float((y_mix == y_a).float().mean()),
            "coarse_reads_b": float((y_mix == y_b).float().mean()),
            "pairs_differ": int(differ.sum()),
            "coarse_keeps_a_when_differ": float((y_mix == y_a)[differ].float().mean()) if differ.any() else 0.0,
            "ink_corr_b": round(_pearson(ink(x_mix), ink(x_b)), 4),
            "ink_corr_a": round(_pearson(ink(x_mix), ink(x_a)), 4),
            "thickness_corr_b": round(_pearson(th_mix, th_b), 4),
            "thickness_corr_a": round(_pearson(th_mix, th_a), 4),
            "noise_pixel_change": round(float((x_n1 - x_n2).abs().mean() / 2), 5),
            "noise_keeps_label": float((label(x_n1) == label(x_n2)).float().mean())}


# the targets for style_check (tests/test_pretrained.py checks the shipped model against them)
TARGETS = {"coarse_keeps_a": 0.90, "noise_keeps_label": 0.99}


def seed_ws(G: nn.Module, seed: int, psi: float = 1.0) -> torch.Tensor:
    """(1, num_ws, D): seed `seed`'s w on every layer, truncated by psi (the image the Style studio starts from)."""
    return truncate(G, broadcast(G, seeds_to_w(G, [seed])), psi)
