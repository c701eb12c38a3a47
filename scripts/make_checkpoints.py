"""Make the pretrained models in checkpoints/ and checkpoints/manifest.json, offline, from scratch.

    .venv/bin/python scripts/make_checkpoints.py [--only cgan_mnist] [--skip-training | --evaluate-only] [--test-data-dir DIR]

For each model below it runs the train command (into runs/<name>), the export command, and
`python -m ganlib evaluate --n 10000` on the exported file, each as a subprocess exactly as written,
then records the commands, the training time, the machine and the figures in the manifest (for the
Mode-collapse lab's pair also the run's diversity at each evaluated step and those steps' sample grids). The
real-vs-real floor (two disjoint halves of the bundled MNIST, 2,500 each) goes beside them; with
--test-data-dir (a folder of the official MNIST t10k idx files) the real test digits are scored too, and
the CycleGAN's handwriting -> typeset is judged on those digits, which it never trained on (its recorded
evaluate command says MNIST_TEST_DIR for that folder). --evaluate-only re-evaluates the shipped files as
they are (after a change to `evaluate`) and replaces only their figures in the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = {
    "dcgan_mnist": {
        "title": "DCGAN · MNIST digits",
        "family": "dcgan",
        "dataset": "mnist",
        "train_command": "python -m ganlib train --model dcgan --dataset mnist --epochs 150 --lr-g 4e-4 --lr-d 2e-4 --r1-every 1 --ema-rampup 0 --out runs/dcgan_mnist",
        "sample_command": "python -m ganlib sample --checkpoint checkpoints/dcgan_mnist.pt --n 64 --out digits.png",
    },
    "cgan_mnist": {
        "title": "CGAN · MNIST digits by class",
        "family": "cgan",
        "dataset": "mnist",
        "train_command": "python -m ganlib train --model cgan --dataset mnist --epochs 100 --lr-g 4e-4 --lr-d 2e-4 --r1-every 1 --ema-rampup 0 --out runs/cgan_mnist",
        "sample_command": "python -m ganlib sample --checkpoint checkpoints/cgan_mnist.pt --class 7 --n 64 --out sevens.png",
    },
    # the Mode-collapse lab's pair. Collapsed: D judges each image alone (no BatchNorm) with R1 10, G takes five
    # steps to D's one and has no EMA, so G runs to one image D accepts until D learns to reject it, then hops
    # to another: mostly squiggles, now and then one crisp digit for every z; the run stops at step 180, where
    # it draws one crisp 8 (training does not depend on the evaluation settings, so the command reproduces it).
    # Cured: the same recipe with minibatch std in D (ProGAN's cure), trained longer.
    # Both record their diversity as they train, which the lab shows step by step (the history).
    "dcgan_mnist_collapsed": {
        "title": "DCGAN · collapsed",
        "family": "dcgan",
        "dataset": "mnist",
        "demo": "collapsed",
        "breaks": "D's view of the variety: D judges each image alone and G takes five steps to D's one, so G "
                  "draws one image for every z until D learns to reject it, then hops to another; stopped at a "
                  "step where that image is a crisp 8",
        "train_command": "python -m ganlib train --model dcgan --dataset mnist --d-norm none --g-steps 5 "
                         "--r1-gamma 10 --ema-decay 0 --max-steps 180 --eval-every 20 --eval-samples 500 "
                         "--sample-every 20 --quiet --out runs/dcgan_mnist_collapsed",
        "sample_command": "python -m ganlib diversity --checkpoint checkpoints/dcgan_mnist_collapsed.pt --out collapsed.png",
        "note": "trained with OMP_NUM_THREADS=1; the hopping is chaotic, so another CPU or torch build may stop "
                "on another image (run it with --eval-every 20 and pick the step, see checkpoints/README.md)",
    },
    "dcgan_mnist_cured": {
        "title": "DCGAN · cured",
        "family": "dcgan",
        "dataset": "mnist",
        "demo": "cured",
        "cure_changes": ["minibatch_std"],
        "train_command": "python -m ganlib train --model dcgan --dataset mnist --d-norm none --g-steps 5 "
                         "--r1-gamma 10 --ema-decay 0 --minibatch-std --max-steps 5000 --eval-every 100 "
                         "--eval-samples 1000 --sample-every 100 --quiet --out runs/dcgan_mnist_cured",
        "sample_command": "python -m ganlib diversity --checkpoint checkpoints/dcgan_mnist_cured.pt --out cured.png",
        "note": "trained with OMP_NUM_THREADS=1",
    },
}
# issue 9's StyleGAN: trained with OMP_NUM_THREADS=1 (see checkpoints/README.md); its disentanglement figures
# (`python -m ganlib style-check`) are recorded beside the evaluate figures
MODELS["stylegan_mnist"] = {
    "title": "StyleGAN · MNIST digits",
    "family": "stylegan",
    "dataset": "mnist",
    "train_command": "python -m ganlib train --model stylegan --dataset mnist --style-mode modulate --latent-dim 64 "
                     "--width 16 --batch-size 32 --lr 0.002 --beta1 0 --beta2 0.99 --r1-gamma 1 --r1-every 4 "
                     "--style-mixing-prob 0.9 --max-steps 12000 --log-every 100 --eval-every 1000 --eval-samples 1000 "
                     "--checkpoint-every 1000 --quiet --out runs/stylegan_mnist",
    "sample_command": "python -m ganlib style-mix --checkpoint checkpoints/stylegan_mnist.pt --layers coarse --out mix.png",
    "style_check_command": "python -m ganlib style-check --checkpoint checkpoints/stylegan_mnist.pt --n 1000 --json",
    "note": "trained with OMP_NUM_THREADS=1 (one thread) on the 2-core machine while the other core ran other "
            "single-thread jobs (toy GANs, then a CycleGAN training), so the time is wall-clock under contention",
}
# the CycleGAN: typeset digits (domain A, three fonts held out) <-> the bundled MNIST digits (B), kept by CyCADA's
# semantic loss rather than pinned by the shape loss; the run's checkpoint at step 200 is kept beside the final
# one (the Translate page shows both)
MODELS["cyclegan_typeset_mnist"] = {
    "title": "CycleGAN · typeset digits ↔ handwriting",
    "family": "cyclegan",
    "dataset": "typeset",
    "dataset_b": "mnist",
    "train_command": "python -m ganlib train --model cyclegan --dataset typeset --dataset-b mnist --loss lsgan --lr 2e-4 "
                     "--r1-gamma 0 --batch-size 16 --width 16 --res-blocks 3 --patch 34 --lambda-shape 0 --lambda-cycle 5 "
                     "--lambda-semantic 1 --max-steps 3000 --log-every 50 --sample-every 500 --checkpoint-every 200 --quiet "
                     "--out runs/cyclegan_typeset_mnist",
    "sample_command": "python -m ganlib translate --checkpoint checkpoints/cyclegan_typeset_mnist.pt --direction a2b "
                      "--input my_digit.png --out handwritten.png",
    "note": "trained with the default two threads on the 2-core machine while light jobs (tests, editing) ran beside "
            "it, so the time is wall-clock under some contention",
    "early_step": 200,
    "evaluate_n": 2000,
}
KEEP = ("num_samples", "fid", "kid", "precision", "recall", "class_coverage", "coverage_100", "class_kl_uniform",
        "mnist_score", "real_mnist_score", "mean_confidence", "top3_share", "label_accuracy", "near_duplicate_frac",
        "feature_diversity", "real_feature_diversity", "grey_share")


def rounded(result: dict, keep: tuple[str, ...] | None) -> dict:
    """evaluate's JSON figures, floats to 4 decimals: the keys in `keep`, or every number when None."""
    keys = keep if keep is not None else [k for k, v in result.items() if isinstance(v, (int, float))]
    return {k: (round(result[k], 4) if isinstance(result[k], float) else result[k]) for k in keys if k in result}


