"""Latent explorer: open any image generator and steer it (direction sliders, truncation),
interpolate between seeds or classes, invert a digit you draw or upload. The view lives in the URL."""
from __future__ import annotations

import random
from pathlib import Path

import streamlit as st
import torch

from ganlib import directions as D
from ganlib import latent as L
from ganlib.images import gif_bytes
from ganlib.pretrained import generator_choices
from ganlib.paths import runs_root
from studio import urlstate, widgets
from studio.i18n import N_, _, gettext_now

SLIDER_RANGE = 5.0          # steps along a unit direction: z has std 1 along any of them
STRIP_VALUES = torch.linspace(-SLIDER_RANGE, SLIDER_RANGE, 7).tolist()
N_SLIDERS = 5
VIEWS = [N_("Explore"), N_("Interpolate"), N_("Invert")]   # values in English (the URL's), shown translated
URL_KEYS = ("model", "view", "seed", "class", "kind", "d", "psi", "digit", "z")
KIND_LABELS = {"sefa": N_("Closed-form (SeFa)"), "pca": N_("PCA (GANSpace)"), "attribute": N_("Attribute"),
               "raw": N_("Raw z dimension")}
# the English words ganlib.directions names directions and their scores with, translated where shown
DIRECTION_WORDS = (N_("thicker"), N_("more slanted"), N_("wider"), N_("share of the eigenvalue sum"),
                   N_("explained variance"), N_("boundary accuracy (held out, balanced)"))


def direction_word(name: str) -> str:
    """A direction's (or a score's) name in the session's language: 'more like a 3', 'thicker'; 'PC 0' as is."""
    if name.startswith("more like a "):
        return _("more like a {digit}").format(digit=name.removeprefix("more like a "))
    return _(name) if name in DIRECTION_WORDS else name



st.title(_("Latent explorer"))
st.html("<style>[class*='st-key-latent_'] img, [class*='st-key-strip_'] img {image-rendering: pixelated;}</style>")


# ---------------------------------------------------------------- cached work

def directions(path: str, mtime_ns: int, kind: str) -> D.Directions:
    return widgets.latent_directions(path, mtime_ns, kind)   # found once per model (shared with the Lessons page)


def strip_png(path: str, mtime_ns: int, seed: int, code: str, label: int | None, kind: str, index: int,
              psi: float) -> bytes:
    """Images along one direction from the explored latent (an inverted digit's code, else the seed's z)."""
    return widgets.direction_strip_png(path, mtime_ns, seed, code, label, kind, index, psi, tuple(STRIP_VALUES))


@st.cache_data(show_spinner=False, max_entries=32)
def interpolation(path: str, mtime_ns: int, seeds: tuple[int, int], classes: tuple, frames: int,
                  spherical: bool) -> tuple[bytes, bytes]:
    G = widgets.generator(path)[0]
    a, b = (L.sample_latents(G, 1, s)[0] for s in seeds)
    with L.torch_threads(1):
        x = L.interpolate(G, a, b, frames, spherical, label_a=classes[0], label_b=classes[1])
    return widgets.crisp_png(x, scale=3, nrow=frames), gif_bytes(x, scale=8)


@st.cache_resource(show_spinner=False)
def training_images() -> torch.Tensor:
    from ganlib.data import load_dataset

    return load_dataset("mnist").x


def show_nearest(x: torch.Tensor) -> None:
    """The 5 training images nearest to x (1, 28, 28): near-copies mean the GAN memorised."""
    pool = training_images()
    idx, dist = L.nearest_images(x[None], pool, k=5)
    st.image(widgets.crisp_png(pool[idx[0]], scale=3, nrow=5), output_format="PNG")
    st.caption(_("Nearest of the {count:,} training images (pixel RMS distance {distances}; ~0 would be a "
                 "copy).").format(count=len(pool), distances=", ".join(f"{d:.2f}" for d in dist[0].tolist())))


# ---------------------------------------------------------------- URL <-> widgets

def model_id(choice: dict) -> str:
    p = Path(choice["path"])
    return p.stem if choice["shipped"] else f"run:{p.parent.name}"


def url_now() -> dict:
    return widgets.url_view(URL_KEYS)


