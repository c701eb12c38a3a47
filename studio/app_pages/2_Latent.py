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

SLIDER_RANGE = 5.0          # steps along a unit direction: z has std 1 along any of them
STRIP_VALUES = torch.linspace(-SLIDER_RANGE, SLIDER_RANGE, 7).tolist()
N_SLIDERS = 5
VIEWS = ["Explore", "Interpolate", "Invert"]
URL_KEYS = ("model", "view", "seed", "class", "kind", "d", "psi", "digit", "z")
KIND_LABELS = {"sefa": "Closed-form (SeFa)", "pca": "PCA (GANSpace)", "attribute": "Attribute",
               "raw": "Raw z dimension"}

st.title("Latent explorer")
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
    G, _ = widgets.generator(path)
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
    st.caption(f"Nearest of the {len(pool):,} training images (pixel RMS distance "
               f"{', '.join(f'{d:.2f}' for d in dist[0].tolist())}; ~0 would be a copy).")


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
        st.warning(f"The link's model {url['model']!r} is not on this machine; showing another one.",
                   icon=":material/warning:")
    # every value through ganlib.checks (studio.urlstate): unreadable -> default, out of range -> clamped
    s.update(urlstate.latent_state(url, tuple(KIND_LABELS), N_SLIDERS, SLIDER_RANGE))
    if s.pop("_url_unreadable"):
        st.warning("Some values in the link are not numbers; they were left at their defaults.")
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
    choice = widgets.checkpoint_picker("Model", key="latent_model", families=("gan", "dcgan", "cgan"), default=url_path)
if choice is None:
    st.stop()
path, G, meta, mtime = widgets.open_generator(choice)
if len(meta.get("dataset", {}).get("shape", [])) != 3:
    st.info(f"{choice['label']} makes 2-D points, not images: open it on the Mode-collapse lab page.",
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
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="latent_seed",
                    help="The same seed gives the same noise z (as `python -m ganlib sample --seed`).",
                    on_change=lambda: st.session_state.update(latent_z=""))
with top[2]:
    st.button("Randomise", key="latent_random", on_click=randomise, icon=":material/casino:",
              width="stretch")
label = None
if n_classes:
    with top[3]:
        if not 0 <= st.session_state["latent_class"] < n_classes:
            st.session_state["latent_class"] = 0
        label = st.selectbox("Class", list(range(n_classes)), key="latent_class",
                             format_func=lambda c: (meta["dataset"].get("class_names") or [str(c)] * (c + 1))[c])

view = st.segmented_control("View", VIEWS, key="latent_view", label_visibility="collapsed") or "Explore"
labels = [label] if label is not None else None


def base_latent() -> tuple[torch.Tensor, str]:
    """The latent being explored and its URL code: the seed's z (code ""), or an inverted digit's."""
    code = st.session_state.get("latent_z", "")
    if code:
        try:
            return L.decode_latent(code, G.latent_dim), code
        except ValueError as e:
            st.warning(f"{e} Showing the seed's latent instead.", icon=":material/warning:")
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
                digit = st.columns([1, 2])[0].selectbox("More like a", list(range(10)), key="latent_digit")
                index = dirs.names.index(f"more like a {digit}") if f"more like a {digit}" in dirs.names else index
                name = dirs.names[index]
            score = f" · {dirs.score_name} {dirs.scores[index]:.1%}" if dirs.score_name else ""
            with st.container(key=f"strip_{n}"):
                st.slider(f"{name}{score}", -SLIDER_RANGE, SLIDER_RANGE, step=0.25, key=f"dir_{n}")
                st.image(strip_png(path, mtime, s["latent_seed"], code, label, kind, index, s["latent_psi"]),
                         output_format="PNG")
            slider_dirs[n] = index
        st.caption(f"Each strip shows where its slider leads from this latent ({STRIP_VALUES[0]:g} to "
                   f"{STRIP_VALUES[-1]:g}, other sliders at 0).")
    amounts = [s[f"dir_{n}"] for n in range(len(slider_dirs))]
    z = L.steer(L.truncate(base, L.mean_latent(G), s["latent_psi"]), dirs.vectors[slider_dirs], amounts)
    with left:
        with st.container(key="latent_image"), L.torch_threads(1):   # one small image: one thread is fastest
            widgets.digit_image(L.render(G, z[None], labels)[0], width=336)
        st.slider("Truncation psi", 0.0, 1.5, step=0.05, key="latent_psi",
                  help="Pulls the latent toward the mean (psi 0: the mean image; 1: unchanged; >1: exaggerated).")
        if st.toggle("Nearest training images", key="latent_nearest",
                     help="Is the GAN copying? The closest training digits, pixel by pixel."):
            show_nearest(L.render(G, z[None], labels)[0])
    d = ",".join(f"{a:g}" for a in amounts) if any(amounts) else ""
    write_url(url_values(kind=kind, d=d, psi=s["latent_psi"] if s["latent_psi"] != 1.0 else "",
                         digit=s["latent_digit"] if kind == "attribute" and n_classes == 0 else ""))


