"""The CUDA path, run for real where a CUDA GPU exists (skipped elsewhere; CI has none, and
tests/test_device.py fakes the device checks there). Each family trains a few steps on the GPU with
bf16 autocast, its checkpoint opens on the CPU, and the exploring tools run on the GPU.

    python -m pytest -q tests/test_cuda.py     # on a GPU machine
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlib.checkpoints import load_checkpoint
from ganlib.cli import main
from ganlib.config import TrainConfig
from ganlib.train import rundir
from ganlib.train.batches import autocast_dtype
from ganlib.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = dict(subset=256, batch_size=32, width=8, latent_dim=16, log_every=2, sample_every=4,
            checkpoint_every=4, max_steps=8, ema_decay=0.9, eval_every=0, device="cuda", amp=True)


@pytest.mark.parametrize("model,dataset,extra", [
    ("gan", "toy-ring", {}), ("gan", "toy-grid", {"latent_mixture": 10, "lr_decay": 0.5, "r1_late": 0.0}), ("dcgan", "mnist", {}), ("cgan", "mnist", {}), ("dcgan", "mnist", {"loss": "wgan-gp"}),
    ("dcgan", "mnist", {"pack": 2, "minibatch_discrimination": True}),
    ("cyclegan", "typeset", {"dataset_b": "mnist", "res_blocks": 1, "lambda_shape": 5.0}),
    ("stylegan", "mnist", {"r1_every": 2}),
    ("stylegan", "mnist", {"style_mode": "modulate", "r1_every": 2}),
])
def test_each_family_trains_on_the_gpu_and_opens_on_the_cpu(tmp_path, model, dataset, extra):
    cfg = TrainConfig(**{**TINY, "model": model, "dataset": dataset, **extra})
    summary = train(cfg, tmp_path / "r")
    assert summary["state"] == "finished" and summary["device"].startswith("cuda")
    status = rundir.read_status(tmp_path / "r")
    assert status["device"].startswith("cuda")
    ckpt = load_checkpoint(tmp_path / "r")  # saved from the GPU, read here on the CPU
    assert all(t.device.type == "cpu" for t in ckpt["G"].values())
    rows = rundir.read_metrics(tmp_path / "r")
    assert rows and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows if r["kind"] == "train")
    # and it resumes on the GPU
    assert train(None, tmp_path / "r", resume=True, overrides={"max_steps": 10})["step"] == 10


def test_latent_mixture_draws_the_same_on_the_gpu_as_on_the_cpu():
    """DeLiGAN's latent picks its component with Phi and remaps eps with Phi^-1: the GPU's special functions
    must pick the same components and the same points as the CPU's for the same z and weights."""
    from ganlib.models.layers import MixtureLatent

    torch.manual_seed(0)
    mix = MixtureLatent(8, 50)
    z = torch.randn(20000, 8)
    k_cpu, _ = mix.split(z)
    k_gpu, _ = mix.cuda().split(z.cuda())
    same = k_gpu.cpu() == k_cpu
    assert same.float().mean() > 0.999  # only a z_0 within float32 rounding of a component's edge may differ
    diff = (mix(z.cuda()).cpu() - mix.cpu()(z))[same].abs().amax(1)
    # float32 keeps Phi(z_0) * 50 to ~4e-6, and Phi^-1 magnifies that near 0 and 1: a few points in a thousand
    # sit close enough to an edge to move (as they do between float32 and float64 on one CPU)
    assert (diff < 1e-3).float().mean() > 0.999 and diff.median() < 1e-5


def test_bf16_autocast_is_on_for_this_gpu():
    dtype = autocast_dtype(TrainConfig(amp=True), torch.device("cuda"))
    assert dtype is (torch.bfloat16 if torch.cuda.is_bf16_supported() else None)


def test_cli_sample_evaluate_latent_translate_on_the_gpu(tmp_path, capsys):
    assert main(["sample", "--checkpoint", "checkpoints/dcgan_mnist.pt", "--device", "cuda", "--n", "16",
                 "--out", str(tmp_path / "s.npy")]) == 0
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (16, 1, 28, 28) and np.isfinite(x).all()
    assert main(["evaluate", "--checkpoint", "checkpoints/cgan_mnist.pt", "--device", "cuda", "--n", "500"]) == 0
    assert "fid " in capsys.readouterr().out
    assert main(["translate", "--checkpoint", "checkpoints/cyclegan_typeset_mnist.pt", "--direction", "a2b",
                 "--input", str(tmp_path / "s.npy"), "--out", str(tmp_path / "t.npy"), "--device", "cuda"]) == 0
    assert np.load(tmp_path / "t.npy").shape == (16, 1, 28, 28)


def test_latent_tools_on_the_gpu():
    from ganlib import latent
    from ganlib.directions import find_directions
    from ganlib.checkpoints import load_generator

    G, _ = load_generator("checkpoints/dcgan_mnist.pt", device=torch.device("cuda"))
    z = latent.sample_latents(G, 4, seed=0)
    img = latent.render(G, z)
    assert img.shape == (4, 1, 28, 28)
    dirs = find_directions(G, "sefa", k=3)
    moved = latent.render(G, latent.steer(z, dirs.vectors[:1], [2.0]))
    assert (moved - img).abs().mean() > 0
    target = img[0]
    result = latent.invert(G, target, restarts=2, steps=30)
    assert result.image.shape == (1, 28, 28)


def test_style_studio_tools_on_the_gpu(tmp_path, capsys):
    from ganlib import style
    from ganlib.metrics.classifier import load_classifier

    G, _ = style.load_stylegan("checkpoints/stylegan_mnist.pt", device="cuda")
    assert next(G.parameters()).device.type == "cuda"
    w_a, w_b = style.seeds_to_w(G, [1, 2, 3]), style.seeds_to_w(G, [4, 5])
    grid = style.mixing_grid(G, w_a, w_b, *style.parse_range("coarse"))
    assert grid["cells"].shape == (2, 3, 1, 28, 28)
    ws = style.truncate(G, style.broadcast(G, w_a), 0.5)
    dirs = style.group_directions(G, 16, 32, k=2)
    moved = style.render(G, style.apply_direction(G, ws, dirs.vectors[0], 3.0, 16, 32))
    assert (moved - style.render(G, ws)).abs().mean() > 0
    study = style.noise_study(G, ws[:1], draws=3)
    assert study["frames"].shape == (3, 1, 28, 28) and study["change"].shape == (1, 28, 28)
    fm = style.feature_maps(G, ws[:1], style.conv_layer_names(G)[-1])
    assert fm.dim() == 3 and fm.device.type == "cpu"
    result = style.style_check(G, load_classifier(device="cuda"), n=64)
    assert 0 <= result["coarse_keeps_a"] <= 1 and result["noise_keeps_label"] > 0.5
    # and the CLI's style-mix on the GPU-trained file (the shipped one opens on any device)
    assert main(["style-mix", "--checkpoint", "checkpoints/stylegan_mnist.pt", "--out", str(tmp_path / "m.png")]) == 0
