import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep downloads and metric caches of tests out of the user's home."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("GAN_STUDIO_DATA", str(cache / "data"))
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(cache / "metrics"))
