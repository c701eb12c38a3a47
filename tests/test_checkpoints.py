import pickle
from pathlib import Path

import pytest
import torch

from ganlib.checkpoints import CheckpointError, describe, load_checkpoint, load_generator, save_checkpoint
from ganlib.config import TrainConfig
from ganlib.train.loop import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "run"
    train(TrainConfig(model="cgan", dataset="typeset", subset=64, batch_size=16, width=8, latent_dim=8,
                      max_steps=3, log_every=1), out)
    return out


def test_round_trip_and_metadata(run):
    ckpt = load_checkpoint(run / "checkpoint.pt", family="cgan")
    assert ckpt["format"] == "gan-studio" and ckpt["format_version"] == 1
    assert ckpt["dataset"]["name"] == "typeset" and ckpt["dataset"]["shape"] == [1, 28, 28]
    assert ckpt["step"] == 3 and ckpt["train_config"]["model"] == "cgan"
    info = describe(ckpt)
    assert info["family"] == "cgan" and info["num_classes"] == 10 and info["latent_dim"] == 8 and info["ema"]
    G, meta = load_generator(run)  # a run directory works too
    assert meta["ema"] and not G.training
    x = G(torch.randn(2, 8), torch.tensor([3, 4]))
    assert x.shape == (2, 1, 28, 28)


def test_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_empty(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint(tmp_path / "e.pt")


def test_truncated(run, tmp_path):
    data = (run / "checkpoint.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"is not a GAN Studio checkpoint \(it looks truncated\)"):
        load_checkpoint(tmp_path / "t.pt")


def test_not_a_torch_file(tmp_path):
    (tmp_path / "x.pt").write_text("hello, I am a text file" * 10)
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_foreign_torch_file(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "f.pt")
    with pytest.raises(CheckpointError, match="another kind"):
        load_checkpoint(tmp_path / "f.pt")


def test_the_metric_classifier_is_named_not_called_foreign():
    classifier = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist_classifier.pt"
    with pytest.raises(CheckpointError, match="MNIST classifier .* not a GAN: give a generator checkpoint"):
        load_checkpoint(classifier)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_objects_are_never_unpickled(tmp_path):
    torch.save({"format": "gan-studio", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="unsafe to load"):
        load_checkpoint(tmp_path / "evil.pt")


def test_wrong_family(run):
    with pytest.raises(CheckpointError, match="holds a cgan model, not a dcgan model"):
        load_checkpoint(run / "checkpoint.pt", family="dcgan")


def test_newer_format(tmp_path):
    save_checkpoint(tmp_path / "n.pt", {"family": "dcgan"})
    ck = torch.load(tmp_path / "n.pt", weights_only=True)
    ck["format_version"] = 99
    torch.save(ck, tmp_path / "n.pt")
    with pytest.raises(CheckpointError, match="newer GAN Studio"):
        load_checkpoint(tmp_path / "n.pt")


def test_edited_weights_are_reported(run, tmp_path):
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    ck["G_ema"] = {}
    ck["G"].pop(next(iter(ck["G"])))
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not match its own model description"):
        load_generator(tmp_path / "bad.pt")


def test_atomic_save_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"family": "dcgan", "step": 1})
    import ganlib.train.rundir as rd

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rd.os, "fsync", full_disk)
    with pytest.raises(OSError):
        save_checkpoint(path, {"family": "dcgan", "step": 2})
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_export_is_small_samples_alike_and_refuses_resume(run, tmp_path):
    from ganlib.checkpoints import export_checkpoint
    from ganlib.train.preflight import TrainingError

    out = tmp_path / "slim" / "checkpoint.pt"
    info = export_checkpoint(run, out)
    assert info["family"] == "cgan" and info["step"] == 3
    slim = load_checkpoint(out, family="cgan")
    assert slim["inference_only"] and not {"D", "opt_g", "opt_d", "rng"} & set(slim)
    assert out.stat().st_size < (run / "checkpoint.pt").stat().st_size
    assert describe(slim)["resumable"] is False and describe(load_checkpoint(run))["resumable"] is True
    z, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 3])
    G_full, _ = load_generator(run)
    G_slim, meta = load_generator(out)
    assert meta["ema"] and torch.equal(G_full(z, y), G_slim(z, y))
    (out.parent / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(TrainingError, match="cannot be resumed"):
        train(None, out.parent, resume=True)


def test_networks_of_another_version_are_one_sentence(run, tmp_path, capsys):
    """A checkpoint whose networks take a setting this version does not know (written by another version, or
    by an experiment) is refused in one sentence naming the setting, by every loader and the CLI."""
    from ganlib.cli import main
    from ganlib.translate import load_cyclegan

    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    ck["model_kwargs"]["G"]["upsample"] = "nearest"
    torch.save(ck, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match="written by another version of GAN Studio: its DCGANGenerator has "
                                              "settings this version does not know: upsample"):
        load_generator(tmp_path / "newer.pt")
    assert main(["sample", "--checkpoint", str(tmp_path / "newer.pt"), "--out", str(tmp_path / "s.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    ck["family"] = "cyclegan"
    torch.save(ck, tmp_path / "cg.pt")
    with pytest.raises(CheckpointError, match="written by another version"):
        load_cyclegan(tmp_path / "cg.pt")
