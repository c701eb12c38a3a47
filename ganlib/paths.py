"""Where things live on disk: the project, the shipped checkpoints, the runs, the caches.

Every location that an environment variable can move is read here, at call time (not at import), so a
test or a server can point it elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where `python -m ganlib` is importable
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"      # the small pretrained models shipped with the app


def runs_root() -> Path:
    """Where runs live: $GAN_STUDIO_RUNS, else runs/ in the working directory."""
    return Path(os.environ.get("GAN_STUDIO_RUNS", "runs")).resolve()


def cache_root() -> Path:
    """GAN Studio's cache (reference statistics, latent directions): $GAN_STUDIO_CACHE, else ~/.cache/gan-studio."""
    return Path(os.environ.get("GAN_STUDIO_CACHE") or Path.home() / ".cache" / "gan-studio")


def data_root() -> Path:
    """Where downloaded data sets live: $GAN_STUDIO_DATA, else ~/.cache/gan-studio/data."""
    return Path(os.environ.get("GAN_STUDIO_DATA", Path.home() / ".cache" / "gan-studio" / "data"))