def apply_url(url: dict, choices: list[dict]) -> str | None:
    """A pasted link, the first visit or the back button: the URL's values go into the widgets.
    Returns the checkpoint path the URL names (None: keep the current one)."""
    s = st.session_state
    path = next((c["path"] for c in choices if model_id(c) == url.get("model")), None)
    if path is not None:
        s.pop("latent_model", None)   # the picker then takes `default`
    elif url.get("model"):
        st.warning(_("The link's model {model!r} is not on this machine; showing another one.").format(
                   model=url["model"]),
                   icon=":material/warning:")
    # every value through ganlib.checks (studio.urlstate): unreadable -> default, out of range -> clamped
    s.update(urlstate.latent_state(url, tuple(KIND_LABELS), N_SLIDERS, SLIDER_RANGE))
    if s.pop("_url_unreadable"):
        st.warning(_("Some values in the link are not numbers; they were left at their defaults."))
    return path


def write_url(values: dict) -> None:
    widgets.set_url_view(values, URL_KEYS, "_latent_url")


# ---------------------------------------------------------------- the page

choices = generator_choices(runs_root())
url = url_now()
url_path = None
if url != st.session_state.get("_latent_url"):
    url_path = apply_url(url, choices)
PERSISTENT = {"latent_view": "Explore", "latent_seed": 0, "latent_class": 0, "latent_kind": "sefa", "latent_psi": 1.0,
              "latent_digit": 3, "latent_z": "", **{f"dir_{i}": 0.0 for i in range(N_SLIDERS)}}
for key, default in PERSISTENT.items():
    # re-set each run: Streamlit forgets the state of widgets a run did not draw (another view's sliders)
    st.session_state[key] = st.session_state.get(key, default)

top = st.columns([3, 2, 1.2, 1.6], vertical_alignment="bottom")
with top[0]:
    choice = widgets.checkpoint_picker(_("Model"), key="latent_model", families=("gan", "dcgan", "cgan"), default=url_path)
if choice is None:
    st.stop()
path, G, meta, mtime = widgets.open_generator(choice)
if len(meta.get("dataset", {}).get("shape", [])) != 3:
    st.info(_("{model} makes 2-D points, not images: open it on the Mode-collapse lab page.").format(
            model=widgets.choice_label(choice)),
            icon=":material/info:")
    st.stop()
if st.session_state.get("_latent_prev_model") not in (None, path):   # another model: its directions differ
    for i in range(N_SLIDERS):
        st.session_state[f"dir_{i}"] = 0.0
    st.session_state["latent_z"] = ""
st.session_state["_latent_prev_model"] = path
n_classes = L.num_classes(G)


def randomise() -> None:
    st.session_state["latent_seed"] = random.randrange(100_000)
    st.session_state["latent_z"] = ""


with top[1]:
    st.number_input(_("Seed"), min_value=0, max_value=2**31 - 1, step=1, key="latent_seed",
                    help=_("The same seed gives the same noise z (as `python -m ganlib sample --seed`)."),
                    on_change=lambda: st.session_state.update(latent_z=""))
with top[2]:
    st.button(_("Randomise"), key="latent_random", on_click=randomise, icon=":material/casino:",
              width="stretch")
label = None
if n_classes:
    with top[3]:
        if not 0 <= st.session_state["latent_class"] < n_classes:
            st.session_state["latent_class"] = 0
        label = st.selectbox(_("Class"), list(range(n_classes)), key="latent_class",
                             format_func=lambda c: (meta["dataset"].get("class_names") or [str(c)] * (c + 1))[c])

view = st.segmented_control(_("View"), VIEWS, key="latent_view", label_visibility="collapsed",
                            format_func=gettext_now()) or "Explore"
labels = [label] if label is not None else None


def base_latent() -> tuple[torch.Tensor, str]:
    """The latent being explored and its URL code: the seed's z (code ""), or an inverted digit's."""
    code = st.session_state.get("latent_z", "")
    if code:
        try:
            return L.decode_latent(code, G.latent_dim), code
        except ValueError as e:
            st.warning(_("{error} Showing the seed's latent instead.").format(error=e), icon=":material/warning:")
            st.session_state["latent_z"] = ""
    return L.sample_latents(G, 1, st.session_state["latent_seed"])[0], ""


def url_values(**extra) -> dict:
    s = st.session_state
    return {"model": model_id(choice), "view": view.lower(), "seed": s["latent_seed"],
            "class": label, "z": s.get("latent_z", ""), **extra}


# ---------------------------------------------------------------- Explore

