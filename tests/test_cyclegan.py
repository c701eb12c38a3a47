"""CycleGAN: networks, losses, image pool, lr schedule, training in the one loop, resume, translate CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganlib.checkpoints import CheckpointError, export_checkpoint, load_checkpoint, load_generator
from ganlib.cli import main
from ganlib.config import TrainConfig
from ganlib.data import HELD_OUT_FONTS, font_paths, render_digit, render_typeset_digits, typeset_fonts
from ganlib.models.cyclegan import (ImagePool, PatchDiscriminator, ResnetGenerator, cycle_loss, identity_loss,
                                    linear_decay, semantic_loss, shape_loss)
from ganlib.train import rundir
from ganlib.train.loop import train
from ganlib.train.preflight import TrainingError
from ganlib.translate import cycle_error_map, load_cyclegan, load_images


def tiny(**kw) -> TrainConfig:
    base = dict(model="cyclegan", dataset="typeset", dataset_b="mnist", subset=48, batch_size=8, width=4,
                res_blocks=1, max_steps=4, log_every=2, sample_every=2, checkpoint_every=2, pool_size=6,
                device="cpu", amp=False, n_fixed=8)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("size,patch,patches", [(28, 12, 14), (32, 12, 16), (28, 18, 7), (32, 18, 8), (28, 34, 5)])
def test_generator_keeps_shape_and_discriminator_scores_patches(size, patch, patches):
    x = torch.rand(3, 1, size, size) * 2 - 1
    G = ResnetGenerator(size, 1, width=4, blocks=2)
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    D = PatchDiscriminator(size, 1, width=4, patch=patch)
    assert D(x).shape == (3, 1, patches, patches)
    # each score's convolutions see a patch x patch window (instance norm aside, which pools whole maps)
    for i, layer in enumerate(D.net):
        if isinstance(layer, torch.nn.InstanceNorm2d):
            D.net[i] = torch.nn.Identity()
    probe = x.clone().requires_grad_(True)
    D(probe)[0, 0, patches // 2, patches // 2].backward()
    rows = probe.grad[0, 0].abs().sum(1).nonzero().flatten()
    assert min(patch, size) - 4 <= rows.max() - rows.min() + 1 <= patch
    assert ResnetGenerator(size, 3, width=4, blocks=0)(torch.zeros(2, 3, size, size)).shape == (2, 3, size, size)


def test_cycle_and_identity_losses_on_known_inputs():
    x = torch.zeros(2, 1, 4, 4)
    rec = torch.zeros(2, 1, 4, 4)
    rec[0] = 0.5            # half the pixels off by 0.5, half exact
    assert cycle_loss(x, rec).item() == pytest.approx(0.25)
    assert identity_loss(x, -rec).item() == pytest.approx(0.25)
    assert cycle_loss(x, x).item() == 0
    assert torch.allclose(cycle_error_map(x, rec), torch.cat([torch.full((1, 4, 4), 0.5), torch.zeros(1, 4, 4)]))


def test_shape_loss_compares_thumbnails_not_strokes(tmp_path):
    a = torch.zeros(1, 1, 8, 8)
    moved = torch.zeros(1, 1, 8, 8)
    a[..., 0, 0] = 1.0
    moved[..., 1, 1] = 1.0      # the same ink, moved within its 4x4 cell: the thumbnail is unchanged
    assert shape_loss(a, moved).item() == 0 and cycle_loss(a, moved).item() > 0
    other = torch.zeros(1, 1, 8, 8)
    other[..., 7, 7] = 1.0      # moved to another cell: two of the four thumbnail pixels differ by 1/16
    assert shape_loss(a, other).item() == pytest.approx(2 / 16 / 4)
    # ink-normalised: thicker strokes in the same place cost nothing, the same ink moved still costs
    img = torch.full((1, 1, 8, 8), -1.0)
    img[..., 0:4, 0:2] = 1.0                     # a stroke in the top-left cell
    thick = img.clone()
    thick[..., 0:4, 0:4] = 1.0                   # twice as thick, same cell
    assert shape_loss(img, thick, norm=True).item() == pytest.approx(0, abs=1e-6)
    assert shape_loss(img, thick).item() > 0.1
    far = torch.full((1, 1, 8, 8), -1.0)
    far[..., 4:8, 4:6] = 1.0                     # the same stroke in the bottom-right cell
    assert shape_loss(img, far, norm=True).item() == pytest.approx(2.0)   # (4 + 4) / 4 cells
    # in training: logged per direction, and part of G's loss only when its weight is above 0
    train(tiny(lambda_shape=2.0), tmp_path / "r")
    rows = rundir.read_metrics(tmp_path / "r")
    assert all(np.isfinite(r["shape_a"]) and np.isfinite(r["shape_b"]) for r in rows if r["kind"] == "train")
    train(tiny(lambda_shape=2.0, shape_norm=True), tmp_path / "n")
    rows = rundir.read_metrics(tmp_path / "n")
    assert all(np.isfinite(r["shape_a"]) and np.isfinite(r["shape_b"]) for r in rows if r["kind"] == "train")
    assert tiny(lambda_shape=-1).validate() == ["The shape-loss weight must be in [0, 100], not -1."]


def test_semantic_loss_is_the_classifiers_cross_entropy_against_its_own_reading(tmp_path):
    """CyCADA's semantic loss on known inputs: a 'classifier' whose logits are the mean ink of the left and the
    right half of the image reads a left stroke as class 0; a translation that keeps the stroke left costs
    softplus(-gap), one that moves it right costs softplus(+gap), and only the translation gets a gradient."""
    class Halves(torch.nn.Module):
        def forward(self, x):
            return torch.stack([x[..., :4].mean((1, 2, 3)), x[..., 4:].mean((1, 2, 3))], 1)

    reader = Halves().eval()
    left = torch.full((1, 1, 8, 8), -1.0)
    left[..., 1:3] = 1.0                        # ink in the left half: logits (0, -1), read as 0
    right = left.flip(-1).requires_grad_(True)  # the same stroke on the right: logits (-1, 0)
    gap = 1.0
    softplus = torch.nn.functional.softplus
    assert semantic_loss(reader, left, left).item() == pytest.approx(softplus(torch.tensor(-gap)).item())
    loss = semantic_loss(reader, left, right)
    assert loss.item() == pytest.approx(softplus(torch.tensor(gap)).item())
    loss.backward()
    assert right.grad is not None and right.grad[..., :4].sum() < 0 < right.grad[..., 4:].sum()  # ink left pays
    # in training: logged per direction with the shipped classifier, and in G's loss when its weight is above 0
    train(tiny(lambda_semantic=1.0), tmp_path / "s")
    rows = [r for r in rundir.read_metrics(tmp_path / "s") if r["kind"] == "train"]
    assert rows and all(np.isfinite(r["semantic_a"]) and r["semantic_a"] > 0 for r in rows)
    train(tiny(), tmp_path / "plain")
    assert not [r for r in rundir.read_metrics(tmp_path / "plain") if "semantic_a" in r]   # off by default
    assert tiny(lambda_semantic=-1).validate() == ["The semantic-loss weight must be in [0, 100], not -1."]
    assert tiny(model="dcgan", dataset="mnist", lambda_semantic=1.0).validate() == []   # other families ignore it


def test_diffaugment_reaches_both_discriminators(tmp_path, monkeypatch):
    """--augment on a CycleGAN: each D sees real and translated images augmented, in its own step and in
    G's adversarial terms (it used to be accepted and ignored)."""
    import ganlib.train.steps as steps

    seen = []
    real_augment = steps.diff_augment
    monkeypatch.setattr(steps, "diff_augment", lambda x, policy: seen.append(policy) or real_augment(x, policy))
    train(tiny(max_steps=2, augment="translation"), tmp_path / "aug")
    assert seen == [("translation",)] * 12          # per step: G(a), F(b) for G; real and fake for D_A and D_B
    seen.clear()
    train(tiny(max_steps=2), tmp_path / "plain")
    assert seen == []


