"""The model card (ganlib.modelcard): shapes, parameter counts and FLOPs match the built networks for
every family, image size and trick; the CLI prints it for a config (--dry-run) and a checkpoint (--layers)."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn

from ganlib.cli import main
from ganlib.config import TrainConfig
from ganlib.families import MODELS
from ganlib.modelcard import config_card, data_shape_for, layer_table, model_card, totals
from ganlib.models import build_models, model_kwargs

CASES = [
    TrainConfig(model="gan", dataset="toy-ring"),
    TrainConfig(model="gan", dataset="mnist", minibatch_discrimination=True),
    TrainConfig(model="dcgan", dataset="mnist"),
    TrainConfig(model="dcgan", dataset="mnist", image_size=32, channels=3, minibatch_std=True, spectral_norm=True),
    TrainConfig(model="dcgan", dataset="typeset", loss="wgan-gp", width=8),
    TrainConfig(model="cgan", dataset="mnist", minibatch_discrimination=True),
    TrainConfig(model="cgan", dataset="fashion-mnist", image_size=32, spectral_norm=True, latent_dim=16),
]


def built(config: TrainConfig):
    shape, classes = data_shape_for(config)
    torch.manual_seed(0)
    return build_models(config.model, model_kwargs(config, shape, classes)), shape, classes


@pytest.mark.parametrize("config", CASES, ids=lambda c: f"{c.model}-{c.dataset}-{c.image_size}")
def test_card_matches_the_built_networks(config):
    (G, D), shape, classes = built(config)
    card = config_card(config)
    for net, rows in (("G", card["G"]), ("D", card["D"])):
        model = G if net == "G" else D
        assert totals(rows)[0] == sum(p.numel() for p in model.parameters())  # every parameter in one row
        assert all(r.flops >= 0 for r in rows) and totals(rows)[1] > 0
    assert card["G"][0].output_shape == (config.latent_dim,)
    # G's last layer makes one training example (the MLP's flat vector is viewed as an image after it)
    assert card["G"][-1].output_shape == (shape if config.model != "gan" else (math.prod(shape),))
    assert card["D"][0].output_shape == shape and card["D"][-1].output_shape == (1,)
    # each row's shape is what that module really outputs: check by running the modules one by one
    z = torch.randn(3, config.latent_dim)
    y = torch.arange(3) % classes if config.model == "cgan" else None
    outs: dict[str, tuple] = {}

    def keep(name):
        def hook(m, args, out):
            outs.setdefault(name, tuple(out.shape[1:]))
        return hook

    hooks = [m.register_forward_hook(keep(name)) for name, m in G.named_modules() if name and not list(m.children())]
    G.eval()(z, y)
    for h in hooks:
        h.remove()
    for r in card["G"][1:]:
        assert outs[r.name] == r.output_shape, r


def test_dcgan_walkthrough_numbers():
    """The seeds' DCGAN: z 100 -> 4x4 -> 7x7 -> 14x14 -> 28x28 with transposed convolutions (32x32: 8, 16, 32)."""
    for size, sides in ((28, (4, 7, 14, 28)), (32, (4, 8, 16, 32))):
        card = config_card(TrainConfig(model="dcgan", image_size=size, width=64))
        convs = [r for r in card["G"] if r.layer.startswith("ConvTranspose2d")]
        assert [r.output_shape for r in convs] == [(256, sides[0], sides[0]), (128, sides[1], sides[1]),
                                                    (64, sides[2], sides[2]), (1, sides[3], sides[3])]
        first = convs[0]  # 100 -> 256 channels, 4x4 kernel, no bias: 100*256*16 weights, a MAC each per output pixel
        assert first.params == 100 * 256 * 16 and first.flops == 2 * 100 * 256 * 16
        kinds = [r.layer.split()[0] for r in card["G"][1:]]
        assert kinds[:3] == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] and kinds[-1] == "Tanh"
        assert any(r.layer.startswith("LeakyReLU(0.2)") for r in card["D"])


def test_conv_and_linear_flops_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 5, 4))
    rows = layer_table(net, torch.randn(2, 3, 5, 5))
    conv, relu, flat, lin = rows[1:]
    assert conv.flops == 2 * 8 * 5 * 5 * 3 * 3 * 3 and conv.params == 8 * 27 + 8
    assert relu.flops == 200 and lin.flops == 2 * 200 * 4 and lin.output_shape == (4,)


def test_checkpoint_card_and_cli(tmp_path, capsys):
    assert main(["train", "--model", "cgan", "--dataset", "typeset", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Generator: 345,185 parameters" in out and "ConvTranspose2d 116→128, k4 s1 p0" in out
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    assert main(["info", "--checkpoint", "checkpoints/dcgan_mnist.pt", "--layers", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    ckpt = torch.load("checkpoints/dcgan_mnist.pt", weights_only=True)
    assert sum(r["params"] for r in card["G"]) == sum(t.numel() for k, t in ckpt["G"].items()
                                                      if not k.endswith(("running_mean", "running_var",
                                                                         "num_batches_tracked")))
    assert main(["train", "--model", "cgan", "--dataset", "toy-ring", "--dry-run"]) == 2
    assert "CGAN generates images" in capsys.readouterr().err


def test_every_family_of_the_form_has_a_card():
    for family in MODELS:
        dataset = "toy-grid" if family == "gan" else "mnist"
        card = model_card(family, model_kwargs(TrainConfig(model=family), *data_shape_for(
            TrainConfig(model=family, dataset=dataset))))
        assert card["G"] and card["D"]


def test_a_family_the_card_cannot_probe_gets_one_sentence():
    with pytest.raises(ValueError, match="No layer table for the dcgan family"):
        model_card("dcgan", {"G": {}, "D": {}})


def test_cyclegan_card_is_image_to_image_and_counts_every_parameter():
    config = TrainConfig(model="cyclegan", dataset="typeset", dataset_b="mnist", width=8, res_blocks=2)
    kwargs = model_kwargs(config, *data_shape_for(config))
    card = model_card("cyclegan", kwargs)
    G, D = build_models("cyclegan", kwargs)
    assert card["G"][0].output_shape == card["G"][-1].output_shape == (1, 28, 28)  # G maps an image to an image
    assert totals(card["G"])[0] == sum(p.numel() for p in G.parameters())
    assert totals(card["D"])[0] == sum(p.numel() for p in D.parameters())
