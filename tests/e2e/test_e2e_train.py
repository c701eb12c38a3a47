"""In a real browser: start a small DCGAN / CGAN run from the form, watch the loss chart gain points
and the sample grid change without touching the page, stop it, resume it, and see it finish; the first
paint's sidebar, the toolbar, whole metric values, offline loading and the live charts' catching up."""
from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

import harness
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ganlib.config import TrainConfig
from ganlib.train import jobs, rundir
from studio import figures

pytestmark = pytest.mark.e2e

# ~20-40 s of training at width 8: it is stopped early, so the resumed part is long; under a full suite the page
# can be slow enough that 1,000 steps had finished before the chart showed its first points
MAX_STEPS = 2000
LOG_EVERY = 4

CHART_POINTS = """() => {
  const el = document.querySelector('.st-key-loss_chart .js-plotly-plot');
  return el && el.data && el.data.length ? el.data[el.data.length - 1].x.length : 0;
}"""
GRID_SRC = """() => {
  const img = document.querySelector('.st-key-sample_grid img');
  return img ? img.getAttribute('src') : '';
}"""


T0 = [time.time()]


def mark(what: str) -> None:
    print(f"[{time.time() - T0[0]:6.1f} s] {what}", flush=True)


def poll(page, fn, predicate, timeout_s: float, what: str):
    """Evaluate fn in the page until predicate(value) holds; the page is only read, never touched."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = page.evaluate(fn)
        if predicate(value):
            return value
        page.wait_for_timeout(150)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last value {value!r})")


def set_number(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(250)


def choose(page, key: str, option: str) -> None:
    """Pick an option of a selectbox; a rerun that redraws the form can close the list just opened, so it
    opens again until the option shows."""
    for _ in range(5):
        page.locator(f".st-key-{key} input").click()
        item = page.get_by_role("option", name=option, exact=True)
        try:
            item.wait_for(timeout=3000)
        except Exception:  # noqa: BLE001 - closed by a rerun: open it again
            continue
        item.click()
        break
    else:
        raise AssertionError(f"the option {option!r} of {key} never showed")
    page.wait_for_timeout(250)


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()


def wait_state(page, state: str, timeout_s: float) -> None:
    page.locator(".st-key-run_status").get_by_text(state, exact=True).wait_for(timeout=timeout_s * 1000)


def open_train_page(page, server: str) -> None:
    """Open the Train page of a fresh server and wait for its form. A cold server imports torch on its first
    Train visit; once (in CI) that first visit never drew the form, so a page still empty after 60 s is
    reloaded once, which costs nothing when all is well."""
    page.goto(server + "/")
    page.get_by_role("link", name="Train & monitor").first.wait_for(timeout=60_000)
    page.goto(server + "/train")
    try:
        page.locator(".st-key-start").first.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        mark("the Train page drew no form in 60 s: reloading")
        page.reload()
        page.locator(".st-key-start").first.wait_for(timeout=60_000)
    mark("Train page open")


def look_at(page, key: str) -> None:
    """Scroll an element into view: a live chart out of view is not redrawn until it shows."""
    page.locator(f".st-key-{key}").scroll_into_view_if_needed()


@pytest.mark.parametrize("model, label", [("dcgan", "DCGAN"), ("cgan", "CGAN (conditional DCGAN)")])
def test_start_watch_stop_resume_finish(page, server, runs_root, model, label):
    T0[0] = time.time()
    open_train_page(page, server)

    choose(page, "cfg_model", label)
    choose(page, "cfg_dataset", "typeset")
    set_number(page, "cfg_batch_size", 16)
    set_number(page, "cfg_max_steps", MAX_STEPS)
    page.get_by_text("More settings").click()
    for key, value in (("cfg_subset", 256), ("cfg_width", 8), ("cfg_sample_every", 25), ("cfg_log_every", LOG_EVERY)):
        set_number(page, key, value)
    page.locator(".st-key-run_name input").fill(f"e2e-{model}")
    page.locator(".st-key-run_name input").press("Enter")
    page.wait_for_timeout(300)
    click(page, "start")

    mark("start clicked")
    wait_state(page, "running", 60)
    mark("running")
    # the page refreshes itself: the chart gains points, nobody touches anything
    look_at(page, "loss_chart")
    n1 = poll(page, CHART_POINTS, lambda n: n >= 1, 60, "the first points of the loss chart")
    poll(page, CHART_POINTS, lambda n: n > n1, 30, "more points on the loss chart")
    mark("chart gained points")

    click(page, "stop")
    wait_state(page, "stopped", 30)
    mark("stopped")
    page.reload()  # the page holds no state of its own: a refresh shows the same run, curves and all
    wait_state(page, "stopped", 30)
    look_at(page, "loss_chart")
    poll(page, CHART_POINTS, lambda n: n >= 2, 15, "the curves after a reload")
    [run] = jobs.run_dirs(runs_root)
    stopped_at = jobs.status(run)["step"]
    assert 0 < stopped_at < MAX_STEPS, f"the run was not stopped mid-way (step {stopped_at})"

    click(page, "resume")
    mark("resume clicked")
    # the resumed run updates the page by itself too: a newer sample grid and more points
    wait_state(page, "running", 60)
    look_at(page, "loss_chart")
    # (90 s: on a machine shared with other training runs, 25 steps can take most of a minute)
    src1 = poll(page, GRID_SRC, bool, 90, "a sample grid")
    poll(page, GRID_SRC, lambda s: s and s != src1, 90, "a newer sample grid")
    n2 = poll(page, CHART_POINTS, bool, 90, "the loss chart")
    poll(page, CHART_POINTS, lambda n: n > n2, 90, "more points on the loss chart")
    mark("grid changed, chart gained points")
    wait_state(page, "finished", 600)  # minutes when the machine is shared
    mark("finished")
    st = jobs.status(run)
    assert st["step"] == MAX_STEPS and "Finished" in st["message"]
    config = TrainConfig.load(run / "config.json")
    assert (config.model, config.dataset, config.batch_size, config.width, config.subset) == (
        model, "typeset", 16, 8, 256)
    rows = [r["step"] for r in rundir.read_metrics(run, "train")]
    assert rows == list(range(LOG_EVERY, MAX_STEPS + 1, LOG_EVERY))  # resumed without a gap or a repeat
    poll(page, CHART_POINTS, lambda n: n == len(rows), 10, "every logged step on the chart")  # every logged step is drawn, none twice after the resume
    assert run.name == f"e2e-{model}"

    # exports of the finished run: the report reproduces it, the CSV holds every logged row
    with page.expect_download() as report:
        click(page, "dl_report")
    html = report.value.path().read_text()
    assert f"python -m ganlib train --model {model} --dataset typeset" in html and "--width 8" in html
    with page.expect_download() as csv:
        click(page, "dl_csv")
    all_rows = rundir.read_metrics(run)  # the train rows and the evaluation at the end
    evals = sorted(set(range(config.eval_every, MAX_STEPS + 1, config.eval_every)) | {MAX_STEPS})
    assert [r["step"] for r in all_rows if r["kind"] == "eval"] == evals  # every eval_every steps and at the end
    assert len(csv.value.path().read_text().strip().splitlines()) == 1 + len(all_rows)


def test_choosing_a_model_moves_the_settings_the_browser_shows(page, server):
    """config.recipe_switch in the browser: the widgets the browser holds take the chosen model's recipe (an
    AppTest cannot see this: a page that only dropped its widget state left the browser's old values)."""
    open_train_page(page, server)
    shown = lambda key: page.locator(f".st-key-cfg_{key} input").first.input_value()
    set_number(page, "cfg_epochs", 3)
    choose(page, "cfg_model", "CycleGAN (data set <-> domain B)")
    page.get_by_text("Settings below start from the recipe for CycleGAN").wait_for()
    assert (shown("dataset"), shown("loss"), shown("lr_g"), shown("r1_gamma"), shown("batch_size"),
            shown("max_steps"), shown("epochs")) == ("typeset", "least squares (LSGAN)", "0.0002", "0", "16", "3000", "3")
    page.get_by_text("More settings").click()
    choose(page, "cfg_patch", "18")
    choose(page, "cfg_model", "StyleGAN (mapping network, styles per layer, noise)")
    page.locator(".st-key-cfg_mapping_layers").wait_for()
    page.locator(".st-key-cfg_patch").wait_for(state="detached")       # CycleGAN's own setting, hidden
    choose(page, "cfg_model", "CycleGAN (data set <-> domain B)")
    assert shown("patch") == "18"                                         # back as the user left it
    set_number(page, "cfg_lr_d", 0.0001)
    choose(page, "cfg_model", "DCGAN")
    page.get_by_text("Settings below start from the recipe").wait_for(state="detached")
    assert (shown("dataset"), shown("loss"), shown("lr_g"), shown("lr_d"), shown("r1_gamma"), shown("batch_size"),
            shown("epochs")) == ("mnist", "non-saturating BCE (ns)", "0.0008", "0.0004", "1", "64", "3")
    # lr_d: the recipes differ (2e-4 vs 4e-4), so it moved back; epochs: no recipe sets it, the user's stays
    choose(page, "cfg_model", "GAN (fully connected)")
    choose(page, "cfg_dataset", "toy-ring")
    page.get_by_text("the fully connected GAN on 2-D points").wait_for()
    assert (shown("lr_d"), shown("batch_size"), shown("r1_gamma"), shown("ema_decay")) == ("0.002", "128", "0", "0")
    assert page.locator(".stException").count() == 0