@st.fragment
def explore(base: torch.Tensor, code: str, dirs: D.Directions, kind: str) -> None:
    """The sliders and the image: a slider moves rerun only this."""
    s = st.session_state
    slider_dirs = list(range(min(N_SLIDERS, len(dirs.names))))
    if kind == "attribute" and "more like a 0" in dirs.names:   # 3 styles + one "more like a k" of the user's choice
        slider_dirs = [0, 1, 2, 3]
    left, right = st.columns([1, 1.35], gap="large")
    with right:
        for n, index in enumerate(slider_dirs):
            name = dirs.names[index]
            if kind == "attribute" and name.startswith("more like a"):
                digit = st.columns([1, 2])[0].selectbox(_("More like a"), list(range(10)), key="latent_digit")
                index = dirs.names.index(f"more like a {digit}") if f"more like a {digit}" in dirs.names else index
                name = dirs.names[index]
            score = f" · {direction_word(dirs.score_name)} {dirs.scores[index]:.1%}" if dirs.score_name else ""
            with st.container(key=f"strip_{n}"):
                st.slider(f"{direction_word(name)}{score}", -SLIDER_RANGE, SLIDER_RANGE, step=0.25, key=f"dir_{n}")
                st.image(strip_png(path, mtime, s["latent_seed"], code, label, kind, index, s["latent_psi"]),
                         output_format="PNG")
            slider_dirs[n] = index
        st.caption(_("Each strip shows where its slider leads from this latent ({low:g} to {high:g}, other "
                     "sliders at 0).").format(low=STRIP_VALUES[0], high=STRIP_VALUES[-1]))
    amounts = [s[f"dir_{n}"] for n in range(len(slider_dirs))]
    z = L.steer(L.truncate(base, L.mean_latent(G), s["latent_psi"]), dirs.vectors[slider_dirs], amounts)
    with left:
        with st.container(key="latent_image"), L.torch_threads(1):   # one small image: one thread is fastest
            widgets.digit_image(L.render(G, z[None], labels)[0], width=336)
        st.slider(_("Truncation psi"), 0.0, 1.5, step=0.05, key="latent_psi",
                  help=_("Pulls the latent toward the mean (psi 0: the mean image; 1: unchanged; >1: exaggerated)."))
        if st.toggle(_("Nearest training images"), key="latent_nearest",
                     help=_("Is the GAN copying? The closest training digits, pixel by pixel.")):
            show_nearest(L.render(G, z[None], labels)[0])
    d = ",".join(f"{a:g}" for a in amounts) if any(amounts) else ""
    write_url(url_values(kind=kind, d=d, psi=s["latent_psi"] if s["latent_psi"] != 1.0 else "",
                         digit=s["latent_digit"] if kind == "attribute" and n_classes == 0 else ""))


if view == "Explore":
    c1, c2 = st.columns([4, 2], vertical_alignment="bottom")
    with c1:
        kind = st.radio(_("Directions"), list(KIND_LABELS), key="latent_kind", horizontal=True,
                        format_func=lambda k, tr=gettext_now(): tr(KIND_LABELS[k]),
                        on_change=lambda: [st.session_state.update({f"dir_{i}": 0.0}) for i in range(N_SLIDERS)])
    base, code = base_latent()
    with c2:
        if st.session_state.get("latent_z"):
            st.button(_("Back to the seed's latent"), key="latent_to_seed", icon=":material/undo:",
                      on_click=lambda: st.session_state.update(latent_z=""))
    with st.spinner(_("Finding the directions (once per model)...")):
        dirs = directions(path, mtime, kind)
    if st.session_state.get("latent_z"):
        st.caption(_("Exploring around your inverted digit."))
    explore(base, code, dirs, kind)
    what = {"sefa": _("eigenvectors of A^T A for the first layer's weights A (no sampling)"),
            "pca": _("principal components of the first block's activations over {samples:,} samples, carried "
                     "back to z").format(samples=dirs.info.get("samples", 0)),
            "attribute": _("normals of linear boundaries fitted to what our classifier and the image itself say "
                           "about sampled digits") + (_(" (style directions made orthogonal to the class ones)")
                                                      if dirs.info.get("style_directions_off_class") else ""),
            "raw": _("the coordinates of z itself")}[kind]
    st.caption(_("{kind} directions: {what}; found in {seconds:.2f} s, cached per checkpoint.").format(
        kind=_(KIND_LABELS[kind]), what=what, seconds=dirs.seconds))

# ---------------------------------------------------------------- Interpolate

