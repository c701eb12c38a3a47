"""The training doctor reads problems (and a healthy game) from the curves."""
from __future__ import annotations

import math
import random

from ganlib.train.doctor import diagnose


def rows(n=40, d=lambda s: 1.3, g=lambda s: 0.8, real=0.55, fake=0.45, gn=lambda s: 2.0):
    return [{"kind": "train", "step": s, "d_loss": d(s), "g_loss": g(s), "d_real": real, "d_fake": fake,
             "grad_norm_d": gn(s), "grad_norm_g": 1.0} for s in range(1, n + 1)]


def titles(findings):
    return [f.title for f in findings]


def test_healthy_game_is_said_so():
    [f] = diagnose(rows())
    assert f.level == "info" and "healthy" in f.title


def test_too_few_rows_say_nothing():
    assert diagnose(rows(3)) == []


def test_nan_is_an_error_with_its_step_and_nothing_else():
    r = rows(d=lambda s: float("nan") if s >= 17 else 1.3)
    [f] = diagnose(r)
    assert f.level == "error" and "step 17" in f.title and "learning rate" in f.remedy


def test_d_too_strong():
    r = rows(d=lambda s: 0.02, g=lambda s: 2 + s / 5, real=0.99, fake=0.01)
    [f] = diagnose(r)
    assert f.level == "warning" and "D is too strong" in f.title
    assert "label smoothing" in f.remedy and "D's learning rate" in f.remedy


def test_d_too_strong_is_not_reported_for_wgan():
    r = rows(d=lambda s: 0.02, g=lambda s: 2 + s / 5, real=5.0, fake=-5.0)
    assert not any("too strong" in t for t in titles(diagnose(r, loss="wgan-gp")))


def test_oscillation():
    r = rows(g=lambda s: 3.0 if s % 2 else 0.2)
    [f] = diagnose(r)
    assert "oscillate" in f.title and "larger batch" in f.remedy


def test_noise_is_not_oscillation():
    rng = random.Random(0)
    r = rows(g=lambda s: 1.0 + rng.gauss(0, 0.1))
    assert not any("oscillate" in t for t in titles(diagnose(r)))


def test_exploding_gradients():
    r = rows(n=80, gn=lambda s: 2.0 if s < 60 else 500.0)
    assert any("exploding" in t for t in titles(diagnose(r)))


def test_mode_collapse_from_class_coverage_and_rising_fid():
    ev = [{"kind": "eval", "step": 10, "class_coverage": 1.0, "fid": 20.0},
          {"kind": "eval", "step": 20, "class_coverage": 0.6, "fid": 40.0}]
    found = diagnose(rows(), ev)
    assert "collapsing" in found[0].title and "minibatch discrimination" in found[0].remedy
    assert any("FID" in t for t in titles(found))
    assert not any(f.level == "info" for f in found)  # no "healthy" while warnings stand
    fine = [{"kind": "eval", "step": 10, "coverage": 0.9}, {"kind": "eval", "step": 20, "coverage": 1.0}]
    assert not any("collapsing" in t for t in titles(diagnose(rows(), fine)))
    assert math.isfinite(ev[1]["fid"])


def test_mode_collapse_from_real_evaluation_rows():
    # ganlib.metrics rows: class_coverage is a count out of len(class_histogram); toys count modes
    digits = [{"kind": "eval", "step": 10, "class_coverage": 10, "class_histogram": [1] * 10},
              {"kind": "eval", "step": 20, "class_coverage": 3, "class_histogram": [1] * 10}]
    found = diagnose(rows(), digits)
    assert "collapsing" in found[0].title and "Class coverage is 30% at step 20 (best 100%" in found[0].detail
    healthy = [{**digits[0], "step": 20}]
    assert not any("collapsing" in t for t in titles(diagnose(rows(), healthy)))
    ring = [{"kind": "eval", "step": 10, "modes_covered": 8, "num_modes": 8},
            {"kind": "eval", "step": 20, "modes_covered": 2, "num_modes": 8}]
    assert "Mode coverage is 25%" in diagnose(rows(), ring)[0].detail


def test_narrowing_class_histogram_is_reported_with_its_first_step():
    uniform = [100] * 10
    narrowing = [40, 300, 60, 60, 60, 60, 60, 200, 80, 80]
    kl = lambda h: sum(p * math.log(p * 10) for p in (c / sum(h) for c in h) if p > 0)  # noqa: E731
    ev = [{"kind": "eval", "step": 100, "class_coverage": 10, "class_histogram": uniform, "class_kl_uniform": kl(uniform)},
          {"kind": "eval", "step": 200, "class_coverage": 10, "class_histogram": narrowing,
           "class_kl_uniform": kl(narrowing)},
          {"kind": "eval", "step": 300, "class_coverage": 10, "class_histogram": narrowing,
           "class_kl_uniform": kl(narrowing) + 0.05}]
    found = [f for f in diagnose(rows(), ev) if "narrowed" in f.title]
    assert len(found) == 1 and found[0].step == 200 and "step 200" in found[0].title
    assert "most frequent now: 1 (" in found[0].detail and "PacGAN" in found[0].remedy
    steady = [dict(r, class_kl_uniform=0.01 * i, class_histogram=uniform) for i, r in enumerate(ev)]
    assert not any("narrowed" in t for t in titles(diagnose(rows(), steady)))


