"""The 100-sample diversity test (ganlib.metrics.diversity) on constructed and real digits."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from ganlib.checkpoints import load_generator
from ganlib.data import load_dataset
from ganlib.metrics import load_classifier
from ganlib.metrics.diversity import diversity_grid_image, diversity_of, diversity_test, most_similar_pairs, summary
from ganlib.pretrained import pretrained_path


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist")  # the bundled subset, sorted by class


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


def test_most_similar_pairs_finds_the_planted_twins():
    x = torch.rand(10, 1, 28, 28) * 2 - 1
    x[7] = x[2] + 0.01
    x[9] = x[4]
    pairs = most_similar_pairs(x, k=3)
    assert [(i, j) for i, j, _ in pairs[:2]] == [(4, 9), (2, 7)]
    assert pairs[0][2] == pytest.approx(0, abs=1e-6) and pairs[1][2] == pytest.approx(0.01, rel=1e-4)
    assert pairs[2][2] > 0.1


def test_one_repeated_digit_is_a_collapse(digits, classifier):
    seven = digits.x[digits.y == 7][:1].repeat(100, 1, 1, 1)
    r = diversity_of(seven, classifier)
    assert r["class_coverage"] == 1 and r["class_histogram"][7] == 100
    assert r["class_kl_uniform"] == pytest.approx(math.log(10))
    assert r["similar_pairs"][0][2] == pytest.approx(0, abs=1e-6) and r["median_pair_distance"] == pytest.approx(0, abs=1e-6)


def test_real_digits_cover_all_ten_evenly(digits, classifier):
    idx = torch.cat([torch.nonzero(digits.y == d)[:10, 0] for d in range(10)])
    r = diversity_of(digits.x[idx], classifier)
    assert r["class_coverage"] == 10 and r["class_kl_uniform"] < 0.05
    assert len(r["digits"]) == len(r["confidence"]) == 100
    assert r["similar_pairs"][0][2] > 0 and r["median_pair_distance"] > r["similar_pairs"][0][2]
    img = diversity_grid_image(r, scale=2)
    assert img.size == (10 * (56 + 2) + 2, 10 * (56 + 2) + 2)
    assert "samples" not in summary(r) and summary(r)["class_coverage"] == 10


def test_diversity_test_samples_a_generator_and_refuses_non_digits(classifier):
    G, meta = load_generator(pretrained_path("dcgan_mnist"))
    a = diversity_test(G, classifier, seed=0)
    assert a["samples"].shape == (100, 1, 28, 28) and sum(a["class_histogram"]) == 100
    assert a["class_coverage"] >= 9  # the shipped DCGAN draws every digit
    b = diversity_test(G, classifier, seed=1)
    assert not torch.equal(a["samples"], b["samples"])  # a re-roll draws other samples

    class Points(nn.Module):
        latent_dim = 2

        def forward(self, z, y=None):
            return z

    with pytest.raises(ValueError, match="reads 28x28 grey digits"):
        diversity_test(Points(), classifier)


def test_shipped_collapsed_and_cured_pair_differ_in_diversity(classifier):
    figures = {}
    for name in ("dcgan_mnist_collapsed", "dcgan_mnist_cured"):
        G, _ = load_generator(pretrained_path(name))
        figures[name] = diversity_test(G, classifier, seed=0)
    collapsed, cured = figures["dcgan_mnist_collapsed"], figures["dcgan_mnist_cured"]
    assert cured["class_coverage"] == 10 and collapsed["class_coverage"] < cured["class_coverage"]
    assert collapsed["class_kl_uniform"] > cured["class_kl_uniform"] + 0.3


def test_cli_diversity_writes_the_grid_and_prints_figures(tmp_path, capsys):
    import json

    from ganlib.cli import main

    out = tmp_path / "grid.png"
    assert main(["diversity", "--checkpoint", str(pretrained_path("dcgan_mnist")), "--out", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert sum(figures["class_histogram"]) == 100 and len(figures["similar_pairs"]) == 5
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["diversity", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
