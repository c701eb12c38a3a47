"""Quality metrics for generated 28x28 digits, on the MNIST classifier's penultimate features.

"fid" here is a Frechet distance on MNIST-classifier features (128-d), NOT Inception FID: it is
comparable only between numbers computed with the same classifier file (and similar sample
counts), never with published Inception FIDs. `real_floor(n)` gives the real-vs-real value to
compare against.

The Frechet arithmetic is torchmetrics' (`tr sqrt(S1 S2)` = sum of square roots of the eigenvalues
of S1 @ S2, in float64), written out here because the reference statistics are computed once and
cached on disk, which torchmetrics' stateful metric objects (running sums over `update` calls) do
not fit; tests check the numbers against torchmetrics' FrechetInceptionDistance(feature=module).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_dataset
from ..files import atomic_write_bytes
from ..paths import cache_root
from .classifier import MnistClassifier, default_classifier_path, load_classifier

CACHE_VERSION = 1
REF_SAMPLE = 5000        # real images whose features are kept for KID / precision-recall
PR_K = 3                 # k of the k-NN manifolds (Kynkaanniemi et al. 2019)
MAX_PAIRWISE = 5000      # at most this many generated samples enter the N^2 metrics (PR, diversity)
DUPLICATE_QUANTILE = 1e-3  # near-duplicate threshold: this quantile of real-vs-real pair distances


# ---------------------------------------------------------------- features

@torch.no_grad()
def classify(model: MnistClassifier, x: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 28, 28) in [-1, 1] -> features (N, D) and class probabilities (N, 10), both float32 on CPU."""
    model.eval()
    dev = next(model.parameters()).device
    feats, probs = [], []
    for i in range(0, len(x), batch_size):
        f = model.features(x[i:i + batch_size].to(dev))
        feats.append(f.float().cpu())
        probs.append(model.head(f).float().softmax(1).cpu())
    return torch.cat(feats), torch.cat(probs)


def feature_stats(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = f.double()
    mu = f.mean(0)
    d = f - mu
    return mu, d.T @ d / max(len(f) - 1, 1)


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), with torchmetrics' eigenvalue arithmetic."""
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    mean_term = (mu1 - mu2).square().sum()
    # eigenvalues of S1 S2 are real and >= 0 in exact arithmetic; sqrt of tiny negative ones -> imaginary, dropped
    sqrt_trace = torch.linalg.eigvals(cov1 @ cov2).sqrt().real.sum()
    return float((mean_term + cov1.trace() + cov2.trace() - 2 * sqrt_trace).clamp_min(0.0))