def test_image_pool_fills_then_mixes_old_and_new():
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool(first), first)          # filling: every fake goes straight through
    assert len(pool.images) == 4
    new = torch.arange(100.0, 164.0).view(64, 1, 1, 1)
    out = pool(new)
    values = set(out.flatten().tolist())
    assert len(pool.images) == 4                      # never grows past its size
    assert values & set(range(4)) and values & set(range(100, 164))  # some old fakes came back, some new went through
    # every returned image is either the new one at its place or one that was stored
    seen = set(range(4)) | set(range(100, 164))
    assert values <= seen
    state = pool.state()
    again = ImagePool(4)
    again.load(state)
    assert torch.equal(again.images, pool.images)
    off = ImagePool(0)
    assert torch.equal(off(new), new) and off.state().numel() == 0


def test_linear_decay_is_flat_then_falls_to_near_zero():
    factors = [linear_decay(s, 10) for s in range(10)]
    assert factors[:6] == [1.0] * 6                   # steps 0..5: the first half (and the step at the half)
    assert factors[6:] == pytest.approx([1 - 1 / 6, 1 - 2 / 6, 1 - 3 / 6, 1 - 4 / 6])
    assert all(a > b for a, b in zip(factors[5:], factors[6:]))
    assert 0 < linear_decay(999, 1000) < 0.01