elif view == "Interpolate":
    modes = [N_("Two seeds"), N_("Two classes")] if n_classes else [N_("Two seeds")]
    c = st.columns([2, 1, 1, 1, 1.3])
    mode = c[0].radio(_("Between"), modes, key="interp_mode", horizontal=True, format_func=gettext_now())
    seed_a = st.session_state["latent_seed"]
    if mode == "Two seeds":
        seed_b = c[1].number_input(_("Second seed"), min_value=0, value=seed_a + 1, step=1, key="interp_seed_b")
        classes = (label, label)
    else:
        seed_b = seed_a
        class_b = c[1].selectbox(_("To class"), list(range(n_classes)), index=(label + 5) % n_classes, key="interp_class_b")
        classes = (label, class_b)
    frames = c[2].number_input(_("Frames"), 2, 64, 12, key="interp_frames")
    spherical = c[3].toggle(_("Slerp"), value=True, key="interp_slerp",
                            help=_("Spherical interpolation keeps |z| in the Gaussian's typical shell; lerp cuts "
                                   "through the middle, where images look washed out."))
    strip, gif = interpolation(path, mtime, (seed_a, int(seed_b)), classes, int(frames), spherical)
    with st.container(key="latent_interp"):
        st.image(strip, output_format="PNG")
        g1, g2 = st.columns([1, 3])
        g1.image(gif, width=224)
    g2.download_button(_("Download the GIF"), gif, file_name=f"interpolation_{seed_a}_{seed_b}.gif", mime="image/gif",
                       icon=":material/download:", key="interp_download")
    g2.caption(_("{how} from seed {a} to seed {b}").format(how="slerp" if spherical else "lerp", a=seed_a, b=seed_b)
               + (_(", class {a} to {b} (the label embeddings are blended)").format(a=classes[0], b=classes[1])
                  if classes[0] != classes[1] else "") + _(". Same frames from the command line: ")
               + f"`python -m ganlib interpolate --checkpoint {Path(path).name} --seeds {seed_a},{seed_b}"
               + (f" --classes {classes[0]},{classes[1]}" if classes[0] != classes[1] else "")
               + f" --frames {frames}{'' if spherical else ' --no-slerp'} --out a.gif`")
    write_url(url_values())

# ---------------------------------------------------------------- Invert

else:
    left, right = st.columns([1, 1.6], gap="large")
    with left:
        target = widgets.digit_input("invert_digit", _("Your digit"))
    with right:
        if target is not None:
            reading, p = widgets.classifier_reading(target)
            cols = st.columns(2)
            with cols[0]:
                widgets.digit_image(target, _("as the model sees it"), width=140)
            inv_label = None
            if n_classes:
                inv_label = cols[1].selectbox(_("Invert as class"), list(range(n_classes)), index=reading,
                                              key="invert_class", help=_("Defaults to what the classifier reads."))
            if st.button(_("Find its latent"), key="invert_go", type="primary", icon=":material/search:"):
                bar = st.progress(0.0, text=_("Optimising..."))

                def progress(step: int, total: int, error: float) -> None:
                    bar.progress(step / total, text=_("Step {step}/{total} · pixel error {error:.4f}").format(
                        step=step, total=total, error=error))

                result = L.invert(G, target, label=inv_label, classifier=widgets.classifier(), progress_fn=progress)
                bar.empty()
                st.session_state["latent_inversion"] = {
                    "code": L.encode_latent(result.latent), "label": result.label, "image": result.image,
                    "error": result.error, "start": result.start_error, "seconds": result.seconds,
                    "target": target, "model": path}
        found = st.session_state.get("latent_inversion")
        if found and found["model"] == path and target is not None and torch.equal(found["target"], target):
            cols = st.columns(2)
            with cols[0], st.container(key="latent_inverted"):
                widgets.digit_image(found["image"], _("the model's closest image"), width=140)
            cols[1].metric(_("Pixel error (MSE)"), f"{found['error']:.4f}",
                           delta=_("{change:.4f} from the best random start").format(
                               change=found["error"] - found["start"]),
                           delta_color="inverse")
            cols[1].caption(_("Found in {seconds:.1f} s (8 restarts, Adam on z, pixel + classifier-feature "
                              "loss).").format(seconds=found["seconds"]))

            def explore_it(code=found["code"], lab=found["label"]) -> None:
                s = st.session_state
                s.update(latent_z=code, latent_view="Explore")
                if lab is not None:
                    s["latent_class"] = lab
                for i in range(N_SLIDERS):
                    s[f"dir_{i}"] = 0.0

            st.button(_("Explore around it"), key="invert_explore", on_click=explore_it, icon=":material/explore:")
            show_nearest(found["image"])
    write_url(url_values())
