"""One checkpoint format for every family; safe loading with one-sentence errors.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts) so that
torch.load(weights_only=True) can read it without unpickling arbitrary objects:

    format "gan-studio", format_version, family, model_kwargs {G: {...}, D: {...}},
    train_config (TrainConfig as a dict), dataset {name, shape, num_classes, class_names},
    step, epoch, time (training seconds), metrics (last logged row), eval (last evaluation),
    G, D, G_ema (state dicts; G_ema may be absent), opt_g, opt_d, rng, fixed_noise, fixed_labels;
    a CycleGAN holds G (A -> B), F (B -> A), G_ema, F_ema, D_A, D_B, pool_a, pool_b, fixed_a, fixed_b
    and dataset_b instead of D and the fixed noise (each step's nets, emas, optimizers and extra_state)

An exported checkpoint (`export_checkpoint`, what checkpoints/ ships) keeps the generators and the
metadata but not D, the optimisers or the RNG: it is small, and it can be sampled and evaluated
but not resumed ("inference_only": True).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from .families import FAMILIES
from .models import NETWORK_CLASSES, build_generator
from .files import atomic_write_bytes

FORMAT = "gan-studio"
FORMAT_VERSION = 1
CLASSIFIER_FORMAT = "gan-studio-classifier"  # the metrics' feature network (ganlib.metrics.classifier)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one sentence for the user."""


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Atomically write a checkpoint (write a temp file, fsync, rename): a crash leaves the old one."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, family: str | None = None, map_location="cpu") -> dict:
    """Load and check a GAN Studio checkpoint. Raises CheckpointError with one clear sentence."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise CheckpointError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (the write that made it was cut off).")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError) as e:
        hint = "it looks truncated" if ("central directory" in str(e) or isinstance(e, EOFError)
                                        or "failed finding" in str(e)) else "it is damaged"
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint ({hint}).") from None
    except pickle.UnpicklingError as e:
        why = "it holds objects that are unsafe to load" if "weights_only" in str(e) else "it is not a PyTorch file"
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint ({why}).") from None
    except Exception as e:  # noqa: BLE001 - anything else is still a bad file, not a crash
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint ({type(e).__name__}).") from None
    if isinstance(ckpt, dict) and ckpt.get("format") == CLASSIFIER_FORMAT:
        raise CheckpointError(f"{path} is GAN Studio's MNIST classifier (the metrics' feature network), not a GAN: "
                              "give a generator checkpoint such as checkpoints/dcgan_mnist.pt.")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint (it is a PyTorch file of another kind).")
    if ckpt.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer GAN Studio (format {ckpt['format_version']}); "
                              "update GAN Studio to read it.")
    if ckpt.get("family") not in NETWORK_CLASSES:
        raise CheckpointError(f"{path} holds an unknown model family {ckpt.get('family')!r}.")
    if family is not None and ckpt["family"] != family:
        raise CheckpointError(f"{path} holds a {ckpt['family']} model, not a {family} model.")
    return ckpt


def saved_generator(ckpt: dict, path) -> nn.Module:
    """An untrained generator as a loaded checkpoint describes it; networks this version cannot build (written
    by another version) are a CheckpointError of one sentence."""
    try:
        return build_generator(ckpt["family"], ckpt["model_kwargs"])
    except ValueError as e:
        raise CheckpointError(f"{path} was written by another version of GAN Studio: {e}.") from None


def load_generator(path: str | Path, device="cpu", prefer_ema: bool = True) -> tuple[nn.Module, dict]:
    """The generator (EMA weights when present) in eval mode, and the checkpoint's metadata."""
    ckpt = load_checkpoint(path)
    if FAMILIES[ckpt["family"]].two_domains:
        raise CheckpointError(f"{path} is a CycleGAN, which translates images rather than generating them from "
                              "noise: use `python -m ganlib translate` or the Translate page.")
    G = saved_generator(ckpt, path)
    state = ckpt.get("G_ema") if prefer_ema and ckpt.get("G_ema") else ckpt["G"]
    try:
        G.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(f"{path} does not match its own model description (damaged or edited).") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("G", "D", "G_ema", "opt_g", "opt_d", "rng")}
    meta["ema"] = bool(prefer_ema and ckpt.get("G_ema"))
    return G.to(device).eval(), meta


# what only resuming needs: D, the optimisers, the RNG and each family's extras (CycleGAN: D_A, D_B, pools)
TRAINING_STATE = ("D", "opt_g", "opt_d", "rng") + tuple(k for f in FAMILIES.values() for k in f.checkpoint_extras)


def export_checkpoint(src: str | Path, dst: str | Path) -> dict:
    """Write the inference-only part of checkpoint `src` (file or run directory) to `dst`, atomically.

    Keeps G, G_ema and all metadata; drops D, the optimiser states and the RNG. Returns describe().
    """
    ckpt = load_checkpoint(src)
    slim = {k: v for k, v in ckpt.items() if k not in TRAINING_STATE and k not in ("format", "format_version")}
    slim["inference_only"] = True
    save_checkpoint(dst, slim)
    return describe(ckpt)


def describe(ckpt: dict) -> dict:
    """A JSON-friendly summary of a checkpoint (what `python -m ganlib info` prints)."""
    cfg = ckpt.get("train_config", {})
    ds = ckpt.get("dataset", {})
    n_params = sum(t.numel() for t in ckpt["G"].values() if torch.is_tensor(t))
    return {
        "format_version": ckpt.get("format_version"),
        "family": ckpt["family"],
        "dataset": ds.get("name"),
        "data_shape": ds.get("shape"),
        "num_classes": ckpt["model_kwargs"]["G"].get("num_classes", 0),
        "latent_dim": ckpt["model_kwargs"]["G"].get("latent_dim"),
        "loss": cfg.get("loss"),
        "step": ckpt.get("step"),
        "epoch": ckpt.get("epoch"),
        "train_seconds": round(float(ckpt.get("time", 0.0)), 1),
        "generator_parameters": n_params,
        "ema": bool(ckpt.get("G_ema")),
        "resumable": not ckpt.get("inference_only", False),
        "metrics": ckpt.get("metrics", {}),
        "eval": ckpt.get("eval", {}),
    }


def generator_classes(meta: dict) -> int:
    """How many classes a checkpoint's generator is conditioned on (0: unconditional). meta: a loaded
    checkpoint or load_generator's meta."""
    return meta["model_kwargs"]["G"].get("num_classes", 0)
