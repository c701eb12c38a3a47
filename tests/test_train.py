import json
import math
from pathlib import Path

import pytest
import torch

from ganlib.checkpoints import load_checkpoint
from ganlib.config import TrainConfig
from ganlib.train import rundir
from ganlib.train.loop import train
from ganlib.train.preflight import TrainingError, preflight
from ganlib.data import load_dataset

TINY = dict(subset=128, batch_size=16, width=8, latent_dim=16, log_every=2, sample_every=4,
            checkpoint_every=4, max_steps=6, ema_decay=0.9, eval_every=0)


def tiny(**kw) -> TrainConfig:
    return TrainConfig(**{**TINY, **kw})


@pytest.mark.parametrize("model,dataset", [("gan", "toy-ring"), ("gan", "mnist"), ("dcgan", "mnist"),
                                           ("cgan", "typeset"), ("dcgan", "typeset")])
def test_each_model_trains_and_writes_a_run_dir(tmp_path, model, dataset):
    out = tmp_path / "run"
    summary = train(tiny(model=model, dataset=dataset), out)
    assert summary["state"] == "finished" and summary["step"] == 6
    rows = rundir.read_metrics(out)
    assert [r["step"] for r in rows] == [2, 4, 6]
    keys = {"step", "epoch", "time", "d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g",
            "images_per_s"}
    assert keys <= set(rows[-1]) and all(math.isfinite(rows[-1][k]) for k in keys)
    assert [s for s, _ in rundir.list_samples(out)] == [0, 4, 6]
    st = rundir.read_status(out)
    assert st["state"] == "finished" and st["step"] == 6 and st["total_steps"] == 6
    assert json.loads((out / "config.json").read_text())["model"] == model
    ckpt = load_checkpoint(out / "checkpoint.pt", family=model)
    assert ckpt["step"] == 6 and ckpt["G_ema"]


@pytest.mark.parametrize("loss", ["ns", "bce", "lsgan", "wgan-gp", "hinge"])
def test_each_loss_trains(tmp_path, loss):
    extra = {"n_critic": 2} if loss == "wgan-gp" else {}
    summary = train(tiny(loss=loss, max_steps=4, **extra), tmp_path / "r")
    assert summary["state"] == "finished"
    assert math.isfinite(summary["metrics"]["d_loss"])


def test_tricks_train(tmp_path):
    cfg = tiny(label_smoothing=0.1, two_sided_smoothing=True, grad_clip=1.0, minibatch_discrimination=True,
               minibatch_std=True, spectral_norm=True, augment="translation,cutout,color", max_steps=4)
    summary = train(cfg, tmp_path / "r")
    assert summary["metrics"]["grad_norm_d"] > 0


@pytest.mark.parametrize("n_critic,g_steps", [(1, 3), (2, 1)])
def test_g_steps_and_n_critic_count_the_updates_of_each_net(tmp_path, n_critic, g_steps):
    # g_steps = k: G takes k Adam steps per D step (the collapsed DCGAN's cause); n_critic the other way round
    train(tiny(n_critic=n_critic, g_steps=g_steps, max_steps=4), tmp_path / "r")
    ckpt = load_checkpoint(tmp_path / "r" / "checkpoint.pt", family="dcgan")
    adam_steps = {name: {float(s["step"]) for s in ckpt[name]["state"].values()} for name in ("opt_g", "opt_d")}
    assert adam_steps == {"opt_g": {4.0 * g_steps}, "opt_d": {4.0 * n_critic}}


def test_g_steps_is_validated_and_refused_where_a_family_updates_once():
    assert any("G steps per D step" in p for p in TrainConfig(g_steps=0).validate())
    assert any("g_steps" in p for p in TrainConfig(model="stylegan", g_steps=2).validate())
    assert any("g_steps" in p for p in TrainConfig(model="cyclegan", dataset="typeset", g_steps=2).validate())


