"""64 and 128 px image folders: the DCGAN paper's 64x64 nets (one more block per doubling), CycleGAN
with one more block per doubling, RGB throughout, and what the metrics say for non-digit data."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ganlib import cli
from ganlib.checkpoints import load_checkpoint
from ganlib.config import TrainConfig
from ganlib.modelcard import config_card
from ganlib.models.cyclegan import PatchDiscriminator, ResnetGenerator
from ganlib.train import rundir
from ganlib.train.loop import train


def make_folder(path, n: int, size: int = 80, seed: int = 0, hue: int = 0):
    """n small RGB pictures (a coloured disc on a coloured ground), not square-cropped to the model's size."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for i in range(n):
        ground = tuple(int(v) for v in rng.integers(0, 256, 3))
        img = Image.new("RGB", (size, size - 10), ground)
        r, cx, cy = (int(v) for v in rng.integers((8, 20, 20), (25, size - 20, size - 30)))
        disc = ((hue + int(rng.integers(0, 80))) % 256, int(rng.integers(0, 256)), 255 - ground[0])
        ImageDraw.Draw(img).ellipse([cx - r, cy - r, cx + r, cy + r], fill=disc)
        img.save(path / f"{i:04d}.png")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("pics") / "discs", 300)


TINY64 = dict(model="dcgan", dataset="folder", image_size=64, width=8, latent_dim=16, batch_size=16, max_steps=3,
              log_every=1, sample_every=3, checkpoint_every=3, n_fixed=16, ema_decay=0.9, device="cpu")


def test_a_64px_dcgan_trains_and_samples_on_a_folder(folder, tmp_path):
    out = tmp_path / "run"
    summary = train(TrainConfig(**TINY64, data_dir=str(folder)), out)
    assert summary["state"] == "finished" and summary["step"] == 3
    grid = Image.open(rundir.sample_path(out, 3))
    assert grid.mode == "RGB" and grid.size == (4 * 66 + 2, 4 * 66 + 2)  # 4x4 RGB 64 px samples, 2 px gaps
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["model_kwargs"]["G"]["image_size"] == 64 and ckpt["dataset"]["shape"] == [3, 64, 64]
    note = rundir.read_status(out)["metrics_note"]
    assert "digits only" in note and "folder images (3x64x64)" in note
    assert not [r for r in rundir.read_metrics(out) if r.get("kind") == "eval"]  # no digit metrics on discs
    png = tmp_path / "s.png"
    assert cli.main(["sample", "--checkpoint", str(out), "--n", "4", "--out", str(png)]) == 0
    assert Image.open(png).size == (2 * 66 + 2, 2 * 66 + 2)


def test_the_64px_nets_are_the_dcgan_paper_s():
    """G: z -> 8w 4x4 -> 4w 8x8 -> 2w 16x16 -> w 32x32 -> 3 64x64 (pytorch/examples dcgan, ngf = w); D mirrors it."""
    card = config_card(TrainConfig(model="dcgan", dataset="folder", data_dir="x", image_size=64, channels=3, width=64))
    convs = [r.output_shape for r in card["G"] if r.layer.startswith("ConvTranspose2d")]
    assert convs == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
    d_convs = [r.output_shape for r in card["D"] if r.layer.startswith("Conv2d")]
    assert d_convs == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    card = config_card(TrainConfig(model="dcgan", dataset="folder", data_dir="x", image_size=128, channels=3, width=8))
    convs = [r.output_shape for r in card["G"] if r.layer.startswith("ConvTranspose2d")]
    assert convs[0] == (128, 4, 4) and convs[-1] == (3, 128, 128) and len(convs) == 6  # one more block


def test_cyclegan_adds_a_block_per_doubling():
    x = torch.randn(2, 3, 64, 64)
    sizes = {}
    for size in (32, 64, 128):
        G, D = ResnetGenerator(size, 3, width=4, blocks=1), PatchDiscriminator(size, 3, width=4)
        x = torch.randn(2, 3, size, size)
        assert G(x).shape == x.shape
        sizes[size] = (len(G.net), D(x).shape[-1], len(D.net))
    assert sizes[64][0] == sizes[32][0] + 6 and sizes[128][0] == sizes[32][0] + 12  # a down and an up block each
    assert sizes[32][1] == sizes[64][1] == sizes[128][1] == 8  # D's patch grid: the same share of the image
    assert sizes[64][2] == sizes[32][2] + 3


def test_a_64px_cyclegan_trains_between_two_folders(folder, tmp_path):
    other = make_folder(tmp_path / "other", 40, seed=1, hue=128)
    out = tmp_path / "cyc"
    cfg = TrainConfig(model="cyclegan", dataset="folder", data_dir=str(folder), dataset_b="folder",
                      data_dir_b=str(other), image_size=64, width=4, res_blocks=1, batch_size=4, max_steps=2,
                      log_every=1, sample_every=2, checkpoint_every=2, pool_size=4, subset=40, device="cpu")
    assert train(cfg, out)["state"] == "finished"
    assert Image.open(rundir.sample_path(out, 2)).mode == "RGB"


def test_big_images_are_for_folders():
    problems = TrainConfig(model="dcgan", dataset="mnist", image_size=64).validate()
    assert problems == ["Image sizes 64 and 128 are for image folders (--dataset folder); use 28 or 32 for mnist."]
    assert TrainConfig(model="dcgan", dataset="folder", data_dir="x", image_size=128).validate() == []
    cyc = TrainConfig(model="cyclegan", dataset="folder", data_dir="x", dataset_b="mnist", image_size=64).validate()
    assert any("--dataset-b folder" in p for p in cyc)


def test_the_monitor_says_what_is_reported_for_non_digit_images(folder, tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    train(TrainConfig(**TINY64, data_dir=str(folder)), root / "discs")
    repo = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(repo / "studio" / "main.py"), default_timeout=30).run()
    at.switch_page(str(repo / "studio" / "app_pages" / "1_Train.py")).run()
    at.session_state["more_curves"] = "Quality metrics"  # open that tab
    at.run()
    assert not at.exception, at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "apply to one-channel digits only; for folder images (3x64x64) the run reports losses" in captions