def test_narrowing_from_an_already_narrow_histogram_is_reported():
    # a collapsing DCGAN's curve (the first shipped collapse demo, G lr 1e-2): wide at step 500, one digit at 600
    ev = [{"kind": "eval", "step": 500, "class_kl_uniform": 0.909, "class_histogram": [0, 0, 16, 19, 127, 4, 0, 104, 219, 11]},
          {"kind": "eval", "step": 600, "class_kl_uniform": 1.679, "class_histogram": [5, 0, 8, 422, 0, 47, 0, 4, 13, 1]}]
    [found] = [f for f in diagnose(rows(), ev) if "narrowed" in f.title]
    assert found.step == 600 and "3 (84%)" in found.detail
    assert not any(f.level == "info" for f in diagnose(rows(), ev))  # not "a healthy game"


def test_a_cyclegan_run_names_its_d_outputs_as_translations():
    """A CycleGAN's fakes are G(a) and F(b), not G(z): the doctor and the chart say so."""
    from studio.figures import d_outputs_spec

    [f] = diagnose(rows(), model="cyclegan")
    assert f.title == "A healthy game: D(real) and D(translated) are both near 0.5." and "G(z)" not in f.detail
    r = rows(d=lambda s: 0.01, g=lambda s: 2 + s / 5, real=0.99, fake=0.01)
    [f] = diagnose(r, loss="lsgan", model="cyclegan")
    assert "D(real) 0.99, D(translated) 0.01" in f.detail
    assert "D(G(z)) 0.01" in diagnose(r, loss="lsgan", model="dcgan")[0].detail
    spec = d_outputs_spec("lsgan", "cyclegan")
    assert spec["layout"]["title"]["text"] == "D(real) and D(translated)"
    assert [s["line"]["name"] for s in spec["series"]] == ["D(real)", "D(translated)"]


def test_a_d_that_never_told_real_from_fake_is_not_learning():
    """Outputs flat at 0.5 from the first log on: a D held still (R1 on a CycleGAN, DCGAN's rates on a toy),
    not the balanced game of a D that learned early and then met a good G."""
    flat = rows(real=0.501, fake=0.499)
    assert not any(f.fix == "d_not_learning" for f in diagnose(flat, model="cyclegan"))  # 40 steps: too soon
    for r in flat:
        r["step"] *= 10                                                                  # 400 steps
    [f] = diagnose(flat, model="cyclegan")
    assert f.level == "warning" and "D is not learning" in f.title and f.fix == "d_not_learning"
    assert "D(real) 0.501, D(translated) 0.499" in f.detail and "R1" in f.remedy
    learned = [dict(r) for r in flat]
    learned[0].update(d_real=0.8, d_fake=0.3)                    # it told them apart once
    assert "healthy" in diagnose(learned)[0].title or not diagnose(learned)
    assert diagnose(flat, loss="wgan-gp") == []                  # critic scores are not probabilities
    # flat outputs, but G's FID fell from 64 to 1.6: D's gradients led G (a no-BatchNorm D under R1 10)
    improving = [{"step": 100 * i, "fid": fid} for i, fid in enumerate((64.0, 10.5, 1.6), 1)]
    assert not any(f.fix == "d_not_learning" for f in diagnose(flat, improving, model="dcgan"))
    stuck = [{"step": 100 * i, "fid": fid} for i, fid in enumerate((64.0, 60.0, 58.0), 1)]
    assert any(f.fix == "d_not_learning" for f in diagnose(flat, stuck, model="dcgan"))


def test_the_doctor_tells_a_dead_d_from_a_learning_one_in_real_runs(tmp_path):
    """The fully connected GAN on the ring: under DCGAN's rates D never separates (the doctor says so), under
    the toy recipe (D 4x faster than G, families.TOY_RECIPE) it does (no such finding)."""
    import json

    from ganlib.config import TrainConfig
    from ganlib.families import TOY_RECIPE
    from ganlib.train.loop import train

    base = dict(model="gan", dataset="toy-ring", max_steps=300, log_every=20, sample_every=1000, eval_every=0,
                checkpoint_every=1000, device="cpu")
    # DCGAN's rates before issue 27 (4e-4 / 2e-4): under today's doubled ones D on the ring starts to separate
    for name, extra, dead in (("dcgan-rates", dict(lr_g=4e-4, lr_d=2e-4), True), ("toy-recipe", TOY_RECIPE, False)):
        train(TrainConfig(**base, **extra), tmp_path / name)
        train_rows = [r for r in map(json.loads, (tmp_path / name / "metrics.jsonl").read_text().splitlines())
                      if r.get("kind", "train") == "train" and "d_loss" in r]
        found = any(f.fix == "d_not_learning" for f in diagnose(train_rows, [], "ns", "gan"))
        assert found == dead, (name, [(r["d_real"], r["d_fake"]) for r in train_rows])
