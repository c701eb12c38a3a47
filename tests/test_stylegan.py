"""StyleGAN: the model's maths, its controls (ganlib.style), its training step, checkpoints and resume."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from ganlib import directions, latent, style
from ganlib.checkpoints import export_checkpoint, load_checkpoint, load_generator
from ganlib.config import TrainConfig
from ganlib.models.stylegan import (EqualLinear, MappingNetwork, StyleGANDiscriminator, StyleGANGenerator, adain,
                                    modulated_conv)
from ganlib.train import rundir
from ganlib.train.loop import train

TINY = dict(model="stylegan", subset=128, batch_size=8, width=4, latent_dim=8, mapping_layers=2, log_every=2,
            sample_every=4, checkpoint_every=4, max_steps=6, ema_decay=0.9, eval_every=0, r1_every=2, r1_gamma=1.0,
            n_fixed=8)


def tiny_config(**kw) -> TrainConfig:
    return TrainConfig(**{**TINY, **kw})


def tiny_g(**kw) -> StyleGANGenerator:
    torch.manual_seed(0)
    return StyleGANGenerator(**{"latent_dim": 8, "width": 4, "mapping_layers": 2, **kw})


def with_noise(G: StyleGANGenerator, strength: float = 0.5) -> StyleGANGenerator:
    with torch.no_grad():
        for conv in G.synthesis.convs:
            conv.noise_strength.fill_(strength)
    return G


# ---------------------------------------------------------------- the model's maths

def test_mapping_network_shapes_and_learning_rate_multiplier():
    torch.manual_seed(0)
    m = MappingNetwork(8, layers=3, lr_mul=0.01)
    assert len(m.fcs) == 3 and m(torch.randn(5, 8)).shape == (5, 8)
    # with Adam (step size ~ lr per stored weight), lr_mul scales how fast the *used* weight moves
    fast, slow = EqualLinear(8, 8, lr_mul=1.0), EqualLinear(8, 8, lr_mul=0.01)
    with torch.no_grad():
        slow.weight.copy_(fast.weight / 0.01)
    assert torch.allclose(fast.effective_weight(), slow.effective_weight(), atol=1e-6)
    before = [fast.effective_weight().detach().clone(), slow.effective_weight().detach().clone()]
    x = torch.randn(16, 8)
    for layer in (fast, slow):
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
        layer(x).square().mean().backward()
        opt.step()
    moved = [(layer.effective_weight().detach() - b).abs().mean() for layer, b in zip((fast, slow), before)]
    assert float(moved[1] / moved[0]) == pytest.approx(0.01, rel=1e-2)


def test_modulation_and_demodulation_match_a_hand_computation():
    torch.manual_seed(0)
    x, weight, s = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.rand(2, 3) + 0.5
    out = modulated_conv(x, weight, s, demodulate=True, padding=1)
    for n in range(2):   # StyleGAN2 eq. 1 and 3: one kernel per sample
        w1 = weight * s[n].view(1, 3, 1, 1)
        w2 = w1 / torch.sqrt(w1.square().sum((1, 2, 3), keepdim=True) + 1e-8)
        assert torch.allclose(out[n], F.conv2d(x[n:n + 1], w2, padding=1)[0], atol=1e-5)
    plain = modulated_conv(x, weight, s, demodulate=False, padding=1)
    assert torch.allclose(plain[1], F.conv2d(x[1:2], weight * s[1].view(1, 3, 1, 1), padding=1)[0], atol=1e-5)


def test_adain_matches_a_hand_computation():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]])           # mean 3, std sqrt(3.5)
    out = adain(x, torch.tensor([[2.0]]), torch.tensor([[0.5]]))
    expected = 2.0 * (x - 3.0) / math.sqrt(3.5) + 0.5
    assert torch.allclose(out, expected, atol=1e-5)
    G = tiny_g(style_mode="adain")
    assert G(torch.randn(3, 8)).shape == (3, 1, 28, 28) and G.synthesis.convs[0].affine.out_features == 2 * 16


@pytest.mark.parametrize("mode", ["adain", "modulate"])
def test_noise_strength_zero_gives_a_deterministic_output(mode):
    G = tiny_g(style_mode=mode).train()                  # random noise on every call
    ws = G.broadcast(G.mapping(torch.randn(2, 8)))
    assert torch.equal(G.synthesis(ws), G.synthesis(ws))          # learned strengths start at 0
    with_noise(G)
    assert not torch.equal(G.synthesis(ws), G.synthesis(ws))
    assert torch.equal(G.synthesis(ws, noise_scale=[0.0] * len(G.synthesis.convs)), G.synthesis(ws, noise_mode="none"))
    assert torch.equal(G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const"))


@pytest.mark.parametrize("mode", ["adain", "modulate"])
def test_mixing_with_the_same_w_twice_equals_no_mixing(mode):
    G = with_noise(tiny_g(style_mode=mode)).eval()
    w = style.random_w(G, 3, seed=1)
    ws = style.broadcast(G, w)
    for lo, hi in [(4, 8), (16, 32), (8, 16)]:
        assert torch.equal(style.render(G, style.mix(G, ws, ws, lo, hi)), style.render(G, ws))
    # and a real mix takes exactly the chosen layers from A
    w2 = style.random_w(G, 3, seed=2)
    mixed = style.mix(G, ws, style.broadcast(G, w2), 4, 8)
    from_a = style.layer_mask(G, 4, 8)
    assert from_a.tolist() == [r <= 8 for r in G.layer_resolutions]
    assert torch.equal(mixed[:, from_a], ws[:, from_a]) and torch.equal(mixed[:, ~from_a], style.broadcast(G, w2)[:, ~from_a])


def test_truncation_psi_zero_is_the_mean_w_image_and_psi_one_changes_nothing():
    G = tiny_g().eval()
    G.update_w_avg(G.mapping(torch.randn(64, 8)), beta=0.0)
    ws = style.broadcast(G, style.random_w(G, 2, seed=0))
    mean_image = style.render(G, G.w_avg[None].float().expand(2, -1))   # same batch size: same numerics
    assert torch.equal(style.truncate(G, ws, 0.0), G.w_avg.expand_as(ws))
    assert torch.allclose(style.render(G, style.truncate(G, ws, 0.0)), mean_image, atol=1e-6)
    assert torch.equal(style.truncate(G, ws, 1.0), ws)
    z = torch.randn(2, 8)
    assert torch.allclose(G(z, truncation_psi=0.0), mean_image, atol=1e-5)
    assert torch.equal(G(z, truncation_psi=1.0), G(z))
    with pytest.raises(ValueError, match="between 0 and 1.5"):
        style.truncate(G, ws, 2.0)


def test_w_avg_follows_the_mean_w():
    G = tiny_g()
    w = torch.randn(10, 8) + 3
    G.update_w_avg(w, beta=0.5)
    assert torch.allclose(G.w_avg, 0.5 * w.mean(0))


def test_generator_and_discriminator_shapes_for_28_and_32_pixels():
    for size in (28, 32):
        G, D = tiny_g(image_size=size), StyleGANDiscriminator(size, 1, 4)
        x = G(torch.randn(4, 8), style_mixing_prob=1.0)
        assert x.shape == (4, 1, size, size) and D(x).shape == (4,)
        D(x).mean().backward()
        assert all(p.grad is not None for p in G.synthesis.parameters() if p.requires_grad and p.dim() > 1)
        G.eval()
        y = G(torch.randn(4, 8))
        assert y.min() >= -1 and y.max() <= 1
    assert G.num_ws == len(G.layer_names) == 11


def test_synthesis_refuses_wrong_ws_and_noise_modes():
    G = tiny_g()
    with pytest.raises(ValueError, match=r"\(N, 11, D\)"):
        G.synthesis(torch.randn(2, 8))
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(G.broadcast(torch.randn(1, 8)), noise_mode="loud")


# ---------------------------------------------------------------- the controls (ganlib.style, latent's w space)

def test_parse_range_presets_and_errors():
    assert style.parse_range("coarse") == (4, 8) and style.parse_range("16-32") == (16, 32)
    assert style.parse_range("8") == (8, 8) and style.parse_range("fine") == (32, 32)
    for bad in ("3-8", "16-8", "big", "4-8-16"):
        with pytest.raises(ValueError, match="layer range"):
            style.parse_range(bad)


def test_mixing_grid_cells_are_the_mixes():
    G = with_noise(tiny_g()).eval()
    w_a, w_b = style.random_w(G, 3, 0), style.random_w(G, 2, 1)
    grid = style.mixing_grid(G, w_a, w_b, 4, 8)
    assert grid["a"].shape == (3, 1, 28, 28) and grid["cells"].shape == (2, 3, 1, 28, 28)
    one = style.render(G, style.mix(G, style.broadcast(G, w_a[2:3]), style.broadcast(G, w_b[1:2]), 4, 8))
    assert torch.allclose(grid["cells"][1, 2], one[0], atol=1e-5)
    images, nrow = style.grid_tensor(grid)
    assert images.shape == (3 * 4, 1, 28, 28) and nrow == 4


def test_group_directions_move_only_their_layers():
    G = tiny_g().eval()
    dirs = style.group_directions(G, 32, 32, k=3)
    assert dirs.vectors.shape == (3, 8) and torch.allclose(dirs.vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert dirs.scores == sorted(dirs.scores, reverse=True)
    ws = style.broadcast(G, style.random_w(G, 1, 0))
    moved = style.apply_direction(G, ws, dirs.vectors[0], 3.0, 32, 32)
    changed = (moved - ws).abs().sum(-1)[0] > 0
    assert changed.tolist() == [r == 32 for r in G.layer_resolutions]
    _, before = G.synthesis(ws, noise_mode="const", return_features=True)
    _, after = G.synthesis(moved, noise_mode="const", return_features=True)
    assert torch.equal(before["16x16 conv"], after["16x16 conv"])        # coarser layers untouched
    assert not torch.equal(before["32x32 conv"], after["32x32 conv"])


def test_latent_w_space_uses_the_mapping_and_mean_w():
    G = tiny_g().eval()
    w = latent.sample_latents(G, 4, seed=3, space="w")
    z = latent.sample_latents(G, 4, seed=3, space="z")
    assert torch.allclose(w, G.mapping(z), atol=1e-6)
    assert torch.equal(latent.mean_latent(G, "w"), G.w_avg)
    assert torch.allclose(latent.render(G, w, space="w"), latent.render(G, z), atol=1e-5)
    for kind in ("sefa", "pca"):
        dirs = directions.find_directions(G, kind, k=4, space="w")
        assert dirs.vectors.shape == (4, 8) and dirs.space == "w"
    assert directions.find_directions(G, "sefa", k=4).vectors.shape == (4, 8)          # z space works too
    from ganlib.models.dcgan import DCGANGenerator
    with pytest.raises(ValueError, match="Only StyleGAN"):
        latent.sample_latents(DCGANGenerator(latent_dim=8, width=4), 1, 0, space="w")


def test_noise_study_and_feature_maps():
    G = with_noise(tiny_g(), 1.0).eval()
    w = style.random_w(G, 1, 0)
    study = style.noise_study(G, w, draws=4, seed=0)
    assert study["frames"].shape == (4, 1, 28, 28) and study["change"].shape == (1, 28, 28)
    assert float(study["change"].max()) > 0
    quiet = style.noise_study(G, w, draws=3, noise_scale=[0.0] * len(G.synthesis.convs))
    assert float(quiet["change"].max()) < 1e-6
    names = style.conv_layer_names(G)
    maps = style.feature_maps(G, w, names[-1])
    assert maps.shape == (4, 32, 32) and maps.min() >= -1 and maps.max() <= 1
    with pytest.raises(ValueError, match="Unknown layer"):
        style.feature_maps(G, w, "nope")


def test_style_check_reports_the_issue_figures_on_a_tiny_model():
    from ganlib.metrics.classifier import load_classifier

    G = with_noise(tiny_g()).eval()
    out = style.style_check(G, load_classifier(), n=40, seed=0)
    for key in ("coarse_keeps_a", "coarse_reads_b", "noise_keeps_label"):
        assert 0.0 <= out[key] <= 1.0
    for key in ("ink_corr_b", "ink_corr_a", "thickness_corr_b", "thickness_corr_a"):
        assert -1.0 <= out[key] <= 1.0
    assert out["noise_pixel_change"] > 0 and out["n"] == 40 and 0 <= out["pairs_differ"] <= 40
    assert 0.0 <= out["coarse_keeps_a_when_differ"] <= 1.0


# ---------------------------------------------------------------- training, checkpoints, resume

def test_a_few_training_steps_on_tiny_data(tmp_path):
    summary = train(tiny_config(), tmp_path / "run")
    assert train(tiny_config(style_mode="adain", max_steps=2), tmp_path / "adain")["state"] == "finished"
    assert summary["state"] == "finished" and summary["step"] == 6
    rows = rundir.read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert all(math.isfinite(rows[-1][k]) for k in ("d_loss", "g_loss", "r1", "grad_norm_d", "grad_norm_g"))
    assert rows[0]["r1"] > 0   # lazy R1 ran at step 0 and is logged
    ckpt = load_checkpoint(tmp_path / "run", family="stylegan")
    assert ckpt["model_kwargs"]["G"]["style_mode"] == "modulate" and ckpt["G_ema"]
    assert float(ckpt["G"]["w_avg"].abs().sum()) > 0      # the mean w was tracked
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "stylegan"


def test_checkpoint_round_trip_and_export(tmp_path):
    train(tiny_config(max_steps=2), tmp_path / "run")
    G, meta = load_generator(tmp_path / "run")
    export_checkpoint(tmp_path / "run", tmp_path / "slim.pt")
    G2, _ = style.load_stylegan(tmp_path / "slim.pt")
    z = torch.randn(3, 8)
    assert torch.equal(G(z), G2(z)) and meta["family"] == "stylegan"
    for name in G.state_dict():
        assert torch.equal(G.state_dict()[name], G2.state_dict()[name]), name


def test_resume_equals_uninterrupted(tmp_path):
    train(tiny_config(max_steps=8), tmp_path / "full")
    train(tiny_config(max_steps=4), tmp_path / "half")
    train(None, tmp_path / "half", resume=True, overrides={"max_steps": 8})
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "half")
    for key in ("G", "G_ema", "D"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


def test_load_stylegan_refuses_other_families(tmp_path):
    from ganlib.checkpoints import CheckpointError
    from ganlib.pretrained import pretrained_path

    with pytest.raises(CheckpointError, match="needs a stylegan checkpoint"):
        style.load_stylegan(pretrained_path("dcgan_mnist"))


def test_config_refuses_what_stylegan_cannot_do():
    assert tiny_config().validate() == []
    assert "style mode" in tiny_config(style_mode="fancy").validate()[0]
    assert "n_critic 1" in tiny_config(n_critic=2).validate()[0]
    assert "wgan-gp" in tiny_config(loss="wgan-gp").validate()[0]
    assert "2-D" in tiny_config(dataset="toy-ring").validate()[0]


def test_model_card_rows_count_every_parameter():
    from ganlib.modelcard import config_card, data_shape_for, totals
    from ganlib.models import build_models, model_kwargs

    config = TrainConfig(model="stylegan", width=4, latent_dim=8, mapping_layers=2)
    card = config_card(config)
    G, D = build_models("stylegan", model_kwargs(config, *data_shape_for(config)))
    assert totals(card["G"])[0] == sum(p.numel() for p in G.parameters())
    assert totals(card["D"])[0] == sum(p.numel() for p in D.parameters())
    assert card["G"][-1].output_shape == (1, 28, 28) and card["D"][-1].output_shape == (1,)
    layers = [r.layer for r in card["G"]]
    assert sum(x.startswith("StyledConv") for x in layers) == 7 and sum(x.startswith("ToImage") for x in layers) == 4
    assert "EqualLinear 8→8, lr×0.01" in layers and "modulated/demodulated" in layers[6]
    adain_card = config_card(TrainConfig(model="stylegan", width=4, latent_dim=8, mapping_layers=2, style_mode="adain"))
    assert "AdaIN" in adain_card["G"][6].layer


def test_cli_style_check_and_style_mix(tmp_path, capsys):
    from ganlib.cli import main

    train(tiny_config(max_steps=2), tmp_path / "run")
    assert main(["style-mix", "--checkpoint", str(tmp_path / "run"), "--a", "1,2", "--b", "3", "--layers", "16-32",
                 "--out", str(tmp_path / "mix.png")]) == 0
    assert (tmp_path / "mix.png").read_bytes()[:4] == b"\x89PNG" and "16-32 px layers from A" in capsys.readouterr().out
    assert main(["style-check", "--checkpoint", str(tmp_path / "run"), "--n", "20", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) >= {"coarse_keeps_a", "ink_corr_b", "noise_keeps_label"}
    assert main(["style-mix", "--checkpoint", str(tmp_path / "run"), "--layers", "5-9", "--out", str(tmp_path / "x.png")]) == 2
    assert "layer range" in capsys.readouterr().err
    assert main(["style-check", "--checkpoint", "checkpoints/dcgan_mnist.pt"]) == 2
    assert "needs a stylegan checkpoint" in capsys.readouterr().err


def test_family_only_settings_name_real_fields():
    from dataclasses import fields

    from ganlib.config import field_applies
    from ganlib.families import FAMILIES

    names = {f.name for f in fields(TrainConfig)}
    assert all(set(f.reads_only) | set(f.ignores) | set(f.before_defaults) <= names for f in FAMILIES.values())
    assert field_applies("style_mode", "stylegan") and not field_applies("style_mode", "cyclegan")
    assert field_applies("shape_norm", "cyclegan") and not field_applies("shape_norm", "dcgan")
    assert all(field_applies("lr_g", m) for m in ("gan", "dcgan", "cgan", "cyclegan", "stylegan"))
