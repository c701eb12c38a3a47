"""The CLI's argument helpers: one-sentence refusals, the shared output-name rule, `sample --out FILE.npy`
streamed in chunks (the same samples as the PNG's)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from ganlib.checkpoints import load_generator
from ganlib.cli import inspect as cli_inspect
from ganlib.cli import main
from ganlib.cli.args import one_sentence, output_path, seed_list, value_range
from ganlib.sampling import generate
from test_cli_bad_values import DCGAN


def test_one_sentence_strips_the_argument_prefix_when_the_flag_is_named():
    assert one_sentence("argument --n: --n must be at least 1, not 0.") == "--n must be at least 1, not 0."
    assert one_sentence("argument --device: invalid choice: 'x'") == "--device: invalid choice: 'x'."
    assert one_sentence("the following arguments are required: --out") == \
        "The following arguments are required: --out."


@pytest.mark.parametrize("name", ["x.png", "x.PNG", "dir/x.jpeg", "x.webp"])
def test_output_path_takes_image_names(name):
    assert output_path(name).name == name.split("/")[-1]


@pytest.mark.parametrize("name", ["x.txt", "x", "x.png.bak", "x.gif"])
def test_output_path_refuses_other_names_in_one_sentence(name):
    with pytest.raises(ValueError, match=r"give a file ending in \.png"):
        output_path(name)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_seed_lists_and_ranges_are_clean_or_one_sentence(text):
    for parse in (lambda t: seed_list(t, "--a", 1, 16), lambda t: value_range(t)):
        try:
            out = parse(text)
        except ValueError as e:
            assert str(e).endswith(".") and "\n" not in str(e)
        else:
            assert all(np.isfinite(v) for v in out)


def test_sample_npy_is_the_png_samples_and_streams_in_chunks(tmp_path, monkeypatch, capsys):
    out = tmp_path / "s.npy"
    assert main(["sample", "--checkpoint", DCGAN, "--n", "7", "--seed", "3", "--out", str(out)]) == 0
    G, _ = load_generator(DCGAN)
    with torch.no_grad():
        expected = generate(G, 7, seed=3).numpy()
    assert np.allclose(np.load(out), expected, atol=1e-5)
    monkeypatch.setattr(cli_inspect, "SAMPLE_CHUNK", 4)
    assert main(["sample", "--checkpoint", DCGAN, "--n", "10", "--out", str(out)]) == 0
    arr = np.load(out)
    assert arr.shape == (10, 1, 28, 28) and np.isfinite(arr).all() and np.abs(arr).max() <= 1
    assert [p.name for p in tmp_path.iterdir()] == ["s.npy"]   # no part file left behind
