"""Widgets that several pages share: the checkpoint picker, cached model loading, and a large crisp
image with the MNIST classifier's reading. Pages import this module; ganlib never does.

A checkpoint chosen on one page is the default on the next: the picker keeps the last choice in
st.session_state[LAST_CHECKPOINT].
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from ganlib import pretrained
from ganlib.checkpoints import CheckpointError, load_generator
from ganlib.device import describe_device
from ganlib.images import grid_image, png_bytes
from ganlib.paths import runs_root
from studio.i18n import LANG_PARAM, N_, _, gettext_now

LAST_CHECKPOINT = "last_checkpoint"  # session-state key: the path last chosen on any page


def _file_version(path: str | Path) -> tuple[str, int, int]:
    """(path, mtime_ns, size) of a checkpoint file or run directory: the cache key of a loaded model, so a
    file rewritten by training is loaded afresh. CheckpointError (one sentence) when it does not exist."""
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoint.pt"
    try:
        stat = p.stat()
    except OSError:
        raise CheckpointError(f"{p} does not exist.") from None
    return str(p), stat.st_mtime_ns, stat.st_size


# describe_device's fixed names, for the catalogue (a GPU's own name, e.g. 'NVIDIA H100 (cuda:0)', stays as it is)
DEVICE_NAMES = (N_("CPU (no GPU found)"), N_("CPU"), N_("Apple GPU (mps)"))


def device_text() -> str:
    """This machine's training device in the session's language: 'CPU (no GPU found)', 'NVIDIA H100 (cuda:0)'.
    Not cached: it is cheap, and a cached answer would outlive a GPU that appears (or a test that fakes one)."""
    return _(describe_device())


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_generator(path: str, mtime_ns: int, size: int):
    return load_generator(path)


def generator(path: str | Path):
    """(G, meta) for a checkpoint, loaded once per file version for every session (eval mode, CPU).
    Raises CheckpointError with one sentence for a bad file."""
    return _cached_generator(*_file_version(path))


def open_generator(choice: dict):
    """(path, G, meta, mtime_ns) of a checkpoint_picker choice; for a bad file its one sentence, and the page
    stops there."""
    path = choice["path"]
    try:
        G, meta = generator(path)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        st.stop()
    return path, G, meta, Path(path).stat().st_mtime_ns


@st.cache_resource(show_spinner=False)
def classifier():
    """The shipped MNIST classifier (metrics' feature network), loaded once for every session."""
    from ganlib.metrics.classifier import load_classifier

    return load_classifier()


def choice_label(choice: dict, tr=_) -> str:
    """A generator_choices entry's label in the session's language (ganlib's own label is English); tr: the
    translation to use (gettext_now() for a format_func)."""
    if choice["shipped"]:
        return tr(N_("{title} (shipped)")).format(title=choice["label"].removesuffix(" (shipped)"))
    return tr(N_("run {name} ({model}, {dataset})")).format(
        name=Path(choice["path"]).parent.name, model=choice["family"], dataset=choice["dataset"])


def checkpoint_picker(label: str | None = None, key: str = "checkpoint", families: tuple[str, ...] | None = None,
                      default: str | None = None, help: str | None = None) -> dict | None:
    """A selectbox of shipped models and runs' checkpoints; returns the chosen entry
    ({"label", "path", "family", "dataset", "shipped"}) or None when there is none to choose.

    `default` (e.g. from the URL) wins over the last choice made on another page. label: already translated
    (default: "Model" in the session's language).
    """
    choices = [c for c in pretrained.generator_choices(runs_root()) if families is None or c["family"] in families]
    if not choices:
        st.info(_("No model to open yet: train one on the Train & monitor page."), icon=":material/info:")
        return None
    paths = [c["path"] for c in choices]
    wanted = default or st.session_state.get(LAST_CHECKPOINT)
    if key in st.session_state and st.session_state[key] not in paths:
        del st.session_state[key]  # a run was deleted since
    index = paths.index(wanted) if wanted in paths else 0
    by_path = {c["path"]: c for c in choices}
    tr = gettext_now()
    path = st.selectbox(label or _("Model"), paths, index=index, key=key, help=help,
                        format_func=lambda p: choice_label(by_path[p], tr))
    st.session_state[LAST_CHECKPOINT] = path
    return by_path[path]


def crisp_png(x: torch.Tensor, scale: int = 10, nrow: int | None = None) -> bytes:
    """(C, H, W) or (N, C, H, W) in [-1, 1] -> PNG bytes upscaled by `scale` with nearest-neighbour
    pixels (a 28x28 digit drawn 280 px wide stays sharp in every browser)."""
    x = x if x.dim() == 4 else x[None]
    img = grid_image(x, nrow=nrow, padding=0 if len(x) == 1 else 2)
    from PIL import Image

    return png_bytes(img.resize((img.width * scale, img.height * scale), Image.NEAREST))


def classifier_reading(x: torch.Tensor) -> tuple[int, float]:
    """(digit, probability) the MNIST classifier reads in one image (1, 28, 28) in [-1, 1]."""
    from ganlib.metrics.image import classify

    _logits, probs = classify(classifier(), x[None].float() if x.dim() == 3 else x.float())
    p, digit = probs[0].max(0)
    return int(digit), float(p)


def digit_image(x: torch.Tensor, caption: str = "", width: int = 280, reading: bool = True) -> None:
    """A large crisp image (1, 28, 28) in [-1, 1] with the classifier's reading under it."""
    st.image(crisp_png(x, scale=max(1, width // x.shape[-1])), width=width, output_format="PNG")
    parts = [caption] if caption else []
    if reading and tuple(x.shape[-3:]) == (1, 28, 28):
        digit, p = classifier_reading(x)
        parts.append(_("classifier reads **{digit}** ({p:.0%})").format(digit=digit, p=p))
    if parts:
        st.caption(" · ".join(parts))


# ---------------------------------------------------------------- a digit drawn or uploaded by the user

DIGIT_CANVAS_PX = 224   # 8x the 28 px digit: big enough to draw with a mouse, small enough for a column


@st.cache_data(show_spinner=False, max_entries=64)
def _mnist_digit(data: bytes) -> torch.Tensor:
    from ganlib.images import to_mnist_digit

    return to_mnist_digit(data)


def digit_input(key: str = "digit", label: str | None = None) -> torch.Tensor | None:
    """Draw a digit on a canvas or upload an image of one (any common format and size, either colour
    scheme); returns it as MNIST sees digits, (1, 28, 28) in [-1, 1] white on black and centred, or None
    while there is nothing yet. A file that is not an image, too large or blank gets one sentence. label: already
    translated (default: "Your digit")."""
    how = st.segmented_control(label or _("Your digit"), [N_("Draw"), N_("Upload")], default="Draw", key=f"{key}_how",
                               format_func=gettext_now()) or "Draw"
    if how == "Upload":
        file = st.file_uploader(_("An image of one digit: PNG, JPEG, GIF, BMP, TIFF, WebP...; any size, dark on "
                                  "light or light on dark"), key=f"{key}_file")
        if file is None:
            return None
        data = file.getvalue()
    else:
        from streamlit_drawable_canvas import st_canvas

        drawing = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000",
                            width=DIGIT_CANVAS_PX, height=DIGIT_CANVAS_PX, drawing_mode="freedraw",
                            return_image_data=True, key=f"{key}_canvas")
        st.caption(_("Draw one digit with the mouse; it is scaled and centred like MNIST. Undo and clear: the "
                     "canvas's top-right corner, under the pointer."))
        if not (drawing.json_data or {}).get("objects") or drawing.image_bytes is None:
            return None
        data = drawing.image_bytes
    try:
        return _mnist_digit(data)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return None


# ---------------------------------------------------------------- CycleGAN translators

@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_translator(path: str, mtime_ns: int, size: int):
    from ganlib.translate import load_cyclegan

    return load_cyclegan(path)


def translator(path: str | Path):
    """A CycleGAN checkpoint's two generators (ganlib.translate.CycleGAN), loaded once per file version
    for every session. Raises CheckpointError with one sentence for a bad file."""
    return _cached_translator(*_file_version(path))


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_gallery(path: str, mtime_ns: int, size: int):
    from ganlib.metrics.image import classify
    from ganlib.translate import font_gallery

    model = _cached_translator(path, mtime_ns, size)
    names, typed, translated, back = font_gallery(model)
    readings = None
    if model.image_shape == (1, 28, 28):   # the MNIST classifier reads only 28x28 grey digits
        readings = classify(classifier(), translated.flatten(0, 1))[1].argmax(1).view(len(names), 10).tolist()
    return names, typed, translated, back, readings


def font_gallery(path: str | Path):
    """ganlib.translate.font_gallery of a CycleGAN checkpoint and the MNIST classifier's reading of each
    translation ((K, 10) digits, None for other images), computed once per file version for every session."""
    return _cached_gallery(*_file_version(path))


def url_view(keys: tuple[str, ...] | list[str]) -> dict:
    """The part of the URL's query that holds a page's view (its `keys`)."""
    return {k: st.query_params[k] for k in keys if k in st.query_params}


def set_url_view(values: dict, keys, memo: str) -> None:
    """Put a page's view into the URL (each change is a browser-history entry, so Back steps through them).
    Empty values are left out; the language (`?lang=`) stays; session_state[memo] remembers what the page wrote,
    so the page can tell a link the user opened (or Back) from its own writes."""
    values = {k: str(v) for k, v in values.items() if v not in (None, "")}
    if values != url_view(keys):
        keep = {LANG_PARAM: st.query_params[LANG_PARAM]} if LANG_PARAM in st.query_params else {}
        st.query_params.from_dict({**values, **keep})
    st.session_state[memo] = values


# ---------------------------------------------------------------- the 2-D arena (Mode-collapse lab, Lessons)

ARENA_SETTINGS = ("loss", "batch_size", "lr_g", "lr_d", "pack", "unrolled_steps", "minibatch_discrimination",
                  "label_smoothing", "spectral_norm", "grad_clip", "n_critic", "r1_gamma", "lr_decay", "r1_late",
                  "latent_mixture", "seed")   # what a panel's Settings can change (Reset keeps them)


def new_arena(key, preset: str, **overrides) -> None:
    """A fresh ganlib Arena of `preset` in session_state[f"arena_{key}"] (each browser session has its own);
    a config the arena refuses leaves its one sentence in session_state[f"arena_error_{key}"]."""
    from ganlib.arena import Arena, arena_config

    try:
        arena = Arena(arena_config(preset, **overrides))
    except ValueError as e:
        st.session_state[f"arena_error_{key}"] = str(e)
        return
    st.session_state.pop(f"arena_error_{key}", None)
    st.session_state[f"arena_{key}"] = {"arena": arena, "preset": preset, "playing": False, "previous": None,
                                        "saved": ""}


def arena_half_step(state: dict) -> None:
    """D update: one training step, drawn with G's points from before it (D's update does not move them);
    G update: the same step's new points. Both halves are exact, as D updates before G in a step."""
    if state["previous"] is not None:
        state["previous"] = None
    else:
        state["previous"] = state["arena"].points()
        state["arena"].train(1)


def _toggle_play(state: dict) -> None:
    state["playing"] = not state["playing"]
    state["toggled"] = True


def arena_panel(key, speed: int = 25, show=("D's surface",), two_rows: bool = False, save: bool = True,
                height: int = 380, coverage: bool = True) -> None:
    """One live arena (made by new_arena): Play/Pause, a step in its two halves, Reset, Save run; D's surface
    under real and generated points; the step, modes and quality; coverage over time. Run it inside
    st.fragment(run_every=...) while it plays (speed: steps per frame)."""
    from ganlib.train import rundir

    from studio import figures

    state = st.session_state[f"arena_{key}"]
    if state.pop("toggled", False):
        st.rerun(scope="app")  # play/pause changed: the fragment's timer starts or stops
    arena = state["arena"]
    cfg = arena.config
    if state["playing"]:
        arena.train(speed)
        state["previous"] = None
    # four buttons in a row fit a wide panel; narrow panels are too narrow for their labels: two rows
    b = st.columns(2) + st.columns(2) if two_rows else st.columns(4 if save else 3)
    # toggled in a callback: a click that lands while a timer rerun of the fragment runs is never lost
    b[0].button(_("Pause") if state["playing"] else _("Play"), key=f"play_{key}", icon=(
        ":material/pause:" if state["playing"] else ":material/play_arrow:"), width="stretch",
        on_click=_toggle_play, args=(state,))
    b[1].button(_("G update") if state["previous"] is not None else _("D update"), key=f"step_{key}",
                icon=":material/skip_next:", disabled=state["playing"], width="stretch", on_click=arena_half_step,
                args=(state,), help=_("One step of the game, shown in its two halves: D updates (its surface "
                                      "changes under G's points), then G updates (its points move)."))
    if b[2].button(_("Reset"), key=f"reset_{key}", icon=":material/restart_alt:", width="stretch",
                   help=_("Start again with a new seed.")):
        new_arena(key, state["preset"], **{k: getattr(cfg, k) for k in ARENA_SETTINGS if k != "seed"},
                  dataset=cfg.dataset, seed=cfg.seed + 1)
        st.rerun(scope="app")
    if save and b[3].button(_("Save run"), key=f"save_{key}", icon=":material/save:", width="stretch",
                            help=_("Save this panel as an ordinary run directory (the Train page and the CLI "
                                   "read it).")):
        name = rundir.sanitize_run_name(f"arena-{state['preset']}-seed{cfg.seed}-step{arena.step}")
        try:
            state["saved"] = str(arena.save_run(runs_root() / name))
        except (ValueError, OSError) as e:
            state["saved"] = ""
            st.error(str(e))
    caption = ""
    surface, arrows = "D's surface" in show, "G's gradient" in show
    if state["previous"] is not None:
        fig = figures.arena_figure(arena, surface=surface, arrows=arrows, previous=state["previous"], height=height)
        caption = _("D has updated (its surface changed); G's points have not moved yet: press **G update**.")
    else:
        fig = figures.arena_figure(arena, surface=surface, arrows=arrows, height=height)
    st.plotly_chart(fig, key=f"arena_plot_{key}", config={"displayModeBar": False}, width="stretch")
    ev = arena.eval_rows[-1]
    st.markdown(_("Step **{step}** · modes **{covered}/{modes}** (at step {at}) · **{hq:.0%}** high quality · "
                  "reverse KL {kl:.2f}").format(step=f"{arena.step:,}", covered=ev["modes_covered"],
                                                modes=ev["num_modes"], at=f"{ev['step']:,}",
                                                hq=ev["high_quality_frac"], kl=ev["reverse_kl"]))
    if caption:
        st.caption(caption)
    if coverage:
        st.plotly_chart(figures.coverage_figure(arena), key=f"arena_cov_{key}", config={"displayModeBar": False},
                        width="stretch")
    if state["saved"]:
        st.success(_("Saved as `{path}`: open it on the Train & monitor page.").format(path=state["saved"]),
                   icon=":material/save:")


# ---------------------------------------------------------------- the 100-sample diversity test

@st.cache_data(show_spinner=False, max_entries=32)
def diversity(path: str, mtime_ns: int, seed: int) -> tuple[dict, bytes]:
    """(summary figures, PNG grid) of the seeds' 100-sample diversity test of a digit generator."""
    from ganlib.checkpoints import generator_classes
    from ganlib.metrics.diversity import diversity_grid_image, diversity_test, summary

    G, meta = generator(path)
    num_classes = generator_classes(meta)
    labels = torch.arange(100) % num_classes if num_classes else None
    result = diversity_test(G, classifier(), n=100, seed=seed, labels=labels)
    return summary(result), png_bytes(diversity_grid_image(result, scale=3))


def diversity_column(key: str, default: str | None, histogram: bool = True, pairs: bool = True,
                     image_width="stretch", compact: bool = False) -> dict | None:
    """A generator picker, a seed, and its diversity test: digits covered, KL to uniform, the closest pair,
    the 100 samples tagged with the classifier's digit, and the class histogram. Returns the figures.
    compact: the picker and the seed share a row."""
    from studio import figures as F

    where = st.columns([3, 1], vertical_alignment="bottom") if compact else [st.container(), st.container()]
    with where[0]:
        choice = checkpoint_picker(_("Generator"), key=key, families=("dcgan", "cgan", "gan"), default=default)
    if choice is None:
        return None
    if choice["dataset"] not in ("mnist", "typeset"):
        st.warning(_("The diversity test reads digits; {model} was trained on {dataset}.").format(
            model=choice["label"], dataset=choice["dataset"]))
        return None
    seed = int(where[1].number_input(_("Seed"), value=0, step=1, key=f"{key}_seed",
                                     help=_("Another seed draws another 100 samples.")))
    try:
        mtime = Path(choice["path"]).stat().st_mtime_ns
        figures, png = diversity(choice["path"], mtime, seed)
    except (CheckpointError, ValueError, OSError) as e:
        st.error(str(e))
        return None
    m = st.columns(3)
    m[0].metric(_("Digits covered"), f"{figures['class_coverage']}/10")
    m[1].metric(_("KL to uniform"), f"{figures['class_kl_uniform']:.2f}",
                help=_("0 = every digit equally often; 2.30 = one digit only."))
    closest = figures["similar_pairs"][0][2] if figures["similar_pairs"] else 0.0
    m[2].metric(_("Closest pair"), f"{closest:.3f}",
                help=_("RMS pixel difference of the two most similar samples (median over all pairs: {median:.3f}); "
                       "framed in the grid.").format(median=figures["median_pair_distance"]))
    st.image(png, width=image_width, output_format="PNG")
    if histogram:
        st.plotly_chart(F.histogram_figure(figures["class_histogram"], _("digit the classifier reads"),
                                           _("samples"), _("even")),
                        key=f"{key}_hist", config={"displayModeBar": False}, width="stretch")
    if pairs:
        text = ", ".join(f"#{i}–#{j} ({d:.3f})" for i, j, d in figures["similar_pairs"])
        st.caption(_("Most similar pairs (sample numbers, row by row from 0): {pairs}.").format(pairs=text))
    return figures


# ---------------------------------------------------------------- the collapse pair, step by step (Mode-collapse lab, Lessons)

COLLAPSE_PAIR = ("dcgan_mnist_collapsed", "dcgan_mnist_cured")   # the shipped pair: one remedy apart


@st.cache_data(show_spinner=False, max_entries=8)
def history_frames(name: str, version: str) -> list[tuple[dict, bytes]]:
    """pretrained.history as PNGs, read once per version of the history file ("path:mtime")."""
    return [(row, png_bytes(frame)) for row, frame in pretrained.history(name)]


def history_version(entry: dict) -> str:
    """The cache key of a shipped model's recorded history: its file and when it was written; '' if none."""
    path = pretrained.CHECKPOINTS_DIR / entry.get("history_file", "")
    return f"{path}:{path.stat().st_mtime_ns}" if entry.get("history_file") and path.is_file() else ""


def recorded_histories(names: tuple[str, ...] = COLLAPSE_PAIR) -> dict[str, list[tuple[dict, bytes]]]:
    """{title: [(eval row, PNG of the fixed-noise grid)] by step} for the shipped models that recorded their
    training; {} where none did (a user's own manifest, or one made before histories)."""
    shipped = pretrained.manifest()
    return {shipped[name]["title"]: frames for name in names if name in shipped
            and (version := history_version(shipped[name])) and (frames := history_frames(name, version))}


def frame_at(frames: list[tuple[dict, bytes]], step: int) -> tuple[dict, bytes]:
    """A run's recorded frame at `step`: its latest at or before it (a run that stopped earlier shows its last
    step), or its first when it has none that early."""
    return next((f for f in reversed(frames) if f[0]["step"] <= step), frames[0])


def collapse_history(recorded: dict[str, list[tuple[dict, bytes]]], key: str = "history", compact: bool = False,
                     image_width="stretch") -> int:
    """The runs side by side as they trained, one step slider (st key f"{key}_step") for all: each run's grid
    from its fixed noise and what the classifier read in its samples; returns the step shown. The runs may be
    recorded at different steps and stop at different steps: the slider offers every recorded step, and a
    run shows its latest frame at or before it, saying which. Full (the lab): metrics, each run's class
    histogram and the top-3 share against step. compact (Lessons): one line of figures under each grid."""
    from studio import figures as F

    steps = sorted({row["step"] for frames in recorded.values() for row, png in frames})
    step = st.select_slider(_("Training step"), steps, value=steps[-1], key=f"{key}_step")
    st.html(f"<style>.st-key-{key} img {{image-rendering: pixelated;}}</style>")
    for col, (title, frames) in zip(st.container(key=key).columns(len(recorded)), recorded.items()):
        row, png = frame_at(frames, step)
        with col:
            if compact:  # the run's own step goes under its grid, so the titles stay one line and the grids level
                st.markdown(f"**{title}**")
                st.image(png, width=image_width, output_format="PNG")
                st.caption(_("Step {step} · digits in 100: {digits}/10 · top-3 share {share:.0%} · confidence "
                             "{confidence:.2f}").format(step=f"{row['step']:,}", digits=row["coverage_100"],
                                                        share=row["top3_share"], confidence=row["mean_confidence"]))
                continue
            st.markdown(f"**{title}**" if row["step"] == step else
                        _("**{model}** at step {step}").format(model=title, step=f"{row['step']:,}"))
            # each run is evaluated on its own number of samples (the collapsed 500, the cured 1,000)
            st.caption(_("{n} samples read by the classifier").format(n=f"{sum(row['class_histogram']):,}"))
            m = st.columns(3)
            m[0].metric(_("Digits in 100"), f"{row['coverage_100']}/10")
            m[1].metric(_("Top-3 share"), f"{row['top3_share']:.0%}",
                        help=_("The three commonest digits' share of the samples: 30% when all ten are even, "
                               "100% at three digits or fewer."))
            m[2].metric(_("Confidence"), f"{row['mean_confidence']:.2f}",
                        help=_("The classifier's mean confidence in the digit it reads: near 1 for crisp digits."))
            st.image(png, width=image_width, output_format="PNG")
            st.plotly_chart(F.histogram_figure(row["class_histogram"], _("digit the classifier reads"),
                                               _("samples"), _("even")),
                            key=f"{key}_hist_{title}", config={"displayModeBar": False}, width="stretch")
    if not compact:
        st.plotly_chart(F.history_figure({title: [r for r, png in frames] for title, frames in recorded.items()},
                                         step), key=f"{key}_curve", config={"displayModeBar": False}, width="stretch")
    return step


# ---------------------------------------------------------------- latent directions (Latent explorer, Lessons)

@st.cache_resource(show_spinner=False, max_entries=32)
def latent_directions(path: str, mtime_ns: int, kind: str):
    """A generator's latent directions of one kind (ganlib.directions), found once per file version."""
    from ganlib import directions as D

    G, _meta = generator(path)
    return D.cached_directions(G, path, kind, k=10, classifier=classifier() if kind == "attribute" else None)


@st.cache_data(show_spinner=False, max_entries=256)
def direction_strip_png(path: str, mtime_ns: int, seed: int, code: str, label: int | None, kind: str, index: int,
                        psi: float, values: tuple[float, ...]) -> bytes:
    """Images along one direction from a latent (an inverted digit's code, else the seed's z), one per value."""
    from ganlib import latent as L

    G, _meta = generator(path)
    base = L.decode_latent(code, G.latent_dim) if code else L.sample_latents(G, 1, seed)[0]
    z = L.truncate(base, L.mean_latent(G), psi)
    with L.torch_threads(1):
        strip = L.direction_strip(G, z, latent_directions(path, mtime_ns, kind).vectors[index], list(values),
                                  [label] if label is not None else None)
    return crisp_png(strip, scale=2, nrow=len(values))


# ---------------------------------------------------------------- StyleGAN style mixing (Style studio, Lessons)

@st.cache_data(show_spinner=False, max_entries=64)
def style_mixing(path: str, mtime_ns: int, seeds_a: tuple, seeds_b: tuple, lo: int, hi: int) -> dict:
    """The style-mixing figure of seeds A (columns) and B (rows), layers lo-hi px from A:
    {"a": [png], "b": [png], "cells": [[png]], "tensors": (rows, cols, C, H, W), "grid": png}."""
    from ganlib import style as S

    G, _meta = generator(path)
    grid = S.mixing_grid(G, S.seeds_to_w(G, seeds_a), S.seeds_to_w(G, seeds_b), lo, hi)
    images, nrow = S.grid_tensor(grid)
    return {"a": [crisp_png(x, scale=3) for x in grid["a"]], "b": [crisp_png(x, scale=3) for x in grid["b"]],
            "cells": [[crisp_png(x, scale=3) for x in row] for row in grid["cells"]],
            "tensors": grid["cells"], "grid": crisp_png(images, scale=4, nrow=nrow)}
