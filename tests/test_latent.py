"""ganlib.latent and the upload conversion: interpolation, directions, truncation, inversion, caching, CLI."""
from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ganlib import directions as D
from ganlib import latent as L
from ganlib.checkpoints import load_generator
from ganlib.cli import main
from ganlib.images import MAX_UPLOAD_BYTES, gif_bytes, to_mnist_digit
from ganlib.models.dcgan import DCGANGenerator
from ganlib.models.mlp import MLPGenerator
from ganlib.pretrained import pretrained_path


@pytest.fixture(scope="module")
def dcgan():
    return load_generator(pretrained_path("dcgan_mnist"))[0]


@pytest.fixture(scope="module")
def cgan():
    return load_generator(pretrained_path("cgan_mnist"))[0]


def tiny_dcgan(num_classes: int = 0) -> DCGANGenerator:
    torch.manual_seed(0)
    return DCGANGenerator(latent_dim=8, width=4, num_classes=num_classes).eval()


# ---------------------------------------------------------------- interpolation

def test_lerp_and_slerp_endpoints_are_exact():
    a, b = torch.randn(100), torch.randn(100)
    for f in (L.lerp, L.slerp):
        path = f(a, b, torch.linspace(0, 1, 7))
        assert path.shape == (7, 100)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)


def test_slerp_keeps_the_norm_and_lerp_does_not():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(100, generator=g), torch.randn(100, generator=g)
    b = b * a.norm() / b.norm()
    t = torch.linspace(0, 1, 11)
    assert torch.allclose(L.slerp(a, b, t).norm(dim=1), a.norm().expand(11), rtol=1e-5)
    assert L.lerp(a, b, t).norm(dim=1)[5] < 0.9 * a.norm()   # the straight line cuts through the middle
    c = 2 * b   # unequal norms: the norm goes linearly from |a| to |c|
    assert torch.allclose(L.slerp(a, c, t).norm(dim=1), torch.lerp(a.norm(), c.norm(), t), rtol=1e-5)
    assert torch.allclose(L.slerp(a, a, t), a.expand(11, -1))   # no angle: no NaN


def test_class_interpolation_keeps_the_noise_and_ends_on_each_class():
    G = tiny_dcgan(num_classes=10)
    z = L.sample_latents(G, 1, 3)[0]
    frames = L.interpolate(G, z, z, 5, label_a=2, label_b=7)
    assert frames.shape == (5, 1, 28, 28)
    assert torch.allclose(frames[0], L.render(G, z[None], [2])[0], atol=1e-5)
    assert torch.allclose(frames[-1], L.render(G, z[None], [7])[0], atol=1e-5)
    gif = Image.open(io.BytesIO(gif_bytes(frames)))
    assert gif.n_frames == 8   # forth and back


# ---------------------------------------------------------------- directions

def reading_matrix_by_hand(G, d: int) -> np.ndarray:
    """A's columns are the first layer's outputs for each unit latent (label inputs held at zero)."""
    first = G.net[0]
    n_in = first.in_channels if isinstance(first, torch.nn.ConvTranspose2d) else first.in_features
    cols = []
    with torch.no_grad():
        for c in range(d):
            e = torch.zeros(1, n_in)
            e[0, c] = 1.0
            x = e[:, :, None, None] if isinstance(first, torch.nn.ConvTranspose2d) else e
            out = first(x).flatten()
            if getattr(first, "bias", None) is not None:
                out = out - first(torch.zeros_like(x)).flatten()
            cols.append(out.numpy())
    return np.stack(cols, 1).astype(np.float64)


@pytest.mark.parametrize("G", [tiny_dcgan(), tiny_dcgan(num_classes=10),
                               MLPGenerator(latent_dim=6, out_shape=(1, 28, 28), hidden=16).eval()],
                         ids=["dcgan", "cgan", "mlp"])
def test_sefa_matches_an_eigendecomposition_by_hand(G):
    d = G.latent_dim
    A = reading_matrix_by_hand(G, d)
    eigvals, eigvecs = np.linalg.eigh(A.T @ A)
    order = np.argsort(eigvals)[::-1][:4]
    dirs = D.sefa_directions(G, k=4)
    assert dirs.vectors.shape == (4, d)
    for i, j in enumerate(order):
        assert abs(float(dirs.vectors[i].double() @ torch.from_numpy(eigvecs[:, j]))) == pytest.approx(1.0, abs=1e-4)
    assert dirs.scores == pytest.approx((eigvals[order] / eigvals.sum()).tolist(), rel=1e-4)


