"""Issue 27's early-phase settings of the DCGAN/CGAN recipe: the EMA ramp-up and lazy R1 (r1_every)."""
import math

import pytest
import torch

from ganlib import losses
from ganlib.config import TrainConfig, field_applies
from ganlib.data import load_dataset
from ganlib.models import model_kwargs
from ganlib.train.batches import BatchStream
from ganlib.train.schedules import ema_decay_at
from ganlib.train.steps import build_step

TINY = dict(subset=64, batch_size=16, width=8, latent_dim=16, ema_decay=0.999, amp=False)


def test_ema_ramp_up_halves_over_a_fixed_fraction_of_the_steps_so_far():
    cfg = TrainConfig(ema_rampup=0.05, ema_decay=0.999)
    for step in (0, 9, 99, 999):
        half_life = math.log(0.5) / math.log(ema_decay_at(cfg, step))  # steps for the old weights to count half
        assert half_life == pytest.approx(0.05 * (step + 1))
    assert ema_decay_at(cfg, 10**6) == 0.999                            # capped by ema_decay
    decays = [ema_decay_at(cfg, s) for s in range(3000)]
    assert decays == sorted(decays)                                     # never forgets faster later


def test_no_ramp_up_is_the_old_warm_up_and_other_families_keep_it():
    old = TrainConfig(ema_rampup=0.0)
    assert [ema_decay_at(old, s) for s in (0, 90, 10**5)] == [0.1, 0.91, 0.999]
    for model in ("gan", "stylegan", "cyclegan"):  # measured recipes without it: the setting does not apply
        assert ema_decay_at(TrainConfig(model=model, ema_rampup=0.05), 90) == 0.91
        assert not field_applies("ema_rampup", model)
    assert field_applies("ema_rampup", "dcgan") and field_applies("r1_every", "cgan")
    assert field_applies("r1_every", "stylegan") and not field_applies("r1_every", "gan")


def r1_calls(monkeypatch, steps: int, **kw) -> list[float]:
    """The D loss's R1 term (weight x penalty) on each of `steps` steps of a tiny run of config kw."""
    cfg = TrainConfig(**{**TINY, **kw})
    data = load_dataset(cfg.dataset, subset=cfg.subset)
    torch.manual_seed(0)
    step = build_step(cfg, model_kwargs(cfg, tuple(data.x.shape[1:]), data.num_classes), [data],
                      torch.device("cpu"), None, steps)
    seen, real_penalty = [], losses.r1_penalty

    def spy(real, d_real):
        value = real_penalty(real, d_real)
        seen.append((at[0], float(value.detach())))
        return value

    monkeypatch.setattr(losses, "r1_penalty", spy)
    stream, at = BatchStream(data.x, data.y, cfg.batch_size, 0), [0]
    for at[0] in range(steps):
        stats = step(stream, at[0], False)
        assert math.isfinite(float(stats["d_loss"]))
    return seen


@pytest.mark.parametrize("model,dataset", [("dcgan", "mnist"), ("cgan", "typeset")])
def test_lazy_r1_runs_every_k_steps(monkeypatch, model, dataset):
    assert [s for s, _ in r1_calls(monkeypatch, 9, model=model, dataset=dataset, r1_every=4)] == [0, 4, 8]
    assert [s for s, _ in r1_calls(monkeypatch, 3, model=model, dataset=dataset, r1_every=1)] == [0, 1, 2]


def test_lazy_r1_is_weighted_by_k(monkeypatch):
    """On its steps, lazy R1 adds k x the penalty: the same first step's D loss as R1 every step with gamma x k."""
    def first_d_loss(**kw):
        cfg = TrainConfig(**{**TINY, **kw})
        data = load_dataset("mnist", subset=cfg.subset)
        torch.manual_seed(0)
        step = build_step(cfg, model_kwargs(cfg, tuple(data.x.shape[1:]), 10), [data], torch.device("cpu"), None, 4)
        return float(step(BatchStream(data.x, data.y, cfg.batch_size, 0), 0, False)["d_loss"])

    assert first_d_loss(r1_every=4, r1_gamma=1.0) == pytest.approx(first_d_loss(r1_every=1, r1_gamma=4.0), rel=1e-5)


def test_the_gan_model_keeps_r1_every_step(monkeypatch):
    """The toy arena's R1 recipes (ganlib.arena) were measured with R1 on every step."""
    assert len(r1_calls(monkeypatch, 4, model="gan", dataset="toy-ring", r1_every=4, r1_gamma=1.0)) == 4


def test_r1_every_is_validated_for_every_family():
    assert any("Lazy R1" in p for p in TrainConfig(r1_every=0).validate())
    assert any("EMA ramp-up" in p for p in TrainConfig(ema_rampup=-1).validate())
