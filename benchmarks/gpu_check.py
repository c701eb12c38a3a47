"""GPU check: the default DCGAN recipe trained by the real loop on a CUDA GPU with bf16 autocast.

Prints images/s (bf16 and fp32 on the GPU, and the same recipe on this machine's CPU), the ratio GPU/CPU,
peak GPU memory, and which steps synchronised with the host: the loop should only wait for the GPU at
steps that log, draw a sample grid, evaluate or save (it reads numbers back then), never in between.

    python benchmarks/gpu_check.py [--steps 1000] [--cpu-steps 40] [--json OUT.json]
    python benchmarks/gpu_check.py --toy cuda --json OUT.json    # the Mode-collapse lab's best cure, one device
    python benchmarks/gpu_check.py --toy cpu --json OUT.json     # the same on one CPU thread (run it beside)

The --toy runs train the arena's `deligan-grid` preset (R1, learning-rate decay, DeLiGAN's latent mixture;
the mode_collapse benchmark's winner) by the real loop on one device, and print steps/s with the modes
covered and % high-quality points at the end: the same recipe should land in the same place on a GPU, and
the figures say whether nets this small are worth a GPU at all (the arena steps them on a CPU).

Syncs are found with torch.cuda.set_sync_debug_mode("warn"), which warns on every operation that makes
the host wait for the GPU; each warning is attributed to the training step that was running.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganlib.config import TrainConfig  # noqa: E402
from ganlib.train.batches import autocast_dtype  # noqa: E402
from ganlib.train.loop import train  # noqa: E402

WARMUP = 50  # steps before the clock starts (cuDNN autotuning, allocator growth, first grid)


def timed_run(cfg: TrainConfig, warmup: int) -> dict:
    """Train cfg in a temporary run directory; images/s between step `warmup` and the end."""
    marks: dict[str, float] = {}

    def progress(step, total, row):
        if step == warmup:
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize()
            marks["t0"] = time.perf_counter()
        if step == total:
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize()
            marks["t1"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        summary = train(cfg, Path(tmp) / "run", progress_fn=progress)
    steps = cfg.max_steps - warmup
    return {"images_per_s": steps * cfg.batch_size / (marks["t1"] - marks["t0"]), "device": summary["device"],
            "final_losses": {k: round(summary["metrics"].get(k, float("nan")), 4) for k in ("d_loss", "g_loss")}}


def sync_audit(cfg: TrainConfig) -> dict:
    """Run cfg with the CUDA sync debugger on; sort each sync into 'at a logging/sample/eval/checkpoint step'
    or 'elsewhere' (a stall the loop should not have), with the code line that caused it."""
    current = {"step": 0}
    found: list[dict] = []

    def progress(step, total, row):
        current["step"] = step

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" not in str(message):
            return
        frames = [f for f in traceback.extract_stack()[:-1] if "/ganlib/" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].line}" if frames else filename
        found.append({"step": current["step"] + 1, "where": where})

    def io_step(s: int) -> bool:
        return (s % cfg.log_every == 0 or s % cfg.sample_every == 0 or s % cfg.checkpoint_every == 0
                or (cfg.eval_every > 0 and s % cfg.eval_every == 0) or s >= cfg.max_steps or s <= 1)

    old = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                train(cfg, Path(tmp) / "run", progress_fn=progress)
        finally:
            torch.cuda.set_sync_debug_mode("default")
            warnings.showwarning = old
    elsewhere = [f for f in found if not io_step(f["step"])]
    steps_with_sync = sorted({f["step"] for f in found})
    return {"steps": cfg.max_steps, "syncs": len(found), "steps_with_a_sync": len(steps_with_sync),
            "syncs_outside_io_steps": len(elsewhere),
            "outside_examples": sorted({f["where"] for f in elsewhere})[:10],
            "io_step_sources": sorted({f["where"] for f in found if io_step(f["step"])})[:10]}


def toy_run(device: str, steps: int) -> dict:
    """The arena's deligan-grid preset trained by the loop on `device` (one CPU thread for "cpu"):
    steps/s, and modes covered / % high quality of 2,500 points at the end (the benchmark's protocol)."""
    from ganlib.arena import arena_config
    from ganlib.train import rundir

    if device == "cpu":
        torch.set_num_threads(1)
    cfg = arena_config("deligan-grid", device=device, max_steps=steps, eval_every=steps, eval_samples=2500,
                       sample_every=steps, checkpoint_every=steps, log_every=500)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = train(cfg, Path(tmp) / "run")
        seconds = time.perf_counter() - t0
        last = [r for r in rundir.read_metrics(Path(tmp) / "run") if r["kind"] == "eval"][-1]
    return {"device": summary["device"], "torch": torch.__version__, "preset": "deligan-grid", "steps": steps,
            "steps_per_s": round(steps / seconds, 1), "seconds": round(seconds, 1),
            "modes_covered": last["modes_covered"], "high_quality_frac": round(last["high_quality_frac"], 4)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--fp32-steps", type=int, default=400)
    p.add_argument("--cpu-steps", type=int, default=40)
    p.add_argument("--audit-steps", type=int, default=200)
    p.add_argument("--json", default="")
    p.add_argument("--toy", choices=["cuda", "cpu"], help="only the Mode-collapse lab's deligan-grid recipe, here")
    p.add_argument("--toy-steps", type=int, default=14000)
    a = p.parse_args()
    if a.toy:
        result = toy_run(a.toy, a.toy_steps)
        print(f"deligan-grid by the loop on {result['device']}: {result['steps_per_s']} steps/s "
              f"({result['seconds']} s for {a.toy_steps}), {result['modes_covered']}/25 modes, "
              f"{100 * result['high_quality_frac']:.1f}% high quality")
        if a.json:
            Path(a.json).write_text(json.dumps(result, indent=2))
        return 0
    if not torch.cuda.is_available():
        print("unrun: this machine has no CUDA GPU (run this script on one).")
        return 1

    # the default recipe (batch 64, width 32, R1, EMA); the timed runs leave evaluation out (it is not training),
    # the sync audit keeps it in, every 100 steps, to see that it waits for the GPU only when it runs
    base = TrainConfig(model="dcgan", dataset="mnist", eval_every=0)
    gpu = torch.cuda.get_device_name(0)
    dtype = autocast_dtype(base, torch.device("cuda"))
    print(f"GPU: {gpu}; torch {torch.__version__}; autocast dtype on CUDA: {dtype}")

    torch.cuda.reset_peak_memory_stats()
    bf16 = timed_run(TrainConfig(**{**base.__dict__, "device": "cuda", "amp": True, "max_steps": a.steps}), WARMUP)
    peak_mib = torch.cuda.max_memory_allocated() / 2**20
    fp32 = timed_run(TrainConfig(**{**base.__dict__, "device": "cuda", "amp": False, "max_steps": a.fp32_steps}),
                     WARMUP)
    n_threads = torch.get_num_threads()
    cpu = timed_run(TrainConfig(**{**base.__dict__, "device": "cpu", "max_steps": a.cpu_steps}), 5)
    audit = sync_audit(TrainConfig(**{**base.__dict__, "device": "cuda", "amp": True, "max_steps": a.audit_steps,
                                   "eval_every": 100, "eval_samples": 500}))

    result = {"gpu": gpu, "torch": torch.__version__, "steps": a.steps, "batch_size": base.batch_size,
              "gpu_bf16_images_per_s": round(bf16["images_per_s"], 1),
              "gpu_fp32_images_per_s": round(fp32["images_per_s"], 1),
              "cpu_images_per_s": round(cpu["images_per_s"], 1), "cpu_threads": n_threads,
              "gpu_bf16_over_cpu": round(bf16["images_per_s"] / cpu["images_per_s"], 1),
              "bf16_over_fp32": round(bf16["images_per_s"] / fp32["images_per_s"], 2),
              "peak_gpu_memory_mib": round(peak_mib, 1), "final_losses_bf16": bf16["final_losses"],
              "sync_audit": audit}
    print(f"DCGAN default recipe, batch {base.batch_size}, {a.steps} steps (clock from step {WARMUP})")
    print(f"  GPU bf16 autocast : {result['gpu_bf16_images_per_s']:>10.1f} images/s   "
          f"peak memory {result['peak_gpu_memory_mib']:.0f} MiB   final losses {bf16['final_losses']}")
    print(f"  GPU fp32          : {result['gpu_fp32_images_per_s']:>10.1f} images/s   "
          f"(bf16 / fp32 = {result['bf16_over_fp32']})")
    print(f"  CPU ({n_threads} threads)   : {result['cpu_images_per_s']:>10.1f} images/s   "
          f"(GPU bf16 / CPU = {result['gpu_bf16_over_cpu']}x)")
    print(f"  host syncs in {audit['steps']} audited steps: {audit['syncs']} in {audit['steps_with_a_sync']} steps; "
          f"outside logging/sample/eval/checkpoint steps: {audit['syncs_outside_io_steps']}")
    for where in audit["outside_examples"]:
        print(f"    stall: {where}")
    for where in audit["io_step_sources"]:
        print(f"    at an I/O step (expected): {where}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return 0 if audit["syncs_outside_io_steps"] == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
