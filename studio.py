"""GAN Studio's Streamlit script (app.py serves it): navigation over the pages and a home page."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent
# (file, title, icon, what it is for); a page is listed only once its file exists
PAGES = [
    ("app_pages/1_Train.py", "Train & monitor", ":material/monitoring:",
     "Launch GAN, DCGAN, CGAN, CycleGAN or StyleGAN training in the background and watch it live: loss curves, D(x) vs "
     "D(G(z)), samples from fixed noise, a training doctor. Pause, stop, resume, compare and replay runs."),
    ("app_pages/2_Latent.py", "Latent explorer", ":material/explore:",
     "Open any generator (shipped or your run) and steer it: direction sliders (PCA, closed-form, "
     "attribute), truncation, interpolation, and inversion of a digit you draw or upload."),
    ("app_pages/3_Style.py", "Style studio", ":material/palette:",
     "Open a StyleGAN and see what each layer does: style mixing between two rows of digits (coarse, middle, "
     "fine or any layer range), per-layer-group style sliders, noise strength and resampling, truncation "
     "beside the mean-w image, and any layer's feature maps."),
    ("app_pages/4_Translate.py", "Translate", ":material/translate:",
     "Turn typeset digits into handwriting and back with a CycleGAN: your own drawn or uploaded digit, a "
     "batch, every font; the round trip's error map, the identity mapping, an early checkpoint beside the final."),
    ("app_pages/5_Mode_collapse.py", "Mode-collapse lab", ":material/scatter_plot:",
     "Watch a GAN collapse onto a few modes of a 2-D mixture and compare the cures side by side; "
     "measure the diversity of any image generator."),
]


@st.cache_resource(show_spinner=False)
def device_line() -> str:
    from ganlib.device import describe_device

    return describe_device()


def home() -> None:
    from ganlib.paths import runs_root

    st.title("GAN Studio")
    st.write("Learn, train and explore generative adversarial networks in the browser. "
             "Every page stands on the `ganlib` library, so everything here also works from Python "
             "and from the command line (`python -m ganlib --help`).")
    device = device_line()
    if device.startswith("CPU"):
        st.info(f"**Device:** {device}. Training runs on the CPU; the default recipe is tuned for it "
                "(recognisable MNIST digits in about a minute on 2 cores).", icon=":material/memory:")
    else:
        st.success(f"**Device:** {device}.", icon=":material/memory:")
    st.subheader("Pages")
    for page, (_, title, icon, text) in zip(nav_pages[1:], listed):
        st.page_link(page, label=title, icon=icon)
        st.caption(text)
    st.caption(f"Runs are kept in `{runs_root()}` (set GAN_STUDIO_RUNS to change).")
    shipped_models()


@st.cache_resource(show_spinner=False)
def preview(name: str) -> bytes:
    from ganlib import pretrained

    return pretrained.preview_png(name)


def shipped_models() -> None:
    """The pretrained models in checkpoints/, each with samples and its measured quality."""
    from ganlib import pretrained

    models = pretrained.manifest()
    if not models:
        return
    st.subheader("Pretrained models")
    st.html("<style>[class*='st-key-model_'] img {image-rendering: pixelated;}</style>")
    st.caption("Shipped in `checkpoints/` and trained on the bundled MNIST subset; `checkpoints/README.md` "
               "gives the exact commands that made them.")
    for col, (name, entry) in zip(st.columns(len(models)), models.items()):
        with col, st.container(key=f"model_{name}"):
            st.markdown(f"**{entry['title']}** · `{pretrained.pretrained_path(name).relative_to(HERE)}`")
            st.image(preview(name), width=360, output_format="PNG")
            st.caption(pretrained.summary_line(entry))
            st.code(entry["sample_command"], language="bash")


# an emoji favicon is drawn locally; a :material/...: one is fetched from fonts.gstatic.com (the app runs offline)
st.set_page_config(page_title="GAN Studio", page_icon="✨", layout="wide")
listed = [p for p in PAGES if (HERE / p[0]).exists()]
nav_pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
nav_pages += [st.Page(str(HERE / path), title=title, icon=icon, url_path=Path(path).stem.split("_", 1)[-1].lower())
              for path, title, icon, _ in listed]
# The pages live in app_pages/, not pages/: with a pages/ folder Streamlit runs its first script run after a
# start as an old-style multipage app (sidebar of file names, and a direct link such as /latent answered
# "Page not found"). ganlib and torch are imported by the pages themselves, after this call, so the
# sidebar's titles paint before any heavy import.
st.navigation(nav_pages).run()
