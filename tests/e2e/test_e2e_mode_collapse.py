"""In a real browser: open the Mode-collapse lab, play two arena panels and see both plots change
on their own (D's surface and G's points redrawn each frame), step one panel in halves, pause, and
see the diversity grids of two generators side by side."""
from __future__ import annotations

import time

import harness  # tests/e2e, on the path from conftest.py
import pytest

pytestmark = pytest.mark.e2e

# G's points (the "G(z)" trace) and the step counter of a panel, read from the page, never touched
POINTS = """(key) => {
  const el = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
  if (!el || !el.data) return '';
  const g = el.data.find(t => t.name === 'G(z)');
  return g ? JSON.stringify([g.x.slice(0, 20), g.y.slice(0, 20)]) : '';
}"""
SURFACE = """(key) => {
  const el = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
  const h = el && el.data ? el.data.find(t => t.type === 'heatmap') : null;
  return h ? JSON.stringify(h.z[10].slice(0, 20)) : '';
}"""


def poll(page, fn, arg, predicate, timeout_s: float, what: str):
    deadline = time.time() + timeout_s
    value = None
    while time.time() < deadline:
        value = page.evaluate(fn, arg)
        if predicate(value):
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last value {str(value)[:80]!r})")


def toggle(page, key: str, to: str) -> None:
    """Click a panel's Play/Pause button until it reads `to`. A click that lands while the panel's fragment
    is redrawing can be dropped on a loaded machine, so it is clicked again if, 15 s on, it has not moved.
    A first click that was only slow would then land just before the second and be undone by it, so the
    button is clicked only while it does not read `to`, and must still read `to` a second later."""
    label = page.locator(f".st-key-{key}").get_by_text(to, exact=True)
    for _ in range(3):
        if not label.count():
            page.locator(f".st-key-{key} button").first.click()
        try:
            label.wait_for(timeout=15_000)
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: the click did not take
            continue
        page.wait_for_timeout(1000)
        if label.count():
            return
    raise AssertionError(f"{key} never read {to!r} after three clicks")


def test_two_panels_play_and_change(page, server):
    page.goto(server + "/")
    page.get_by_role("link", name="Mode-collapse lab").first.click()
    page.locator(".st-key-play_0 button").wait_for(timeout=60_000)
    plots = ("arena_plot_0", "arena_plot_1")
    start = {k: poll(page, POINTS, k, bool, 60, f"{k} drawn") for k in plots}
    surface = {k: poll(page, SURFACE, k, bool, 30, f"{k} heat map") for k in plots}
    assert "python -m ganlib train --model gan --dataset toy-ring" in page.locator("code").first.inner_text()

    toggle(page, "play_0", "Pause")
    toggle(page, "play_1", "Pause")
    for k in plots:  # both panels animate without any further click
        poll(page, POINTS, k, lambda v, k=k: v and v != start[k], 60, f"{k}'s points to move")
        poll(page, SURFACE, k, lambda v, k=k: v and v != surface[k], 60, f"{k}'s D surface to change")
    moved = page.evaluate(POINTS, "arena_plot_0")
    poll(page, POINTS, "arena_plot_0", lambda v: v != moved, 30, "a later frame")

    for k in ("play_0", "play_1"):
        toggle(page, k, "Play")
    # a frame already being computed when Pause was clicked may still land (on a loaded machine, later
    # than a second): wait until the plot holds still for 1.5 s, then it must stay still
    paused, deadline = page.evaluate(POINTS, "arena_plot_0"), time.monotonic() + 30
    while True:
        page.wait_for_timeout(1500)
        now = page.evaluate(POINTS, "arena_plot_0")
        if now == paused or time.monotonic() > deadline:
            break
        paused = now
    assert now == paused, "the paused panel kept moving for 30 s"
    page.wait_for_timeout(3000)
    assert page.evaluate(POINTS, "arena_plot_0") == paused  # paused panels stay still

    # one step in two halves: D's surface changes first, then G's points
    page.locator(".st-key-step_0 button").first.click()
    page.get_by_text("D has updated").wait_for(timeout=30_000)
    assert page.evaluate(POINTS, "arena_plot_0") == paused
    page.locator(".st-key-step_0 button").first.click()
    poll(page, POINTS, "arena_plot_0", lambda v: v and v != paused, 30, "G's half step")

    page.get_by_role("tab", name="Image diversity").click()
    page.get_by_text("Digits covered").first.wait_for(timeout=90_000)
    assert page.locator(".st-key-diversity img").count() >= 2


def test_the_collapse_step_by_step(page, server):
    """The shipped pair's recorded histories: moving the step slider redraws both runs' grids (release to
    drawn is printed), and the collapsed run's top-3 share reads 100% at the last step."""
    page.goto(server + "/")
    page.get_by_role("link", name="Mode-collapse lab").first.click()
    page.get_by_role("tab", name="Image diversity").click()
    page.get_by_text("The collapse, step by step").wait_for(timeout=90_000)
    grids = page.locator(".st-key-history img")
    grids.first.wait_for(timeout=30_000)
    assert grids.count() == 2
    assert "100%" in page.locator(".st-key-history").inner_text()

    thumb = page.locator(".st-key-history_step input[type=range]")
    seconds = harness.seconds_until_redrawn(page, grids, lambda: thumb.press("Home"))  # the first recorded step
    print(f"history step slider: release to both grids drawn {seconds:.2f} s")
    assert thumb.get_attribute("aria-valuetext") == "20" and thumb.input_value() == "0"
