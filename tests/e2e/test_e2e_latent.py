"""In a real browser: the Latent explorer restores a shared link, redraws the digit when a direction
slider moves, steps back through its URL history, and inverts a digit drawn on the canvas."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

IMAGE_SRC = """() => {
  const img = document.querySelector('.st-key-latent_image img');
  return img && img.complete && img.naturalWidth ? img.getAttribute('src') : '';
}"""


def wait_src(page, not_equal: str = "", timeout_ms: int = 60_000) -> str:
    """The big image's src once it is loaded (and differs from not_equal)."""
    handle = page.wait_for_function(f"(old) => {{ const s = ({IMAGE_SRC})(); return s && s !== old ? s : null; }}",
                                    arg=not_equal, timeout=timeout_ms)
    return handle.json_value()


def image_bytes(page, src: str) -> bytes:
    """The PNG behind an image URL (media URLs differ between sessions; the pixels must not)."""
    return page.request.get(src).body()


def open_app(page, server: str) -> None:
    # the server learns the app's page paths when it first runs app.py: open the home page first
    page.goto(server + "/")
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)


def slider_value(page, n: int) -> str:
    return page.locator(f".st-key-dir_{n} input[type=range]").input_value()


def test_shared_link_slider_and_back_button(page, server):
    open_app(page, server)
    page.goto(server + "/latent?model=cgan_mnist&seed=5&class=3&kind=sefa&d=0,2")
    first = wait_src(page)
    assert slider_value(page, 1) == "2"
    assert page.locator(".st-key-latent_class input").input_value() == "3"

    # move the first direction's slider (End: to its maximum in one step): the image changes, the URL follows
    thumb = page.locator(".st-key-dir_0 input[type=range]")
    thumb.focus()
    thumb.press("End")
    page.wait_for_function("() => new URLSearchParams(location.search).get('d') === '5,2,0,0,0'", timeout=30_000)
    moved = wait_src(page, not_equal=first)   # the run that wrote the URL drew this image before
    moved_png = image_bytes(page, moved)      # media files live only while their session shows them
    shared = page.url

    # the link opens the same image in a fresh session
    other = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        other.goto(shared)
        assert image_bytes(other, wait_src(other)) == moved_png
        assert slider_value(other, 0) == "5"
    finally:
        other.close()

    # another seed, then Back: the earlier seed and image come back
    seed = page.locator(".st-key-latent_seed input")
    seed.fill("6")
    seed.press("Enter")
    seed.blur()
    page.wait_for_function("() => new URLSearchParams(location.search).get('seed') === '6'", timeout=30_000)
    changed = wait_src(page, not_equal=moved)
    page.go_back()
    page.wait_for_function("() => new URLSearchParams(location.search).get('seed') === '5'", timeout=30_000)
    assert image_bytes(page, wait_src(page, not_equal=changed)) == moved_png
    page.wait_for_function("() => document.querySelector('.st-key-latent_seed input').value === '5'", timeout=30_000)


def test_draw_a_digit_and_invert_it(page, server):
    open_app(page, server)
    page.goto(server + "/latent?model=dcgan_mnist&view=invert")
    canvas = page.locator(".st-key-invert_digit_canvas canvas").last
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    x0, y0, w = box["x"], box["y"], box["width"]
    page.mouse.move(x0 + 0.5 * w, y0 + 0.15 * w)     # a "1": one downward stroke
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x0 + 0.5 * w - i * 0.004 * w, y0 + (0.15 + i * 0.035) * w, steps=2)
    page.mouse.up()
    page.get_by_text("as the model sees it").wait_for(timeout=60_000)
    page.locator(".st-key-invert_go button").click()
    page.locator(".st-key-latent_inverted img").wait_for(timeout=120_000)
    page.get_by_text("Pixel error (MSE)").wait_for()
    page.get_by_text("Nearest of the 5,000 training images", exact=False).wait_for()

    page.locator(".st-key-invert_explore button").click()
    wait_src(page)
    page.get_by_text("Exploring around your inverted digit").wait_for()
    page.wait_for_function("() => { const q = new URLSearchParams(location.search); "
                           "return q.get('view') === 'explore' && (q.get('z') || '').length > 100; }", timeout=30_000)
