"""A stand-in for `python -m ganlib train` that keeps the run-directory contract without torch.

It starts in milliseconds, so job-runner and page tests can run real processes quickly:
    python tests/fake_train.py --out RUN_DIR [--max-steps 50] [--step-time 0.02] [--crash-at N] [--nan-at N]
    python tests/fake_train.py --resume RUN_DIR
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ganlib.train import rundir  # noqa: E402  (light: no torch)


def write_grid(run_dir: Path, step: int) -> None:
    from PIL import Image

    shade = (step * 37) % 256
    img = Image.new("L", (62, 62), shade)
    for i in range(0, 62, 31):
        img.paste(255 - shade, (i, i, i + 30, i + 30))
    path = rundir.sample_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    img.save(tmp)
    os.replace(tmp, path)


def eval_row(step: int, train_time: float) -> dict:
    """An evaluation row with every key ganlib.metrics.evaluate_images writes (values made up)."""
    fid = 50.0 / (1 + step / 10)
    return {"kind": "eval", "step": step, "time": train_time, "eval_seconds": 0.01, "num_samples": 2000,
            "num_real": 5000, "fid": fid, "kid": fid / 100, "kid_std": 0.001, "precision": 0.5, "recall": 0.6,
            "feature_diversity": 7.0, "real_feature_diversity": 7.7, "near_duplicate_frac": 0.002,
            "near_duplicate_threshold": 1.1, "class_histogram": [200] * 10, "class_coverage": 10,
            "coverage_100": 10, "class_kl_uniform": 0.01, "mnist_score": 5.0, "mean_confidence": 0.8,
            "real_mnist_score": 6.3}


def _defaults() -> dict:
    from dataclasses import asdict

    from ganlib.config import TrainConfig  # light: dataclasses and json only
    return asdict(TrainConfig())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--resume")
    p.add_argument("--max-steps", type=int, default=50)
    p.add_argument("--step-time", type=float, default=0.02)
    p.add_argument("--log-every", type=int, default=2)
    p.add_argument("--sample-every", type=int, default=5)
    p.add_argument("--crash-at", type=int, default=0)
    p.add_argument("--nan-at", type=int, default=0)
    p.add_argument("--config", default="{}", help="TrainConfig fields as JSON, written to config.json")
    p.add_argument("--ignore-stop", action="store_true", help="behave like a hung process")
    a = p.parse_args()
    run_dir = Path(a.resume or a.out)
    if a.out:
        if (run_dir / "config.json").exists():
            print(f"error: {run_dir} already holds a run", file=sys.stderr)
            return 2
        cfg = {**_defaults(), **json.loads(a.config)}
        rundir.atomic_write_json(run_dir / "config.json", cfg)
    step, train_time = 0, 0.0
    ckpt = run_dir / "checkpoint.pt"
    if a.resume and ckpt.exists():
        saved = json.loads(ckpt.read_text())
        step, train_time = saved["step"], saved["time"]
        a.max_steps = saved["max_steps"]
        rundir.truncate_metrics(run_dir, step)

    def save() -> None:
        rundir.atomic_write_json(ckpt, {"step": step, "time": train_time, "max_steps": a.max_steps})

    rundir.write_status(run_dir, "running", "Training.", step=step, epoch=0, total_steps=a.max_steps,
                        pid=os.getpid(), device="cpu", started=time.time())
    print(f"fake training from step {step}", flush=True)
    while step < a.max_steps:
        command = rundir.requested(run_dir)
        if command == "stop" and not a.ignore_stop:
            save()
            rundir.write_status(run_dir, "stopped", f"Stopped at step {step}.", step=step)
            return 0
        if command == "pause" and not a.ignore_stop:
            if rundir.read_status(run_dir).get("state") != "paused":
                rundir.write_status(run_dir, "paused", f"Paused at step {step}.", step=step)
            time.sleep(0.02)
            continue
        t0 = time.time()
        time.sleep(a.step_time)
        step += 1
        train_time += time.time() - t0
        if a.crash_at and step == a.crash_at:
            print("Traceback (most recent call last):\nRuntimeError: simulated crash", flush=True)
            os._exit(3)
        loss = float("nan") if a.nan_at and step >= a.nan_at else 0.7 + 0.3 * math.sin(step / 3)
        if step % a.log_every == 0:
            rundir.append_metrics(run_dir, {
                "kind": "train", "step": step, "epoch": step // 10, "time": train_time, "d_loss": loss,
                "g_loss": 2 - loss, "d_real": 0.6, "d_fake": 0.4, "grad_norm_d": 1.0, "grad_norm_g": 2.0,
                "images_per_s": 32 / a.step_time, "lr_d": 2e-4, "lr_g": 2e-4})
            rundir.write_status(run_dir, "running", "Training.", step=step, epoch=step // 10)
        if loss != loss:
            save()
            rundir.write_status(run_dir, "failed", f"The losses became NaN at step {step}.", step=step)
            return 1
        if step % a.sample_every == 0:
            write_grid(run_dir, step)
            rundir.append_metrics(run_dir, eval_row(step, train_time))
    save()
    rundir.write_status(run_dir, "finished", f"Finished {step} steps.", step=step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