def test_resume_equals_uninterrupted(tmp_path):
    full = train(tiny(max_steps=8), tmp_path / "full")
    half = train(tiny(max_steps=4), tmp_path / "half")
    assert half["step"] == 4
    resumed = train(None, tmp_path / "half", resume=True, overrides={"max_steps": 8})
    assert resumed["step"] == full["step"] == 8
    a = load_checkpoint(tmp_path / "full")
    b = load_checkpoint(tmp_path / "half")
    for k in a["G"]:
        assert torch.equal(a["G"][k], b["G"][k]), k
    for k in a["G_ema"]:
        assert torch.equal(a["G_ema"][k], b["G_ema"][k]), k
    assert a["opt_d"]["state"][0]["step"] == b["opt_d"]["state"][0]["step"]
    steps = [r["step"] for r in rundir.read_metrics(tmp_path / "half")]
    assert steps == [2, 4, 6, 8]  # no step logged twice


def test_resume_after_a_crash_drops_lines_logged_after_the_checkpoint(tmp_path):
    out = tmp_path / "r"
    train(tiny(max_steps=4), out)
    rundir.append_metrics(out, {"kind": "train", "step": 5, "d_loss": 1.0})  # written, then the process died
    train(None, out, resume=True, overrides={"max_steps": 6})
    assert [r["step"] for r in rundir.read_metrics(out)] == [2, 4, 6]


def test_new_run_never_clobbers_an_existing_one(tmp_path):
    train(tiny(max_steps=2), tmp_path / "r")
    with pytest.raises(TrainingError, match="already holds a run"):
        train(tiny(max_steps=2), tmp_path / "r")


