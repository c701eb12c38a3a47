"""A page's URL -> the state its widgets start from: pure functions (no Streamlit), so they can be tested.

A link is somebody's old or hand-edited state, so it always opens the page: every value goes through
ganlib.checks.from_url, which turns what cannot be read (text, NaN, infinities) into the default and clamps a
number outside its range to the nearest allowed one (the documented behaviour). The page then writes the URL
back from its widgets, so a link with bad values is rewritten with clean ones.
"""
from __future__ import annotations

from ganlib import checks

LATENT_VIEWS = ("Explore", "Interpolate", "Invert")
STYLE_VIEWS = ("Mixing", "Styles", "Noise", "Truncation", "Layers")
PSI_RANGE = (0.0, 1.5)
NOISE_RANGE = (0.0, 2.0)
MAX_CLASS = 999


def url_float(url: dict, key: str, default: float, lo: float, hi: float) -> float:
    """url[key] as a finite number clamped into [lo, hi]; `default` when absent or not a finite number."""
    return checks.from_url(url, key, lambda t: checks.finite_float(t, key, lo, hi, clamp=True), default)


def url_int(url: dict, key: str, default: int, lo: int, hi: int) -> int:
    """url[key] as a whole number clamped into [lo, hi]; `default` when absent or not a whole number."""
    return checks.from_url(url, key, lambda t: checks.whole_number(t, key, lo, hi, clamp=True), default)


def url_seed(url: dict, key: str, default: int = 0) -> int:
    """A seed from a link: clamped into the pages' seed inputs (0 to 2**31 - 1)."""
    return url_int(url, key, default, 0, checks.URL_SEED_MAX)


def url_floats(url: dict, key: str, n: int, lo: float, hi: float, default: float) -> list[float]:
    """'0.5,nan,9' -> n finite numbers, each clamped into [lo, hi]; an unreadable item and a missing one are
    `default` (so a NaN never reaches the model)."""
    items = str(url.get(key, "")).split(",") if url.get(key) else []
    out = []
    for i in range(n):
        text = items[i] if i < len(items) else ""
        out.append(checks.from_url({"v": text}, "v", lambda t: checks.finite_float(t, key, lo, hi, clamp=True),
                                   default) if text.strip() else default)
    return out


def url_seeds(url: dict, key: str, n: int, default: list[int]) -> list[int]:
    """'1,2,3' -> the first n seeds, each clamped to the seed range; `default` when fewer than n can be read."""
    seeds = []
    for text in str(url.get(key, "")).split(","):
        if text.strip():
            seed = url_seed({"s": text.strip()}, "s", -1)
            if seed < 0:
                return list(default)
            seeds.append(seed)
    return seeds[:n] if len(seeds) >= n else list(default)


def unreadable(url: dict, keys: tuple[str, ...]) -> list[str]:
    """The keys among `keys` whose value (or one of whose comma-separated items) is not a finite number: the page
    says so once (clamped values are not reported: clamping is the documented behaviour)."""
    bad = []
    for key in keys:
        for item in str(url.get(key, "")).split(","):
            try:
                if item.strip():
                    checks.finite_float(item.strip(), key)
            except checks.BadValue:
                bad.append(key)
                break
    return bad


def url_view(url: dict, views: tuple[str, ...]) -> str:
    text = str(url.get("view", "")).capitalize()
    return text if text in views else views[0]


def latent_state(url: dict, kinds: tuple[str, ...], n_sliders: int, slider_range: float) -> dict:
    """The Latent explorer's URL -> its widgets' values (the session_state keys the page uses)."""
    amounts = url_floats(url, "d", n_sliders, -slider_range, slider_range, 0.0)
    return {"latent_view": url_view(url, LATENT_VIEWS),
            "latent_seed": url_seed(url, "seed"),
            "latent_class": url_int(url, "class", 0, 0, MAX_CLASS),
            "latent_psi": url_float(url, "psi", 1.0, *PSI_RANGE),
            "latent_digit": url_int(url, "digit", 3, 0, 9),
            "latent_kind": url.get("kind") if url.get("kind") in kinds else kinds[0],
            **{f"dir_{i}": a for i, a in enumerate(amounts)},
            "latent_z": str(url.get("z", "")),
            "_url_unreadable": unreadable(url, ("seed", "class", "psi", "digit", "d"))}


def style_state(url: dict, n_a: int, n_b: int, n_sliders: int, slider_range: float, n_noise: int = 16) -> dict:
    """The Style studio's URL -> its widgets' values (layers and group stay text: the page parses them with
    ganlib.style.parse_range); `_style_noise_url` holds the noise strength per conv layer."""
    amounts = url_floats(url, "d", n_sliders, -slider_range, slider_range, 0.0)
    return {"style_view": url_view(url, STYLE_VIEWS),
            "style_a": url_seeds(url, "a", n_a, list(range(n_a))),
            "style_b": url_seeds(url, "b", n_b, list(range(100, 100 + n_b))),
            "style_seed": url_seed(url, "seed"),
            "style_psi": url_float(url, "psi", 1.0, *PSI_RANGE),
            "style_nseed": url_seed(url, "nseed"),
            **{f"style_d{i}": a for i, a in enumerate(amounts)},
            "_style_noise_url": url_floats(url, "noise", n_noise, *NOISE_RANGE, 1.0) if url.get("noise") else [],
            "style_layer": str(url.get("layer", "")),
            "_url_unreadable": unreadable(url, ("a", "b", "seed", "psi", "nseed", "d", "noise"))}
