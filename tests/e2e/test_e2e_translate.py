"""In a real browser: upload an image of a typeset digit on the Translate page and see its
translation to handwriting (the pixels the shipped CycleGAN gives), then the font gallery."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ganlib.data import render_typeset_digits
from ganlib.images import to_mnist_digit
from ganlib.pretrained import pretrained_path
from ganlib.translate import load_cyclegan

pytestmark = pytest.mark.e2e

OUT_SRC = """() => {
  const img = document.querySelector('.st-key-tr_digit_out img');
  return img && img.complete && img.naturalWidth ? img.getAttribute('src') : '';
}"""


def test_upload_a_digit_and_see_its_translation(page, server, tmp_path):
    x, y = render_typeset_digits(1, seed=11, fonts="held_out")
    path = tmp_path / "seven.png"
    Image.fromarray(255 - x[0].numpy()).resize((140, 180)).save(path)  # black on white, any size

    page.goto(server + "/")
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)
    page.goto(server + "/translate")
    page.get_by_text("CycleGAN is deterministic").wait_for(timeout=90_000)
    page.locator(".st-key-translate_digit_how").get_by_text("Upload", exact=True).click()
    page.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_function(f"() => ({OUT_SRC})() !== ''", timeout=90_000)
    shown = Image.open(io.BytesIO(page.request.get(page.evaluate(OUT_SRC)).body())).convert("L")

    model = load_cyclegan(pretrained_path("cyclegan_typeset_mnist"))
    expected = model.translate(to_mnist_digit(path.read_bytes())[None], "a2b")[0, 0]
    want = ((expected.clamp(-1, 1) * 0.5 + 0.5) * 255).numpy()
    got = np.asarray(shown.resize((28, 28), Image.NEAREST), dtype=np.float32)
    assert np.abs(got - want).max() < 3          # the browser shows G(x), pixel for pixel
    page.get_by_text("cycle error").first.wait_for(timeout=30_000)
    page.get_by_text(f"G(x): handwriting").wait_for(timeout=30_000)
    assert page.get_by_text("classifier reads").count() >= 3

    page.locator(".st-key-translate_view").get_by_text("Font gallery", exact=True).click()
    page.get_by_text("DejaVuSerif-Italic (held out)").wait_for(timeout=90_000)
