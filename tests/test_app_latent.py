"""AppTest: the Latent explorer in each state: explore (every direction kind, a shared link, a slider
move, truncation, nearest images), interpolate (seeds, classes), invert (upload, bad files, the found
latent explored), a run's checkpoint, a 2-D model, and damaged links."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from ganlib import directions as D
from ganlib import latent as L
from ganlib.checkpoints import load_generator
from ganlib.pretrained import pretrained_path

APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "2_Latent.py")


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def latent_page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.fixture(autouse=True)
def drawn(monkeypatch):
    """Every image the page draws with widgets.digit_image, as tensors (the page imports this same module)."""
    from studio import widgets

    images: list[tuple[torch.Tensor, int]] = []
    original = widgets.digit_image

    def record(x, caption="", width=280, reading=True):
        images.append((x.clone(), width))
        return original(x, caption, width, reading)

    monkeypatch.setattr(widgets, "digit_image", record)
    return images


def big_image(drawn) -> torch.Tensor:
    """The explored image (1, 28, 28) the last run drew (the 336 px one)."""
    return [x for x, width in drawn if width == 336][-1]


def sliders(at) -> dict[str, float]:
    return {s.key: s.value for s in at.slider}


def test_explore_opens_on_the_shipped_dcgan_and_writes_the_url(root, drawn):
    at = latent_page()
    assert at.title[0].value == "Latent explorer"
    assert set(sliders(at)) == {"latent_psi", "dir_0", "dir_1", "dir_2", "dir_3", "dir_4"}
    assert "classifier reads" in texts(at.caption)
    assert dict(at.query_params) == {"model": "dcgan_mnist", "view": "explore", "seed": "0", "kind": "sefa"}
    G, _ = load_generator(pretrained_path("dcgan_mnist"))
    expected = L.render(G, L.sample_latents(G, 1, 0))
    assert (big_image(drawn) - expected[0]).abs().max() < 0.01   # the seed's image, as `ganlib sample --seed 0`


def test_a_shared_link_restores_model_seed_class_kind_and_sliders(root, drawn):
    at = latent_page(model="cgan_mnist", seed=11, **{"class": 4}, kind="attribute", d="2,0,-1", psi="0.7")
    assert at.selectbox(key="latent_class").value == 4
    assert at.number_input(key="latent_seed").value == 11
    assert at.radio(key="latent_kind").value == "attribute"
    assert [at.slider(key=f"dir_{i}").value for i in range(3)] == [2.0, 0.0, -1.0]
    assert at.slider(key="latent_psi").value == 0.7
    assert at.slider(key="dir_0").label.startswith("thicker")
    G, _ = load_generator(pretrained_path("cgan_mnist"))
    dirs = D.cached_directions(G, pretrained_path("cgan_mnist"), "attribute", k=10)
    z = L.truncate(L.sample_latents(G, 1, 11)[0], L.mean_latent(G), 0.7) + 2 * dirs.vectors[0] - dirs.vectors[2]
    assert (big_image(drawn) - L.render(G, z[None], [4])[0]).abs().max() < 0.01
    assert at.query_params["d"] == "2,0,-1"   # a conditional model has three attribute directions


def test_moving_a_slider_changes_the_image_and_the_url(root, drawn):
    at = latent_page()
    before = big_image(drawn)
    at.slider(key="dir_0").set_value(3.0).run()
    assert not at.exception
    assert (big_image(drawn) - before).abs().max() > 0.2
    assert at.query_params["d"] == "3,0,0,0,0"
    at.slider(key="latent_psi").set_value(0.0).run()   # psi 0: the mean latent, then the slider's step
    G, _ = load_generator(pretrained_path("dcgan_mnist"))
    z = 3.0 * D.sefa_directions(G, 10).vectors[0]
    assert (big_image(drawn) - L.render(G, z[None])[0]).abs().max() < 0.01


@pytest.mark.parametrize("kind, first", [("pca", "PC 0"), ("raw", "z[0]"), ("attribute", "thicker")])
def test_each_direction_kind(root, kind, first):
    at = latent_page(kind=kind, d="1")
    assert at.slider(key="dir_0").label.startswith(first)
    assert at.slider(key="dir_0").value == 1.0
    if kind == "attribute":   # unconditional: three styles and "more like a k" for a chosen k
        assert at.selectbox(key="latent_digit").value == 3
        assert "boundary accuracy" in at.slider(key="dir_3").label
        at.selectbox(key="latent_digit").set_value(8).run()
        assert at.query_params["digit"] == "8"
    at.radio(key="latent_kind").set_value("sefa").run()   # another kind: the sliders go back to 0
    assert all(v == 0 for k, v in sliders(at).items() if k.startswith("dir_"))


def test_randomise_and_nearest_training_images(root):
    at = latent_page()
    at.button(key="latent_random").click().run()
    assert at.query_params["seed"] == str(at.number_input(key="latent_seed").value)
    at.toggle(key="latent_nearest").set_value(True).run()
    assert "Nearest of the 5,000 training images" in texts(at.caption)


def test_interpolate_seeds_and_classes(root):
    at = latent_page(model="cgan_mnist", view="interpolate", **{"class": 2})
    assert at.segmented_control(key="latent_view").value == "Interpolate"
    assert "slerp from seed 0 to seed 1" in texts(at.caption)
    assert at.get("download_button")
    at.radio(key="interp_mode").set_value("Two classes").run()
    at.toggle(key="interp_slerp").set_value(False).run()
    assert not at.exception
    assert "lerp from seed 0 to seed 0, class 2 to 7" in texts(at.caption)
    assert at.query_params["view"] == "interpolate"


def digit_png(mode="L") -> bytes:
    img = Image.new(mode, (120, 160), "white")
    ImageDraw.Draw(img).line([(60, 20), (55, 140)], fill="black", width=14)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_invert_an_uploaded_digit_and_explore_it(root, drawn):
    at = latent_page(view="invert")
    assert at.segmented_control(key="latent_view").value == "Invert"
    at.segmented_control(key="invert_digit_how").set_value("Upload").run()
    at.file_uploader(key="invert_digit_file").upload("one.png", digit_png(), "image/png").run()
    assert not at.exception
    assert "classifier reads **1**" in texts(at.caption)
    at.button(key="invert_go").click().run()
    assert not at.exception
    metric = at.metric[0]
    assert metric.label == "Pixel error (MSE)" and float(metric.value) < 0.05
    assert "Nearest of the 5,000 training images" in texts(at.caption)
    at.button(key="invert_explore").click().run()
    assert at.segmented_control(key="latent_view").value == "Explore"
    assert "Exploring around your inverted digit." in texts(at.caption)
    code = at.query_params["z"]
    found = L.decode_latent(code, 100)
    G, _ = load_generator(pretrained_path("dcgan_mnist"))
    assert (big_image(drawn) - L.render(G, found[None])[0]).abs().max() < 0.01
    at.button(key="latent_to_seed").click().run()
    assert "z" not in at.query_params


@pytest.mark.parametrize("content, words", [(b"%PDF-1.4", "not an image"),
                                            (digit_png().replace(b"IDAT", b"IDAX"), "not an image")])
def test_a_bad_upload_gets_one_sentence(root, content, words):
    at = latent_page(view="invert")
    at.segmented_control(key="invert_digit_how").set_value("Upload").run()
    at.file_uploader(key="invert_digit_file").upload("x.png", content).run()
    assert not at.exception
    assert words in texts(at.error)
    assert not [b for b in at.button if b.key == "invert_go"]


def test_blank_upload(root):
    at = latent_page(view="invert")
    at.segmented_control(key="invert_digit_how").set_value("Upload").run()
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), "white").save(buf, format="JPEG")
    at.file_uploader(key="invert_digit_file").upload("blank.jpg", buf.getvalue(), "image/jpeg").run()
    assert "blank" in texts(at.error)


def test_damaged_links_fall_back_with_a_warning(root):
    at = latent_page(seed="abc", kind="magic", z="not-a-latent")
    assert "not numbers" in texts(at.warning)
    assert "damaged" in texts(at.warning)
    assert at.radio(key="latent_kind").value == "sefa"
    at = latent_page(model="run:gone", seed=-4)
    assert "'run:gone' is not on this machine" in texts(at.warning)
    assert at.number_input(key="latent_seed").value == 0
    assert at.query_params["model"] == "dcgan_mnist"


def test_a_run_checkpoint_caches_its_directions_in_the_run(root, tmp_path):
    import shutil

    from ganlib.config import TrainConfig

    run = root / "mine"
    run.mkdir(parents=True)
    (run / "config.json").write_text(TrainConfig(model="cgan", dataset="mnist").to_json())
    shutil.copy(pretrained_path("cgan_mnist"), run / "checkpoint.pt")
    at = latent_page(model="run:mine", kind="pca", **{"class": 1})
    assert at.selectbox(key="latent_model").value == str(run / "checkpoint.pt")
    assert list((run / "latent").glob("pca-*.pt"))


def test_a_2d_model_is_sent_to_the_mode_collapse_lab(root):
    from ganlib.config import TrainConfig
    from ganlib.train.loop import train

    train(TrainConfig(model="gan", dataset="toy-ring", max_steps=2, batch_size=16, eval_every=0,
                      subset=64), root / "ring")
    at = latent_page(model="run:ring")
    assert "makes 2-D points" in texts(at.info)


@pytest.mark.parametrize("params, seed, psi, d", [
    ({"psi": "NaN"}, 0, 1.0, "0,0,0,0,0"),
    ({"psi": "inf", "seed": "99999999999999999999"}, 2**31 - 1, 1.0, "0,0,0,0,0"),
    ({"psi": "-3", "d": "nan,1,inf,-99,2"}, 0, 0.0, "0,1,0,-5,2"),
    ({"psi": "7", "seed": "-99999999999999999999", "d": "1e400,,x"}, 0, 1.5, "0,0,0,0,0"),
])
def test_nan_and_overflow_in_links_are_clamped_or_defaulted(root, drawn, params, seed, psi, d):
    at = latent_page(model="dcgan_mnist", **params)
    assert not at.exception and "Overflow" not in texts(at.error)
    assert at.number_input(key="latent_seed").value == seed
    assert at.slider(key="latent_psi").value == psi
    assert ",".join(f"{sliders(at)[f'dir_{i}']:g}" for i in range(5)) == d
    assert torch.isfinite(big_image(drawn)).all() and "nan" not in texts(at.caption).lower()
    for k, v in at.query_params.items():   # the URL is rewritten with clean values
        assert "nan" not in str(v).lower() and "inf" not in str(v).lower() and "9999999999" not in str(v)
