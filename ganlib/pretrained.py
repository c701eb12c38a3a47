"""The pretrained models shipped in checkpoints/, described by checkpoints/manifest.json.

Each manifest entry says what the file is, the exact commands that made it (train, export), how
long training took on which machine, and its `python -m ganlib evaluate` figures, so that anyone
can reproduce and check it offline.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from .checkpoints import generator_classes, load_generator
from .files import atomic_write_bytes
from .images import grid_image, png_bytes
from .paths import CHECKPOINTS_DIR
from .sampling import generate
from .train import jobs, rundir
from .translate import domain_batch, load_cyclegan

# the figures of an "eval" row that a recorded training history keeps, per step
HISTORY_KEYS = ("step", "coverage_100", "class_coverage", "class_histogram", "class_kl_uniform", "mean_confidence",
                "top3_share", "fid")


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
    if manifest()[name]["family"] == "cyclegan":  # typeset digits (fonts held out of training) over their translations
        model = load_cyclegan(pretrained_path(name))
        x, _ = domain_batch(model.domains[0], 20, seed=seed, size=model.image_shape[-1])
        y = model.translate(x, "a2b")
        return png_bytes(grid_image(torch.cat([x[:10], y[:10], x[10:], y[10:]]), nrow=10))
    G, meta = load_generator(pretrained_path(name))
    num_classes = generator_classes(meta)
    labels = torch.arange(n) % num_classes if num_classes else None
    return png_bytes(grid_image(generate(G, n, labels=labels, seed=seed), nrow=num_classes or None))


def summary_line(entry: dict) -> str:
    """One line of a manifest entry's measured quality, e.g. for the home page."""
    if entry["family"] == "cyclegan":
        ev = entry["evaluate"]
        return (f"typeset → handwriting keeps the digit in {ev['label_a2b']:.1%} of cases (fonts held out of "
                f"training; handwriting → typeset {ev['label_b2a']:.1%}); FID of translations vs MNIST "
                f"{ev['fid_a2b']:.2f} on our MNIST-classifier features (typeset itself: {ev['fid_typeset']:.2f}); "
                f"a typeset-vs-handwriting judge calls {ev['judge_handwritten_a2b']:.0%} of its translations "
                f"handwritten" + (f" and {ev['judge_typeset_b2a']:.0%} of the way back typeset"
                                  if "judge_typeset_b2a" in ev else "") + "; cycle error "
                f"{ev['cycle_a']:.3f} / {ev['cycle_b']:.3f}; trained {entry['train_seconds'] / 60:.0f} min on "
                f"{entry['machine']}.")
    ev, floor = entry["evaluate"], entry["real_floor"]
    parts = [f"FID {ev['fid']:.2f} on our MNIST-classifier features (real digits: {floor['fid']:.2f})",
             f"{ev['coverage_100']}/10 digits in 100 samples", f"precision {ev['precision']:.2f}",
             f"recall {ev['recall']:.2f}"]
    if "label_accuracy" in ev:
        parts.append(f"{ev['label_accuracy']:.1%} of samples are the asked digit")
    if "style_check" in entry:   # a StyleGAN: its measured disentanglement (ganlib.style.style_check)
        sc = entry["style_check"]
        parts.append(f"coarse styles keep the digit in {sc['coarse_keeps_a']:.0%} of mixes, fine styles carry the "
                     f"stroke thickness (r = {sc['thickness_corr_b']:.2f} with B's, {sc['thickness_corr_a']:.2f} "
                     "with A's)")
    return "; ".join(parts) + f"; trained {entry['train_seconds'] / 60:.0f} min on {entry['machine']}."


def generator_choices(runs_root: str | Path | None = None) -> list[dict]:
    """Every generator a page can open: the shipped models, then each run's checkpoint (newest first).

    Each entry: {"label", "path", "family", "dataset", "shipped"}. Read from the manifest and the runs'
    config.json files only (no checkpoint is loaded), so listing is cheap enough for every rerun.
    """
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


def shipped_entry(path: str | Path) -> dict | None:
    """The manifest entry of the shipped model at `path` (its commands and measured figures); None for a run."""
    for entry in manifest().values():
        if Path(path).resolve() == (CHECKPOINTS_DIR / entry["file"]).resolve():
            return entry
    return None


def early_checkpoint(path: str | Path) -> Path | None:
    """The early-training checkpoint shipped beside a model (manifest "early_file"), if any."""
    entry = shipped_entry(path)
    if entry and entry.get("early_file"):
        early = CHECKPOINTS_DIR / entry["early_file"]
        return early if early.is_file() else None
    return None


# ---------------------------------------------------------------- recorded training histories

def record_history(run_dir: str | Path, out_png: str | Path) -> list[dict]:
    """A run's diversity, step by step, for shipping beside its model: one row per evaluated step that also has
    a sample grid (the figures of its "eval" row in metrics.jsonl, see HISTORY_KEYS), and those steps' grids
    from the run's fixed noise stacked top to bottom into one PNG at out_png (history_frames cuts it up again).
    """
    evals = {row["step"]: row for row in rundir.read_metrics(run_dir, "eval") if "class_histogram" in row}
    grids = dict(rundir.list_samples(run_dir))
    steps = [s for s in sorted(evals) if s in grids]
    if not steps:
        raise ValueError(f"{run_dir} has no step with both an evaluation and a sample grid to record.")
    frames = [Image.open(grids[s]) for s in steps]
    if len({f.size for f in frames}) != 1:
        raise ValueError(f"The sample grids of {run_dir} differ in size; a history needs one size.")
    width, height = frames[0].size
    strip = Image.new(frames[0].mode, (width, height * len(frames)))
    for i, frame in enumerate(frames):
        strip.paste(frame.convert(strip.mode), (0, i * height))
    atomic_write_bytes(out_png, png_bytes(strip))
    return [{k: round(evals[s][k], 4) if isinstance(evals[s][k], float) else evals[s][k]
             for k in HISTORY_KEYS if k in evals[s]} for s in steps]


def history(name: str) -> list[tuple[dict, Image.Image]]:
    """A shipped model's recorded training history (manifest "history" and "history_file"): (figures, the
    sample grid from fixed noise) at each recorded step, oldest first; [] when none was recorded."""
    entry = manifest().get(name, {})
    rows, path = entry.get("history"), CHECKPOINTS_DIR / entry.get("history_file", "")
    if not rows or not path.is_file():
        return []
    strip = Image.open(path)
    strip.load()
    height = strip.height // len(rows)
    return [(row, strip.crop((0, i * height, strip.width, (i + 1) * height))) for i, row in enumerate(rows)]
