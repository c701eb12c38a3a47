"""AppTest: the Style studio in each state: the mixing grid (presets, any range, re-rolls), per-layer-group
sliders, noise (strengths, resampling), truncation, feature maps, shared links (and damaged ones), a run's
checkpoint, and the shipped StyleGAN."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ganlib.config import TrainConfig
from ganlib.train.loop import train

APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "3_Style.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder with one tiny StyleGAN run (a few steps: the page needs a checkpoint, not a good one)."""
    root = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(model="stylegan", subset=64, batch_size=8, width=4, latent_dim=8, mapping_layers=2,
                      max_steps=2, log_every=1, sample_every=2, checkpoint_every=2, eval_every=0, n_fixed=4)
    train(cfg, root / "tiny")
    return root


@pytest.fixture
def root(runs, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(runs))
    return runs


def style_page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def url(at) -> dict:
    return dict(at.query_params)


def test_opens_on_a_stylegan_with_the_mixing_grid_and_writes_the_url(root):
    at = style_page(model="run:tiny")
    assert at.title[0].value == "Style studio"
    assert url(at) == {"model": "run:tiny", "view": "mixing", "seed": "0", "a": "0,1,2,3", "b": "100,101,102",
                       "layers": "4-8"}
    assert "takes the 4–8 px layers" in texts(at.caption)
    assert "B · seed 100" in texts(at.caption) and "A · seed 3" in texts(at.caption)
    assert len([b for b in at.button if b.key.startswith("style_open_")]) == 3 * 4
    assert at.select_slider[0].value == ("4", "8")


def test_a_preset_and_any_range_change_the_layers_from_a(root):
    at = style_page(model="run:tiny")
    at.button(key="style_preset_32_32").click().run()
    assert not at.exception and url(at)["layers"] == "32"
    assert "takes the 32–32 px layers (3 of 11 styles" in texts(at.caption)
    assert at.select_slider[0].value == ("32", "32")
    at.select_slider[0].set_value(("8", "16")).run()
    assert url(at)["layers"] == "8-16" and "takes the 8–16 px layers (6 of 11 styles" in texts(at.caption)
    assert "style-mix --checkpoint checkpoint.pt --a 0,1,2,3 --b 100,101,102 --layers 8-16" in texts(at.caption)


def test_rerolls_change_only_their_row(root):
    at = style_page(model="run:tiny")
    at.button(key="style_reroll_a").click().run()
    assert url(at)["a"] != "0,1,2,3" and url(at)["b"] == "100,101,102"
    at.button(key="style_reroll_b").click().run()
    assert url(at)["b"] != "100,101,102"


def test_a_shared_link_restores_the_mixing_view(root):
    at = style_page(model="run:tiny", a="5,6,7,8", b="9,10,11", layers="fine")
    assert url(at)["a"] == "5,6,7,8" and url(at)["layers"] == "32"
    assert at.select_slider[0].value == ("32", "32")


def test_styles_view_sliders_move_one_group(root):
    at = style_page(model="run:tiny", view="styles", group="32", d="3,0,-2", seed=7)
    assert not at.exception
    assert at.segmented_control(key="style_group_pick").value == "Fine 32"
    assert [at.slider(key=f"style_d{i}").value for i in range(3)] == [3.0, 0.0, -2.0]
    assert url(at)["d"] == "3,0,-2,0" and url(at)["group"] == "32" and url(at)["seed"] == "7"
    at.slider(key="style_d1").set_value(4.0).run()
    assert url(at)["d"] == "3,4,-2,0"
    at.segmented_control(key="style_group_pick").set_value("Coarse 4–8").run()
    assert url(at)["group"] == "4-8" and "d" not in url(at)   # another group's directions: sliders back to 0
    assert "applied to those layers only" in texts(at.caption)


def test_noise_view_strengths_and_resampling(root):
    at = style_page(model="run:tiny", view="noise", noise="0,1,1,2,1,1,0.5")
    assert at.slider(key="style_n0").value == 0.0 and at.slider(key="style_n3").value == 2.0
    assert url(at)["noise"] == "0,1,1,2,1,1,0.5"
    assert "Where pixels change over 8 noise draws" in texts(at.caption)
    at.button(key="style_resample").click().run()
    assert url(at)["nseed"] == "1" and "noise draw 1" in texts(at.caption)
    at.button(key="style_resample").click().run()
    assert url(at)["nseed"] == "2"
    at.button(key="style_fixed").click().run()
    assert "nseed" not in url(at)


