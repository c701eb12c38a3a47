"""Style studio: a StyleGAN's styles made visible. Style mixing (which layers come from A), per-layer-group
style sliders, noise (strength per layer, resampling, where pixels change), truncation beside the mean-w
image, and any layer's feature maps. The view lives in the URL, like the Latent explorer's."""
from __future__ import annotations

import random
from pathlib import Path

import streamlit as st
import torch

from ganlib import style as S
from ganlib.images import gif_bytes
from ganlib.models.stylegan import RESOLUTIONS
from ganlib.pretrained import generator_choices
from ganlib.paths import runs_root
from studio import urlstate, widgets
from studio.i18n import N_, _, gettext_now

VIEWS = [N_("Mixing"), N_("Styles"), N_("Noise"), N_("Truncation"), N_("Layers")]  # the URL's, shown translated
PRESETS = {N_("Coarse 4–8"): (4, 8), N_("Middle 16"): (16, 16), N_("Fine 32"): (32, 32), "16–32": (16, 32)}
N_A, N_B = 4, 3              # sources across the top and down the side
N_SLIDERS = 4
SLIDER_RANGE = 6.0           # steps along a unit direction in w (w spreads ~1.3 per axis in the shipped model)
URL_KEYS = ("model", "view", "a", "b", "layers", "seed", "group", "d", "psi", "noise", "nseed", "layer")

st.title(_("Style studio"))
st.html("<style>[class*='st-key-style_'] img {image-rendering: pixelated;}</style>")


# ---------------------------------------------------------------- cached work (PNG bytes per view state)

def G_of(path: str):
    return widgets.generator(path)[0]


def mixing_cells(path: str, mtime_ns: int, seeds_a: tuple, seeds_b: tuple, lo: int, hi: int) -> dict:
    """{"a": [png], "b": [png], "cells": [[png]], "grid": png} of the mixing figure (shared with the Lessons page)."""
    return widgets.style_mixing(path, mtime_ns, seeds_a, seeds_b, lo, hi)


@st.cache_resource(show_spinner=False, max_entries=16)
def group_directions(path: str, mtime_ns: int, lo: int, hi: int):
    return S.group_directions(G_of(path), lo, hi, k=N_SLIDERS)


def styled_ws(path: str, mtime_ns: int, seed: int, lo: int, hi: int, amounts: tuple, psi: float) -> torch.Tensor:
    """The current image's ws: the seed's w, truncated by psi, moved along the group's directions on its layers."""
    G = G_of(path)
    ws = S.seed_ws(G, seed, psi)
    dirs = group_directions(path, mtime_ns, lo, hi)
    for a, v in zip(amounts, dirs.vectors):
        if a:
            ws = S.apply_direction(G, ws, v, a, lo, hi)
    return ws


@st.cache_data(show_spinner=False, max_entries=256)
def image_tensor(path: str, mtime_ns: int, seed: int, lo: int, hi: int, amounts: tuple, psi: float,
                 noise: tuple, nseed: int) -> torch.Tensor:
    """(1, 28, 28): the current image (nseed 0: the fixed noise; k > 0: the k-th fresh draw)."""
    G = G_of(path)
    ws = styled_ws(path, mtime_ns, seed, lo, hi, amounts, psi)
    noises = S.noise_draws(G, 1, nseed) if nseed else None
    return S.render(G, ws, noise_scale=list(noise), noises=noises)[0]


@st.cache_data(show_spinner=False, max_entries=128)
def direction_strip(path: str, mtime_ns: int, seed: int, lo: int, hi: int, index: int, psi: float) -> bytes:
    G = G_of(path)
    ws = S.seed_ws(G, seed, psi)
    v = group_directions(path, mtime_ns, lo, hi).vectors[index]
    values = torch.linspace(-SLIDER_RANGE, SLIDER_RANGE, 7).tolist()
    strip = torch.cat([S.render(G, S.apply_direction(G, ws, v, a, lo, hi)) for a in values])
    return widgets.crisp_png(strip, scale=2, nrow=len(values))


@st.cache_data(show_spinner=False, max_entries=64)
def noise_views(path: str, mtime_ns: int, seed: int, noise: tuple, nseed: int) -> dict:
    G = G_of(path)
    study = S.noise_study(G, S.seeds_to_w(G, [seed]), draws=8, seed=1000 + nseed, noise_scale=list(noise))
    change = study["change"]
    heat = (change / change.max().clamp_min(1e-6)) * 2 - 1   # brightest = the pixel that changes most
    return {"gif": gif_bytes(study["frames"], scale=8), "frames": widgets.crisp_png(study["frames"], scale=2, nrow=8),
            "map": widgets.crisp_png(heat, scale=8), "mean_change": float(change.mean()), "max_change": float(change.max())}


