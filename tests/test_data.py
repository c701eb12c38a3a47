import numpy as np
import pytest
import torch
from PIL import Image

from ganlib.data import DataError, load_dataset, read_idx, sample_toy, toy_modes


def test_mnist_offline_falls_back_to_bundled_subset():
    d = load_dataset("mnist")
    assert d.x.shape == (5000, 1, 28, 28) and d.x.dtype == torch.float32
    assert d.x.min() >= -1 and d.x.max() <= 1 and d.x.min() == -1 and d.x.max() == 1
    assert d.num_classes == 10 and torch.bincount(d.y).tolist() == [500] * 10
    assert "5,000-image MNIST subset" in d.note


def test_mnist_size_32_pads_with_background_and_channels_3():
    d = load_dataset("mnist", image_size=32, channels=3, subset=10)
    assert d.x.shape == (10, 3, 32, 32)
    assert (d.x[:, :, :2] == -1).all()


def test_a_subset_is_a_seeded_random_draw_not_the_first_examples():
    """The bundled digits are stored class by class: the first 500 are all zeros, and a G trained on them
    draws only zeros (it looked like mode collapse). A subset draws its examples with the run's seed."""
    full = load_dataset("mnist")
    assert full.y[:500].tolist() == [0] * 500  # why the first N would not do
    d = load_dataset("mnist", subset=500, seed=0)
    counts = torch.bincount(d.y, minlength=10)
    assert d.x.shape == (500, 1, 28, 28) and (counts > 25).all() and counts.sum() == 500
    again, other = load_dataset("mnist", subset=500, seed=0), load_dataset("mnist", subset=500, seed=1)
    assert torch.equal(again.x, d.x) and not torch.equal(other.x, d.x)
    assert load_dataset("mnist", subset=10**6).x.shape[0] == 5000  # more than there is: all of it


def test_idx_folder(tmp_path, write_idx):
    imgs = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(7), gz=False)
    d = load_dataset("mnist", data_dir=str(tmp_path))
    assert d.x.shape == (7, 1, 28, 28) and d.y.tolist() == list(range(7))
    assert torch.allclose((d.x[0, 0] + 1) * 127.5, torch.tensor(imgs[0], dtype=torch.float32), atol=1e-3)


def test_truncated_idx_is_a_clear_error(tmp_path, write_idx):
    p = tmp_path / "train-images-idx3-ubyte"
    write_idx(p, np.zeros((3, 28, 28)), gz=False)
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no MNIST idx files"):
        load_dataset("mnist", data_dir=str(empty))


def test_fashion_mnist_offline_is_a_clear_error():
    with pytest.raises(DataError, match="Fashion-MNIST is not available"):
        load_dataset("fashion-mnist")


def test_typeset_digits_are_labelled_and_varied():
    d = load_dataset("typeset", subset=200, seed=1)
    assert d.x.shape == (200, 1, 28, 28) and d.num_classes == 10
    assert d.x.min() >= -1 and d.x.max() <= 1
    assert set(d.y.tolist()) == set(range(10))
    assert (d.x > 0).float().mean(dim=(1, 2, 3)).min() > 0.02  # every image has ink
    again = load_dataset("typeset", subset=200, seed=1)
    assert torch.equal(d.x, again.x)


def test_toy_ring_has_8_distinct_modes_on_unit_circle():
    modes, std = toy_modes("toy-ring")
    assert len(modes) == 8 and std == 0.01
    assert torch.allclose(modes.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.cdist(modes, modes).add(torch.eye(8) * 9).min() > 0.7  # no duplicated angle
    x, idx = sample_toy("toy-ring", 4000)
    assert x.shape == (4000, 2)
    assert (x - modes[idx]).norm(dim=1).max() < 0.06
    assert len(set(idx.tolist())) == 8


def test_toy_grid_has_25_modes():
    modes, std = toy_modes("toy-grid")
    assert len(modes) == 25 and std == 0.05
    assert sorted(set(modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    d = load_dataset("toy-grid", subset=500)
    assert d.x.shape == (500, 2) and d.modes is not None and not d.is_image


def test_image_folder_flat_and_classes(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 50), (i * 80, 10, 200)).save(flat / f"{i}.png")
    (flat / "notes.txt").write_text("not an image")
    (flat / "broken.png").write_bytes(b"not a png")
    d = load_dataset("folder", data_dir=str(flat), image_size=32)
    assert d.x.shape == (3, 3, 32, 32) and d.y is None
    assert "Skipped 1 unreadable" in d.note
    cls = tmp_path / "cls"
    for c in ("a", "b"):
        (cls / c).mkdir(parents=True)
        Image.new("L", (28, 28), 100).save(cls / c / "x.png")
    d = load_dataset("folder", data_dir=str(cls), image_size=28, channels=1)
    assert d.x.shape == (2, 1, 28, 28) and d.class_names == ["a", "b"] and d.y.tolist() == [0, 1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("folder", data_dir=str(tmp_path / "missing"))
    with pytest.raises(DataError, match="holds no images"):
        load_dataset("folder", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="Unknown data set"):
        load_dataset("cifar-1000")
