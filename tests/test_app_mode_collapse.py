"""AppTest: the Mode-collapse lab page in each state: arena panels (step in halves, play, pause,
reset, settings, save as a run, 2-4 panels, presets from the URL) and the image diversity grids."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ganlib.arena import PRESETS
from ganlib.fieldhelp import FIELD_HELP
from ganlib.train import jobs, rundir

APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "5_Mode_collapse.py")


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def lab(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def values(at, label: str) -> list:
    """The value of the Settings field `label` in each panel, in panel order."""
    return [n.value for n in at.number_input if n.label == label]


def apply_setting(at, i: int, label: str, value) -> None:
    """Set panel i's Settings field `label` and press its Apply button."""
    [n for n in at.number_input if n.label == label][i].set_value(value)
    at.button(key=f"FormSubmitter:settings_{i}-Apply (restarts the panel)").click().run()


def step_line(at, i: int) -> str:
    return [m.value for m in at.markdown if m.value.startswith("Step **")][i]


def test_two_panels_with_presets_and_their_commands(root):
    at = lab()
    assert [s.value for s in at.selectbox if s.key and s.key.startswith("arena_preset_")] == ["vanilla-ring",
                                                                                              "pacgan-ring"]
    plots = [c for c in at.get("plotly_chart") if c.key and c.key.startswith("arena_plot_")]
    assert len(plots) == 2
    code = texts(at.code)
    assert "python -m ganlib train --model gan --dataset toy-ring" in code and "--pack 2" in code
    assert step_line(at, 0).startswith("Step **0** · modes **")
    assert at.query_params["panel"] == ["vanilla-ring", "pacgan-ring"]


def test_step_shows_d_then_g_update(root):
    at = lab()
    at.button(key="step_0").click().run()
    assert not at.exception
    assert step_line(at, 0).startswith("Step **1**") and step_line(at, 1).startswith("Step **0**")
    assert "D has updated" in texts(at.caption)
    assert at.button(key="step_0").label == "G update"
    at.button(key="step_0").click().run()
    assert step_line(at, 0).startswith("Step **1**") and "D has updated" not in texts(at.caption)
    assert at.button(key="step_0").label == "D update"


def test_play_trains_each_frame_then_pause_stops(root):
    at = lab()
    at.select_slider(key="arena_speed").set_value(10).run()
    at.button(key="play_1").click().run()
    assert at.button(key="play_1").label == "Pause" and at.button(key="step_1").disabled
    at.run()  # a frame: the playing panel steps, the other one does not
    assert int(step_line(at, 1).split("**")[1].replace(",", "")) >= 10
    assert step_line(at, 0).startswith("Step **0**")
    at.button(key="play_1").click().run()
    assert at.button(key="play_1").label == "Play"
    before = step_line(at, 1)
    at.run()
    assert step_line(at, 1) == before


def test_reset_takes_a_new_seed_and_settings_are_checked(root):
    at = lab()
    at.button(key="step_0").click().run()
    at.button(key="reset_0").click().run()
    assert step_line(at, 0).startswith("Step **0**")
    assert "--seed 1" in texts(at.code)
    apply_setting(at, 0, "PacGAN pack", 3)
    assert "must be a multiple of the packing (3)" in texts(at.error)


def test_the_cure_preset_and_its_settings(root):
    at = lab({"panel": ["vanilla-grid", "r1-decay-grid"]})
    code = at.code[1].value
    # the commands name what differs from the toy recipe (families.TOY_RECIPE), the lab's base: R1 off there
    assert "--dataset toy-grid" in code and "--lr-decay 0.5" in code and "--r1-gamma 1.0" in code
    assert "--r1-gamma" not in at.code[0].value and "--lr-d" not in at.code[0].value
    assert values(at, "R1 weight") == [0.0, 1.0] and values(at, "Learning-rate decay") == [0.0, 0.5]
    apply_setting(at, 1, "Learning-rate decay", 0.25)
    assert not at.exception and "--lr-decay 0.25" in at.code[1].value
    apply_setting(at, 0, "Learning-rate decay", 2.0)
    assert "learning-rate decay must be a fraction" in texts(at.error)


def _trains_a_step(at) -> None:
    at.button(key="step_0").click().run()                               # it trains, and draws its step
    assert step_line(at, 0).startswith("Step **1**")


