"""Device choice in one place: cuda, then mps, then cpu, unless the user names one."""
from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if present, else mps, else cpu. Raises ValueError for an absent device."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"{name!r} is not a device name; use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but no CUDA GPU is available here; use --device cpu.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s).")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was asked for but is not available here; use --device cpu.")
    return dev


def describe_device(dev: torch.device | None = None) -> str:
    """A short human description, e.g. 'NVIDIA H100 (cuda:0)' or 'CPU (no GPU found)'."""
    dev = dev or pick_device("auto")
    if dev.type == "cuda":
        idx = dev.index or 0
        return f"{torch.cuda.get_device_name(idx)} (cuda:{idx})"
    if dev.type == "mps":
        return "Apple GPU (mps)"
    gpu_absent = not torch.cuda.is_available()
    return "CPU (no GPU found)" if gpu_absent else "CPU"


def available_devices() -> list[str]:
    """Device names a user can choose, best first."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def gpu_count() -> int:
    """CUDA GPUs on this machine (0 without CUDA): more than one lets a run use several through torchrun."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
