"""Evaluating a generator: the glue between sampling and ganlib.metrics, shared by the
training loop (periodic evaluation), `python -m ganlib evaluate` and the pages."""
from __future__ import annotations

import torch
import torch.nn as nn

from . import metrics
from .data import toy_modes
from .sampling import generate

DIGIT_DATASETS = ("mnist", "typeset")  # what the shipped MNIST classifier can judge


def can_evaluate(dataset: str, data_shape) -> bool:
    """True where our metrics apply: 2-D toys, and one-channel digits (28 or 32 px)."""
    if dataset.startswith("toy-"):
        return True
    return dataset in DIGIT_DATASETS and list(data_shape)[0] == 1


def evaluate_generator(G: nn.Module, dataset: str, data_shape, *, num_classes: int = 0, n: int = 2000,
                       seed: int = 0, device="cpu") -> dict:
    """Quality metrics of G's samples against its data set; {} where none apply (see can_evaluate).

    Conditional generators are asked for classes 0, 1, ..., 9, 0, ... so label accuracy is measured.
    """
    if not can_evaluate(dataset, data_shape):
        return {}
    if dataset.startswith("toy-"):
        modes, std = toy_modes(dataset)
        return metrics.evaluate_points(generate(G, n, seed=seed, device=device), modes, std)
    labels = torch.arange(n) % num_classes if num_classes else None
    fake = generate(G, n, labels=labels, seed=seed, device=device)
    return metrics.evaluate_images(fake, real_name=dataset, asked_labels=labels)


def is_better(new: dict, old: dict | None) -> bool:
    """Model selection for best.pt: lower FID for images; more modes, then more quality, for toys."""
    if not new:
        return False
    if not old:
        return True
    if "fid" in new:
        return new["fid"] < old.get("fid", float("inf"))
    return (new["modes_covered"], new["high_quality_frac"]) > (old["modes_covered"], old["high_quality_frac"])


def metrics_note(dataset: str, data_shape) -> str:
    """What a run's quality metrics report for this data, one sentence ('' where the usual metrics apply)."""
    if len(list(data_shape)) != 3 or can_evaluate(dataset, data_shape):
        return ""
    shape = "x".join(str(s) for s in data_shape)
    return (f"Quality metrics (FID, precision/recall, class coverage) use an MNIST classifier's features, so they "
            f"apply to one-channel digits only; for {dataset} images ({shape}) the run reports losses, D's outputs, "
            "gradient norms, speed and sample grids.")