def _needs_a_decay(at) -> None:
    apply_setting(at, 1, "Learning-rate decay", 0.0)            # no decay: a late factor would be ignored
    assert "set a learning-rate decay" in texts(at.error)


@pytest.mark.parametrize("panels,flag,label,preset_values,new,then", [
    # DeLiGAN's latent mixture: the edited panel still trains
    (["vanilla-grid", "deligan-grid"], "--latent-mixture", "Latent mixture", [0, 50], 20, _trains_a_step),
    # the grid's winner drops R1 in its second half, the ring's keeps it; the field is checked like any other
    (["deligan-ring", "deligan-grid"], "--r1-late", "R1 late factor", [1.0, 0.0], 0.5, _needs_a_decay),
])
def test_a_preset_setting_is_in_its_command_and_settings_and_applies(root, panels, flag, label, preset_values,
                                                                    new, then):
    at = lab({"panel": panels})
    assert f"{flag} {preset_values[1]}" in at.code[1].value and flag not in at.code[0].value
    assert values(at, label) == preset_values
    assert {w.help for w in at.number_input if w.label == label} == {FIELD_HELP[flag[2:].replace("-", "_")]}
    apply_setting(at, 0, label, new)
    assert not at.exception and f"{flag} {new}" in at.code[0].value
    then(at)


def test_save_panel_as_a_run(root):
    at = lab()
    at.button(key="step_0").click().run()
    at.button(key="save_0").click().run()
    assert not at.exception
    [run] = jobs.run_dirs(root)
    assert run.name.startswith("arena-vanilla-ring-seed0-step1")
    assert rundir.read_status(run)["state"] == "finished"
    assert f"Saved as `{run}`" in texts(at.success)


def test_more_panels_and_presets_from_the_url(root):
    at = lab({"panel": ["unrolled-ring", "wgan-gp-ring", "mbd-ring"]})
    assert [s.value for s in at.selectbox if s.key and s.key.startswith("arena_preset_")] == [
        "unrolled-ring", "wgan-gp-ring", "mbd-ring"]
    at.segmented_control(key="arena_n").set_value(4).run()
    assert not at.exception
    assert len([c for c in at.get("plotly_chart") if c.key and c.key.startswith("arena_plot_")]) == 4
    at.selectbox(key="arena_preset_3").set_value("clip-sn-ring").run()
    assert "--spectral-norm" in texts(at.code) and set(at.query_params["panel"]) <= set(PRESETS)


def test_gradient_arrows(root):
    at = lab()
    at.pills(key="arena_show").set_value(["D's surface", "G's gradient"]).run()
    assert not at.exception


def test_image_diversity_of_shipped_models(root):
    at = lab()
    metrics = {m.label: m.value for m in at.metric}
    assert "Digits covered" in metrics and metrics["Digits covered"].endswith("/10")
    assert len([i for i in at.image]) >= 2
    pairs = [c.value for c in at.caption if c.value.startswith("Most similar pairs")]
    assert len(pairs) == 2
    at.number_input(key="diversity_a_seed").set_value(5).run()
    assert not at.exception
    rerolled = [c.value for c in at.caption if c.value.startswith("Most similar pairs")]
    assert rerolled[0] != pairs[0] and rerolled[1] == pairs[1]  # only the left column re-rolled


def test_image_diversity_refuses_a_toy_run(root):
    at = lab()
    at.button(key="step_0").click().run()
    at.button(key="save_0").click().run()
    [run] = jobs.run_dirs(root)
    at = lab()
    at.selectbox(key="diversity_a").set_value(str(run / "checkpoint.pt")).run()
    assert not at.exception
    assert "The diversity test reads digits" in texts(at.warning)


@pytest.fixture
def recorded_pair(tmp_path, monkeypatch):
    """The shipped manifest with a training history recorded for the collapse pair (made by
    ganlib.pretrained.record_history from a small run directory: 4 steps, the top-3 share rising)."""
    import torch

    from ganlib import pretrained
    from ganlib.images import save_samples

    run = tmp_path / "run"
    for i, step in enumerate((100, 200, 300, 400)):
        save_samples(torch.rand(16, 1, 28, 28) * 2 - 1, rundir.sample_path(run, step))
        hist = [100 - 30 * i] * 3 + [0] * 7 if i < 3 else [1000] + [0] * 9
        rundir.append_metrics(run, {"kind": "eval", "step": step, "class_histogram": hist, "coverage_100": 10 - 3 * i,
                                    "mean_confidence": 0.5 + 0.1 * i, "top3_share": 0.3 + 0.2 * i, "fid": 50.0 - i})
    models = pretrained.manifest()
    for name in ("dcgan_mnist_collapsed", "dcgan_mnist_cured"):  # an absolute history_file: the PNG stays in tmp
        models[name]["history_file"] = str(tmp_path / f"{name}_history.png")
        models[name]["history"] = pretrained.record_history(run, tmp_path / f"{name}_history.png")
    monkeypatch.setattr(pretrained, "manifest", lambda: models)
    return models