def run_keeping_early(command: str, run_dir: Path, early_step: int, early_copy: Path) -> None:
    """Run a train command and copy its run's checkpoint.pt aside when it holds step `early_step` (the
    early-training model some pages show beside the final one). The command must checkpoint at that step."""
    import shutil
    import time

    from ganlib.checkpoints import load_checkpoint

    words = shlex.split(command)
    print(f"$ {command}  (keeping step {early_step} as {early_copy.name})", flush=True)
    proc = subprocess.Popen([sys.executable, *words[1:]], cwd=ROOT)
    ckpt, kept, seen = run_dir / "checkpoint.pt", False, None
    while proc.poll() is None:
        time.sleep(0.5)
        mtime = ckpt.stat().st_mtime_ns if not kept and ckpt.exists() else seen
        if mtime != seen:   # a new checkpoint: read each one once
            seen = mtime
            tmp = early_copy.with_suffix(".tmp")
            shutil.copyfile(ckpt, tmp)     # a copy first: the trainer replaces checkpoint.pt atomically
            step = load_checkpoint(tmp)["step"]
            if step == early_step:
                tmp.replace(early_copy)
                kept = True
            elif step > early_step:
                proc.kill()
                raise SystemExit(f"missed step {early_step} (the first checkpoint seen was step {step}).")
    if proc.returncode != 0:
        raise SystemExit(f"training failed (exit {proc.returncode}).")
    if not kept:
        raise SystemExit(f"the run never checkpointed step {early_step}.")


TEST_DIR_WORD = "MNIST_TEST_DIR"   # stands for --test-data-dir's folder in a recorded command


