"""The 2-D arena and the remedies it compares: PacGAN packing, unrolled D steps, minibatch
discrimination, toy metrics on constructed cases, D's heat map, and saving an arena as a run."""
from __future__ import annotations

import math

import pytest
import torch

from ganlib.arena import PRESETS, Arena, arena_config
from ganlib.checkpoints import load_checkpoint, load_generator
from ganlib.config import TrainConfig
from ganlib.data import toy_modes
from ganlib.metrics import evaluate_points
from ganlib.models import build_models, model_kwargs
from ganlib.models.dcgan import DCGANDiscriminator
from ganlib.models.layers import MinibatchDiscrimination, MixtureLatent
from ganlib.models.mlp import MLPDiscriminator
from ganlib.train import rundir
from ganlib.train.loop import train
from ganlib.train.schedules import decay_start, lr_factor, r1_weight
from ganlib.train.steps import AdversarialStep
from studio import figures

TINY = dict(width=8, batch_size=16, eval_every=5, eval_samples=400, log_every=2, max_steps=10)


# ---------------------------------------------------------------- toy metrics, constructed cases

def test_toy_metrics_half_the_ring_plus_off_mode_points():
    modes, std = toy_modes("toy-ring")
    on = modes[:4].repeat(30, 1) + 0.5 * std * torch.randn(120, 2)   # 4 modes, 30 points each, all within 3 std
    off = torch.zeros(40, 2)                                           # the centre: 1.0 from every mode
    r = evaluate_points(torch.cat([on, off]), modes, std)
    assert (r["modes_covered"], r["num_modes"]) == (4, 8)
    assert r["high_quality_frac"] == pytest.approx(120 / 160)
    assert r["reverse_kl"] == pytest.approx(math.log(2))               # uniform over half of the modes
    assert r["mode_histogram"] == [30] * 4 + [0] * 4


def test_toy_metrics_all_grid_modes_and_a_single_mode():
    modes, std = toy_modes("toy-grid")
    r = evaluate_points(modes.repeat(4, 1), modes, std)
    assert (r["modes_covered"], r["high_quality_frac"], r["reverse_kl"]) == (25, 1.0, pytest.approx(0.0, abs=1e-12))
    one = evaluate_points(modes[7:8].repeat(50, 1) + std * 2.9 / math.sqrt(2), modes, std)  # 2.9 std away
    assert one["modes_covered"] == 1 and one["high_quality_frac"] == 1.0
    assert one["reverse_kl"] == pytest.approx(math.log(25))
    far = evaluate_points(modes[7:8] + 3.1 * std, modes, std)  # 3.1 std along each axis: 4.4 std away
    assert far["modes_covered"] == 0 and far["high_quality_frac"] == 0.0


# ---------------------------------------------------------------- remedies in the models and the step

def test_pacgan_packing_shapes_mlp_and_dcgan():
    D = MLPDiscriminator((2,), hidden=16, pack=4)
    assert D.body[0].in_features == 8
    assert D(torch.randn(12, 2)).shape == (3,)
    # a pack is m consecutive samples: changing one sample changes only its pack's output
    x = torch.randn(8, 2)
    y = x.clone()
    y[5] += 1.0
    out_x, out_y = D(x), D(y)
    assert out_x[0] == out_y[0] and out_x[1] != out_y[1]
    Dc = DCGANDiscriminator(28, channels=1, width=8, pack=2)
    assert Dc.body[0].in_channels == 2 and Dc(torch.randn(6, 1, 28, 28)).shape == (3,)
    with pytest.raises(ValueError, match="unconditional"):
        DCGANDiscriminator(28, channels=1, width=8, num_classes=10, pack=2)


def test_pack_is_in_model_kwargs_only_when_on():
    assert "pack" not in model_kwargs(TrainConfig(model="gan", dataset="toy-ring"), (2,), 0)["D"]
    kw = model_kwargs(TrainConfig(model="dcgan", pack=3, batch_size=63), (1, 28, 28), 10)
    G, D = build_models("dcgan", kw)
    assert kw["D"]["pack"] == 3 and D(G(torch.randn(6, 100))).shape == (2,)