def test_the_pair_collapses_step_by_step(root, recorded_pair):
    """Recorded training histories: a step slider moves both runs' grids and figures together."""
    from ganlib import pretrained

    frames = pretrained.history("dcgan_mnist_collapsed")
    assert [row["step"] for row, frame in frames] == [100, 200, 300, 400]
    assert len({frame.size for row, frame in frames}) == 1 and frames[0][1].size == (122, 122)  # 4x4 grids of 28 px
    at = lab()
    assert "The collapse, step by step" in texts(at.subheader)
    slider = at.select_slider(key="history_step")
    assert list(slider.options) == ["100", "200", "300", "400"] and slider.value == 400

    def shares() -> list[str]:
        return [m.value for m in at.metric if m.label == "Top-3 share"]

    assert shares() == ["90%", "90%"]
    slider.set_value(100).run()
    assert not at.exception
    assert at.select_slider(key="history_step").value == 100 and shares() == ["30%", "30%"]


def test_runs_recorded_at_different_steps_share_one_slider(root, recorded_pair, tmp_path):
    """A collapsed run stopped early and a cured run recorded at other steps: the slider offers every step, and
    a run with no frame at the chosen step shows its latest before it (or its first), saying which."""
    import torch

    from ganlib import pretrained
    from ganlib.images import save_samples

    run = tmp_path / "cured_run"
    for step in (200, 600):
        save_samples(torch.rand(16, 1, 28, 28) * 2 - 1, rundir.sample_path(run, step))
        rundir.append_metrics(run, {"kind": "eval", "step": step, "class_histogram": [10] * 10, "coverage_100": 10,
                                    "mean_confidence": 0.8, "top3_share": 0.3, "fid": 2.0})
    cured = recorded_pair["dcgan_mnist_cured"]
    cured["history"] = pretrained.record_history(run, cured["history_file"])
    at = lab()
    slider = at.select_slider(key="history_step")
    assert list(slider.options) == ["100", "200", "300", "400", "600"] and slider.value == 600
    heads = [m.value for m in at.markdown if m.value.startswith("**DCGAN")]
    assert heads == ["**DCGAN · collapsed** at step 400", "**DCGAN · cured**"]
    slider.set_value(100).run()
    assert not at.exception
    heads = [m.value for m in at.markdown if m.value.startswith("**DCGAN")]
    assert heads == ["**DCGAN · collapsed**", "**DCGAN · cured** at step 200"]


def test_no_history_no_step_section(root, monkeypatch):
    """A pair without a recorded history (a user's own manifest, or one made before histories) shows no
    step section and no error."""
    from ganlib import pretrained

    models = {name: {k: v for k, v in entry.items() if k not in ("history", "history_file")}
              for name, entry in pretrained.manifest().items()}
    monkeypatch.setattr(pretrained, "manifest", lambda: models)
    at = lab()
    assert not at.exception and "The collapse, step by step" not in texts(at.subheader)


def test_the_shipped_pair_shows_its_recorded_history(root):
    """The shipped pair's histories: the collapsed run's top-3 share is 100% at its last step and the
    cured run's near 30%, and the slider starts at the cured run's last step."""
    from ganlib import pretrained

    at = lab()
    assert "The collapse, step by step" in texts(at.subheader)
    slider = at.select_slider(key="history_step")
    # the collapsed run stops early (its last frame stays up), the cured one trains on
    steps = {name: pretrained.manifest()[name]["step"] for name in ("dcgan_mnist_collapsed", "dcgan_mnist_cured")}
    assert steps["dcgan_mnist_collapsed"] < steps["dcgan_mnist_cured"]
    assert slider.value == steps["dcgan_mnist_cured"] and slider.options[0] == "20"
    shares = [m.value for m in at.metric if m.label == "Top-3 share"]
    assert shares[0] == "100%" and int(shares[1].rstrip("%")) < 45