def run(command: str, test_data_dir: str = "") -> str:
    """Run a recorded `python -m ganlib ...` command with this interpreter, from the repository root
    (MNIST_TEST_DIR in it replaced by test_data_dir)."""
    words = [test_data_dir if w == TEST_DIR_WORD else w for w in shlex.split(command)]
    print(f"$ {command}", flush=True)
    done = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def machine() -> str:
    import torch

    from ganlib.train.batches import cpu_supports_bf16

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    bf16 = ", bf16 autocast" if cpu_supports_bf16() else ""
    return f"{os.cpu_count()}-core {name} CPU{bf16}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", choices=sorted(MODELS), help="make only this model (repeatable)")
    p.add_argument("--skip-training", action="store_true", help="reuse runs/<name> as it is (export + evaluate)")
    p.add_argument("--evaluate-only", action="store_true", help="re-evaluate the shipped files; replace only "
                   "their figures in the manifest")
    p.add_argument("--test-data-dir", default="", help="folder of MNIST t10k idx files, to score real test digits")
    a = p.parse_args()

    from ganlib.checkpoints import load_checkpoint
    from ganlib.data import load_dataset
    from ganlib.metrics import evaluate_images, real_floor

    path = ROOT / "checkpoints" / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"format": 1, "models": {}}
    floor = {k: round(v, 4) for k, v in real_floor(n=2500).items()}
    if a.test_data_dir:
        test = evaluate_images(load_dataset("mnist", data_dir=a.test_data_dir).x)
        floor["mnist_test_set_fid"] = round(test["fid"], 4)
    for name in a.only or MODELS:
        spec = dict(MODELS[name])
        run_dir = ROOT / "runs" / name
        early = spec.pop("early_step", 0)
        n_eval = spec.pop("evaluate_n", 10000)
        keep = KEEP if spec["family"] != "cyclegan" else None   # a CycleGAN's figures are all kept
        unseen = f" --mnist-test-dir {TEST_DIR_WORD}" if spec["family"] == "cyclegan" and a.test_data_dir else ""

        def evaluate_command(file: str) -> str:
            return f"python -m ganlib evaluate --checkpoint checkpoints/{file} --n {n_eval} --json{unseen}"

        def evaluate(file: str) -> dict:
            return rounded(json.loads(run(evaluate_command(file), a.test_data_dir)), keep)

        if a.evaluate_only:
            entry = manifest["models"][name]
            entry["evaluate_command"] = evaluate_command(entry["file"])
            entry["evaluate"] = evaluate(entry["file"])
            if entry.get("early_file"):
                entry["evaluate_early"] = evaluate(entry["early_file"])
            path.write_text(json.dumps(manifest, indent=2) + "\n")
            print(f"{name}: " + json.dumps(entry["evaluate"]), flush=True)
            continue
        if not a.skip_training:
            if run_dir.exists():
                raise SystemExit(f"{run_dir} exists; remove it or pass --skip-training.")
            if early:
                run_keeping_early(spec["train_command"], run_dir, early, ROOT / "runs" / f"{name}_step{early}.pt")
            else:
                run(spec["train_command"])
        spec.setdefault("export_command", f"python -m ganlib export --checkpoint runs/{name} --out checkpoints/{name}.pt")
        spec["evaluate_command"] = evaluate_command(f"{name}.pt")
        run(spec["export_command"])
        result = evaluate(f"{name}.pt")
        ckpt = load_checkpoint(ROOT / "checkpoints" / f"{name}.pt")
        manifest["models"][name] = {
            "file": f"{name}.pt", **spec, "step": ckpt["step"], "train_seconds": round(float(ckpt["time"]), 1),
            "machine": machine(), "torch": __import__("torch").__version__,
            "evaluate": result,
            "real_floor": floor,
        }
        if early:
            entry = manifest["models"][name]
            entry["early_file"] = f"{name}_step{early}.pt"
            entry["early_export_command"] = (f"python -m ganlib export --checkpoint runs/{name}_step{early}.pt "
                                             f"--out checkpoints/{entry['early_file']} (the run's checkpoint.pt as "
                                             f"written at step {early}, copied aside while it trained)")
            run(f"python -m ganlib export --checkpoint runs/{name}_step{early}.pt --out checkpoints/{entry['early_file']}")
            entry["evaluate_early"] = evaluate(entry["early_file"])
        if spec.get("demo"):   # the Mode-collapse lab shows the pair's diversity step by step
            from ganlib.pretrained import record_history

            entry = manifest["models"][name]
            entry["history_file"] = f"{name}_history.png"
            entry["history"] = record_history(run_dir, ROOT / "checkpoints" / entry["history_file"])
        if spec.get("style_check_command"):
            manifest["models"][name]["style_check"] = json.loads(run(spec["style_check_command"]))
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"{name}: " + json.dumps(manifest["models"][name]["evaluate"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