D_POINTS = CHART_POINTS.replace("loss_chart", "d_chart")
GRAD_POINTS = CHART_POINTS.replace("loss_chart", "grad_chart")
NAV_RECORDER = """(() => {
  window.__nav = [];
  new MutationObserver(() => {
    const names = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')].map(a => a.innerText.trim().split('\\n').pop());
    if (names.length && JSON.stringify(names) !== JSON.stringify(window.__nav[window.__nav.length - 1]))
      window.__nav.push(names);
  }).observe(document, {subtree: true, childList: true, characterData: true});
})()"""


def app_pages() -> list[tuple]:
    """studio/main.py's PAGES list (paths relative to studio/), read without running the app."""
    tree = ast.parse((harness.REPO / "studio" / "main.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")
    return ast.literal_eval(node.value)


def test_first_paint_toolbar_offline_and_live_charts(page, server, runs_root):
    """Right page titles from the first paint of a fresh server, no Deploy, nothing fetched from
    elsewhere, metric values shown whole, and live charts that catch up after a tab switch or a scroll."""
    fake = str(Path(__file__).resolve().parents[1] / "fake_train.py")
    config = TrainConfig(dataset="typeset", subset=64, batch_size=16, max_steps=100000)
    run = jobs.start(config, "watched", root=runs_root,
                     argv=[sys.executable, fake, "--out", "{run_dir}", "--config", config.to_json(),
                           "--max-steps", "100000", "--step-time", "0.05", "--log-every", "2"])
    elsewhere = []
    page.on("request", lambda r: r.url.startswith(("http", "ws")) and not r.url.startswith(
        (server, server.replace("http", "ws"))) and elsewhere.append(r.url))
    page.add_init_script(NAV_RECORDER)
    page.goto(server + "/")  # the first page load since the server started
    page.get_by_role("link", name="Train & monitor").first.wait_for()
    seen = page.evaluate("window.__nav")
    titles = ["Home"] + [title for path, title, *_ in app_pages() if (harness.REPO / "studio" / path).exists()]
    assert seen and all(names == titles for names in seen), seen  # never file names such as "app", "Train"
    assert page.get_by_text("Deploy", exact=True).count() == 0  # client.toolbarMode = viewer

    page.get_by_role("link", name="Train & monitor").first.click()
    wait_state(page, "running", 90)  # the first visit of a cold server imports torch
    look_at(page, "loss_chart")
    poll(page, CHART_POINTS, lambda n: n >= 5, 30, "the loss chart")
    # the browser smooths the raw values it holds exactly as the report does (studio.figures.smooth)
    drawn = page.evaluate("() => { const d = document.querySelector('.st-key-loss_chart .js-plotly-plot').data;"
                          " return [d[0].y, d[1].y]; }")
    raw = [r["d_loss"] for r in rundir.read_metrics(run, "train")][: len(drawn[0])]
    assert drawn[0] == pytest.approx(raw, rel=1e-5)
    assert drawn[1] == pytest.approx(figures.smooth(raw, 0.6), rel=1e-4)
    values = page.locator(".st-key-run_figures .gs-fig-value")
    values.first.wait_for()
    cut = page.evaluate("""() => [...document.querySelectorAll('.st-key-run_figures .gs-fig-value')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.innerText)""")
    assert values.count() == 6 and cut == [], f"metric values cut off: {cut}"
    # the status strip follows the run by itself (the live API), between the page's slow reruns
    step_js = "() => document.querySelector('.st-key-run_figures .gs-fig-value').innerText"
    first_step = int(page.evaluate(step_js))
    poll(page, step_js, lambda v: int(v) > first_step, 30, "the step figure to advance")

    # another tab and back: the gradient chart is mounted afresh and gets every row again
    page.get_by_role("tab", name="Speed").click()
    page.locator(".st-key-speed_chart .js-plotly-plot").wait_for()
    page.get_by_role("tab", name="Gradient norms").click()
    look_at(page, "grad_chart")
    rows = lambda: len(rundir.read_metrics(run, "train"))  # noqa: E731
    poll(page, GRAD_POINTS, lambda n: n >= rows() - 4, 30, "every row on the gradient chart after the tab switch")
    look_at(page, "d_chart")  # D's chart was out of view: it catches up when it shows
    poll(page, D_POINTS, lambda n: n >= rows() - 4, 30, "every row on the D(x) chart")
    assert elsewhere == [], f"requests left the machine: {elsewhere[:3]}"
    jobs.stop(run, timeout=10)
