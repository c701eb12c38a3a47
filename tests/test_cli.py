import json
import subprocess
import sys

import numpy as np
import pytest

from ganlib.cli import build_parser, main
from ganlib.cli.train import add_config_flags, config_from_args
from ganlib.config import command_for
from ganlib.config import TrainConfig

TINY = ["--subset", "64", "--batch-size", "16", "--width", "8", "--latent-dim", "8", "--max-steps", "3",
        "--log-every", "1", "--quiet"]


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cgan"
    assert main(["train", "--model", "cgan", "--dataset", "typeset", "--out", str(out), *TINY]) == 0
    return out


def test_train_sample_info_resume(cgan_run, tmp_path, capsys):
    assert main(["sample", "--checkpoint", str(cgan_run), "--n", "12", "--class", "7", "--out",
                 str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (12, 1, 28, 28) and arr.min() >= -1 and arr.max() <= 1
    assert main(["sample", "--checkpoint", str(cgan_run / "checkpoint.pt"), "--n", "20", "--out",
                 str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["info", "--checkpoint", str(cgan_run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "cgan" and info["step"] == 3
    assert main(["train", "--resume", str(cgan_run), "--max-steps", "5", "--quiet"]) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["info", "--checkpoint", str(cgan_run)]) == 0
    assert "step                   5" in capsys.readouterr().out


def test_toy_sample_npy_is_points(tmp_path):
    out = tmp_path / "ring"
    assert main(["train", "--model", "gan", "--dataset", "toy-ring", "--out", str(out), *TINY]) == 0
    assert main(["sample", "--checkpoint", str(out), "--n", "30", "--out", str(tmp_path / "p.npy")]) == 0
    assert np.load(tmp_path / "p.npy").shape == (30, 2)


@pytest.mark.parametrize("argv,message", [
    (["info", "--checkpoint", "nowhere.pt"], "nowhere.pt does not exist."),
    (["train", "--model", "cgan", "--dataset", "toy-ring", "--out", "{tmp}/x"], "use the gan model for 2-D toy-ring"),
    (["train", "--out", "{tmp}/x", "--lr", "3"], "Learning rate lr_g must be in (0, 0.1]"),
    (["train", "--dataset", "fashion-mnist", "--out", "{tmp}/x"], "Fashion-MNIST is not available"),
    (["train", "--resume", "{tmp}"], "is not a run directory"),
])
def test_bad_input_is_one_sentence(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_class_on_unconditional_checkpoint(tmp_path, capsys):
    out = tmp_path / "dc"
    main(["train", "--model", "dcgan", "--dataset", "typeset", "--out", str(out), *TINY])
    assert main(["sample", "--checkpoint", str(out), "--class", "3", "--out", str(tmp_path / "a.png")]) == 2
    assert "needs a cgan" in capsys.readouterr().err


def test_resume_refuses_changing_the_model(cgan_run, capsys):
    assert main(["train", "--resume", str(cgan_run), "--loss", "hinge"]) == 2
    assert "--resume keeps the run's settings" in capsys.readouterr().err


def test_command_for_round_trips_through_the_parser():
    cfg = TrainConfig(model="cgan", dataset="typeset", loss="hinge", lr_d=1e-4, spectral_norm=True, amp=False)
    cmd = command_for(cfg, "runs/x")
    assert cmd.startswith("python -m ganlib train") and cmd.endswith("--out runs/x")
    args = build_parser().parse_args(cmd.split()[3:])
    assert config_from_args(args)[0] == cfg


def test_each_model_starts_from_its_recipe_and_round_trips():
    """`--model cyclegan` alone trains the shipped CycleGAN's recipe (typeset, LSGAN, no R1, ...), the gan
    model on a toy the lab's toy recipe; a given flag replaces the recipe's value, and command_for writes
    only what differs from the recipe, so every family's config survives the trip through the parser."""
    from ganlib.arena import PRESETS, arena_config
    from ganlib.config import recipe_config
    from ganlib.families import FAMILIES, TOY_RECIPE

    parse = lambda argv: config_from_args(build_parser().parse_args(["train", *argv]))[0]
    cyclegan = parse(["--model", "cyclegan"])
    assert {k: getattr(cyclegan, k) for k in FAMILIES["cyclegan"].recipe} == FAMILIES["cyclegan"].recipe
    assert (cyclegan.loss, cyclegan.r1_gamma, cyclegan.dataset, cyclegan.patch) == ("lsgan", 0.0, "typeset", 34)
    assert parse(["--model", "cyclegan", "--r1-gamma", "1", "--lr", "1e-3"]).r1_gamma == 1.0
    assert parse(["--model", "cyclegan", "--lr", "1e-3"]).lr_d == 1e-3
    toy = parse(["--model", "gan", "--dataset", "toy-ring"])
    assert {k: getattr(toy, k) for k in TOY_RECIPE} == TOY_RECIPE
    assert parse(["--model", "gan"]) == TrainConfig(model="gan")              # on MNIST: the defaults
    assert parse([]) == TrainConfig()
    for cfg in (recipe_config(model="cyclegan", dataset_b="fashion-mnist", lr_d=1e-4, r1_gamma=1.0),
                recipe_config(model="stylegan", beta1=0.5, width=32), recipe_config(model="gan", dataset="toy-grid"),
                recipe_config(model="cyclegan", dataset="mnist", dataset_b="typeset"), TrainConfig(model="gan"),
                *(arena_config(preset) for preset in PRESETS)):                # the lab's "train it yourself" commands
        cmd = command_for(cfg, "runs/x")
        assert parse(cmd.split()[4:-2]) == cfg, cmd
    assert command_for(recipe_config(model="cyclegan"), "runs/x") == \
        "python -m ganlib train --model cyclegan --dataset typeset --out runs/x"


def test_help_runs_as_a_module():
    for sub in ("train", "sample", "info"):
        out = subprocess.run([sys.executable, "-m", "ganlib", sub, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "usage: python -m ganlib" in out.stdout


def test_evaluate_toy_checkpoint(tmp_path, capsys):
    out = tmp_path / "ring"
    main(["train", "--model", "gan", "--dataset", "toy-ring", "--out", str(out), *TINY])
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out), "--n", "300", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_modes"] == 8 and result["num_samples"] == 300 and 0 <= result["modes_covered"] <= 8


def test_a_setting_has_one_help_text_everywhere():
    """The CLI's --help, the Train page and the Mode-collapse lab show fieldhelp.FIELD_HELP's text."""
    import argparse
    from dataclasses import fields as dc_fields

    from ganlib.config import TrainConfig
    from ganlib.fieldhelp import FIELD_HELP

    assert set(FIELD_HELP) <= {f.name for f in dc_fields(TrainConfig)}   # no help for a setting that is gone
    p = argparse.ArgumentParser()
    add_config_flags(p)
    shown = {a.dest: a.help for a in p._actions}
    assert shown["r1_late"] == f"{FIELD_HELP['r1_late']} (default: 1.0)"
    assert shown["patch"].startswith(FIELD_HELP["patch"])
    assert shown["lr_d"].endswith("(default: 0.0004; cyclegan: 0.0002; stylegan: 0.002; gan on a toy: 0.002; dcgan on a GPU: 0.0016; "
                                 "cgan on a GPU: 0.0016)")  # the recipes' too


def test_another_models_flag_gets_a_note_not_silence(tmp_path, capsys):
    """--patch is CycleGAN's and --mapping-layers StyleGAN's (each family's reads_only): a DCGAN run trains as asked
    and says in one line that it ignored them."""
    assert main(["train", "--model", "dcgan", "--patch", "12", "--mapping-layers", "2", "--out",
                 str(tmp_path / "r"), *TINY]) == 0
    err = capsys.readouterr().err
    assert "note: a dcgan run ignores --patch (cyclegan), --mapping-layers (stylegan), settings other models read." in err
    assert main(["train", "--model", "dcgan", "--out", str(tmp_path / "s"), *TINY]) == 0
    assert "ignores" not in capsys.readouterr().err
