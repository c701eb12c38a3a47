"""In a real browser: the Style studio opens the shipped StyleGAN's mixing grid from a link, and choosing
another layer range redraws the mixes (and only them: the sources A stay), with the range in the URL."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ganlib.pretrained import manifest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def model(runs_root) -> str:
    """The shipped StyleGAN's link id; where none is shipped, a tiny run's (trained here in seconds)."""
    if "stylegan_mnist" in manifest():
        return "stylegan_mnist"
    # in its own process, as the Train page starts runs (the teardown stops any process a run's status names)
    subprocess.run([sys.executable, "-m", "ganlib", "train", "--model", "stylegan", "--subset", "64", "--batch-size", "8",
                    "--width", "4", "--latent-dim", "8", "--mapping-layers", "2", "--max-steps", "2", "--eval-every", "0",
                    "--n-fixed", "4", "--quiet", "--out", str(runs_root / "tiny")], check=True, cwd=REPO)
    return "run:tiny"

SRC = """(sel) => {
  const img = document.querySelector(sel + ' img');
  return img && img.complete && img.naturalWidth ? img.getAttribute('src') : '';
}"""


def wait_src(page, selector: str, not_equal: str = "", timeout_ms: int = 60_000) -> str:
    """The src of the image in `selector` once it is loaded (and differs from not_equal)."""
    handle = page.wait_for_function(f"([sel, old]) => {{ const s = ({SRC})(sel); return s && s !== old ? s : null; }}",
                                    arg=[selector, not_equal], timeout=timeout_ms)
    return handle.json_value()


def png(page, src: str) -> bytes:
    return page.request.get(src).body()


def test_changing_the_layer_range_redraws_the_mixing_grid(model, page, server):
    page.goto(server + "/")
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)
    page.goto(server + f"/style?model={model}&view=mixing&a=1,2,3,4&b=5,6,7&layers=4-8")
    cell = wait_src(page, ".st-key-style_cell_0_0")
    coarse = [png(page, wait_src(page, f".st-key-style_cell_0_{j}")) for j in range(4)]
    source_a = png(page, wait_src(page, ".st-key-style_a_0"))

    page.locator(".st-key-style_preset_32_32 button").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('layers') === '32'", timeout=30_000)
    wait_src(page, ".st-key-style_cell_0_0", not_equal=cell)
    fine = [png(page, wait_src(page, f".st-key-style_cell_0_{j}")) for j in range(4)]
    assert fine != coarse                                   # the mixes changed
    assert png(page, wait_src(page, ".st-key-style_a_0")) == source_a   # the sources did not
    assert "takes the 32–32 px layers" in page.content()
