"""ganlib.images.to_mnist_digit (an uploaded or drawn image -> the (1, 28, 28) digit) over random sizes, modes
and bytes: a (1, 28, 28) tensor in [-1, 1], or ValueError with one sentence."""
import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from PIL import Image

from ganlib.images import to_mnist_digit

MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "I", "F", "I;16", "CMYK"]


def check(data):
    try:
        x = to_mnist_digit(data)
    except ValueError as e:
        text = str(e)
        assert text and "\n" not in text and text.endswith("."), text
        return None
    assert isinstance(x, torch.Tensor) and tuple(x.shape) == (1, 28, 28)
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1
    return x


@st.composite
def images(draw):
    mode = draw(st.sampled_from(MODES))
    w, h = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["noise", "blank", "stroke"]))
    arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    if kind == "blank":
        arr[:] = draw(st.integers(0, 255))
    elif kind == "stroke":
        arr[:] = 0
        arr[h // 3: max(h // 3 + 1, 2 * h // 3), w // 2: w // 2 + max(1, w // 8)] = 255
    img = Image.fromarray(arr, "RGBA")
    try:
        img = img.convert(mode)
    except ValueError:
        img = img.convert("L").convert(mode)
    return img


@settings(max_examples=150, deadline=None)
@given(images(), st.sampled_from(["PNG", "TIFF", "BMP", "GIF", "object"]))
def test_any_image_is_a_digit_or_one_sentence(img, fmt):
    if fmt == "object":
        check(img)
        return
    buf = io.BytesIO()
    try:
        img.save(buf, fmt)
    except (OSError, ValueError, KeyError):   # this format cannot hold this mode
        return
    check(buf.getvalue())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_a_digit_or_one_sentence(data):
    check(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=8, max_size=200))
def test_damaged_png_is_a_digit_or_one_sentence(tail):
    buf = io.BytesIO()
    Image.new("L", (28, 28), 0).save(buf, "PNG")
    check(buf.getvalue()[:40] + tail)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.sampled_from(["nan", "inf", "big", "small", "ok"]))
def test_arrays_of_any_shape_and_values(shape, values):
    arr = np.random.default_rng(0).random(shape)
    arr = {"nan": arr * np.nan, "inf": arr * np.inf, "big": arr * 1e30, "small": -arr, "ok": arr}[values]
    for x in (arr, torch.as_tensor(arr)):
        digit = check(x)   # NaN or infinity: refused in one sentence, not a digit made of NaNs
        assert digit is None or values not in ("nan", "inf")
    if values in ("nan", "inf") and np.squeeze(arr).ndim == 2:
        with pytest.raises(ValueError, match="not finite numbers"):
            to_mnist_digit(arr)
