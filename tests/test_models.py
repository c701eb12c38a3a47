"""Contract tests every model family shares (shape, range, determinism, save/load round trip)."""
import io

import pytest
import torch

from ganlib.config import TrainConfig
from ganlib.models import build_models, model_kwargs
from ganlib.models.layers import MinibatchDiscrimination, MinibatchStd, ema_update, make_ema

CASES = [
    ("gan", (2,), 0, {}),
    ("gan", (1, 28, 28), 0, {"minibatch_discrimination": True}),
    ("dcgan", (1, 28, 28), 0, {}),
    ("dcgan", (3, 32, 32), 0, {"minibatch_std": True, "spectral_norm": True}),
    ("dcgan", (1, 28, 28), 0, {"loss": "wgan-gp", "minibatch_discrimination": True}),
    ("cgan", (1, 28, 28), 10, {}),
    ("cgan", (1, 32, 32), 10, {"spectral_norm": True}),
    ("dcgan", (1, 28, 28), 0, {"d_norm": "none", "minibatch_std": True}),
    ("cgan", (1, 28, 28), 10, {"d_norm": "layer"}),
]


@pytest.mark.parametrize("family,shape,classes,extra", CASES)
def test_model_contract(family, shape, classes, extra):
    cfg = TrainConfig(model=family, width=8, latent_dim=16, **extra)
    kwargs = model_kwargs(cfg, shape, classes)
    torch.manual_seed(0)
    G, D = build_models(family, kwargs)
    z = torch.randn(6, 16)
    y = torch.arange(6) % 10 if classes else None
    x = G(z, y)
    assert x.shape == (6, *shape)
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1
    out = D(x, y)
    assert out.shape == (6,)
    out.mean().backward()  # gradients reach G through D
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    # determinism and state-dict round trip
    G.eval()
    buf = io.BytesIO()
    torch.save(G.state_dict(), buf)
    buf.seek(0)
    G2, _ = build_models(family, kwargs)
    G2.load_state_dict(torch.load(buf, weights_only=True))
    G2.eval()
    assert torch.equal(G(z, y), G2(z, y))


@pytest.mark.parametrize("extra,norm", [({}, torch.nn.BatchNorm2d), ({"loss": "wgan-gp", "n_critic": 5}, torch.nn.GroupNorm),
                                        ({"d_norm": "layer"}, torch.nn.GroupNorm), ({"d_norm": "none"}, None)])
def test_d_norm_picks_the_normalisation_in_d(extra, norm):
    cfg = TrainConfig(width=8, **extra)
    assert cfg.validate() == []
    _, D = build_models("dcgan", model_kwargs(cfg, (1, 28, 28), 0))
    kinds = {type(m) for m in D.modules()} & {torch.nn.BatchNorm2d, torch.nn.GroupNorm}
    assert kinds == ({norm} if norm else set())


def test_d_norm_is_checked_in_one_sentence():
    assert TrainConfig(d_norm="group").validate() == [
        "D's normalisation must be one of auto, batch, layer, none, not 'group'."]
    assert TrainConfig(model="cgan", d_norm="batch", loss="wgan-gp", n_critic=5).validate() == [
        "WGAN-GP's gradient penalty is per sample, which BatchNorm in D breaks; use --d-norm layer, none or auto."]
    assert TrainConfig(model="stylegan", d_norm="group").validate() == []  # StyleGAN's D has its own (no norm)


def test_dcgan_init_is_normal_002():
    G, D = build_models("dcgan", model_kwargs(TrainConfig(width=32), (1, 28, 28), 0))
    w = G.net[0].weight
    assert abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 2e-3
    bn = G.net[1]
    assert abs(bn.weight.mean().item() - 1.0) < 0.01


def test_cgan_output_depends_on_label():
    G, _ = build_models("cgan", model_kwargs(TrainConfig(model="cgan", width=8), (1, 28, 28), 10))
    G.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    x = G(z, torch.tensor([1, 7]))
    assert not torch.allclose(x[0], x[1])


def test_minibatch_layers():
    x = torch.randn(5, 3, 4, 4)
    assert MinibatchStd()(x).shape == (5, 4, 4, 4)
    same = torch.ones(5, 3, 4, 4)
    assert MinibatchStd()(same)[:, -1].abs().max() == 0
    mbd = MinibatchDiscrimination(12, n_kernels=6, kernel_dim=3)
    out = mbd(torch.zeros(4, 12))
    # identical samples: each is at distance 0 from the 3 others -> feature 3
    assert out.shape == (4, 18) and torch.allclose(out[:, 12:], torch.full((4, 6), 3.0))


def test_ema_update():
    m = torch.nn.Linear(2, 2)
    e = make_ema(m)
    with torch.no_grad():
        m.weight.add_(1.0)
    before = e.weight.clone()
    ema_update(e, m, 0.9)
    assert torch.allclose(e.weight, before + 0.1, atol=1e-6)
    assert not e.weight.requires_grad