def test_pack_and_unrolled_are_validated():
    assert any("multiple of the packing" in p for p in TrainConfig(pack=3, batch_size=64).validate())
    assert any("unconditional" in p for p in TrainConfig(model="cgan", pack=2).validate())
    assert any("between 1 (off) and 8" in p for p in TrainConfig(pack=0).validate())
    assert any("Unrolled D steps" in p for p in TrainConfig(unrolled_steps=-1).validate())
    assert not TrainConfig(model="gan", dataset="toy-grid", pack=4, unrolled_steps=5).validate()


def test_minibatch_discrimination_shapes():
    layer = MinibatchDiscrimination(in_features=20, n_kernels=6, kernel_dim=3)
    x = torch.randn(5, 20)
    out = layer(x)
    assert out.shape == (5, 26) and torch.equal(out[:, :20], x)
    same = layer(x[:1].repeat(4, 1))[:, 20:]  # identical samples: each sees 3 twins at distance 0
    assert torch.allclose(same, torch.full((4, 6), 3.0))
    D = MLPDiscriminator((2,), hidden=16, minibatch_discrimination=True, pack=2)
    assert D(torch.randn(10, 2)).shape == (5,)
    # against a reference batch: each row gets what it would get in a batch with the reference rows
    ref = torch.randn(7, 20)
    for i in range(5):
        in_batch = layer(torch.cat([x[i:i + 1], ref]))[0]
        assert torch.allclose(layer(x, reference=ref)[i], in_batch, atol=1e-6)
    grid, samples = torch.randn(6, 2), torch.randn(8, 2)
    with torch.no_grad():
        assert D(grid, mbd_reference=samples).shape == (3,)
        assert torch.allclose(D(grid[:2], mbd_reference=samples), D(torch.cat([grid[:2], samples]))[:1], atol=1e-6)


def test_d_surface_with_minibatch_discrimination_is_cheap_and_judges_against_g():
    arena = Arena(arena_config("mbd-ring", **TINY))
    axis, values = arena.d_surface(n=10)
    assert values.shape == (10, 10) and torch.isfinite(values).all()
    p = torch.tensor([[axis[2], axis[5]]])
    with torch.no_grad():
        arena.D.eval()
        direct = torch.sigmoid(arena.D(torch.cat([p, arena.points(TINY["batch_size"] - 1)])))[0]
    assert values[5, 2] == pytest.approx(float(direct), abs=1e-5)


def _step(cfg: TrainConfig, seed: int = 0):
    torch.manual_seed(seed)
    G, D = build_models("gan", model_kwargs(cfg, (2,), 0))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    return G, D, AdversarialStep(G, D, opt_g, opt_d, cfg, None, torch.device("cpu"), None)


def test_unrolled_d_steps_leave_d_untouched_and_change_g():
    x = torch.randn(64, 2)
    batches = lambda: (x[:16], None)  # noqa: E731
    runs = {}
    for k in (0, 3):
        cfg = TrainConfig(model="gan", dataset="toy-ring", width=8, batch_size=16, r1_gamma=0, unrolled_steps=k)
        G, D, step = _step(cfg)
        step(batches, 0, True)
        runs[k] = (G.state_dict(), D.state_dict())
    # D's own update is the same with or without unrolling (its real weights are never moved by
    # the simulation); only G's loss looks ahead
    for name, w in runs[0][1].items():
        assert torch.equal(w, runs[3][1][name]), name
    assert any(not torch.equal(w, runs[3][0][n]) for n, w in runs[0][0].items())


def test_unrolled_d_is_a_simulation_and_differentiable_through_fakes():
    cfg = TrainConfig(model="gan", dataset="toy-ring", width=8, batch_size=16, unrolled_steps=2, r1_gamma=0)
    G, D, step = _step(cfg)
    step(lambda: (torch.randn(16, 2), None), 0, False)  # Adam state exists
    before = {n: t.clone() for n, t in D.state_dict().items()}
    moments = {id(p): s["exp_avg"].clone() for p, s in step.opt_d.state.items()}
    fake = G(torch.randn(16, G.latent_dim))
    future = step.unrolled_d(torch.randn(16, 2), None, fake, None, k=5)
    assert all(torch.equal(t, before[n]) for n, t in D.state_dict().items())  # D itself restored (never moved)
    assert all(torch.equal(s["exp_avg"], moments[id(p)]) for p, s in step.opt_d.state.items())
    moved = [n for n, p in D.named_parameters() if not torch.allclose(future[n], p)]
    assert moved, "the simulated D must differ from D"
    out = torch.func.functional_call(D, future, (fake,))
    (g,) = torch.autograd.grad(out.sum(), fake)  # G's gradient flows through the simulated updates
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_pacgan_with_wgan_gp_and_r1_trains():
    x = torch.randn(64, 2)
    for loss, extra in (("wgan-gp", {}), ("ns", {"r1_gamma": 1.0})):
        cfg = TrainConfig(model="gan", dataset="toy-ring", width=8, batch_size=16, loss=loss, pack=4, **extra)
        _, _, step = _step(cfg)
        stats = step(lambda: (x[:16], None), 0, True)
        assert all(torch.isfinite(v) for v in stats.values())