@st.cache_data(show_spinner=False, max_entries=64)
def feature_png(path: str, mtime_ns: int, seed: int, layer: str, psi: float, noise: tuple) -> tuple[bytes, int]:
    G = G_of(path)
    ws = S.seed_ws(G, seed, psi)
    maps = S.feature_maps(G, ws, layer, noise_scale=list(noise))
    side = maps.shape[-1]
    return widgets.crisp_png(maps[:, None], scale=max(1, 96 // side), nrow=8), len(maps)


def show_png(png: bytes, name: str, key: str, width: int | None = None, caption: str = "") -> None:
    """An image and its download button (every image on this page can be saved)."""
    with st.container(key=f"style_{key}"):
        st.image(png, width=width or "content", output_format="PNG")
    st.download_button("PNG", png, file_name=name, mime="image/png", key=f"dl_{key}", icon=":material/download:")
    if caption:
        st.caption(caption)


def show_digit(x: torch.Tensor, name: str, key: str, caption: str, width: int = 224) -> None:
    with st.container(key=f"style_{key}"):
        widgets.digit_image(x, caption, width=width)
    st.download_button("PNG", widgets.crisp_png(x, scale=10), file_name=name, mime="image/png", key=f"dl_{key}",
                       icon=":material/download:")


# ---------------------------------------------------------------- URL <-> widgets

def model_id(choice: dict) -> str:
    p = Path(choice["path"])
    return p.stem if choice["shipped"] else f"run:{p.parent.name}"


def url_now() -> dict:
    return widgets.url_view(URL_KEYS)


def set_layers(r: tuple[int, int]) -> None:
    """Set the mixing range from a preset or a link; the range slider is redrawn (a new key) to show it."""
    st.session_state["style_layers"] = (str(r[0]), str(r[1]))
    st.session_state["_style_layers_v"] = st.session_state.get("_style_layers_v", 0) + 1


def range_of(value) -> tuple[int, int]:
    """The range slider's value (its options are the resolutions as text) as (lo, hi) in pixels."""
    lo, hi = (value, value) if isinstance(value, (int, str)) else value
    return min(int(lo), int(hi)), max(int(lo), int(hi))


def apply_url(url: dict, choices: list[dict]) -> str | None:
    """A pasted link, the first visit or the back button: the URL's values go into the widgets.
    Returns the checkpoint path the URL names (None: keep the current one)."""
    s = st.session_state
    path = next((c["path"] for c in choices if model_id(c) == url.get("model")), None)
    if path is not None:
        s.pop("style_model", None)
    elif url.get("model"):
        st.warning(_("The link's model {model!r} is not on this machine; showing another one.").format(
                   model=url["model"]),
                   icon=":material/warning:")
    # every value through ganlib.checks (studio.urlstate): unreadable -> default, out of range -> clamped
    s.update(urlstate.style_state(url, N_A, N_B, N_SLIDERS, SLIDER_RANGE))
    if s.pop("_url_unreadable"):
        st.warning(_("Some values in the link are not numbers; they were left at their defaults."))
    try:
        set_layers(S.parse_range(url.get("layers", "4-8")))
        s["style_group"] = S.parse_range(url.get("group", "4-8"))
    except ValueError as e:
        st.warning(_("{error} Using the coarse layers.").format(error=e), icon=":material/warning:")
        set_layers((4, 8))
        s["style_group"] = (4, 8)
    return path


def write_url(values: dict) -> None:
    widgets.set_url_view(values, URL_KEYS, "_style_url")


def range_text(r: tuple[int, int]) -> str:
    return f"{r[0]}-{r[1]}" if r[0] != r[1] else str(r[0])


# ---------------------------------------------------------------- the page

choices = generator_choices(runs_root())
url = url_now()
url_path = None
if url != st.session_state.get("_style_url"):
    url_path = apply_url(url, choices)
PERSISTENT = {"style_view": "Mixing", "style_a": list(range(N_A)), "style_b": list(range(100, 100 + N_B)),
              "style_layers": ("4", "8"), "style_group": (4, 8), "style_seed": 0, "style_psi": 1.0, "style_nseed": 0,
              "style_layer": "", **{f"style_d{i}": 0.0 for i in range(N_SLIDERS)}}
for key, default in PERSISTENT.items():
    st.session_state[key] = st.session_state.get(key, default)

top = st.columns([3, 1.4, 1.2], vertical_alignment="bottom")
with top[0]:
    choice = widgets.checkpoint_picker(_("StyleGAN model"), key="style_model", families=("stylegan",),
                                       default=url_path,
                                       help=_("Shipped StyleGANs and your runs trained with --model stylegan."))
if choice is None:
    st.caption(_("Train one on the Train & monitor page (model: stylegan), or from the command line: "
                 "`python -m ganlib train --model stylegan --dataset mnist --out runs/my_stylegan`."))
    st.stop()
path, G, meta, mtime = widgets.open_generator(choice)
n_convs = len(G.synthesis.convs)
conv_names = S.conv_layer_names(G)
if "_style_noise_url" in st.session_state:   # a link's noise strengths (per conv layer)
    noise_url = st.session_state.pop("_style_noise_url")
    for i in range(n_convs):
        st.session_state[f"style_n{i}"] = min(max(noise_url[i], 0.0), 2.0) if i < len(noise_url) else 1.0
for i in range(n_convs):
    st.session_state[f"style_n{i}"] = st.session_state.get(f"style_n{i}", 1.0)
if st.session_state["style_layer"] not in conv_names:
    st.session_state["style_layer"] = conv_names[-1]


def randomise() -> None:
    st.session_state["style_seed"] = random.randrange(100_000)


with top[1]:
    st.number_input(_("Seed"), min_value=0, max_value=2**31 - 1, step=1, key="style_seed",
                    help=_("The image explored on the Styles, Noise, Truncation and Layers views (its z is "
                           "`python -m ganlib sample --seed`'s)."))
with top[2]:
    st.button(_("Randomise"), key="style_random", on_click=randomise, icon=":material/casino:", width="stretch")

view = st.segmented_control(_("View"), VIEWS, key="style_view", label_visibility="collapsed",
                            format_func=gettext_now()) or "Mixing"
s = st.session_state
noise = tuple(float(s[f"style_n{i}"]) for i in range(n_convs))
noise_text = ",".join(f"{v:g}" for v in noise) if any(v != 1.0 for v in noise) else ""


def url_values(**extra) -> dict:
    return {"model": model_id(choice), "view": view.lower(), "seed": s["style_seed"], **extra}


# ---------------------------------------------------------------- Mixing

def reroll(which: str) -> None:
    n = N_A if which == "a" else N_B
    st.session_state[f"style_{which}"] = [random.randrange(100_000) for _ in range(n)]


def open_cell(png_big: bytes, i: int, j: int, lo: int, hi: int) -> None:
    """A mix large, with its download (shown in a dialog: see the ⤢ buttons)."""
    st.image(png_big, width=336, output_format="PNG")
    st.caption(_("Layers {lo}–{hi} px from A (seed {a}), the rest from B (seed {b}).").format(
        lo=lo, hi=hi, a=s["style_a"][j], b=s["style_b"][i]))
    st.download_button(_("Download PNG"), png_big, file_name=f"mix_a{s['style_a'][j]}_b{s['style_b'][i]}.png",
                       mime="image/png", key="dl_cell", icon=":material/download:")


if view == "Mixing":
    c = st.columns([1.4, 1.4, 1.2, 1.1, 2.6, 1.4, 1.4], vertical_alignment="bottom")
    for col, (name, r) in zip(c, PRESETS.items()):   # presets set the range slider, the one source of truth
        col.button(_(name), key=f"style_preset_{r[0]}_{r[1]}", on_click=set_layers, args=(r,), width="stretch",
                   type="primary" if r == range_of(s["style_layers"]) else "secondary")
    with c[4]:
        slider_key = f"style_range_{s.get('_style_layers_v', 0)}"
        st.select_slider(_("Layers from A (px)"), options=[str(r) for r in RESOLUTIONS], value=s["style_layers"],
                         key=slider_key, on_change=lambda: s.update(style_layers=tuple(s[slider_key])),
                         help=_("The styled layers whose resolution lies in this range come from A, the rest from B."))
    lo, hi = range_of(s["style_layers"])
    c[5].button(_("Re-roll A"), key="style_reroll_a", on_click=reroll, args=("a",), icon=":material/casino:")
    c[6].button(_("Re-roll B"), key="style_reroll_b", on_click=reroll, args=("b",), icon=":material/casino:")
    figs = mixing_cells(path, mtime, tuple(s["style_a"]), tuple(s["style_b"]), lo, hi)
    names = [G.layer_names[i] for i in range(G.num_ws) if S.layer_mask(G, lo, hi)[i]]
    st.caption(_("Each cell takes the {lo}–{hi} px layers ({count} of {total} styles: {names}) from its column's A "
                 "and every other layer from its row's B. Click ⤢ to open a cell large.").format(
        lo=lo, hi=hi, count=len(names), total=G.num_ws, names=", ".join(names)))
    cols = st.columns(N_A + 1)
    cols[0].markdown("**B \\ A**")
    for j, png in enumerate(figs["a"]):
        with cols[j + 1], st.container(key=f"style_a_{j}"):
            st.image(png, width=84, output_format="PNG")
            st.caption(_("A · seed {seed}").format(seed=s["style_a"][j]))
    for i, png_b in enumerate(figs["b"]):
        cols = st.columns(N_A + 1)
        with cols[0], st.container(key=f"style_b_{i}"):
            st.image(png_b, width=84, output_format="PNG")
            st.caption(_("B · seed {seed}").format(seed=s["style_b"][i]))
        for j, png in enumerate(figs["cells"][i]):
            with cols[j + 1]:
                with st.container(key=f"style_cell_{i}_{j}"):
                    st.image(png, width=84, output_format="PNG")
                if st.button("⤢", key=f"style_open_{i}_{j}", help=_("Open this mix large")):
                    big = widgets.crisp_png(figs["tensors"][i, j], scale=12)
                    st.dialog(_("Mix"), width="large")(open_cell)(big, i, j, lo, hi)  # titled in the session's language
    st.download_button(_("Download the whole grid (PNG)"), figs["grid"], file_name=f"style_mix_{lo}-{hi}.png",
                       mime="image/png", key="dl_grid", icon=":material/download:")
    st.caption(_("Same grid from the command line:") + f" `python -m ganlib style-mix --checkpoint {Path(path).name} "
               f"--a {','.join(map(str, s['style_a']))} --b {','.join(map(str, s['style_b']))} "
               f"--layers {range_text((lo, hi))} --out mix.png`")
    write_url(url_values(a=",".join(map(str, s["style_a"])), b=",".join(map(str, s["style_b"])),
                         layers=range_text((lo, hi))))

# ---------------------------------------------------------------- Styles (per-layer-group sliders)

elif view == "Styles":
    groups = {N_("Coarse 4–8"): (4, 8), N_("Middle 16"): (16, 16), N_("Fine 32"): (32, 32)}
    current = next((k for k, r in groups.items() if r == tuple(s["style_group"])), "Coarse 4–8")

    def set_group() -> None:
        s["style_group"] = groups[s["style_group_pick"]] if s.get("style_group_pick") else (4, 8)
        for i in range(N_SLIDERS):
            s[f"style_d{i}"] = 0.0

    s["style_group_pick"] = current
    st.segmented_control(_("Layer group"), list(groups), key="style_group_pick", on_change=set_group,
                         format_func=gettext_now())
    lo, hi = s["style_group"]
    dirs = group_directions(path, mtime, lo, hi)
    left, right = st.columns([1, 1.4], gap="large")
    with right:
        for n in range(min(N_SLIDERS, len(dirs.names))):
            with st.container(key=f"style_strip_{n}"):
                st.slider(_("{name} · {share:.1%} of the eigenvalue sum").format(name=dirs.names[n], share=dirs.scores[n]),
                          -SLIDER_RANGE, SLIDER_RANGE, step=0.5, key=f"style_d{n}")
                strip = direction_strip(path, mtime, s["style_seed"], lo, hi, n, s["style_psi"])
                st.image(strip, output_format="PNG")
            st.download_button("PNG", strip, file_name=f"style_{lo}-{hi}_dir{n}_seed{s['style_seed']}.png",
                               mime="image/png", key=f"dl_strip_{n}", icon=":material/download:")
        st.caption(_("Closed-form (SeFa) directions of the {lo}–{hi} px layers' style weights, applied to those "
                     "layers only: every other layer keeps its style, so a slider changes only what this group "
                     "controls.").format(lo=lo, hi=hi))
    amounts = tuple(float(s[f"style_d{n}"]) for n in range(N_SLIDERS))
    with left:
        x = image_tensor(path, mtime, s["style_seed"], lo, hi, amounts, s["style_psi"], noise, 0)
        show_digit(x, f"style_seed{s['style_seed']}.png", "styled", _("with the sliders"))
        base = image_tensor(path, mtime, s["style_seed"], lo, hi, (0.0,) * N_SLIDERS, s["style_psi"], noise, 0)
        show_digit(base, f"seed{s['style_seed']}.png", "unstyled", _("all sliders at 0"), width=112)
    d = ",".join(f"{a:g}" for a in amounts) if any(amounts) else ""
    write_url(url_values(group=range_text((lo, hi)), d=d))

# ---------------------------------------------------------------- Noise

elif view == "Noise":
    left, right = st.columns([1.2, 1], gap="large")
    with right:
        st.markdown(_("**Noise strength per layer** (× its learned strength)"))
        for i, name in enumerate(conv_names):
            st.slider(name, 0.0, 2.0, step=0.1, key=f"style_n{i}")

        def resample() -> None:
            s["style_nseed"] = s["style_nseed"] + 1

        b = st.columns(2)
        b[0].button(_("Resample noise"), key="style_resample", on_click=resample, icon=":material/shuffle:",
                    help=_("A fresh noise draw with the style (w) fixed."))
        b[1].button(_("Fixed noise"), key="style_fixed", on_click=lambda: s.update(style_nseed=0),
                    disabled=s["style_nseed"] == 0)
    with left:
        c = st.columns(2)
        with c[0]:
            x = image_tensor(path, mtime, s["style_seed"], 4, 8, (0.0,) * N_SLIDERS, 1.0, noise, s["style_nseed"])
            show_digit(x, f"noise_seed{s['style_seed']}_draw{s['style_nseed']}.png", "noise_image",
                       _("fixed noise") if s["style_nseed"] == 0 else _("noise draw {n}").format(n=s["style_nseed"]),
                       width=196)
        views = noise_views(path, mtime, s["style_seed"], noise, s["style_nseed"])
        with c[1]:
            show_png(views["map"], f"noise_change_seed{s['style_seed']}.png", "noise_map", width=196,
                     caption=_("Where pixels change over 8 noise draws (bright = most; mean change {mean:.3f}, "
                               "largest {largest:.3f} of 1).").format(mean=views["mean_change"],
                                                                     largest=views["max_change"]))
        st.markdown(_("**Eight noise draws, the same style**"))
        with st.container(key="style_noise_gif"):
            st.image(views["gif"], width=196)
        st.download_button("GIF", views["gif"], file_name=f"noise_seed{s['style_seed']}.gif", mime="image/gif",
                           key="dl_noise_gif", icon=":material/download:")
        show_png(views["frames"], f"noise_frames_seed{s['style_seed']}.png", "noise_frames")
    write_url(url_values(noise=noise_text, nseed=s["style_nseed"] or ""))

# ---------------------------------------------------------------- Truncation

elif view == "Truncation":
    st.slider(_("Truncation psi"), 0.0, 1.5, step=0.05, key="style_psi",
              help=_("w' = mean w + psi (w - mean w) on every layer: 0 gives the mean-w image, 1 changes nothing."))
    c = st.columns(3)
    with c[0]:
        x = image_tensor(path, mtime, s["style_seed"], 4, 8, (0.0,) * N_SLIDERS, s["style_psi"], noise, 0)
        show_digit(x, f"truncated_seed{s['style_seed']}.png", "truncated", f"psi {s['style_psi']:g}")
    with c[1]:
        mean_image = S.render(G, G.w_avg[None].float().cpu(), noise_scale=list(noise))[0]
        show_digit(mean_image, "mean_w.png", "mean_w", _("the mean-w image (psi 0)"))
    with c[2]:
        x1 = image_tensor(path, mtime, s["style_seed"], 4, 8, (0.0,) * N_SLIDERS, 1.0, noise, 0)
        show_digit(x1, f"seed{s['style_seed']}.png", "untruncated", _("psi 1 (no truncation)"))
    write_url(url_values(psi=s["style_psi"] if s["style_psi"] != 1.0 else ""))

# ---------------------------------------------------------------- Layers (feature maps)

else:
    c = st.columns([2, 3])
    layer = c[0].selectbox(_("Layer"), conv_names, key="style_layer")
    png, n_maps = feature_png(path, mtime, s["style_seed"], layer, s["style_psi"], noise)
    left, right = st.columns([1, 2.5], gap="large")
    with left:
        x = image_tensor(path, mtime, s["style_seed"], 4, 8, (0.0,) * N_SLIDERS, s["style_psi"], noise, 0)
        show_digit(x, f"seed{s['style_seed']}.png", "layer_image", _("the image"), width=168)
    with right:
        show_png(png, f"features_{layer.replace(' ', '_')}_seed{s['style_seed']}.png", "features",
                 caption=_("The {count} channels of {layer} for this image, each scaled to its own range (as the "
                           "StyleGAN3 visualizer's layer view): coarse layers lay out the digit, fine ones draw "
                           "strokes.").format(count=n_maps, layer=layer))
    write_url(url_values(layer=layer, psi=s["style_psi"] if s["style_psi"] != 1.0 else ""))
