"""GPU check: the default DCGAN recipe trained by the real loop on a CUDA GPU with bf16 autocast.

Prints images/s (bf16 and fp32 on the GPU, and the same recipe on this machine's CPU), the ratio GPU/CPU,
peak GPU memory, and which steps synchronised with the host: the loop should only wait for the GPU at
steps that log, draw a sample grid, evaluate or save (it reads numbers back then), never in between.

    python benchmarks/gpu_check.py [--steps 1000] [--cpu-steps 40] [--json OUT.json]
    python benchmarks/gpu_check.py --toy cuda --json OUT.json    # the Mode-collapse lab's best cure, one device
    python benchmarks/gpu_check.py --toy cpu --json OUT.json     # the same on one CPU thread (run it beside)

--issue27 measures the GPU half of the early-speed targets in one go (see recipe_sweep, throughput and
folder_64): for each candidate recipe, the training seconds to FID <= 100 with 10/10 digits in 100 samples
(the loop's own clock, evaluations taken out); the loop's images/s beside a plain loop doing the same work;
a 64 px RGB image folder's images/s and peak memory.

    python benchmarks/gpu_check.py --issue27 --json OUT.json

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
from ganlib.train.preflight import load_training_data  # noqa: E402

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


# ---------------------------------------------------------------- issue 27: the GPU half

DEV = "cuda"  # --issue27-on-cpu: a dry run of the same code on the CPU (tiny budgets), to check it before a lease


def sync() -> None:
    if DEV == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    if DEV == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_mib() -> float:
    return torch.cuda.max_memory_allocated() / 2**20 if DEV == "cuda" else 0.0


# candidate GPU recipes (fields over TrainConfig's defaults), measured side by side; the first is the CPU default
CANDIDATES = [
    {"name": "cpu-default b64", "batch_size": 64},
    {"name": "b256 lr x2", "batch_size": 256, "lr_g": 1.6e-3, "lr_d": 8e-4},
    {"name": "b512 lr x2.5", "batch_size": 512, "lr_g": 2e-3, "lr_d": 1e-3},
    {"name": "b512 lr x4", "batch_size": 512, "lr_g": 3.2e-3, "lr_d": 1.6e-3},
    {"name": "b512 lr x2.5 r1/16", "batch_size": 512, "lr_g": 2e-3, "lr_d": 1e-3, "r1_every": 16},
    {"name": "b1024 lr x4", "batch_size": 1024, "lr_g": 3.2e-3, "lr_d": 1.6e-3},
    {"name": "b1024 lr x5", "batch_size": 1024, "lr_g": 4e-3, "lr_d": 2e-3},
]


def time_to_quality(overrides: dict, fid: float, budget_s: float, eval_images: int = 16384) -> dict:
    """Train TrainConfig(**overrides) on CUDA, evaluating (2,000 samples) every ~eval_images images, until FID <= fid
    with 10/10 digits in the first 100 samples or budget_s training seconds: the training seconds at the first pass
    (the loop's clock, from its first step; evaluations taken out) and the step, the curve, images/s."""
    from ganlib.train.rundir import read_metrics

    fields = {k: v for k, v in overrides.items() if k != "name"}
    bs = fields.get("batch_size", 64)
    cfg = TrainConfig(**{"device": DEV, "max_steps": 10**6, "eval_samples": 2000,
                         "eval_every": max(1, eval_images // bs), **fields})
    state: dict = {"curve": [], "passed": None}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"

        def progress(step, total, row):
            if step % cfg.eval_every:
                return
            evals = [r for r in read_metrics(run_dir) if r.get("kind") == "eval"]
            trained = evals[-1]["time"] - sum(r["eval_seconds"] for r in evals)
            last = evals[-1]
            state["curve"].append({"step": step, "train_s": round(trained, 2), "fid": round(last["fid"], 1),
                                   "coverage_100": last["coverage_100"]})
            if state["passed"] is None and last["fid"] <= fid and last["coverage_100"] == 10:
                state["passed"] = state["curve"][-1]
            state["stop"] = state["passed"] is not None or trained > budget_s

        t0 = time.perf_counter()
        train(cfg, run_dir, progress_fn=progress, abort_fn=lambda: state.get("stop", False))
        wall = time.perf_counter() - t0
    last = state["curve"][-1] if state["curve"] else {}
    rate = last["step"] * bs / last["train_s"] if last else 0.0
    return {"recipe": overrides, "passed_at": state["passed"], "curve": state["curve"],
            "images_per_s_incl_warmup": round(rate), "wall_s": round(wall, 1)}


def plain_same_work(cfg: TrainConfig, steps: int, warmup: int) -> float:
    """images/s of a plain loop doing the loop's work for cfg (no batch stream, metrics, checks or files): the
    same nets, Adam, autocast, loss, lazy R1 and EMA (ns loss, unconditional, n_critic 1)."""
    from ganlib.losses import d_loss, g_loss, r1_penalty
    from ganlib.models import build_models, model_kwargs
    from ganlib.models.layers import ema_update, make_ema
    from ganlib.train.schedules import ema_decay_at, make_adam

    device = torch.device(DEV)
    data = load_training_data(cfg)
    x = data.x.to(device)
    torch.manual_seed(cfg.seed)
    G, D = build_models(cfg.model, model_kwargs(cfg, data.shape, data.num_classes))
    G, D = G.to(device), D.to(device)
    G_ema = make_ema(G)
    opt_g, opt_d = make_adam(G.parameters(), cfg.lr_g, cfg), make_adam(D.parameters(), cfg.lr_d, cfg)
    dtype = autocast_dtype(cfg, device)
    bs, n = cfg.batch_size, len(x)
    t0 = None
    for step in range(warmup + steps):
        if step == warmup:
            sync()
            t0 = time.perf_counter()
        j = (step * bs) % (n - bs)
        real = x[j:j + bs]
        r1 = step % cfg.r1_every == 0 and cfg.r1_gamma > 0
        if r1:
            real = real.detach().requires_grad_(True)
        z = torch.randn(bs, cfg.latent_dim, device=device)
        with torch.autocast(DEV, dtype=dtype, enabled=dtype is not None):
            fake = G(z)
            d_real = D(real).float()
            loss = d_loss(cfg.loss, d_real, D(fake.detach()).float())
        if r1:
            loss = loss + cfg.r1_gamma / 2 * cfg.r1_every * r1_penalty(real, d_real)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        with torch.autocast(DEV, dtype=dtype, enabled=dtype is not None):
            loss_g = g_loss(cfg.loss, D(fake).float())
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        for p in D.parameters():
            p.requires_grad_(True)
        opt_g.step()
        ema_update(G_ema, G, ema_decay_at(cfg, step))
    sync()
    return steps * bs / (time.perf_counter() - t0)


def throughput(overrides: dict, steps: int, warmup: int = 50) -> dict:
    """The loop's images/s (train(), evaluation off) beside plain_same_work's, same recipe, same device."""
    fields = {k: v for k, v in overrides.items() if k != "name"}
    cfg = TrainConfig(**{"device": DEV, "eval_every": 0, "max_steps": warmup + steps, **fields})
    reset_peak()
    loop = timed_run(cfg, warmup)["images_per_s"]
    peak = peak_mib()
    plain = plain_same_work(cfg, steps, warmup)
    return {"recipe": overrides, "loop_images_per_s": round(loop), "plain_images_per_s": round(plain),
            "loop_over_plain": round(loop / plain, 3), "peak_mib": round(peak)}


def folder_64(overrides: dict, steps: int, n_images: int = 2048) -> dict:
    """A 64 px RGB image folder (the bundled digits, resized and tinted, written as PNGs) trained by the loop
    on CUDA: images/s and peak memory."""
    import numpy as np
    from PIL import Image

    digits = load_training_data(TrainConfig(dataset="mnist", subset=n_images)).x  # (N, 1, 28, 28) in [-1, 1]
    digits = torch.nn.functional.interpolate(digits, size=(64, 64), mode="bilinear", antialias=True)
    rgb = ((digits.repeat(1, 3, 1, 1) + 1) * 127.5).clamp(0, 255)
    tint = torch.tensor([[1.0, 0.6, 0.3], [0.3, 0.8, 1.0], [0.9, 0.9, 0.4]])
    fields = {k: v for k, v in overrides.items() if k != "name"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i, img in enumerate(rgb):
            arr = (img * tint[i % 3].view(3, 1, 1)).permute(1, 2, 0).byte().numpy()
            Image.fromarray(np.ascontiguousarray(arr)).save(folder / f"{i:05d}.png")
        cfg = TrainConfig(**{**fields, "dataset": "folder", "data_dir": str(folder), "image_size": 64,
                             "channels": 3, "device": DEV, "eval_every": 0, "max_steps": 50 + steps})
        reset_peak()
        rate = timed_run(cfg, 50)["images_per_s"]
        peak = peak_mib()
    return {"recipe": overrides, "images": n_images, "size": 64, "images_per_s": round(rate), "peak_mib": round(peak)}


def final_quality(overrides: dict, max_steps: int = 0) -> dict:
    """A whole default-length run (its epochs) of a recipe on CUDA: the wall time of the train() call and the
    final evaluation (2,000 samples)."""
    from ganlib.train.rundir import read_metrics

    fields = {k: v for k, v in overrides.items() if k != "name"}
    cfg = TrainConfig(**{"device": DEV, "eval_every": 10**6, **fields, **({"max_steps": max_steps} if max_steps else {})})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = train(cfg, Path(tmp) / "run")
        wall = time.perf_counter() - t0
        last = [r for r in read_metrics(Path(tmp) / "run") if r.get("kind") == "eval"][-1]
    return {"recipe": overrides, "steps": summary["step"], "wall_s": round(wall, 1),
            "train_s": round(summary["time"], 1), "fid": round(last["fid"], 2), "coverage_100": last["coverage_100"]}


def sweep(cands: list[dict], a) -> list[dict]:
    """time_to_quality for each recipe, printed as it lands."""
    rows = []
    for c in cands:
        r = time_to_quality(c, a.fid, a.budget)
        rows.append(r)
        p = r["passed_at"]
        print(f"{c['name']:>22}: " + (f"FID<={a.fid} at step {p['step']} after {p['train_s']} s of training"
                                      if p else f"not reached in {a.budget} s (last {r['curve'][-1:]})")
              + f"; {r['images_per_s_incl_warmup']} img/s incl. warm-up; whole call {r['wall_s']} s", flush=True)
    return rows


def throughputs(cands: list[dict], a) -> list[dict]:
    """throughput for each recipe, printed as it lands."""
    rows = []
    for c in cands:
        t = throughput(c, a.tp_steps)
        rows.append(t)
        print(f"{c['name']:>22}: loop {t['loop_images_per_s']} img/s, plain {t['plain_images_per_s']} img/s, "
              f"loop/plain {t['loop_over_plain']}, peak {t['peak_mib']} MiB", flush=True)
    return rows


def confirm(a) -> dict:
    """The shipped GPU recipe (config.recipe on cuda) for DCGAN and CGAN beside the CPU default, on this GPU."""
    from ganlib.config import recipe

    cands = [{"name": "cpu-default b64"},
             {"name": "dcgan gpu recipe", **recipe("dcgan", None, "cuda")},
             {"name": "cgan gpu recipe", "model": "cgan", **recipe("cgan", None, "cuda")}]
    out: dict = {"gpu": torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu dry run", "torch": torch.__version__,
                 "sweep": sweep(cands, a), "throughput": throughputs(cands[:2] * 2, a), "final": []}
    for c in cands:
        f = final_quality(c, a.final_max_steps)
        out["final"].append(f)
        print(f"{c['name']:>22}: whole default run, {f['steps']} steps: {f['wall_s']} s wall ({f['train_s']} s "
              f"training), final FID {f['fid']}, {f['coverage_100']}/10 digits", flush=True)
    if DEV == "cuda":
        gpu_cfg = TrainConfig(**{**recipe("dcgan", None, "cuda"), "device": "cuda", "max_steps": a.audit_steps,
                                 "eval_every": 100, "eval_samples": 500})
        audit = sync_audit(gpu_cfg)
        out["sync_audit_gpu_recipe"] = audit
        print(f"host syncs, GPU recipe, {audit['steps']} steps: {audit['syncs']} in {audit['steps_with_a_sync']} "
              f"steps; outside logging/sample/eval/checkpoint steps: {audit['syncs_outside_io_steps']} "
              f"{audit['outside_examples']}", flush=True)
    f64 = folder_64(cands[1], a.folder_steps)
    out["folder_64"] = f64
    print(f"64 px RGB folder ({f64['images']} images) with the GPU recipe: {f64['images_per_s']} img/s, "
          f"peak {f64['peak_mib']} MiB", flush=True)
    return out


def issue27(a) -> dict:
    if a.confirm:
        return confirm(a)
    cands = json.loads(a.candidates) if a.candidates else CANDIDATES
    out: dict = {"gpu": torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu dry run", "torch": torch.__version__,
                 "sweep": sweep(cands, a), "throughput": throughputs(cands, a)}
    best = min((r for r in out["sweep"] if r["passed_at"]), key=lambda r: r["passed_at"]["train_s"], default=None)
    f64 = folder_64(best["recipe"] if best else cands[0], a.folder_steps)
    out["folder_64"] = f64
    print(f"64 px RGB folder ({f64['images']} images) with {f64['recipe']['name']}: {f64['images_per_s']} img/s, "
          f"peak {f64['peak_mib']} MiB", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--fp32-steps", type=int, default=400)
    p.add_argument("--cpu-steps", type=int, default=40)
    p.add_argument("--audit-steps", type=int, default=200)
    p.add_argument("--json", default="")
    p.add_argument("--toy", choices=["cuda", "cpu"], help="only the Mode-collapse lab's deligan-grid recipe, here")
    p.add_argument("--toy-steps", type=int, default=14000)
    p.add_argument("--issue27", action="store_true", help="the GPU recipe sweep, throughput and 64 px folder")
    p.add_argument("--candidates", default="", help="JSON list of recipes for --issue27 (default: CANDIDATES)")
    p.add_argument("--fid", type=float, default=100.0)
    p.add_argument("--budget", type=float, default=12.0, help="training seconds per candidate")
    p.add_argument("--tp-steps", type=int, default=400)
    p.add_argument("--folder-steps", type=int, default=200)
    p.add_argument("--final-max-steps", type=int, default=0, help="--confirm's whole runs: 0 = their epochs")
    p.add_argument("--confirm", action="store_true", help="--issue27 for the shipped GPU recipe (DCGAN, CGAN)")
    p.add_argument("--issue27-on-cpu", action="store_true", help="dry-run --issue27's code on the CPU")
    a = p.parse_args()
    if a.toy:
        result = toy_run(a.toy, a.toy_steps)
        print(f"deligan-grid by the loop on {result['device']}: {result['steps_per_s']} steps/s "
              f"({result['seconds']} s for {a.toy_steps}), {result['modes_covered']}/25 modes, "
              f"{100 * result['high_quality_frac']:.1f}% high quality")
        if a.json:
            Path(a.json).write_text(json.dumps(result, indent=2))
        return 0
    if a.issue27_on_cpu:
        global DEV
        DEV = "cpu"
        print(json.dumps(issue27(a))[:2000])
        return 0
    if not torch.cuda.is_available():
        print("unrun: this machine has no CUDA GPU (run this script on one).")
        return 1
    if a.issue27:
        result = issue27(a)
        if a.json:
            Path(a.json).write_text(json.dumps(result, indent=2))
        return 0

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