# ---------------------------------------------------------------- DeLiGAN's latent mixture

def test_mixture_latent_picks_components_evenly_and_keeps_eps_standard():
    torch.manual_seed(0)
    m = MixtureLatent(latent_dim=4, components=10)
    z = torch.randn(50_000, 4)
    k, eps = m.split(z)
    counts = torch.bincount(k, minlength=10).float() / len(z)
    assert k.min() == 0 and k.max() == 9 and torch.allclose(counts, torch.full((10,), 0.1), atol=0.01)
    assert torch.allclose(eps.mean(0), torch.zeros(4), atol=0.02) and torch.allclose(eps.std(0), torch.ones(4), atol=0.02)
    assert abs(float(torch.corrcoef(torch.stack([k.float(), eps[:, 0]]))[0, 1])) < 0.02  # eps tells nothing of k
    assert torch.equal(eps[:, 1:], z[:, 1:])
    # each output is its component's mean plus its spread times eps: a function of z alone
    out = m(z[:5])
    assert torch.allclose(out, m.mu[k[:5]] + m.log_sigma[k[:5]].exp() * eps[:5]) and torch.equal(out, m(z[:5]))
    # extreme latents stay finite and in range
    k_far, eps_far = m.split(torch.tensor([[-40.0, 0, 0, 0], [40.0, 0, 0, 0]]))
    assert k_far.tolist() == [0, 9] and torch.isfinite(eps_far).all()


def test_latent_mixture_in_model_kwargs_only_when_on_and_for_the_gan_only():
    plain = model_kwargs(arena_config("vanilla-grid"), (2,), 0)
    assert "latent_mixture" not in plain["G"]                           # older runs' kwargs stay as they were
    mixed = model_kwargs(arena_config("vanilla-grid", latent_mixture=50), (2,), 0)
    assert mixed["G"]["latent_mixture"] == 50
    G, _ = build_models("gan", mixed)
    assert G.mixture.mu.shape == (50, 16)
    torch.manual_seed(3)
    G_plain, _ = build_models("gan", plain)
    torch.manual_seed(3)
    G_mixed, _ = build_models("gan", mixed)
    assert torch.equal(G_plain.net[0].weight, G_mixed.net[0].weight)   # a seed gives the layers the same weights
    assert "gan model" in TrainConfig(model="dcgan", latent_mixture=8).validate()[0]
    assert "0 (off) to 1000" in TrainConfig(model="gan", latent_mixture=-1).validate()[0]
    from ganlib.config import command_for
    assert "--latent-mixture 50" in command_for(arena_config("vanilla-grid", latent_mixture=50), "runs/x")


def test_latent_mixture_learns_with_the_layers_and_decays_with_them():
    cfg = arena_config("vanilla-grid", **{**TINY, "latent_mixture": 5, "lr_decay": 0.5})
    arena = Arena(cfg)
    mu = arena.G.mixture.mu.detach().clone()
    arena.train(cfg.max_steps)
    [group] = arena.opt_g.param_groups                                  # one schedule for all of G
    assert {id(p) for p in arena.G.mixture.parameters()} <= {id(p) for p in group["params"]}
    assert group["lr"] == pytest.approx(cfg.lr_g * lr_factor(9, 10, 0.5))
    assert not torch.equal(mu, arena.G.mixture.mu)                      # G's loss reaches the means
    assert torch.isfinite(arena.points(50)).all()


# ---------------------------------------------------------------- learning-rate decay (every family)