@pytest.mark.parametrize("kind", ["sefa", "pca", "raw"])
def test_directions_are_orthonormal(kind, dcgan):
    dirs = D.find_directions(dcgan, kind, k=10)
    V = dirs.vectors.double()
    assert V.shape == (10, 100)
    assert torch.allclose(V @ V.T, torch.eye(10, dtype=torch.float64), atol=1e-5)
    assert len(dirs.names) == len(dirs.scores) == 10


def test_pca_explained_variance_is_sorted_and_a_fraction(cgan):
    dirs = D.pca_directions(cgan, k=8, n=500)
    assert all(a >= b for a, b in zip(dirs.scores, dirs.scores[1:]))
    assert 0 < sum(dirs.scores) < 1


def test_truncation_psi_0_gives_the_mean_image_and_psi_1_changes_nothing(cgan):
    z = L.sample_latents(cgan, 4, 0)
    mean = L.mean_latent(cgan)
    assert torch.equal(L.truncate(z, mean, 1.0), z)
    assert torch.equal(L.truncate(z, mean, 0.0), mean.expand_as(z))
    mean_image = L.render(cgan, mean[None], [5])
    assert torch.allclose(L.render(cgan, L.truncate(z, mean, 0.0), [5]), mean_image.expand(4, -1, -1, -1), atol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1.5"):
        L.truncate(z, mean, 2.0)


@pytest.mark.parametrize("model", ["dcgan", "cgan"])
def test_thicker_makes_strokes_thicker_for_at_least_90_percent_of_seeds(model, request):
    G = request.getfixturevalue(model)
    dirs = D.attribute_directions(G, n=800, seed=1)
    assert dirs.names[:3] == ["thicker", "more slanted", "wider"]
    assert torch.allclose(dirs.vectors.norm(dim=1), torch.ones(len(dirs.vectors)), atol=1e-5)
    z = L.sample_latents(G, 100, 1234)   # other seeds than the fit's
    labels = torch.arange(100) % 10 if L.num_classes(G) else None
    before = D.image_attributes(L.render(G, z, labels))
    for i, name in enumerate(("thickness", "slant", "width")):
        after = D.image_attributes(L.render(G, z + 2.0 * dirs.vectors[i], labels))
        assert (after[name] > before[name]).float().mean() >= 0.9, name
        assert dirs.scores[i] > 0.6   # the boundary separates the extremes better than chance (0.5)


def test_image_attributes_measure_what_they_say():
    def stroke(width: int, slant: int = 0, length: int = 16) -> torch.Tensor:
        img = Image.new("L", (28, 28))
        ImageDraw.Draw(img).line([(14 - slant, 14 + length // 2), (14 + slant, 14 - length // 2)], fill=255, width=width)
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1)[None, None]

    thin, thick = D.image_attributes(stroke(2)), D.image_attributes(stroke(5))
    assert thick["thickness"] > 1.5 * thin["thickness"]
    assert D.image_attributes(stroke(3, slant=4))["slant"] > 0.3 > abs(float(D.image_attributes(stroke(3))["slant"]))
    assert D.image_attributes(stroke(3, slant=6))["width"] > D.image_attributes(stroke(3))["width"]


def test_unknown_kind_and_space_are_refused():
    G = tiny_dcgan()
    with pytest.raises(ValueError, match="Unknown direction kind"):
        D.find_directions(G, "magic")
    with pytest.raises(ValueError, match="Unknown latent space"):
        L.sample_latents(G, 1, 0, space="x")
    with pytest.raises(ValueError, match="Only StyleGAN models have a w space"):   # w: StyleGAN's (test_stylegan.py)
        L.sample_latents(G, 1, 0, space="w")


def test_directions_are_cached_next_to_a_run_and_in_the_cache_for_shipped_models(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(pretrained_path("cgan_mnist"), run / "checkpoint.pt")
    G = load_generator(run)[0]
    first = D.cached_directions(G, run, "sefa", k=5)
    files = list((run / "latent").glob("sefa-*.pt"))
    assert len(files) == 1
    assert D.cached_directions(G, run / "checkpoint.pt", "sefa", k=5) is first   # memory
    D._DIRECTIONS.clear()
    again = D.cached_directions(G, run, "sefa", k=5)                              # disk
    assert again is not first and torch.equal(again.vectors, first.vectors) and again.names == first.names
    D._DIRECTIONS.clear()
    D.cached_directions(G, pretrained_path("cgan_mnist"), "sefa", k=5)
    assert list((tmp_path / "cache" / "latent").glob("sefa-*.pt"))
    assert not list(pretrained_path("cgan_mnist").parent.glob("latent"))        # nothing written into checkpoints/


# ---------------------------------------------------------------- inversion and nearest images

INVERSION_MSE = 0.03   # pixel MSE (images in [-1, 1]) the inversion of the generator's own image must reach


@pytest.mark.parametrize("model", ["dcgan", "cgan"])
def test_inversion_of_a_generated_image_gets_close(model, request):
    from ganlib.metrics.classifier import load_classifier

    G = request.getfixturevalue(model)
    label = 4 if L.num_classes(G) else None
    target = L.render(G, L.sample_latents(G, 1, 77), [label] if label is not None else None)[0]
    calls = []
    result = L.invert(G, target, label=label, classifier=load_classifier(),
                      progress_fn=lambda step, total, err: calls.append((step, total, err)))
    assert result.error < result.start_error
    assert result.error < INVERSION_MSE
    assert result.image.shape == (1, 28, 28) and result.latent.shape == (100,)
    assert calls[-1][:2] == (120, 120)
    again = L.render(G, result.latent[None], [label] if label is not None else None)[0]
    assert torch.allclose(again, result.image, atol=1e-5)


def test_nearest_images_finds_a_copy():
    pool = torch.rand(50, 1, 28, 28) * 2 - 1
    idx, dist = L.nearest_images(pool[[7, 21]], pool, k=3)
    assert idx[:, 0].tolist() == [7, 21]
    assert dist[:, 0].abs().max() < 1e-3 and (dist[:, 1] > 0.1).all()


def test_latent_codes_round_trip_for_urls():
    z = torch.randn(100)
    code = L.encode_latent(z)
    assert len(code) < 300 and code.replace("-", "").replace("_", "").isalnum()
    assert torch.allclose(L.decode_latent(code, 100), z, atol=2e-3 * z.abs().max())
    with pytest.raises(ValueError, match="link"):
        L.decode_latent(code, 64)
    with pytest.raises(ValueError, match="link"):
        L.decode_latent("!!!", 100)


# ---------------------------------------------------------------- uploads and drawings

def digit_picture(size=(200, 260), ink=0, paper=255, mode="L", width=18) -> Image.Image:
    """A '7' drawn off-centre on a canvas."""
    img = Image.new(mode, size, paper)
    ImageDraw.Draw(img).line([(40, 40), (150, 40), (90, 220)], fill=ink, width=width)
    return img


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def check_mnist_like(x: torch.Tensor) -> None:
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) == pytest.approx(1.0, abs=1e-3)
    ink = ((x[0] + 1) / 2).numpy()
    rows, cols = np.nonzero(ink > 0.05)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21   # fits the 20x20 box
    ys, xs = np.mgrid[0:28, 0:28]
    cy, cx = (ys * ink).sum() / ink.sum(), (xs * ink).sum() / ink.sum()
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0                     # centred by mass
    assert ink[0].max() < 0.05 and ink[:, 0].max() < 0.05                     # black background


def test_black_on_white_and_white_on_black_give_the_same_digit():
    a = to_mnist_digit(png(digit_picture()))
    b = to_mnist_digit(png(digit_picture(ink=255, paper=0)))
    check_mnist_like(a)
    assert (a - b).abs().mean() < 0.02


@pytest.mark.parametrize("strokes", [(0, 0, 0, 255), (255, 255, 255, 255)], ids=["dark", "light"])
def test_rgba_strokes_on_a_transparent_background(strokes):
    x = to_mnist_digit(png(digit_picture(mode="RGBA", ink=strokes, paper=(0, 0, 0, 0))))
    check_mnist_like(x)
    assert (x - to_mnist_digit(png(digit_picture()))).abs().mean() < 0.05


def test_sixteen_bit_grey():
    arr = (np.asarray(digit_picture(), dtype=np.uint16) * 257)   # 0..65535, black on white
    img = Image.fromarray(arr)   # uint16 -> mode I;16
    data = png(img)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    x = to_mnist_digit(data)
    check_mnist_like(x)
    assert (x - to_mnist_digit(png(digit_picture()))).abs().mean() < 0.02


def test_jpeg_palette_tiny_huge_and_arrays():
    check_mnist_like(to_mnist_digit(png(digit_picture().convert("RGB"), "JPEG")))
    check_mnist_like(to_mnist_digit(png(digit_picture().convert("P"), "GIF")))
    tiny = digit_picture().resize((9, 12), Image.BILINEAR)
    check_mnist_like(to_mnist_digit(png(tiny)))
    huge = digit_picture(size=(3000, 4000), width=200).resize((3000, 4000))
    check_mnist_like(to_mnist_digit(png(huge)))
    check_mnist_like(to_mnist_digit(np.asarray(digit_picture())))
    check_mnist_like(to_mnist_digit(torch.from_numpy(np.asarray(digit_picture(), dtype=np.float32))[None]))


def test_bad_uploads_get_one_sentence():
    cases = {
        b"%PDF-1.4 not a picture": "not an image",
        b"": "empty",
        png(Image.new("L", (100, 100), 255)): "blank",
        png(Image.new("RGBA", (64, 64), (0, 0, 0, 0))): "blank",
        png(Image.new("1", (9000, 6000))): "too large",    # 54 megapixels, a small file
        b"\x89PNG" + b"\0" * (MAX_UPLOAD_BYTES + 1): "too large",
    }
    for data, words in cases.items():
        with pytest.raises(ValueError, match=words) as e:
            to_mnist_digit(data)
        assert str(e.value).count(". ") == 0 and str(e.value).endswith(".")


# ---------------------------------------------------------------- CLI

def test_cli_latent_interpolate_invert(tmp_path, capsys):
    ck = str(pretrained_path("cgan_mnist"))
    assert main(["latent", "--checkpoint", ck, "--class", "3", "--direction", "sefa:1", "--range", "-3:3:5",
                 "--out", str(tmp_path / "strip.png")]) == 0
    assert Image.open(tmp_path / "strip.png").size[0] > 4 * Image.open(tmp_path / "strip.png").size[1]
    assert main(["interpolate", "--checkpoint", ck, "--seeds", "1", "--classes", "3,8", "--frames", "6",
                 "--out", str(tmp_path / "a.gif")]) == 0
    assert Image.open(tmp_path / "a.gif").n_frames == 10
    (tmp_path / "seven.png").write_bytes(png(digit_picture()))
    assert main(["invert", "--checkpoint", ck, "--image", str(tmp_path / "seven.png"), "--steps", "20",
                 "--restarts", "2", "--out", str(tmp_path / "inv.png"), "--digit-out", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "pixel MSE" in out and "class 7" in out and "nearest training images" in out
    check_mnist_like(to_mnist_digit(tmp_path / "d.png"))


@pytest.mark.parametrize("argv, words", [
    (["latent", "--checkpoint", "CGAN", "--out", "x.png"], "give --class"),
    (["latent", "--checkpoint", "DCGAN", "--direction", "sefa:99", "--out", "x.png"], "there are 10"),
    (["latent", "--checkpoint", "DCGAN", "--range", "1:2", "--out", "x.png"], "--range must look like"),
    (["interpolate", "--checkpoint", "DCGAN", "--classes", "1,2", "--out", "x.gif"], "needs a conditional"),
    (["invert", "--checkpoint", "DCGAN", "--image", "README.md", "--out", "x.png"], "not an image"),
])
def test_cli_errors_are_one_sentence_and_exit_2(argv, words, tmp_path, capsys):
    names = {"CGAN": str(pretrained_path("cgan_mnist")), "DCGAN": str(pretrained_path("dcgan_mnist"))}
    argv = [names.get(a, a) for a in argv]
    argv[argv.index("--out") + 1] = str(tmp_path / argv[argv.index("--out") + 1])
    if "README.md" in argv:
        argv[argv.index("README.md")] = str(pretrained_path("cgan_mnist").parents[1] / "README.md")
    assert main(argv) == 2
    assert words in capsys.readouterr().err