@pytest.mark.parametrize("sync_every_step", [True, False], ids=["cpu-checks-each-step", "gpu-checks-at-log-steps"])
def test_nan_stops_with_failed_status_and_keeps_last_checkpoint(tmp_path, monkeypatch, sync_every_step):
    # on a GPU the loop reads the losses only at logging/sample/checkpoint steps (no host sync per step);
    # the first bad step is still the one reported, and nothing after it is saved
    from ganlib.train import loop as loop_mod
    monkeypatch.setattr(loop_mod, "sync_every_step", lambda device: sync_every_step)
    out = tmp_path / "r"
    train(tiny(max_steps=4), out)
    good = load_checkpoint(out)["G"]
    # a learning rate far past divergence, on resume: the loss becomes inf/nan within a few steps
    cfg = json.loads((out / "config.json").read_text())
    cfg.update(lr_g=0.1, lr_d=0.1, loss="lsgan", checkpoint_every=1000, max_steps=400, beta1=0.0)
    (out / "config.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    from ganlib.train import steps as loop  # the step class the loop builds

    orig = loop.AdversarialStep.__call__

    def poisoned(self, next_batch, step, want):
        stats = orig(self, next_batch, step, want)
        if int(self.opt_g.state_dict()["state"][0]["step"]) >= 7:
            stats["g_loss"] = stats["g_loss"] * float("nan")
        return stats

    loop.AdversarialStep.__call__ = poisoned
    try:
        with pytest.raises(TrainingError, match=r"G loss became nan at step 7"):
            train(None, out, resume=True)
    finally:
        loop.AdversarialStep.__call__ = orig
    st = rundir.read_status(out)
    assert st["state"] == "failed" and "step 7" in st["message"]
    kept = load_checkpoint(out)
    assert kept["step"] == 4 and all(torch.equal(kept["G"][k], good[k]) for k in good)


def test_stop_request_saves_and_marks_stopped(tmp_path):
    out = tmp_path / "r"
    calls = []

    def progress(step, total, row):
        calls.append(step)
        if step == 3:
            rundir.request(out, "stop")

    summary = train(tiny(max_steps=5000), out, progress_fn=progress)
    # the control file is polled every 0.25 s, so a few more steps may run before the stop
    assert summary["state"] == "stopped" and 3 <= summary["step"] < 5000
    assert load_checkpoint(out)["step"] == summary["step"]
    assert rundir.read_status(out)["state"] == "stopped"


def test_a_held_sigterm_waits_for_the_block_then_ends_the_process(tmp_path):
    """control.hold_sigterm, as a failing run's last words use it: the block finishes its write, then the
    SIGTERM acts as it would have (the process ends by it)."""
    import signal
    import subprocess
    import sys

    script = ("import os, signal, time, pathlib\n"
              "from ganlib.train.control import hold_sigterm\n"
              "with hold_sigterm():\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    time.sleep(0.3)\n"
              f"    pathlib.Path({str(tmp_path / 'written')!r}).write_text('yes')\n"
              f"pathlib.Path({str(tmp_path / 'after')!r}).write_text('no')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert (tmp_path / "written").read_text() == "yes" and not (tmp_path / "after").exists()


def test_pause_holds_the_step_and_leaves_the_pause_out_of_the_training_time(tmp_path):
    # one process takes the Controller's pause path too (a world of one): status 'paused', no steps, then on
    import threading
    import time

    out, summary = tmp_path / "r", {}
    config = TrainConfig(model="gan", dataset="toy-ring", width=8, batch_size=16, max_steps=100_000, log_every=5,
                         sample_every=100_000, checkpoint_every=100_000, eval_every=0, device="cpu")
    worker = threading.Thread(target=lambda: summary.update(train(config, out)))
    started = time.monotonic()
    worker.start()

    def wait_for(pred):
        deadline = time.time() + 60
        while not pred():
            assert time.time() < deadline, rundir.read_status(out)
            time.sleep(0.05)

    wait_for(lambda: rundir.read_status(out).get("step", 0) >= 10)
    rundir.request(out, "pause")
    wait_for(lambda: rundir.read_status(out).get("state") == "paused")
    paused_at = rundir.read_status(out)["step"]
    time.sleep(1.5)
    st = rundir.read_status(out)
    assert st["step"] == paused_at and st["message"] == f"Paused at step {paused_at}."
    rundir.request(out, "run")
    wait_for(lambda: rundir.read_status(out).get("step", 0) >= paused_at + 10)
    rundir.request(out, "stop")
    worker.join(60)
    wall = time.monotonic() - started
    assert summary["state"] == "stopped" and summary["step"] > paused_at
    assert rundir.read_status(out)["state"] == "stopped"
    assert summary["time"] <= wall - 1.5  # the 1.5 s paused are not training time


def test_abort_fn_stops_at_once(tmp_path):
    summary = train(tiny(max_steps=50), tmp_path / "r", abort_fn=lambda: len(rundir.read_metrics(tmp_path / "r")) >= 2)
    assert summary["state"] == "stopped" and summary["step"] == 4


def test_preflight_explains_problems():
    mnist = load_dataset("mnist", subset=40)
    probs = preflight(TrainConfig(model="cgan", dataset="toy-ring"))
    assert any("labelled" in p for p in probs)
    probs = preflight(TrainConfig(batch_size=64), mnist)
    assert any("larger than the data set (40" in p for p in probs)
    probs = preflight(TrainConfig(image_size=48, lr_g=5.0))
    assert any("Image size must be 28, 32, 64 or 128" in p for p in probs) and any("lr_g" in p for p in probs)


def test_cgan_on_unlabelled_folder_is_refused(tmp_path):
    from PIL import Image
    for i in range(4):
        Image.new("RGB", (28, 28)).save(tmp_path / f"{i}.png")
    with pytest.raises(TrainingError, match="CGAN needs a labelled data set"):
        train(tiny(model="cgan", dataset="folder", data_dir=str(tmp_path), batch_size=2), tmp_path / "r")


def test_periodic_evaluation_logs_eval_rows_and_keeps_best(tmp_path):
    out = tmp_path / "ring"
    train(tiny(model="gan", dataset="toy-ring", max_steps=6, eval_every=3, eval_samples=500), out)
    evals = rundir.read_metrics(out, kind="eval")
    assert [r["step"] for r in evals] == [3, 6]
    assert {"modes_covered", "high_quality_frac", "reverse_kl", "eval_seconds"} <= set(evals[0])
    assert [r["kind"] for r in rundir.read_metrics(out, kind="train")] == ["train"] * 3
    best = load_checkpoint(out / "best.pt")
    assert best["step"] in (3, 6) and best["eval"]["num_modes"] == 8
    assert load_checkpoint(out)["best_eval"]


def test_how_often_a_run_is_evaluated_does_not_change_what_it_learns(tmp_path):
    """Evaluation draws its samples on a fork of the RNG: eval_every is bookkeeping, so a recorded command
    reproduces its model with any evaluation settings."""
    weights = []
    for every in (0, 2):
        out = tmp_path / f"every{every}"
        train(tiny(dataset="mnist", max_steps=4, eval_every=every, eval_samples=100, device="cpu"), out)
        weights.append(load_checkpoint(out)["G"])
    assert rundir.read_metrics(tmp_path / "every2", kind="eval")
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_no_evaluation_where_metrics_do_not_apply(tmp_path):
    from PIL import Image
    for i in range(8):
        Image.new("RGB", (32, 32), (i * 30, 0, 0)).save(tmp_path / f"{i}.png")
    out = tmp_path / "r"
    train(tiny(dataset="folder", data_dir=str(tmp_path), image_size=32, batch_size=4, max_steps=2,
               eval_every=1), out)
    assert rundir.read_metrics(out, kind="eval") == [] and not (out / "best.pt").exists()


def test_full_disk_fails_clearly_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "r"
    train(tiny(max_steps=4), out)
    from ganlib.train import loop

    def full(path, payload):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(loop, "save_checkpoint", full)
    with pytest.raises(TrainingError, match="The disk is full"):
        train(None, out, resume=True, overrides={"max_steps": 8})
    st = rundir.read_status(out)
    assert st["state"] == "failed" and "disk is full" in st["message"]
    assert load_checkpoint(out)["step"] == 4


def test_bf16_autocast_only_where_the_cpu_has_native_bf16():
    import torch

    from ganlib.train.batches import autocast_dtype, cpu_supports_bf16

    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    older = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
    if torch.backends.mkldnn.is_available():
        assert cpu_supports_bf16(zen4) is True
    assert cpu_supports_bf16(older) is False
    assert cpu_supports_bf16("garbage") is False
    assert autocast_dtype(TrainConfig(amp=False), torch.device("cpu")) is None
    expected = torch.bfloat16 if cpu_supports_bf16() else None
    assert autocast_dtype(TrainConfig(amp=True), torch.device("cpu")) is expected


def test_d_is_frozen_in_g_step_same_g_gradients_and_no_d_weight_gradients():
    """discarded_grads(D), one process: G's gradient through D is the same bit for bit; D's weight gradients are never made, and
    D's parameters require gradients again afterwards, also after an error."""
    from ganlib.models.mlp import MLPDiscriminator, MLPGenerator
    from ganlib.train.distributed import discarded_grads

    torch.manual_seed(0)
    G, D = MLPGenerator(8, hidden=32, tanh=False, batch_norm=False), MLPDiscriminator(hidden=32)
    z = torch.randn(64, 8)
    grads = []
    for freeze in (False, True):
        G.zero_grad(set_to_none=True), D.zero_grad(set_to_none=True)
        with discarded_grads(D) if freeze else torch.enable_grad():
            loss = D(G(z)).mean()
        loss.backward()
        grads.append([p.grad.clone() for p in G.parameters()])
        assert all((p.grad is None) == freeze for p in D.parameters())
    assert all(torch.equal(a, b) for a, b in zip(*grads))
    assert all(p.requires_grad for p in D.parameters())
    with pytest.raises(RuntimeError):
        with discarded_grads(D):
            raise RuntimeError("boom")
    assert all(p.requires_grad for p in D.parameters())


def test_an_apple_gpu_run_forks_and_keeps_its_own_rng(monkeypatch):
    """On MPS (not on this machine: its RNG calls are stood in for) the evaluation's fork restores the Apple
    GPU's RNG as well as the CPU's, and a checkpoint's RNG state carries it for an exact resume."""
    from ganlib.train.batches import forked_rng, rng_state, set_rng_state

    mps = {"state": torch.tensor([1, 2, 3], dtype=torch.uint8), "set": []}
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda device="mps": mps["state"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, device="mps": mps["set"].append(state.clone()))
    device = torch.device("mps")
    cpu_before = torch.get_rng_state()
    with forked_rng(device):
        torch.rand(3)
        mps["state"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # drawn from inside
    assert torch.equal(torch.get_rng_state(), cpu_before)
    assert [s.tolist() for s in mps["set"]] == [[1, 2, 3]]
    state = rng_state(device)
    assert state["mps"].tolist() == [9, 9, 9]
    set_rng_state(state, device)
    assert mps["set"][-1].tolist() == [9, 9, 9]