def test_lr_factor_is_flat_then_falls_linearly_to_near_zero():
    factors = [lr_factor(s, 100, 0.3) for s in range(100)]
    assert factors[:71] == [1.0] * 71                                   # the first 70% (and the first decay step)
    assert all(a > b for a, b in zip(factors[70:], factors[71:]))        # then strictly down
    assert factors[-1] == pytest.approx(2 / 31) and lr_factor(500, 100, 0.3) == pytest.approx(1 / 31)
    assert lr_factor(99, 100, 0.0) == 1.0 and lr_factor(5, 0, 0.5) == 1.0
    from ganlib.models.cyclegan import linear_decay                     # CycleGAN's schedule is fraction 0.5
    assert all(lr_factor(s, 37, 0.5) == pytest.approx(linear_decay(s, 37)) for s in range(37))


def test_lr_decay_is_validated_and_a_cli_flag():
    assert "learning-rate decay" in TrainConfig(lr_decay=1.5).validate()[0]
    from ganlib.config import command_for
    assert "--lr-decay 0.5" in command_for(TrainConfig(model="gan", dataset="toy-grid", lr_decay=0.5), "runs/x")


def test_r1_late_factor_takes_over_on_the_first_step_of_the_decay():
    cfg = TrainConfig(r1_gamma=2.0, lr_decay=0.3, r1_late=0.25)
    start = decay_start(100, 0.3)
    assert start == 70 and lr_factor(start, 100, 0.3) == 1.0 and lr_factor(start + 1, 100, 0.3) < 1
    assert [r1_weight(cfg, s, 100) for s in (0, 69, 70, 99, 500)] == [2.0, 2.0, 0.5, 0.5, 0.5]
    assert r1_weight(TrainConfig(r1_gamma=2.0, lr_decay=0.3), 99, 100) == 2.0        # factor 1: unchanged
    assert r1_weight(TrainConfig(r1_gamma=0.0, lr_decay=0.3, r1_late=0.0), 99, 100) == 0.0


def test_r1_late_factor_is_validated_and_a_cli_flag():
    assert TrainConfig(lr_decay=0.5, r1_late=0.0).validate() == []
    assert "set a learning-rate decay" in TrainConfig(r1_late=0.0).validate()[0]     # it would be ignored
    assert "0 to 10" in TrainConfig(lr_decay=0.5, r1_late=-1).validate()[0]
    from ganlib.config import command_for
    assert "--r1-late 0" in command_for(arena_config("deligan-grid"), "runs/x")
    assert "--r1-late" not in command_for(arena_config("r1-decay-grid"), "runs/x")


def test_r1_is_computed_until_the_decay_and_not_after_with_factor_zero(monkeypatch):
    """With r1_late 0 the second half runs without R1's double backward, in the arena and the loop alike."""
    from ganlib import losses
    calls = []
    real_penalty = losses.r1_penalty
    monkeypatch.setattr(losses, "r1_penalty", lambda x, d: calls.append(1) or real_penalty(x, d))
    arena = Arena(arena_config("vanilla-grid", **{**TINY, "r1_gamma": 1.0, "lr_decay": 0.5, "r1_late": 0.0}))
    arena.train(10)
    assert len(calls) == decay_start(10, 0.5) == 5
    calls.clear()
    arena = Arena(arena_config("vanilla-grid", **{**TINY, "r1_gamma": 1.0, "lr_decay": 0.5, "r1_late": 0.5}))
    arena.train(10)
    assert len(calls) == 10


def test_lr_decay_in_the_arena_and_the_loop_alike(tmp_path):
    cfg = arena_config("vanilla-grid", **{**TINY, "lr_decay": 0.5})
    arena = Arena(cfg)
    arena.train(cfg.max_steps)
    lrs = [r["lr_g"] for r in arena.train_rows]                         # logged at steps 2, 4, ..., 10
    assert lrs[0] == cfg.lr_g and lrs[-1] == pytest.approx(cfg.lr_g * lr_factor(9, 10, 0.5))
    assert arena.opt_d.param_groups[0]["lr"] == pytest.approx(cfg.lr_d * lr_factor(9, 10, 0.5))
    train(cfg, tmp_path / "run")
    G, _ = load_generator(tmp_path / "run")
    assert torch.allclose(G(arena.fixed_noise), arena.points(len(arena.fixed_noise)), atol=1e-4)
    loop_lrs = [r["lr_g"] for r in rundir.read_metrics(tmp_path / "run", kind="train")]
    assert loop_lrs == pytest.approx(lrs)


