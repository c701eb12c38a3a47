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

    __, probs = classify(classifier(), x[None].float() if x.dim() == 3 else x.float())
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
