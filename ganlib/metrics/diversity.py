"""The seeds' 100-sample diversity test for digit generators: draw 100 samples, read each with the
MNIST classifier, and look at the class histogram, the coverage of 0-9, the KL divergence to a
uniform class distribution, and the most similar pairs (a collapsed G repeats itself).

    result = diversity_test(G, n=100, seed=0)
    img = diversity_grid_image(result)   # 10x10 grid, each sample tagged with its digit
"""
from __future__ import annotations

import torch
import torch.nn as nn
from PIL import Image, ImageDraw

from ganlib.metrics.image import class_metrics, classify
from ganlib.sampling import generate

PAIR_COLORS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)]


def most_similar_pairs(x: torch.Tensor, k: int = 5) -> list[tuple[int, int, float]]:
    """The k closest pairs (i, j, rms pixel distance) among images (N, C, H, W) in [-1, 1], closest first."""
    flat = x.flatten(1).double()
    d = torch.cdist(flat, flat) / flat.shape[1] ** 0.5          # (N, N) rms difference per pixel
    i, j = torch.triu_indices(len(x), len(x), offset=1)
    dist = d[i, j]
    order = dist.argsort()[:k]
    return [(int(i[o]), int(j[o]), float(dist[o])) for o in order]


def diversity_test(G: nn.Module, classifier: nn.Module, *, n: int = 100, seed: int = 0, pairs: int = 5,
                   labels: torch.Tensor | None = None) -> dict:
    """n samples from G (images (n, 1, 28, 28)) with the classifier's reading of each.

    Returns {"samples" (n, 1, 28, 28), "digits" [n], "confidence" [n], "class_histogram" [10],
    "class_coverage" (digits seen, of 10), "class_kl_uniform" (0 = every digit equally often,
    log 10 = 2.30 = one digit only), "similar_pairs" [(i, j, distance)], "median_pair_distance"}.
    """
    samples = generate(G, n, labels=labels, seed=seed)
    if tuple(samples.shape[1:]) != (1, 28, 28):
        raise ValueError(f"The diversity test reads 28x28 grey digits; this generator makes {tuple(samples.shape[1:])}.")
    return diversity_of(samples, classifier, pairs=pairs)


def diversity_of(samples: torch.Tensor, classifier: nn.Module, pairs: int = 5) -> dict:
    """diversity_test() of given images (N, 1, 28, 28) in [-1, 1]."""
    _, probs = classify(classifier, samples)
    stats = class_metrics(probs)
    confidence, digits = probs.max(1)
    flat = samples.flatten(1).double()
    d = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    off = ~torch.eye(len(samples), dtype=torch.bool)
    return {"samples": samples, "digits": digits.tolist(), "confidence": [round(float(c), 4) for c in confidence],
            "class_histogram": stats["class_histogram"], "class_coverage": stats["class_coverage"],
            "class_kl_uniform": stats["class_kl_uniform"], "similar_pairs": most_similar_pairs(samples, pairs),
            "median_pair_distance": float(d[off].median()) if len(samples) > 1 else 0.0}


def summary(result: dict) -> dict:
    """The JSON-friendly figures of a diversity_test() result (no tensors)."""
    return {k: v for k, v in result.items() if k != "samples"}


def diversity_grid_image(result: dict, scale: int = 3, nrow: int = 10) -> Image.Image:
    """The samples as a grid (scaled `scale`x, nearest neighbour), each tagged with the classifier's
    digit in its corner; the most similar pairs are framed in matching colours."""
    x = result["samples"]
    n, size, pad = len(x), x.shape[-1] * scale, 2
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    img = Image.new("RGB", (ncol * (size + pad) + pad, rows * (size + pad) + pad), (90, 90, 90))
    draw = ImageDraw.Draw(img)
    pixels = ((x[:, 0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    frames: dict[int, tuple[int, int, int]] = {}
    for k, (i, j, _) in enumerate(result["similar_pairs"]):
        for idx in (i, j):
            frames.setdefault(idx, PAIR_COLORS[k % len(PAIR_COLORS)])
    for idx in range(n):
        r, c = divmod(idx, ncol)
        x0, y0 = pad + c * (size + pad), pad + r * (size + pad)
        tile = Image.fromarray(pixels[idx], "L").resize((size, size), Image.NEAREST).convert("RGB")
        img.paste(tile, (x0, y0))
        if idx in frames:
            draw.rectangle([x0, y0, x0 + size - 1, y0 + size - 1], outline=frames[idx], width=max(2, scale))
        label = str(result["digits"][idx])
        draw.rectangle([x0 + size - 10, y0, x0 + size - 1, y0 + 12], fill=(255, 255, 255))
        draw.text((x0 + size - 8, y0), label, fill=(200, 0, 0))
    return img