def test_truncation_view_shows_the_mean_w_image(root):
    at = style_page(model="run:tiny", view="truncation", psi="0.5")
    assert at.slider(key="style_psi").value == 0.5
    assert "the mean-w image (psi 0)" in texts(at.caption) and "psi 0.5" in texts(at.caption)
    at.slider(key="style_psi").set_value(1.0).run()
    assert "psi" not in url(at)


def test_layers_view_feature_maps(root):
    at = style_page(model="run:tiny", view="layers", layer="8x8 conv")
    assert at.selectbox(key="style_layer").value == "8x8 conv"
    assert "The 16 channels of 8x8 conv" in texts(at.caption)
    at.selectbox(key="style_layer").set_value("32x32 conv").run()
    assert url(at)["layer"] == "32x32 conv" and "The 4 channels of 32x32 conv" in texts(at.caption)


def test_every_image_has_a_download(root):
    for view in ("mixing", "styles", "noise", "truncation", "layers"):
        at = style_page(model="run:tiny", view=view)
        assert len(at.get("download_button")) >= 1, view


def test_a_damaged_link_gets_one_sentence_and_defaults(root):
    at = style_page(model="run:gone", layers="3-9", psi="lots", view="truncation")
    warnings = texts(at.warning)
    assert "not on this machine" in warnings and "layer range" in warnings and "not numbers" in warnings
    assert not at.exception


def test_the_shipped_stylegan_opens_first():
    at = style_page()
    assert url(at)["model"] == "stylegan_mnist"
    assert "classifier reads" not in texts(at.caption)   # the grid is plain images; the large views read digits
    at.segmented_control(key="style_view").set_value("Truncation").run()
    assert "classifier reads" in texts(at.caption)


def test_the_train_page_offers_stylegan_and_launches_it(tmp_path, monkeypatch):
    """A StyleGAN run can be started from the Train & monitor form (a real, tiny one) and is then watched."""
    import time

    from ganlib.train import jobs

    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(str(Path(APP).parent / "app_pages" / "1_Train.py")).run()
    at.selectbox(key="cfg_model").set_value("stylegan").run()
    assert not at.error and not at.exception
    g = [d.value for d in at.dataframe if "flops" in d.value.columns][0]
    assert any(str(x).startswith("StyledConv") for x in g["layer"]) and list(g["output"])[-2] == "1×28×28"
    assert at.selectbox(key="cfg_style_mode").value == "modulate"
    for key, value in (("cfg_subset", 64), ("cfg_batch_size", 8), ("cfg_width", 4), ("cfg_latent_dim", 8),
                       ("cfg_max_steps", 2), ("cfg_eval_every", 0)):
        at.number_input(key=key).set_value(value)
    at.text_input(key="run_name").input("style-run").run()
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    [run] = jobs.run_dirs(tmp_path / "runs")
    deadline = time.time() + 120
    while jobs.status(run)["state"] not in ("finished", "failed") and time.time() < deadline:
        time.sleep(0.5)
    assert jobs.status(run)["state"] == "finished", jobs.status(run)
    at.run()
    assert at.selectbox(key="run").value == "style-run" and not at.exception


HUGE = "99999999999999999999"


@pytest.mark.parametrize("view, params", [
    ("truncation", {"psi": "NaN"}),
    ("styles", {"seed": HUGE, "d": "nan,inf,1,-1e400", "psi": "-inf"}),
    ("noise", {"noise": "nan,inf,-1,7,x", "nseed": HUGE, "a": f"{HUGE},1,2,3", "b": "nan,1,2"}),
])
def test_nan_and_overflow_in_links_never_reach_the_model(root, view, params):
    at = style_page(model="run:tiny", view=view, **params)
    assert not at.exception and "Overflow" not in texts(at.error) and not at.error
    s = at.session_state
    assert 0 <= s["style_seed"] <= 2**31 - 1 and 0 <= s["style_nseed"] <= 2**31 - 1
    assert 0.0 <= s["style_psi"] <= 1.5
    values = [s["style_psi"], *(s[f"style_d{i}"] for i in range(4))]
    values += [s[k] for k in s if str(k).startswith("style_n") and str(k)[7:].isdigit()]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values), values
    for v in url(at).values():   # the URL is rewritten with clean values
        assert "nan" not in v.lower() and "inf" not in v.lower() and HUGE not in v
