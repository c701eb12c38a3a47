import pytest
import torch

from ganlib.augment import _FUNCTIONS, BACKGROUND, color, cutout, diff_augment, translate
from ganlib.config import AUGMENTATIONS, TrainConfig, parse_augment


def square_images(n: int = 64) -> torch.Tensor:
    """(n, 1, 28, 28): background -1 with a centred 8x8 white square (64 white pixels)."""
    x = torch.full((n, 1, 28, 28), BACKGROUND)
    x[:, :, 10:18, 10:18] = 1.0
    return x


def test_parse_augment():
    assert parse_augment("") == () and parse_augment("none") == ()
    assert parse_augment("translation, cutout") == ("translation", "cutout")
    with pytest.raises(ValueError, match="Unknown augmentation 'flip'"):
        parse_augment("translation,flip")
    assert set(AUGMENTATIONS) == set(_FUNCTIONS)  # every name the config accepts has an implementation


def test_config_refuses_unknown_augmentation():
    assert any("Unknown augmentation" in p for p in TrainConfig(augment="rotate").validate())
    assert TrainConfig(augment="translation,cutout").validate() == []


def test_translation_moves_the_square_without_cropping_it():
    torch.manual_seed(0)
    x = square_images()
    y = translate(x)  # shifts of at most 4 px keep a square at 10..17 inside the 28x28 image
    assert y.shape == x.shape
    assert torch.equal((y == 1).sum((1, 2, 3)), torch.full((64,), 64))
    assert set(y.unique().tolist()) == {BACKGROUND, 1.0}
    centres = [(img[0] == 1).nonzero().float().mean(0) for img in y]
    offsets = torch.stack(centres) - 13.5
    assert offsets.abs().max() <= 4 and offsets.abs().max() > 0  # moved, by whole pixels, within range
    assert torch.equal(offsets, offsets.round())


def test_cutout_blanks_at_most_a_quarter_with_background():
    torch.manual_seed(0)
    x = torch.ones(256, 1, 28, 28)
    y = cutout(x)
    blank = (y == BACKGROUND).sum((1, 2, 3))
    assert blank.max() == 14 * 14 and blank.min() >= 7 * 7  # a 14x14 square, partly off the edge at worst
    assert set(y.unique().tolist()) == {BACKGROUND, 1.0}


def test_color_changes_each_image_differently_and_keeps_shape():
    torch.manual_seed(0)
    x = square_images(8)
    y = color(x)
    assert y.shape == x.shape
    assert len({round(float(v), 4) for v in y.mean((1, 2, 3))}) == 8
    rgb = color(torch.rand(4, 3, 32, 32) * 2 - 1)
    assert rgb.shape == (4, 3, 32, 32)


def test_gradients_flow_through_every_augmentation():
    x = square_images(4).requires_grad_(True)
    diff_augment(x, ("translation", "cutout", "color")).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
