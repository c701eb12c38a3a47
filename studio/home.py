"""GAN Studio's home page: what the app is for, the device, a link to each page, the shipped models."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ganlib import pretrained
from ganlib.device import pick_device
from ganlib.paths import runs_root
from studio.i18n import _
from studio.widgets import device_text

REPO = Path(__file__).parent.parent


def home(links: list[tuple]) -> None:
    """The home page: what the app is for, the device, a link to each page (links: (st.Page, title, icon,
    text)), and the shipped models."""
    st.title("GAN Studio")
    st.write(_("Learn, train and explore generative adversarial networks in the browser. "
               "Every page stands on the `ganlib` library, so everything here also works from Python "
               "and from the command line (`python -m ganlib --help`)."))
    device = device_text()
    if pick_device("auto").type == "cpu":
        st.info(_("**Device:** {device}. Training runs on the CPU; the default recipe is tuned for it "
                  "(recognisable MNIST digits within about 15 seconds of training on 2 cores).").format(device=device),
                icon=":material/memory:")
    else:
        st.success(_("**Device:** {device}.").format(device=device), icon=":material/memory:")
    st.subheader(_("Pages"))
    for page, title, icon, text in links:
        st.page_link(page, label=title, icon=icon)
        st.caption(text)
    st.caption(_("Runs are kept in `{folder}` (set GAN_STUDIO_RUNS to change).").format(folder=runs_root()))
    shipped_models()


@st.cache_resource(show_spinner=False)
def preview(name: str) -> bytes:
    return pretrained.preview_png(name)


def shipped_models() -> None:
    """The pretrained models in checkpoints/, each with samples and its measured quality."""
    models = pretrained.manifest()
    if not models:
        return
    st.subheader(_("Pretrained models"))
    st.html("<style>[class*='st-key-model_'] img {image-rendering: pixelated;}</style>")
    st.caption(_("Shipped in `checkpoints/` and trained on the bundled MNIST subset; `checkpoints/README.md` "
                 "gives the exact commands that made them."))
    for col, (name, entry) in zip(st.columns(len(models)), models.items()):
        with col, st.container(key=f"model_{name}"):
            st.markdown(f"**{entry['title']}** · `{pretrained.pretrained_path(name).relative_to(REPO)}`")
            st.image(preview(name), width=360, output_format="PNG")
            st.caption(pretrained.summary_line(entry))
            st.code(entry["sample_command"], language="bash")
