"""DCGAN's and CGAN's GPU recipe (families.GPU_RECIPE): taken where a run trains on a CUDA GPU (--device cuda, or
auto with one present), never on a CPU, a toy or another family; the CLI, the reproduce command and the Train
page agree. The GPU is faked here (CI has none); tests/test_cuda.py trains on a real one."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import ganlib.device
from ganlib.cli import build_parser
from ganlib.cli.train import config_from_args
from ganlib.config import TrainConfig, command_for, on_gpu, recipe, recipe_config, recipe_switch
from ganlib.families import GPU_RECIPE

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "studio" / "main.py")
TRAIN_PAGE = str(ROOT / "studio" / "app_pages" / "1_Train.py")


@pytest.fixture
def gpu(monkeypatch):
    """This machine, told it has one CUDA GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")


def parse(argv: list[str]) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))[0]


def test_the_recipe_follows_the_device(gpu):
    for model in ("dcgan", "cgan"):
        for device in (None, "auto", "cuda", "cuda:0"):
            assert on_gpu(device)
            assert {k: recipe(model, None, device)[k] for k in GPU_RECIPE} == GPU_RECIPE
        assert recipe(model, None, "cpu") == {}
        assert recipe(model, "toy-ring", "cuda") == recipe(model, "toy-ring", "cpu")  # 2-D points: no GPU recipe
    for model in ("gan", "cyclegan", "stylegan"):
        assert recipe(model, None, "cuda") == recipe(model, None, "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_no_gpu_no_gpu_recipe():
    assert not on_gpu("auto") and not on_gpu(None) and not on_gpu("cpu") and on_gpu("cuda")
    assert recipe_config(model="dcgan") == TrainConfig()


def test_the_cli_takes_it_on_a_gpu_and_any_flag_wins(gpu):
    cfg = parse([])
    assert (cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.epochs) == (1024, 3.2e-3, 1.6e-3, 320)
    assert parse(["--device", "cpu"]) == TrainConfig(device="cpu")
    assert parse(["--batch-size", "256"]).batch_size == 256 and parse(["--batch-size", "256"]).lr_g == 3.2e-3
    assert parse(["--model", "stylegan"]).batch_size == 32


def test_the_reproduce_command_trains_the_same_anywhere(gpu):
    on_cuda = recipe_config(model="dcgan", device="cuda")
    cmd = command_for(on_cuda, "runs/x")
    assert cmd == "python -m ganlib train --model dcgan --dataset mnist --device cuda --out runs/x"
    assert parse(cmd.split()[4:-2]) == on_cuda
    # a run on auto is written out against the CPU recipe: its GPU values are given explicitly
    on_auto = recipe_config(model="dcgan")
    cmd = command_for(on_auto, "runs/x")
    assert "--batch-size 1024" in cmd and "--epochs 320" in cmd
    assert parse(cmd.split()[4:-2]) == on_auto


def test_a_form_that_changes_device_moves_the_recipe(gpu):
    assert recipe_switch("dcgan", "mnist", "dcgan", "mnist", "cpu", "cuda:0") == GPU_RECIPE
    back = recipe_switch("dcgan", "mnist", "dcgan", "mnist", "cuda:0", "cpu")
    assert back == {k: getattr(TrainConfig, k) for k in GPU_RECIPE}
    assert recipe_switch("stylegan", "mnist", "stylegan", "mnist", "cpu", "cuda:0") == {}


def test_the_train_page_starts_a_gpu_run_from_the_gpu_recipe(gpu, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    assert ganlib.device.available_devices()[0] == "cuda:0"
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception, at.exception
    assert at.number_input(key="cfg_batch_size").value == 1024
    assert at.number_input(key="cfg_epochs").value == 320
    captions = " ".join(c.value for c in at.caption)
    assert "GPU recipe: batch 1024" in captions and "NVIDIA H200" in captions
    at.selectbox(key="cfg_device").select("cpu").run()  # the CPU's recipe comes back
    assert not at.exception, at.exception
    assert at.number_input(key="cfg_batch_size").value == 64
    assert at.number_input(key="cfg_lr_g").value == pytest.approx(8e-4)
    at.selectbox(key="cfg_device").select("cuda:0").run()
    assert at.number_input(key="cfg_batch_size").value == 1024


def test_a_run_names_what_it_changed_from_its_recipe_as_flags():
    from ganlib.config import changed_from_recipe, flag_text

    assert changed_from_recipe(recipe_config(model="dcgan", seed=3, max_steps=50, eval_every=0)) == {}
    changed = changed_from_recipe(recipe_config(model="dcgan", g_steps=10, r1_gamma=0.0, spectral_norm=True))
    assert changed == {"g_steps": 10, "r1_gamma": 0.0, "spectral_norm": True}
    assert changed_from_recipe(recipe_config(model="stylegan")) == {}   # its own recipe is not a change
    assert changed_from_recipe(recipe_config(model="cgan", patch=12)) == {}   # a field cgan does not read
    assert [flag_text(k, v) for k, v in changed.items()] == ["--g-steps 10", "--r1-gamma 0.0", "--spectral-norm"]
    assert flag_text("spectral_norm", False) == "--no-spectral-norm" and flag_text("augment", "") == "--augment ''"