# ---------------------------------------------------------------- the arena

def test_arena_trains_draws_and_measures():
    arena = Arena(arena_config("pacgan-ring", **TINY))
    assert arena.eval_rows[0]["step"] == 0
    arena.train(10)
    assert arena.step == 10 and [r["step"] for r in arena.eval_rows] == [0, 5, 10]
    assert [r["step"] for r in arena.train_rows] == [2, 4, 6, 8, 10]
    axis, values = arena.d_surface(n=12)
    assert axis.shape == (12,) and values.shape == (12, 12)
    assert float(values.min()) >= 0 and float(values.max()) <= 1  # probabilities for the ns loss
    assert axis[0] == -arena.extent() and axis[-1] == arena.extent()
    # the heat map at a grid cell is D's output at that point (row = y, column = x), packed as m copies
    p = torch.tensor([[axis[3], axis[7]]])
    with torch.no_grad():
        arena.D.eval()
        direct = torch.sigmoid(arena.D(p.repeat(arena.config.pack, 1)))
    assert values[7, 3] == pytest.approx(float(direct), abs=1e-5)
    x, d = arena.g_gradients(20)
    assert x.shape == d.shape == (20, 2) and torch.isfinite(d).all()
    fig = figures.arena_figure(arena, arrows=True)  # the lab page's picture (the app draws it, not ganlib)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter", "scatter"]
    assert len(figures.coverage_figure(arena).data) == 2


@pytest.mark.parametrize("extra", [{}, {"latent_mixture": 5, "lr_decay": 0.5},
                                   {"r1_gamma": 1.0, "lr_decay": 0.5, "r1_late": 0.0}])
def test_arena_is_the_training_loop_step_for_step(tmp_path, extra):
    """Same config, same numbers as `python -m ganlib train`: the arena is not a second loop."""
    cfg = arena_config("vanilla-ring", **TINY, **extra)
    arena = Arena(cfg)
    arena.train(cfg.max_steps)
    train(cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["step"] == arena.step
    G, _ = load_generator(tmp_path / "run")
    # outputs, not raw weights: a bias right before BatchNorm gets a gradient of float noise, which Adam scales up
    assert torch.allclose(G(arena.fixed_noise), arena.points(len(arena.fixed_noise)), atol=1e-4)
    loop_eval = rundir.read_metrics(tmp_path / "run", kind="eval")[-1]
    assert loop_eval["modes_covered"] == arena.eval_rows[-1]["modes_covered"]


def test_arena_saves_an_ordinary_run(tmp_path):
    arena = Arena(arena_config("vanilla-grid", **TINY))
    arena.train(6)
    run = arena.save_run(tmp_path / "saved")
    assert rundir.read_status(run)["state"] == "finished"
    assert [r["step"] for r in rundir.read_metrics(run, kind="eval")] == [0, 5]
    assert rundir.list_samples(run)[-1][0] == 6
    G, meta = load_generator(run)
    assert meta["step"] == 6 and meta["dataset"]["name"] == "toy-grid"
    assert torch.equal(G(arena.fixed_noise[:5]), arena.G.eval()(arena.fixed_noise[:5]))
    with pytest.raises(ValueError, match="already holds a run"):
        arena.save_run(run)
    # and the loop resumes it where the arena stopped
    summary = train(None, run, resume=True, overrides={"max_steps": 8})
    assert summary["step"] == 8


def test_arena_refuses_image_models_and_bad_settings():
    with pytest.raises(ValueError, match="toy-ring or toy-grid"):
        Arena(TrainConfig(model="gan", dataset="mnist"))
    with pytest.raises(ValueError, match="multiple of the packing"):
        Arena(arena_config("vanilla-ring", pack=3))
    with pytest.raises(ValueError, match="Unknown arena preset"):
        arena_config("nope")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_toy_config(name):
    cfg = arena_config(name)
    assert cfg.model == "gan" and cfg.dataset in ("toy-ring", "toy-grid") and not cfg.validate()
