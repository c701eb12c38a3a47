"""AppTest: the Translate page in each state: your digit (nothing yet, an upload in both directions,
bad and blank files), a batch with the classifier's readings and the identity mapping, the font
gallery, a run's checkpoint, a damaged one, the shipped model with its early checkpoint, and the home page."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from ganlib.config import TrainConfig
from ganlib.data import font_paths, render_typeset_digits
from ganlib.images import to_mnist_digit
from ganlib import pretrained
from ganlib.pretrained import early_checkpoint, pretrained_path
from ganlib.train.loop import train
from ganlib.translate import load_cyclegan

APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "4_Translate.py")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cg") / "cg_tiny"
    train(TrainConfig(model="cyclegan", dataset="typeset", dataset_b="mnist", subset=48, batch_size=8, width=4,
                      res_blocks=1, max_steps=2, device="cpu", amp=False), out)
    return out


@pytest.fixture
def root(tmp_path, monkeypatch, tiny_run):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run, root / "cg_tiny")
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


@pytest.fixture(autouse=True)
def drawn(monkeypatch):
    """Every (image, caption) the page draws with widgets.digit_image."""
    from studio import widgets

    images: list[tuple[torch.Tensor, str]] = []
    original = widgets.digit_image

    def record(x, caption="", width=280, reading=True):
        images.append((x.clone(), caption))
        return original(x, caption, width, reading)

    monkeypatch.setattr(widgets, "digit_image", record)
    return images


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def translate_page(root: Path, run: bool = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    if run:
        at.selectbox(key="translate_model").set_value(str(root / "cg_tiny" / "checkpoint.pt")).run()
        assert not at.exception, at.exception
    return at


def digit_png(digit_seed: int = 3) -> bytes:
    x, _ = render_typeset_digits(1, seed=digit_seed, fonts="held_out")
    buf = io.BytesIO()
    Image.fromarray(255 - x[0].numpy()).resize((90, 120)).save(buf, "PNG")  # black on white, odd size
    return buf.getvalue()


def upload(at: AppTest, data: bytes, name: str = "digit.png") -> AppTest:
    at.segmented_control(key="translate_digit_how").set_value("Upload").run()
    at.file_uploader(key="translate_digit_file").upload(name, data, "image/png").run()
    assert not at.exception, at.exception
    return at


def test_home_lists_translate_between_the_explorer_and_the_lab(root):
    at = AppTest.from_file(APP, default_timeout=60).run()
    links = [link.label for link in at.get("page_link")]
    assert links.index("Latent explorer") < links.index("Translate") < links.index("Mode-collapse lab")


def test_your_digit_waits_then_translates_an_upload(root, drawn):
    at = translate_page(root)
    assert at.segmented_control(key="translate_view").value == "Your digit"
    assert "deterministic" in texts(at.caption)
    assert "Draw a digit or upload an image" in texts(at.info)
    drawn.clear()
    upload(at, digit_png())
    model = load_cyclegan(root / "cg_tiny")
    x = to_mnist_digit(digit_png())
    images = {caption.split(":")[0]: img for img, caption in drawn}
    assert torch.allclose(images["input (typeset)"], x)
    assert torch.allclose(images["G(x)"], model.translate(x[None], "a2b")[0], atol=1e-5)
    _, rec = model.round_trip(x[None], "a2b")
    assert torch.allclose(images["F(G(x))"], rec[0], atol=1e-5)
    err = float((rec - x).abs().mean())
    assert f"= **{err:.3f}**" in texts(at.caption)
    assert "classifier reads" in texts(at.caption)


def test_the_other_direction_uses_F_then_G(root, drawn):
    at = translate_page(root)
    at.segmented_control(key="translate_direction").set_value("b2a").run()
    drawn.clear()
    upload(at, digit_png(4))
    captions = [c for _, c in drawn]
    assert "input (handwriting)" in captions[0] and captions[1].startswith("F(x): typeset")
    assert captions[2].startswith("G(F(x)): back to handwriting")


@pytest.mark.parametrize("content, words", [(b"%PDF-1.4 not an image", "not an image")])
def test_a_bad_upload_gets_one_sentence(root, content, words):
    at = upload(translate_page(root), content, "x.png")
    assert words in texts(at.error)


def test_a_blank_upload_gets_one_sentence(root):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, "PNG")
    at = upload(translate_page(root), buf.getvalue(), "blank.png")
    assert "blank" in texts(at.error)


def test_a_batch_with_readings_and_the_identity_mapping(root):
    at = translate_page(root)
    at.segmented_control(key="translate_view").set_value("A batch").run()
    assert not at.exception
    subheaders = texts(at.subheader)
    assert "10 typeset digits (in fonts held out of training) → handwriting → back" in subheaders
    assert "Identity: G on digits that are already handwriting" in subheaders
    assert "keep their digit" in texts(at.markdown)
    assert "The identity loss asks G" in texts(at.caption)
    at.number_input(key="translate_seed").set_value(5).run()
    assert not at.exception


def test_font_gallery_has_every_font_with_readings(root):
    at = translate_page(root)
    at.segmented_control(key="translate_view").set_value("Font gallery").run()
    assert not at.exception
    md = texts(at.markdown)
    assert md.count("(held out)") == 3
    n_fonts = len(font_paths()) + 1
    assert sum(1 for m in at.markdown if m.value.startswith("**")) == n_fonts
    assert sum(1 for c in at.caption if c.value.endswith("/10")) == n_fonts


def test_a_damaged_checkpoint_gets_one_sentence(root):
    bad = root / "cg_bad"
    shutil.copytree(root / "cg_tiny", bad)
    (bad / "checkpoint.pt").write_bytes(b"garbage")
    at = translate_page(root, run=False)
    at.selectbox(key="translate_model").set_value(str(bad / "checkpoint.pt")).run()
    assert not at.exception
    assert "is not a GAN Studio checkpoint" in texts(at.error)


def test_shipped_model_translates_with_its_early_checkpoint_beside(root, drawn):
    at = translate_page(root, run=False)
    assert at.selectbox(key="translate_model").value == str(pretrained_path("cyclegan_typeset_mnist"))
    drawn.clear()
    upload(at, digit_png(7))
    captions = [c for _, c in drawn]
    early = early_checkpoint(pretrained_path("cyclegan_typeset_mnist"))
    assert early is not None and any("early in training" in c for c in captions)
    assert "the cycle loss has already forced" in texts(at.caption)
    # the shipped model's measured figures, from the manifest, above the views
    ev = pretrained.manifest()["cyclegan_typeset_mnist"]["evaluate"]
    figures = next(c for c in texts(at.caption).split("\n") if c.startswith("Measured on"))
    assert f"{ev['n']:,} digits it never trained on" in figures
    assert f"keeps the digit in {ev['label_a2b']:.1%}" in figures
    assert f"{ev['judge_typeset_b2a']:.0%} pass for typeset" in figures
