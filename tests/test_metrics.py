"""ganlib.metrics: known-answer tests on tiny data (CPU, seconds each)."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn

from ganlib.data import GanData, load_dataset, sample_toy, toy_modes
from ganlib.metrics import default_classifier_path, evaluate_images, evaluate_points, load_classifier, real_floor
from ganlib.metrics import image as im
from ganlib.metrics.classifier import MnistClassifier, augment, save_classifier


@pytest.fixture(scope="module")
def digits() -> GanData:
    return load_dataset("mnist")  # offline: the 5,000-image bundled subset, sorted by class


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    """The shipped classifier; a random-weight one when it is absent (feature-only tests still hold)."""
    path = default_classifier_path()
    if path.is_file():
        return path
    torch.manual_seed(0)
    tmp = tmp_path_factory.mktemp("cls") / "random_classifier.pt"
    save_classifier(tmp, MnistClassifier().eval(), None, "random init (test)")
    return tmp


def gaussian_features(n: int, d: int = 16, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


# ---------------------------------------------------------------- classifier

def test_classifier_shapes_and_32px(classifier_path, digits):
    model = load_classifier(classifier_path)
    x = digits.x[:8]
    assert model(x).shape == (8, 10)
    assert model.features(x).shape == (8, 128)
    padded = nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)  # how data.py makes 32x32
    assert torch.allclose(model(padded), model(x), atol=1e-5)
    assert model(nn.functional.interpolate(x, size=(64, 64))).shape == (8, 10)


def test_load_classifier_is_cached(classifier_path):
    assert load_classifier(classifier_path) is load_classifier(classifier_path)


def test_save_load_round_trip(tmp_path, digits):
    torch.manual_seed(1)
    model = MnistClassifier().eval()
    path = tmp_path / "c.pt"
    save_classifier(path, model, 0.5, "test")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "gan-studio-classifier" and ckpt["format_version"] == 1
    assert ckpt["test_accuracy"] == 0.5 and ckpt["train_command"] == "test"
    with torch.no_grad():
        assert torch.allclose(load_classifier(path)(digits.x[:4]), model(digits.x[:4]), atol=1e-6)


def test_damaged_or_wrong_classifier_file_raises_one_sentence(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="damaged"):
        load_classifier(bad)
    good = tmp_path / "good.pt"
    save_classifier(good, MnistClassifier(), None, "test")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:5000])  # truncated download
    with pytest.raises(ValueError, match="damaged"):
        load_classifier(cut)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match="not a GAN Studio classifier"):
        load_classifier(other)
    with pytest.raises(ValueError, match="does not exist"):
        load_classifier(tmp_path / "missing.pt")


def test_augment_keeps_shape_range_and_varies_per_image(digits):
    x = digits.x[:1].repeat(16, 1, 1, 1)
    out = augment(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    assert (out[0] - out[1]).abs().max() > 0.1  # each image gets its own transform


def test_shipped_classifier_knows_the_training_digits(digits):
    model = load_classifier()
    idx = torch.arange(0, 5000, 25)
    assert (im.classify(model, digits.x[idx])[1].argmax(1) == digits.y[idx]).float().mean() > 0.97


# ---------------------------------------------------------------- FID / KID / PR arithmetic

def test_fid_identical_is_zero_and_grows_with_shift():
    f = gaussian_features(2000)
    mu, cov = im.feature_stats(f)
    assert im.frechet_distance(mu, cov, mu, cov) < 1e-6
    fids = [im.frechet_distance(*im.feature_stats(gaussian_features(2000, shift=s, seed=1)), mu, cov)
            for s in (0.0, 0.5, 1.0)]
    assert fids[0] < 0.1 < fids[1] < fids[2]
    assert fids[2] == pytest.approx(16 * 1.0, rel=0.1)  # ||shift||^2 dominates


def test_fid_matches_torchmetrics_with_custom_feature_module():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(nn.Module):  # "images" are already features; no weights are downloaded
        num_features = 16

        def forward(self, x):
            return x

    a, b = gaussian_features(500), gaussian_features(400, shift=0.3, seed=2) * 1.5
    metric = FrechetInceptionDistance(feature=Identity())
    metric.update(a, real=True)
    metric.update(b, real=False)
    ours = im.frechet_distance(*im.feature_stats(b), *im.feature_stats(a))
    assert ours == pytest.approx(float(metric.compute()), rel=1e-4)


def test_kid_identical_near_zero_shifted_positive():
    f = gaussian_features(1000)
    same, _ = im.kernel_inception_distance(f, f, num_subsets=10, subset_size=500)
    shifted, _ = im.kernel_inception_distance(gaussian_features(1000, shift=1.0, seed=3), f,
                                              num_subsets=10, subset_size=500)
    assert abs(same) < 0.02 * shifted
    assert shifted > 0.1


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_matches_torchmetrics_on_whole_sets():
    from torchmetrics.image.kid import KernelInceptionDistance

    class Identity(nn.Module):
        def forward(self, x):
            return x

    a, b = gaussian_features(300), gaussian_features(300, shift=0.2, seed=7)
    metric = KernelInceptionDistance(feature=Identity(), subsets=1, subset_size=300)
    metric.update(a, real=True)
    metric.update(b, real=False)
    ours, _ = im.kernel_inception_distance(b, a, num_subsets=3, subset_size=300)  # every subset = whole set
    assert ours == pytest.approx(float(metric.compute()[0]), rel=1e-4)


def test_precision_recall_same_and_disjoint_sets():
    f = gaussian_features(500)
    d = im.self_distances(f)
    assert im.precision_recall(d, d, d) == (1.0, 1.0)
    far = gaussian_features(500, shift=100.0, seed=4)
    p, r = im.precision_recall(im.self_distances(far), d, im.pairwise_distances(far, f))
    assert p == 0.0 and r == 0.0


def test_precision_recall_half_overlap():
    real = gaussian_features(600)
    fake = torch.cat([gaussian_features(300, seed=5), gaussian_features(300, shift=100.0, seed=6)])
    p, r = im.precision_recall(im.self_distances(fake), im.self_distances(real),
                               im.pairwise_distances(fake, real))
    assert 0.4 < p < 0.55  # the far half is outside the real manifold
    assert r > 0.6         # the near half covers most real points


def test_diversity_and_near_duplicates():
    f = gaussian_features(200)
    d = im.self_distances(f)
    assert im.duplicate_fraction(d, 0.05) == 0.0
    collapsed = f[:1].repeat(200, 1)
    assert im.duplicate_fraction(im.self_distances(collapsed), 0.05) == 1.0
    assert im.mean_offdiagonal(im.self_distances(collapsed)) < 0.05
    assert im.mean_offdiagonal(d) == pytest.approx(math.sqrt(2 * 16), rel=0.1)


# ---------------------------------------------------------------- class statistics

def test_single_class_coverage_one_and_kl_log10():
    probs = nn.functional.one_hot(torch.full((300,), 3), 10).float()
    m = im.class_metrics(probs, asked_labels=torch.full((300,), 3))
    assert m["class_coverage"] == 1 and m["coverage_100"] == 1
    assert m["class_kl_uniform"] == pytest.approx(math.log(10))
    assert m["mnist_score"] == pytest.approx(1.0)
    assert m["class_histogram"][3] == 300 and sum(m["class_histogram"]) == 300
    assert m["label_accuracy"] == 1.0
    assert m["top3_share"] == 1.0 and m["mean_confidence"] == 1.0


def test_uniform_classes_kl_zero_and_score_ten():
    labels = torch.arange(1000) % 10
    m = im.class_metrics(nn.functional.one_hot(labels, 10).float(), asked_labels=(labels + 1) % 10)
    assert m["class_coverage"] == 10 and m["coverage_100"] == 10
    assert m["class_kl_uniform"] == pytest.approx(0.0, abs=1e-9)
    assert m["mnist_score"] == pytest.approx(10.0, rel=1e-6)
    assert m["label_accuracy"] == 0.0
    assert m["top3_share"] == pytest.approx(0.3)
    uncertain = im.class_metrics(torch.full((100, 10), 0.1))  # confident about nothing
    assert uncertain["mnist_score"] == pytest.approx(1.0)


def test_asked_labels_length_mismatch_raises():
    with pytest.raises(ValueError, match="one label per image"):
        im.class_metrics(torch.full((10, 10), 0.1), asked_labels=torch.zeros(3))


# ---------------------------------------------------------------- end to end (images)

def test_evaluate_images_end_to_end(classifier_path, digits):
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(digits), generator=g)
    real, fake = digits.x[perm[:500]], digits.x[perm[500:800]]
    m = evaluate_images(fake, real=real, classifier_path=classifier_path, asked_labels=digits.y[perm[500:800]])
    json.dumps(m)  # flat and serialisable
    for key in ("fid", "kid", "kid_std", "precision", "recall", "class_histogram", "class_coverage",
                "coverage_100", "class_kl_uniform", "mnist_score", "label_accuracy", "feature_diversity",
                "near_duplicate_frac", "num_samples"):
        assert key in m, key
    assert m["num_samples"] == 300 and len(m["class_histogram"]) == 10
    noise = torch.rand(300, 1, 28, 28, generator=g) * 2 - 1
    m_noise = evaluate_images(noise, real=real, classifier_path=classifier_path)
    assert m_noise["fid"] > 5 * m["fid"]
    assert m_noise["precision"] < m["precision"]
    same = evaluate_images(real, real=real, classifier_path=classifier_path)
    assert same["fid"] < 1e-6 and same["precision"] == 1.0 and same["recall"] == 1.0
    collapsed = evaluate_images(fake[:1].repeat(50, 1, 1, 1), real=real, classifier_path=classifier_path)
    assert collapsed["near_duplicate_frac"] == 1.0 and collapsed["class_coverage"] == 1
    if classifier_path == default_classifier_path():  # a trained classifier: real digits look real
        # label smoothing caps confidence, so real digits score ~6 (reported as real_mnist_score), not ~10
        assert m["label_accuracy"] > 0.95 and m["class_coverage"] == 10
        assert m["mnist_score"] == pytest.approx(m["real_mnist_score"], rel=0.1)
        assert m["near_duplicate_frac"] < 0.01
        assert m_noise["mnist_score"] < m["mnist_score"]


def test_reference_statistics_cached_on_disk(classifier_path, digits, tmp_path, monkeypatch):
    small = GanData("mnist", digits.x[::10].clone(), digits.y[::10].clone(), 10)
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    monkeypatch.setattr(im, "load_dataset", lambda name, **kw: small)
    monkeypatch.setattr(im, "_REFERENCES", {})
    ref = im.real_reference("mnist", classifier_path)
    files = list((tmp_path / "metrics").glob("mnist-*.pt"))
    assert len(files) == 1 and ref.num_images == 500
    monkeypatch.setattr(im, "_REFERENCES", {})
    monkeypatch.setattr(im, "compute_reference", lambda *a, **k: pytest.fail("recomputed despite the cache"))
    again = im.real_reference("mnist", classifier_path)
    assert torch.equal(again.mu, ref.mu) and torch.equal(again.sample, ref.sample)
    m = evaluate_images(digits.x[5::10][:200], classifier_path=classifier_path)
    assert m["num_real"] == 500 and m["fid"] >= 0


def test_real_floor(classifier_path, digits):
    floor = real_floor(200, real=digits.x[::5], classifier_path=classifier_path)
    assert floor["n"] == 200 and floor["fid"] >= 0 and 0 <= floor["precision"] <= 1
    with pytest.raises(ValueError, match="needs"):
        real_floor(10_000, real=digits.x[:100], classifier_path=classifier_path)


def test_evaluate_images_rejects_a_single_image(classifier_path, digits):
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_images(digits.x[:1], real=digits.x[:100], classifier_path=classifier_path)


# ---------------------------------------------------------------- 2-D mixtures

@pytest.mark.parametrize("name, num_modes", [("toy-ring", 8), ("toy-grid", 25)])
def test_real_mixture_covers_all_modes(name, num_modes):
    modes, std = toy_modes(name)
    points, _ = sample_toy(name, 2500, seed=0)
    m = evaluate_points(points, modes, std)
    assert m["num_modes"] == num_modes and m["modes_covered"] == num_modes
    assert m["high_quality_frac"] > 0.97  # 98.9% of a 2-D Gaussian lies within 3 std
    assert m["reverse_kl"] < 0.02
    assert sum(m["mode_histogram"]) == round(m["high_quality_frac"] * 2500)
    json.dumps(m)


@pytest.mark.parametrize("name", ["toy-ring", "toy-grid"])
def test_one_mode_generator_covers_one_mode(name):
    modes, std = toy_modes(name)
    points = modes[2] + std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    m = evaluate_points(points, modes, std)
    assert m["modes_covered"] == 1 and m["mode_histogram"][2] > 2400
    assert m["reverse_kl"] == pytest.approx(math.log(len(modes)))


def test_points_far_from_every_mode_are_not_high_quality():
    modes, std = toy_modes("toy-ring")
    far = torch.randn(500, 2) * 0.05 + 10.0
    m = evaluate_points(far, modes, std)
    assert m["high_quality_frac"] == 0.0 and m["modes_covered"] == 0
    assert m["reverse_kl"] == pytest.approx(math.log(8))
    between = torch.zeros(100, 2)  # the ring's centre: 1 unit (100 std) from every mode
    assert evaluate_points(between, modes, std)["high_quality_frac"] == 0.0


def test_grey_share_reads_the_ink_not_the_background():
    digits = load_dataset("mnist").x[:500]
    crisp = im.grey_share(digits)
    assert 0.2 < crisp < 0.45
    padded = nn.functional.pad(digits, (2, 2, 2, 2), value=-1.0)   # 32 px as data.py pads: the same digits
    assert im.grey_share(padded) == pytest.approx(crisp)
    assert im.grey_share(nn.functional.avg_pool2d(digits, 2, stride=1, padding=1)[..., :28, :28]) > 0.55
    assert im.grey_share(torch.full((2, 1, 28, 28), -1.0)) == 0.0   # no ink at all: no division by zero