def test_held_out_fonts_are_not_in_training_fonts():
    train_fonts, held = typeset_fonts("train"), typeset_fonts("held_out")
    assert held and not set(held) & set(train_fonts)
    assert sorted(held + train_fonts) == typeset_fonts("all")
    assert {font_paths()[i].name for i in held} == set(HELD_OUT_FONTS)
    x, y = render_typeset_digits(6, seed=1, fonts="held_out")
    assert x.shape == (6, 28, 28) and x.max() > 200


def test_typeset_digits_are_framed_like_mnist():
    """As MNIST's digits: the bounding box fits 20x20 (one side 20 px), the centre of mass at the centre,
    so a CycleGAN only has to change strokes, and an upload goes through the same frame."""
    x, _ = render_typeset_digits(40, seed=2)
    gallery = torch.stack([render_digit(d, f) for f in (0, len(font_paths())) for d in range(10)])
    for img in torch.cat([x, gallery]).float() / 255:
        rows, cols = torch.nonzero(img > 0.1, as_tuple=True)
        side = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        assert 19 <= side <= 21, side
        ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        cy, cx = (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()
        assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0, (cy, cx)


def test_cyclegan_config_problems_are_one_sentence_each():
    assert tiny().validate() == []
    assert TrainConfig(model="cyclegan", dataset="typeset").validate() == []  # defaults: B = mnist
    for bad, words in [(dict(dataset_b="toy-ring"), "2-D points"), (dict(dataset_b="typeset"), "two different"),
                       (dict(loss="wgan-gp"), "wgan-gp"), (dict(lambda_cycle=0), "cycle-loss weight"),
                       (dict(pool_size=-1), "image pool"), (dict(n_critic=2), "n_critic"),
                       (dict(dataset_b="folder"), "--data-dir-b"), (dict(patch=20), "patch must be"),
                       (dict(spectral_norm=True), "PatchGAN discriminators take no"),
                       (dict(minibatch_discrimination=True), "PatchGAN discriminators take no")]:
        problems = tiny(**bad).validate()
        assert len(problems) == 1 and words in problems[0], (bad, problems)
        assert problems[0].count(". ") == 0 and problems[0].endswith(".")


def test_a_run_written_before_a_default_changed_keeps_what_it_trained_with(tmp_path):
    """CycleGAN's defaults are now the shipped recipe's (shape loss 5, patch 34, 3 blocks); a config.json
    from before those fields existed or had those defaults resumes as it trained (its family's before_defaults)."""
    import json
    from dataclasses import asdict

    stored = {k: v for k, v in asdict(tiny()).items() if k not in ("lambda_shape", "patch", "res_blocks")}
    (tmp_path / "config.json").write_text(json.dumps(stored))
    old = TrainConfig.load(tmp_path / "config.json")
    assert (old.lambda_shape, old.patch, old.res_blocks) == (0.0, 18, 4)
    (tmp_path / "config.json").write_text(tiny().to_json())       # a new run names every field
    assert TrainConfig.load(tmp_path / "config.json") == tiny()


def test_a_few_steps_in_the_one_loop_write_the_run_directory(tmp_path):
    out = tmp_path / "r"
    summary = train(tiny(), out)
    assert summary["state"] == "finished" and summary["step"] == 4
    rows = rundir.read_metrics(out)
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train_rows] == [2, 4]
    for key in ("d_loss", "g_loss", "g_adv_ab", "g_adv_ba", "d_a", "d_b", "cycle_a", "cycle_b",
                "identity_a", "identity_b", "lr_g", "lr_d", "grad_norm_g", "grad_norm_d"):
        assert all(np.isfinite(r[key]) for r in train_rows), key
    assert train_rows[-1]["lr_g"] < TrainConfig().lr_g      # the second half decays
    ckpt = load_checkpoint(out)
    assert {"G", "F", "D_A", "D_B", "G_ema", "F_ema", "opt_g", "opt_d", "pool_a", "pool_b"} <= set(ckpt)
    assert ckpt["dataset"]["name"] == "typeset" and ckpt["dataset_b"]["name"] == "mnist"
    assert len(ckpt["pool_a"]) == 6                          # full after 4 steps of 8
    grid = Image.open(sorted((out / "samples").glob("*.png"))[-1])
    assert grid.height > 5 * 28                              # six rows: a, G(a), F(G(a)), b, F(b), G(F(b))
    # nothing that samples from noise opens it by mistake
    with pytest.raises(CheckpointError, match="translates images"):
        load_generator(out)


