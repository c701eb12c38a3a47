"""The pretrained models shipped in checkpoints/, described by checkpoints/manifest.json.

Each manifest entry says what the file is, the exact commands that made it (train, export), how
long training took on which machine, and its `python -m ganlib evaluate` figures, so that anyone
can reproduce and check it offline.
"""
from __future__ import annotations

import json
from pathlib import Path

CHECKPOINTS_DIR = Path(__file__).resolve().parents[1] / "checkpoints"


def manifest() -> dict[str, dict]:
    """{name: entry} from checkpoints/manifest.json ({} when the file is absent)."""
    path = CHECKPOINTS_DIR / "manifest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["models"]


def pretrained_path(name: str) -> Path:
    """The file of a shipped model by manifest name, e.g. pretrained_path("cgan_mnist")."""
    models = manifest()
    if name not in models:
        raise ValueError(f"No shipped model is called {name!r}; there are {', '.join(models) or 'none'}.")
    return CHECKPOINTS_DIR / models[name]["file"]


def preview_png(name: str, n: int = 100, seed: int = 0) -> bytes:
    """A PNG grid of n samples from a shipped model (conditional ones: one class per column)."""
    import torch

    from .checkpoints import load_generator
    from .images import grid_image, png_bytes
    from .sampling import generate

    G, meta = load_generator(pretrained_path(name))
    num_classes = meta["model_kwargs"]["G"].get("num_classes", 0)
    labels = torch.arange(n) % num_classes if num_classes else None
    return png_bytes(grid_image(generate(G, n, labels=labels, seed=seed), nrow=num_classes or None))


def summary_line(entry: dict) -> str:
    """One line of a manifest entry's measured quality, e.g. for the home page."""
    ev, floor = entry["evaluate"], entry["real_floor"]
    parts = [f"FID {ev['fid']:.2f} on our MNIST-classifier features (real digits: {floor['fid']:.2f})",
             f"{ev['coverage_100']}/10 digits in 100 samples", f"precision {ev['precision']:.2f}",
             f"recall {ev['recall']:.2f}"]
    if "label_accuracy" in ev:
        parts.append(f"{ev['label_accuracy']:.1%} of samples are the asked digit")
    return "; ".join(parts) + f"; trained {entry['train_seconds'] / 60:.0f} min on {entry['machine']}."


def generator_choices(runs_root: str | Path | None = None) -> list[dict]:
    """Every generator a page can open: the shipped models, then each run's checkpoint (newest first).

    Each entry: {"label", "path", "family", "dataset", "shipped"}. Read from the manifest and the runs'
    config.json files only (no checkpoint is loaded), so listing is cheap enough for every rerun.
    """
    from .train import jobs

    out = [{"label": f"{entry['title']} (shipped)", "path": str(CHECKPOINTS_DIR / entry["file"]),
            "family": entry["family"], "dataset": entry["dataset"], "shipped": True}
           for entry in manifest().values() if (CHECKPOINTS_DIR / entry["file"]).is_file()]
    for run_dir in jobs.run_dirs(runs_root):
        if not (run_dir / "checkpoint.pt").is_file():
            continue
        config = jobs.load_config(run_dir)
        if config is None:
            continue
        out.append({"label": f"run {run_dir.name} ({config.model}, {config.dataset})",
                    "path": str(run_dir / "checkpoint.pt"), "family": config.model,
                    "dataset": config.dataset, "shipped": False})
    return out
