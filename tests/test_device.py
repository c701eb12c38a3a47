"""Device choice (cuda, then mps, then cpu) and the autocast dtype per device, with the GPU checks faked:
CI has no GPU, so this is how the CUDA and MPS branches are exercised there."""
from __future__ import annotations

import pytest
import torch

from ganlib import device as devmod
from ganlib.config import TrainConfig
from ganlib.train import batches


@pytest.fixture
def fake(monkeypatch):
    def set_(cuda: int = 0, mps: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set_


def test_auto_prefers_cuda_then_mps_then_cpu(fake):
    fake(cuda=2, mps=True)
    assert devmod.pick_device("auto") == torch.device("cuda")
    fake(cuda=0, mps=True)
    assert devmod.pick_device("") == torch.device("mps")
    assert devmod.available_devices() == ["mps", "cpu"]
    fake(cuda=0, mps=False)
    assert devmod.pick_device("AUTO") == torch.device("cpu")
    assert devmod.describe_device() == "CPU (no GPU found)"
    fake(cuda=2)
    assert devmod.available_devices() == ["cuda:0", "cuda:1", "cpu"]


def test_a_named_device_that_is_absent_is_refused_in_one_sentence(fake):
    fake(cuda=0, mps=False)
    with pytest.raises(ValueError, match="no CUDA GPU is available here; use --device cpu"):
        devmod.pick_device("cuda")
    with pytest.raises(ValueError, match="MPS was asked for but is not available"):
        devmod.pick_device("mps")
    with pytest.raises(ValueError, match="is not a device name"):
        devmod.pick_device("gpu0")
    fake(cuda=1)
    assert devmod.pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="cuda:3 does not exist: this machine has 1 CUDA GPU"):
        devmod.pick_device("cuda:3")


def test_autocast_dtype_per_device(monkeypatch):
    on, off = TrainConfig(amp=True), TrainConfig(amp=False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert batches.autocast_dtype(on, torch.device("cuda")) is torch.bfloat16
    assert batches.autocast_dtype(off, torch.device("cuda")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert batches.autocast_dtype(on, torch.device("cuda")) is None  # older GPUs train in full precision
    assert batches.autocast_dtype(on, torch.device("mps")) is None
    monkeypatch.setattr(batches, "cpu_supports_bf16", lambda: True)
    assert batches.autocast_dtype(on, torch.device("cpu")) is torch.bfloat16
    monkeypatch.setattr(batches, "cpu_supports_bf16", lambda: False)
    assert batches.autocast_dtype(on, torch.device("cpu")) is None  # emulated bf16 would be slower
