"""The doctor's one-click fixes (ganlib.train.doctor.doctor_fix): each finding that names a remedy turns it
into a config change; everything else about the run stays as it was."""
from __future__ import annotations

import math

from ganlib.config import TrainConfig
from ganlib.train.doctor import FIXES, Finding, diagnose, doctor_fix


def finding(fix: str) -> Finding:
    return Finding("warning", "t", "d", "r", 0, fix=fix)


def test_nan_fix_halves_the_learning_rates_and_clips():
    cfg = TrainConfig(lr_g=4e-4, lr_d=2e-4, seed=7, batch_size=32)
    fixed, what = doctor_fix(diagnose([{"step": 4, "d_loss": math.nan, "g_loss": 1.0}])[0], cfg)
    assert (fixed.lr_g, fixed.lr_d, fixed.grad_clip) == (2e-4, 1e-4, 5.0)
    assert (fixed.seed, fixed.batch_size, fixed.model) == (7, 32, cfg.model)
    assert "grad_clip 0 → 5" in what and "lr_g 0.0004 → 0.0002" in what


def test_every_fix_makes_a_valid_config_and_mode_collapse_fits_the_family():
    from ganlib.config import recipe_config
    from ganlib.families import MODELS

    for fix in FIXES:
        for cfg in (*(recipe_config(model=m) for m in MODELS), recipe_config(model="gan", dataset="toy-ring")):
            out = doctor_fix(finding(fix), cfg)
            assert out is not None and out[0].validate() == [], (fix, cfg.model, out and out[0].validate())
    assert doctor_fix(finding("mode_collapse"), TrainConfig())[0].minibatch_std
    assert doctor_fix(finding("mode_collapse"), TrainConfig(model="gan", dataset="toy-ring"))[0].minibatch_discrimination
    fixed, what = doctor_fix(finding("mode_collapse"), TrainConfig(g_steps=10))
    assert fixed.g_steps == 1 and "g_steps 10 → 1" in what  # over-training G is undone too
    assert "g_steps" not in doctor_fix(finding("mode_collapse"), TrainConfig())[1]


def test_no_fix_without_a_remedy_a_config_or_a_change():
    assert doctor_fix(finding(""), TrainConfig()) is None
    assert doctor_fix(finding("nan"), None) is None
    already = TrainConfig(label_smoothing=0.1, lr_d=1e-4, lr_g=4e-4)
    assert doctor_fix(finding("d_too_strong"), already) is None  # the remedy is in place already


def test_a_d_that_is_not_learning_loses_r1_first_then_learns_faster():
    fixed, what = doctor_fix(finding("d_not_learning"), TrainConfig(model="cyclegan", r1_gamma=1.0))
    assert fixed.r1_gamma == 0 and fixed.lr_d == TrainConfig.lr_d and what == "r1_gamma 1 → 0"
    fixed, _ = doctor_fix(finding("d_not_learning"), fixed)
    assert fixed.r1_gamma == 0 and fixed.lr_d == 4 * TrainConfig.lr_d