if view == "Explore":
    c1, c2 = st.columns([4, 2], vertical_alignment="bottom")
    with c1:
        kind = st.radio("Directions", list(KIND_LABELS), key="latent_kind", horizontal=True,
                        format_func=KIND_LABELS.get,
                        on_change=lambda: [st.session_state.update({f"dir_{i}": 0.0}) for i in range(N_SLIDERS)])
    base, code = base_latent()
    with c2:
        if st.session_state.get("latent_z"):
            st.button("Back to the seed's latent", key="latent_to_seed", icon=":material/undo:",
                      on_click=lambda: st.session_state.update(latent_z=""))
    with st.spinner("Finding the directions (once per model)..."):
        dirs = directions(path, mtime, kind)
    if st.session_state.get("latent_z"):
        st.caption("Exploring around your inverted digit.")
    explore(base, code, dirs, kind)
    what = {"sefa": "eigenvectors of A^T A for the first layer's weights A (no sampling)",
            "pca": f"principal components of the first block's activations over {dirs.info.get('samples', 0):,} "
                   "samples, carried back to z",
            "attribute": "normals of linear boundaries fitted to what our classifier and the image itself say "
                         "about sampled digits" + (" (style directions made orthogonal to the class ones)"
                                                   if dirs.info.get("style_directions_off_class") else ""),
            "raw": "the coordinates of z itself"}[kind]
    st.caption(f"{KIND_LABELS[kind]} directions: {what}; found in {dirs.seconds:.2f} s, cached per checkpoint.")

# ---------------------------------------------------------------- Interpolate

elif view == "Interpolate":
    modes = ["Two seeds", "Two classes"] if n_classes else ["Two seeds"]
    c = st.columns([2, 1, 1, 1, 1.3])
    mode = c[0].radio("Between", modes, key="interp_mode", horizontal=True)
    seed_a = st.session_state["latent_seed"]
    if mode == "Two seeds":
        seed_b = c[1].number_input("Second seed", min_value=0, value=seed_a + 1, step=1, key="interp_seed_b")
        classes = (label, label)
    else:
        seed_b = seed_a
        class_b = c[1].selectbox("To class", list(range(n_classes)), index=(label + 5) % n_classes, key="interp_class_b")
        classes = (label, class_b)
    frames = c[2].number_input("Frames", 2, 64, 12, key="interp_frames")
    spherical = c[3].toggle("Slerp", value=True, key="interp_slerp",
                            help="Spherical interpolation keeps |z| in the Gaussian's typical shell; lerp cuts "
                                 "through the middle, where images look washed out.")
    strip, gif = interpolation(path, mtime, (seed_a, int(seed_b)), classes, int(frames), spherical)
    with st.container(key="latent_interp"):
        st.image(strip, output_format="PNG")
        g1, g2 = st.columns([1, 3])
        g1.image(gif, width=224)
    g2.download_button("Download the GIF", gif, file_name=f"interpolation_{seed_a}_{seed_b}.gif", mime="image/gif",
                       icon=":material/download:", key="interp_download")
    g2.caption(f"{'slerp' if spherical else 'lerp'} from seed {seed_a} to seed {seed_b}"
               + (f", class {classes[0]} to {classes[1]} (the label embeddings are blended)"
                  if classes[0] != classes[1] else "") + ". Same frames from the command line: "
               f"`python -m ganlib interpolate --checkpoint {Path(path).name} --seeds {seed_a},{seed_b}"
               + (f" --classes {classes[0]},{classes[1]}" if classes[0] != classes[1] else "")
               + f" --frames {frames}{'' if spherical else ' --no-slerp'} --out a.gif`")
    write_url(url_values())

# ---------------------------------------------------------------- Invert

else:
    left, right = st.columns([1, 1.6], gap="large")
    with left:
        target = widgets.digit_input("invert_digit", "Your digit")
    with right:
        if target is not None:
            reading, p = widgets.classifier_reading(target)
            cols = st.columns(2)
            with cols[0]:
                widgets.digit_image(target, "as the model sees it", width=140)
            inv_label = None
            if n_classes:
                inv_label = cols[1].selectbox("Invert as class", list(range(n_classes)), index=reading,
                                              key="invert_class", help="Defaults to what the classifier reads.")
            if st.button("Find its latent", key="invert_go", type="primary", icon=":material/search:"):
                bar = st.progress(0.0, text="Optimising...")

                def progress(step: int, total: int, error: float) -> None:
                    bar.progress(step / total, text=f"Step {step}/{total} · pixel error {error:.4f}")

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
                widgets.digit_image(found["image"], "the model's closest image", width=140)
            cols[1].metric("Pixel error (MSE)", f"{found['error']:.4f}",
                           delta=f"{found['error'] - found['start']:.4f} from the best random start",
                           delta_color="inverse")
            cols[1].caption(f"Found in {found['seconds']:.1f} s (8 restarts, Adam on z, pixel + classifier-feature "
                            "loss).")

            def explore_it(code=found["code"], lab=found["label"]) -> None:
                s = st.session_state
                s.update(latent_z=code, latent_view="Explore")
                if lab is not None:
                    s["latent_class"] = lab
                for i in range(N_SLIDERS):
                    s[f"dir_{i}"] = 0.0

            st.button("Explore around it", key="invert_explore", on_click=explore_it, icon=":material/explore:")
            show_nearest(found["image"])
    write_url(url_values())