def kernel_inception_distance(f_fake: torch.Tensor, f_real: torch.Tensor, num_subsets: int = 100,
                              subset_size: int = 1000, max_pool: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3, mean and std over random subsets (Binkowski et al. 2018).

    Kernels are computed once on pools of at most `max_pool` points per side; each subset of
    m = min(subset_size, pool) points is a 0/1 indicator column, so all subset sums come from a
    few matmuls, which keeps 10,000 samples cheap.
    """
    g = torch.Generator().manual_seed(seed)
    d = f_fake.shape[1]
    x = f_fake[torch.randperm(len(f_fake), generator=g)[:max_pool]].double()
    y = f_real[torch.randperm(len(f_real), generator=g)[:max_pool]].double()
    m = min(subset_size, len(x), len(y))
    if m < 2:
        return float("nan"), float("nan")
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))

    def indicators(n: int) -> torch.Tensor:  # (n, S): column s marks subset s
        cols = torch.stack([torch.randperm(n, generator=g)[:m] for _ in range(num_subsets)], 1)
        return torch.zeros(n, num_subsets, dtype=torch.float64).scatter_(0, cols, 1.0)

    s_x, s_y = indicators(len(x)), indicators(len(y))
    sum_xx = (s_x * (k_xx @ s_x)).sum(0) - s_x.T @ k_xx.diagonal()   # off-diagonal sums, (S,)
    sum_yy = (s_y * (k_yy @ s_y)).sum(0) - s_y.T @ k_yy.diagonal()
    sum_xy = (s_x * (k_xy @ s_y)).sum(0)
    mmd = (sum_xx + sum_yy) / (m * (m - 1)) - 2 * sum_xy / (m * m)
    return float(mmd.mean()), float(mmd.std()) if num_subsets > 1 else 0.0


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (Na, Nb) between rows of a (Na, D) and b (Nb, D), via one matmul."""
    return torch.cdist(a.float(), b.float(), compute_mode="use_mm_for_euclid_dist")


def self_distances(a: torch.Tensor) -> torch.Tensor:
    """(N, N) distances within a (N, D), with an exact zero diagonal (the matmul form leaves ~1e-3)."""
    return pairwise_distances(a, a).fill_diagonal_(0.0)


def knn_radii(d_self: torch.Tensor, k: int = PR_K) -> torch.Tensor:
    """Distance of each point to its k-th nearest other point, from its self-distance matrix (N, N)."""
    k = min(k, len(d_self) - 1)
    return d_self.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(d_fake_fake: torch.Tensor, d_real_real: torch.Tensor, d_fake_real: torch.Tensor,
                     k: int = PR_K) -> tuple[float, float]:
    """Improved precision / recall (Kynkaanniemi et al. 2019) from the three distance matrices.

    precision: fraction of fakes inside the real manifold (the union of balls around each real
    point with radius = distance to its k-th nearest real neighbour); recall: fraction of reals
    inside the fake manifold.
    """
    r_real, r_fake = knn_radii(d_real_real, k), knn_radii(d_fake_fake, k)
    precision = (d_fake_real <= r_real[None, :]).any(1).float().mean()
    recall = (d_fake_real <= r_fake[:, None]).any(0).float().mean()
    return float(precision), float(recall)


def mean_offdiagonal(d: torch.Tensor) -> float:
    n = len(d)
    return float(d.sum() / max(n * (n - 1), 1))


def duplicate_fraction(d_self: torch.Tensor, threshold: float) -> float:
    """Fraction of distinct pairs (i < j) closer than `threshold`."""
    n = len(d_self)
    if n < 2:
        return 0.0
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return float((d_self < threshold)[off_diagonal].float().mean())


# ---------------------------------------------------------------- class statistics

def class_metrics(probs: torch.Tensor, asked_labels: torch.Tensor | None = None) -> dict:
    """Histogram, coverage, KL to uniform, MNIST score (and label accuracy) from probs (N, 10)."""
    n, c = probs.shape
    pred = probs.argmax(1)
    hist = torch.bincount(pred, minlength=c)
    p = hist.double() / n
    nz = p > 0
    kl_uniform = float((p[nz] * (p[nz] * c).log()).sum())  # KL(p || uniform) = log C - H(p)
    p_y = probs.double().mean(0, keepdim=True)
    kl_each = (probs.double() * (probs.double().clamp_min(1e-12).log() - p_y.clamp_min(1e-12).log())).sum(1)
    out = {"class_histogram": [int(h) for h in hist], "class_coverage": int(nz.sum()),
           "coverage_100": int(pred[:100].unique().numel()), "class_kl_uniform": kl_uniform,
           "mnist_score": float(kl_each.mean().exp()), "mean_confidence": float(probs.max(1).values.mean()),
           "top3_share": float(hist.sort(descending=True).values[:3].sum() / n)}  # 1.0: three digits or fewer
    if asked_labels is not None:
        asked = torch.as_tensor(asked_labels).long().cpu().view(-1)
        if len(asked) != n:
            raise ValueError(f"Got {len(asked)} asked labels for {n} images; give one label per image.")
        out["label_accuracy"] = float((pred == asked).float().mean())
    return out


# ---------------------------------------------------------------- reference statistics (cached)

INK, GREY = -0.8, 0.6  # a pixel above INK has ink; one within (-GREY, GREY) is mid-grey


def grey_share(x: torch.Tensor) -> float:
    """How blurred the strokes of digits x (N, C, H, W) in [-1, 1] are: of the pixels with ink, the share that
    is mid-grey. MNIST's digits are nearly black and white (0.37 on the test set); the same digits under a
    Gaussian blur of sigma 1 score 0.68, and a collapsed G's EMA blot about 0.65. It tells a crisp digit from
    a blurred one where precision cannot: a blurred 8-shaped blot can sit among real 8s in feature space."""
    x = MnistClassifier.prepare(x)
    ink = x > INK
    return float(((x > -GREY) & (x < GREY)).sum() / ink.sum().clamp(min=1))


def cache_dir() -> Path:
    """Where reference statistics live: $GAN_STUDIO_CACHE/metrics or ~/.cache/gan-studio/metrics."""
    return cache_root() / "metrics"


_FILE_HASHES: dict[tuple[str, float, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, cached per (path, mtime, size)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime, st.st_size)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_HASHES[key]


@dataclass
class RealReference:
    """What the metrics need from the real data: feature mean/cov, a feature sample, PR radii."""

    name: str
    num_images: int
    mu: torch.Tensor               # (D,) float64
    cov: torch.Tensor              # (D, D) float64
    sample: torch.Tensor           # (M, D) features of M <= REF_SAMPLE random real images
    sample_radii: torch.Tensor     # (M,) k-NN radii of the sample (for precision with n = M)
    duplicate_threshold: float     # DUPLICATE_QUANTILE of real pair distances
    diversity: float               # mean pairwise feature distance of the real sample
    mnist_score: float             # the real images' own mnist_score (the classifier's ceiling)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def compute_reference(model: MnistClassifier, x: torch.Tensor, name: str = "custom", seed: int = 0) -> RealReference:
    """Reference statistics of real images x (N, 1, 28, 28) in [-1, 1]."""
    feats, probs = classify(model, x)
    mu, cov = feature_stats(feats)
    g = torch.Generator().manual_seed(seed)
    sample = feats[torch.randperm(len(feats), generator=g)[:REF_SAMPLE]].contiguous()
    d = self_distances(sample)
    pairs = d[:2000, :2000]
    upper = pairs[torch.triu(torch.ones_like(pairs, dtype=torch.bool), diagonal=1)]
    threshold = float(torch.quantile(upper, DUPLICATE_QUANTILE)) if len(upper) else 0.0
    return RealReference(name, len(x), mu, cov, sample, knn_radii(d), threshold, mean_offdiagonal(d),
                         class_metrics(probs)["mnist_score"])


_REFERENCES: dict[tuple[str, str], RealReference] = {}


def real_reference(real_name: str = "mnist", classifier_path: str | Path | None = None,
                   device: str = "cpu") -> RealReference:
    """Reference statistics of a named data set, computed once and cached in memory and on disk.

    The disk file is keyed by data set name, the sha256 of the classifier file and the sha256 of
    the images themselves (so downloading full MNIST later does not reuse the 5k-subset numbers).
    """
    cls_path = Path(classifier_path) if classifier_path is not None else default_classifier_path()
    model = load_classifier(cls_path, device)  # raises a clear ValueError first if the file is bad
    cls_hash = file_sha256(cls_path)
    if (real_name, cls_hash) in _REFERENCES:  # periodic evaluation in one process: no data reload
        return _REFERENCES[(real_name, cls_hash)]
    x = load_dataset(real_name).x
    data_hash = hashlib.sha256(x.numpy().tobytes()).hexdigest()
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in real_name)
    path = cache_dir() / f"{safe_name}-{cls_hash[:16]}-{data_hash[:16]}-v{CACHE_VERSION}.pt"
    ref = None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        ref = RealReference(**stored)
    except Exception:  # noqa: BLE001 - missing or damaged cache: recompute
        ref = None
    if ref is None:
        ref = compute_reference(model, x, name=real_name)
        buf = io.BytesIO()
        torch.save(ref.to_dict(), buf)
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError:
            pass  # a read-only home still gets correct (uncached) numbers
    _REFERENCES[(real_name, cls_hash)] = ref
    return ref


# ---------------------------------------------------------------- entry points

def compare_features(f_fake: torch.Tensor, ref: RealReference, seed: int = 0) -> dict:
    """FID, KID, precision/recall and diversity of fake features (N, D) against a reference."""
    mu, cov = feature_stats(f_fake)
    kid, kid_std = kernel_inception_distance(f_fake, ref.sample, seed=seed)
    n_pair = min(len(f_fake), MAX_PAIRWISE)
    d_ff = self_distances(f_fake[:n_pair])
    # precision/recall depend on the sample sizes, so both sides use the same n
    n_pr = min(n_pair, len(ref.sample))
    real_pr = ref.sample[:n_pr]
    d_rr = None if n_pr == len(ref.sample) else self_distances(real_pr)
    d_fr = pairwise_distances(f_fake[:n_pr], real_pr)
    if d_rr is None:  # full sample: its k-NN radii are cached
        r_fake = knn_radii(d_ff[:n_pr, :n_pr])
        precision = float((d_fr <= ref.sample_radii[None, :]).any(1).float().mean())
        recall = float((d_fr <= r_fake[:, None]).any(0).float().mean())
    else:
        precision, recall = precision_recall(d_ff[:n_pr, :n_pr], d_rr, d_fr)
    return {"fid": frechet_distance(mu, cov, ref.mu, ref.cov), "kid": kid, "kid_std": kid_std,
            "precision": precision, "recall": recall,
            "feature_diversity": mean_offdiagonal(d_ff), "real_feature_diversity": ref.diversity,
            "near_duplicate_frac": duplicate_fraction(d_ff, ref.duplicate_threshold),
            "near_duplicate_threshold": ref.duplicate_threshold}


def evaluate_images(fake: torch.Tensor, *, real: torch.Tensor | None = None, real_name: str = "mnist",
                    asked_labels: torch.Tensor | None = None, device: str = "cpu",
                    classifier_path: str | Path | None = None, seed: int = 0) -> dict:
    """All image metrics of generated digits `fake` (N, 1, 28, 28) in [-1, 1] (32x32 is centre-cropped).

    Reference: `real` images (N', 1, 28, 28) if given (statistics computed on the spot, not cached),
    else the data set `real_name` (statistics cached on disk). `asked_labels` (N,): the classes a
    conditional model was asked for. Use a few thousand samples: FID needs N well above the
    feature dimension (128) and is biased upwards for small N.

    Returns a flat JSON-serialisable dict:
      num_samples, fid, kid, kid_std, precision, recall (k = 3),
      class_histogram (10 counts), class_coverage, coverage_100, class_kl_uniform,
      mnist_score (exp E[KL(p(y|x) || p(y))], 1..10), mean_confidence, top3_share, [label_accuracy],
      feature_diversity (mean pairwise feature distance; real_feature_diversity for comparison),
      near_duplicate_frac (pairs closer than near_duplicate_threshold = the 0.1% quantile of
      real-vs-real pair distances, so real data scores ~0.001 and a collapsed generator ~1),
      grey_share (the share of the ink that is mid-grey: 0.37 for real digits, 0.6 and up when blurred).
    """
    if fake.dim() != 4 or len(fake) < 2:
        raise ValueError(f"evaluate_images needs a batch of at least 2 images (N, C, H, W), got shape {tuple(fake.shape)}.")
    model = load_classifier(classifier_path, device)
    if real is not None:
        ref = compute_reference(model, real, name="custom", seed=seed)
    else:
        ref = real_reference(real_name, classifier_path, device)
    f_fake, probs = classify(model, fake)
    out = {"num_samples": len(fake), "num_real": ref.num_images}
    out.update(compare_features(f_fake, ref, seed=seed))
    out.update(class_metrics(probs, asked_labels))
    out["real_mnist_score"] = ref.mnist_score
    out["grey_share"] = grey_share(fake)
    return out


def real_floor(n: int = 2500, *, real: torch.Tensor | None = None, real_name: str = "mnist",
               device: str = "cpu", classifier_path: str | Path | None = None, seed: int = 0) -> dict:
    """Real-vs-real metrics: two disjoint random halves of the real data, n images each.

    This is the best a generator can score with n samples against n real images (FID's floor
    is not 0 because of sampling noise). Returns {"n", "fid", "kid", "kid_std", "precision", "recall"}.
    """
    x = real if real is not None else load_dataset(real_name).x
    if 2 * n > len(x):
        raise ValueError(f"A real-vs-real floor with n = {n} needs {2 * n} real images; only {len(x)} exist.")
    model = load_classifier(classifier_path, device)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    ref = compute_reference(model, x[perm[:n]], name="half-a", seed=seed)
    f_b, _ = classify(model, x[perm[n:2 * n]])
    m = compare_features(f_b, ref, seed=seed)
    return {"n": n, **{k: m[k] for k in ("fid", "kid", "kid_std", "precision", "recall")}}
