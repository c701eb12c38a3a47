"""In a real browser at a projector's 1280x720: the Lessons page's projector view walks every chapter with the
arrow keys and the Next button, with no exception, the chapter's live widget inside the screen, and a
screenshot per chapter (under pytest's tmp_path, or LESSON_SCREENSHOTS=<dir> to keep them)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import harness  # tests/e2e, on the path from conftest.py
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from studio.lessons import SLUGS  # noqa: E402

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1280, 720


@pytest.fixture
def projector(server):
    if not Path(harness.CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with harness.chromium_page(WIDTH, HEIGHT) as page:
        yield page


def chapter_in_url(page, slug: str) -> None:
    page.wait_for_function("(slug) => new URLSearchParams(location.search).get('chapter') === slug", arg=slug,
                           timeout=60_000)


def settled(page) -> None:
    """Wait until the script run is over and the widget's images and charts are drawn."""
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
    page.wait_for_function("""() => {
      const box = document.querySelector('.st-key-lesson_widget');
      if (!box) return false;
      const imgs = [...box.querySelectorAll('img')];
      const charts = [...box.querySelectorAll('[data-testid=stPlotlyChart]')];
      return imgs.every(i => i.complete && i.naturalWidth > 0) && !box.querySelector('[data-testid=stSkeleton]')
        && charts.every(c => c.querySelector('.main-svg'))
        && document.querySelector('.st-key-lesson_text .katex');
    }""", timeout=120_000)
    page.wait_for_timeout(400)   # Plotly lays its charts out after they mount


def check_screen(page, slug: str, shots: Path) -> None:
    page.screenshot(path=str(shots / f"{SLUGS.index(slug) + 1}_{slug}.png"))
    assert page.locator("[data-testid=stException]").count() == 0, f"{slug}: an exception box"
    assert not page.locator("[data-testid=stSidebar]").is_visible(), f"{slug}: the sidebar shows"
    box = page.locator(".st-key-lesson_widget").bounding_box()
    assert box and box["height"] > 50, f"{slug}: no widget"
    assert box["y"] + box["height"] <= HEIGHT, f"{slug}: the widget ends at {box['y'] + box['height']:.0f} px"


def test_projector_view_walks_every_chapter_by_arrow_keys(projector, server, tmp_path):
    page = projector
    shots = Path(os.environ.get("LESSON_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(server + "/")       # the server learns the app's page paths on its first run
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)
    page.goto(server + f"/lessons?chapter={SLUGS[0]}&present=1")
    for i, slug in enumerate(SLUGS):
        chapter_in_url(page, slug)
        settled(page)
        assert page.locator(".st-key-lesson_top").get_by_text(f"{i + 1} / {len(SLUGS)}").is_visible()
        check_screen(page, slug, shots)
        if i + 1 < len(SLUGS):
            page.evaluate("() => document.activeElement && document.activeElement.blur()")   # not in a field
            page.keyboard.press("ArrowRight")
    # back with the left arrow, then forward with the Next button
    page.keyboard.press("ArrowLeft")
    chapter_in_url(page, SLUGS[-2])
    settled(page)
    page.locator(".st-key-lesson_next button").click()
    chapter_in_url(page, SLUGS[-1])
    assert "present=1" in page.url
    assert len(list(shots.glob("*.png"))) == len(SLUGS)


def open_chapter(page, server: str, slug: str) -> None:
    """A chapter's projector link, opened as a teacher's slide would, its widget drawn."""
    page.goto(server + "/")       # the server learns the app's page paths on its first run
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)
    page.goto(server + f"/lessons?chapter={slug}&present=1")
    chapter_in_url(page, slug)
    settled(page)


def test_a_chapter_link_opens_it_and_the_toggle_leaves_the_projector_view(projector, server):
    page = projector
    open_chapter(page, server, "cyclegan")
    assert page.locator("[data-testid=stException]").count() == 0
    page.locator(".st-key-lesson_present label").click()
    page.wait_for_function("() => !new URLSearchParams(location.search).get('present')", timeout=60_000)
    page.locator("[data-testid=stSidebar]").wait_for(state="visible", timeout=30_000)
    assert "chapter=cyclegan" in page.url


def test_the_collapse_chapter_shows_the_digit_pair_step_by_step_on_the_projector(projector, server, tmp_path):
    """The collapse chapter's Digits view at 1280x720: the shipped pair's grids and the step slider fit the
    screen, and moving the slider redraws both grids (release to drawn is printed); back in the 2-D game, the
    remedy the class chose is still the one shown."""
    page = projector
    open_chapter(page, server, "collapse")
    page.locator(".st-key-lesson_remedy").click()
    page.get_by_role("option", name="PacGAN").first.click()
    settled(page)
    views = page.locator(".st-key-lesson_collapse_view")
    views.get_by_role("radio", name="Digits").click()
    grids = page.locator(".st-key-lesson_history img")
    grids.nth(1).wait_for(timeout=60_000)
    settled(page)
    check_screen(page, "collapse", tmp_path)
    assert "top-3 share 100%" in page.locator(".st-key-lesson_history").inner_text()
    assert grids.count() == 2
    thumb = page.locator(".st-key-lesson_history_step input[type=range]")
    seconds = harness.seconds_until_redrawn(page, grids, lambda: thumb.press("Home"))  # the first recorded step
    print(f"lesson history step slider: release to both grids drawn {seconds:.2f} s")
    assert page.locator("[data-testid=stException]").count() == 0
    views.get_by_role("radio", name="2-D game").click()
    page.get_by_text("D judges 2 samples at once").wait_for(timeout=60_000)  # PacGAN's arena is back
    assert "PacGAN" in page.locator(".st-key-lesson_remedy input").first.input_value()  # and its box says so
