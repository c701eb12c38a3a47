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


def _idx_bytes(arr) -> bytes:
    """An array in the MNIST idx format (unsigned bytes): magic, shape, data."""
    import numpy as np

    arr = np.asarray(arr)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def write_idx():
    """write_idx(path, array, gz=True): an MNIST idx file (gzipped unless gz=False), as the official files are."""
    import gzip

    def write(path, arr, gz: bool = True) -> None:
        (gzip.open if gz else open)(path, "wb").write(_idx_bytes(arr))

    return write