def test_resume_equals_uninterrupted(tmp_path):
    train(tiny(max_steps=4), tmp_path / "full")
    train(tiny(max_steps=2), tmp_path / "half")
    train(None, tmp_path / "half", resume=True, overrides={"max_steps": 4})
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "half")
    for net in ("G", "F", "D_A", "D_B", "G_ema"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), (net, k)
    assert torch.equal(a["pool_a"], b["pool_a"]) and torch.equal(a["pool_b"], b["pool_b"])


def test_domains_of_different_shapes_are_refused(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    for i in range(10):
        Image.fromarray(np.full((30, 30, 3), i * 20, np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(TrainingError, match="domains' images differ"):
        train(tiny(dataset_b="folder", data_dir_b=str(folder), batch_size=4), tmp_path / "r")


def test_the_start_buttons_preflight_refuses_what_training_refuses(tmp_path, monkeypatch):
    """One preflight (ganlib.train.preflight) for the Start button and the loop: the same data loads, the same sentence."""
    from ganlib.train import jobs
    from ganlib.train import preflight as preflight_mod

    folder = tmp_path / "rgb"
    folder.mkdir()
    for i in range(10):
        Image.fromarray(np.full((30, 30, 3), i * 20, np.uint8)).save(folder / f"{i}.png")
    [problem] = jobs.preflight(tiny(dataset_b="folder", data_dir_b=str(folder), batch_size=4))
    assert "domains' images differ" in problem
    assert "larger than domain B (10" in jobs.preflight(tiny(dataset_b="folder", data_dir_b=str(folder),
                                                              channels=3, batch_size=12))[0]
    calls = []
    real = preflight_mod.load_dataset
    monkeypatch.setattr(preflight_mod, "load_dataset", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    assert jobs.preflight(tiny()) == []
    checked, calls[:] = list(calls), []
    train(tiny(max_steps=1), tmp_path / "r")
    assert calls == checked and checked[0][1]["fonts"] == "train"  # domain A with the training fonts, then B


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("cg")
    train(tiny(max_steps=2), d / "run")
    export_checkpoint(d / "run", d / "cg.pt")
    return d / "cg.pt"


def _digit_png(path, polarity="dark-on-light", size=(60, 90)):
    x, _ = render_typeset_digits(1, seed=3)
    arr = x[0].numpy()
    img = Image.fromarray(255 - arr if polarity == "dark-on-light" else arr).resize(size)
    img.convert("RGB").save(path)


def test_translate_cli_png_folder_and_npy(tmp_path, exported, capsys):
    png = tmp_path / "digit.jpg"
    _digit_png(png)
    assert main(["translate", "--checkpoint", str(exported), "--input", str(png), "--out", str(tmp_path / "o.png")]) == 0
    assert Image.open(tmp_path / "o.png").size[1] >= 28
    assert "classifier reads" in capsys.readouterr().out

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        _digit_png(folder / f"{i}.png", polarity="light-on-dark" if i % 2 else "dark-on-light", size=(40 + i, 50))
    assert main(["translate", "--checkpoint", str(exported), "--direction", "b2a", "--input", str(folder),
                 "--out", str(tmp_path / "o.npy")]) == 0
    y = np.load(tmp_path / "o.npy")
    assert y.shape == (3, 1, 28, 28) and -1 <= y.min() and y.max() <= 1

    x = np.random.default_rng(0).uniform(-1, 1, (5, 28, 28)).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    assert main(["translate", "--checkpoint", str(exported), "--input", str(tmp_path / "in.npy"),
                 "--out", str(tmp_path / "o2.npy")]) == 0
    model = load_cyclegan(exported)
    assert np.allclose(np.load(tmp_path / "o2.npy"), model.translate(torch.from_numpy(x)[:, None], "a2b").numpy(),
                       atol=1e-5)


@pytest.mark.parametrize("make,words", [
    (lambda p: np.save(p / "x.npy", np.zeros((2, 3, 28, 28), np.float32)) or p / "x.npy", "(N, 1, 28, 28)"),
    (lambda p: np.save(p / "x.npy", np.full((2, 28, 28), 255.0, np.float32)) or p / "x.npy", "in [-1, 1]"),
    (lambda p: [(p / "x.png").write_bytes(b"not an image")] and p / "x.png", "not an image"),
    (lambda p: Image.new("L", (50, 50), 255).save(p / "blank.png") or p / "blank.png", "blank"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "holds no images"),
    (lambda p: p / "missing.png", "does not exist"),
])
def test_translate_cli_bad_input_is_one_sentence_exit_2(tmp_path, exported, capsys, make, words):
    path = make(tmp_path)
    assert main(["translate", "--checkpoint", str(exported), "--input", str(path), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_translate_refuses_other_families_and_bad_directions(tmp_path, exported, capsys):
    from ganlib.pretrained import pretrained_path

    code = main(["translate", "--checkpoint", str(pretrained_path("dcgan_mnist")), "--input", str(tmp_path),
                 "--out", str(tmp_path / "o.png")])
    assert code == 2 and "not a CycleGAN" in capsys.readouterr().err
    with pytest.raises(ValueError, match="a2b or b2a"):
        load_cyclegan(exported).translate(torch.zeros(1, 1, 28, 28), "sideways")


def test_upload_normalisation_of_odd_inputs(tmp_path):
    """Any format, size and polarity ends up as an MNIST-like digit (white on black, centred)."""
    _digit_png(tmp_path / "a.png", "dark-on-light", (300, 40))
    _digit_png(tmp_path / "b.png", "light-on-dark", (13, 17))
    Image.open(tmp_path / "a.png").convert("RGBA").save(tmp_path / "c.webp")
    for name in ("a.png", "b.png", "c.webp"):
        x = load_images(tmp_path / name)
        assert x.shape == (1, 1, 28, 28)
        assert x[0, 0, 0].max() == -1 and x[0, 0, :, 0].max() == -1    # background black at the border
        assert x.max() == 1                                              # the ink is white


def test_two_image_folders_can_be_the_domains(tmp_path):
    """A user's own horses and zebras: two folders of RGB images of any size."""
    rng = np.random.default_rng(0)
    for name, colour in (("horses", (150, 90, 40)), ("zebras", (230, 230, 230))):
        (tmp_path / name).mkdir()
        for i in range(10):
            arr = (rng.uniform(0.5, 1.0, (40, 36, 1)) * np.array(colour)).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / name / f"{i}.jpg")
    cfg = tiny(dataset="folder", data_dir=str(tmp_path / "horses"), dataset_b="folder",
               data_dir_b=str(tmp_path / "zebras"), image_size=32, batch_size=4, max_steps=2)
    assert cfg.validate() == []
    train(cfg, tmp_path / "r")
    model = load_cyclegan(tmp_path / "r")
    assert model.image_shape == (3, 32, 32) and model.domains == ("folder", "folder")
    assert model.translate(torch.zeros(2, 3, 32, 32), "b2a").shape == (2, 3, 32, 32)


def test_plain_typeset_digits_keep_every_other_draw_of_the_seed():
    """The evaluation's typeset digits are drawn in their fonts' own weight; a seed gives the same digits,
    fonts and places with or without the added stroke, and no plain digit carries more ink."""
    x, y = render_typeset_digits(30, seed=5, fonts="held_out")
    plain, y_plain = render_typeset_digits(30, seed=5, fonts="held_out", plain=True)
    assert torch.equal(y, y_plain)
    ink, ink_plain = x.float().sum((1, 2)), plain.float().sum((1, 2))
    assert (ink_plain <= ink * 1.05).all() and (ink_plain < ink * 0.95).any()


def test_evaluate_judges_handwriting_the_model_never_saw(tmp_path, exported, capsys, write_idx):
    """`evaluate --mnist-test-dir`: handwriting -> typeset is measured on the digits of an MNIST idx folder (the
    official t10k set; here 60 bundled digits written as one), and says so; a missing folder is one sentence."""
    from ganlib.data import load_dataset

    digits = load_dataset("mnist", subset=60)
    folder = tmp_path / "t10k"
    folder.mkdir()
    u8 = ((digits.x[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", u8)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", digits.y.numpy())
    assert main(["evaluate", "--checkpoint", str(exported), "--n", "40", "--mnist-test-dir", str(folder),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["handwriting_unseen"] is True and result["n"] == 40
    assert 0 <= result["judge_typeset_b2a"] <= 1 and 0 <= result["label_b2a"] <= 1
    # a second, independent digit reader (fitted in evaluate on the bundled digits) reads real handwriting
    assert result["second_reader_mnist"] > 0.5 and 0 <= result["second_reader_a2b"] <= 1
    assert main(["evaluate", "--checkpoint", str(exported), "--n", "40", "--mnist-test-dir",
                 str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.strip().endswith("does not exist.")
