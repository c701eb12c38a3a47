"""The command line: `python -m ganlib {train,sample,info,evaluate,export,train-classifier,translate,...} ...`.
It only builds arguments for ganlib functions; every user-facing failure is one sentence on stderr and exit code 2."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from .config import (DATASETS, FAMILY_ONLY, LOSSES, MODELS, RECIPES, TOY_RECIPE, TrainConfig, command_for,
                     field_applies, flag_name, recipe_config)
from .fieldhelp import FIELD_HELP

_CHOICES = {"model": MODELS, "loss": LOSSES, "dataset": DATASETS, "dataset_b": DATASETS}
TORCHRUN_EPILOG = ("Several GPUs or machines: launch the same command with torchrun, e.g. "
                   "torchrun --nproc_per_node=2 -m ganlib train --model dcgan --out runs/ddp "
                   "(add --nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=HOST:29400 on each machine for two). "
                   "Each process takes the GPU of its local rank and a slice of every batch; rank 0 alone writes "
                   "the run directory.")


def _recipe_defaults(name: str) -> str:
    """'; cyclegan: 16, gan on a toy: 128': where a family's recipe starts field `name` elsewhere."""
    default = getattr(TrainConfig, name)
    where = [(model, values.get(name, default)) for model, values in (*RECIPES.items(), ("gan on a toy", TOY_RECIPE))]
    return "".join(f"; {model}: {value}" for model, value in where if value != default)


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults are None so that we can tell what was given."""
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        help_ = f"{FIELD_HELP.get(f.name, f.name.replace('_', ' '))} (default: {default}{_recipe_defaults(f.name)})"
        if f.type in ("bool", bool):
            p.add_argument(flag_name(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            p.add_argument(flag_name(f.name), dest=f.name, type=typ, default=None, choices=_CHOICES.get(f.name),
                           help=help_)
    p.add_argument("--lr", type=float, default=None, help="set both --lr-g and --lr-d")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """(config with defaults + given flags, the dict of flags that were given)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if getattr(args, "lr", None) is not None:
        given.setdefault("lr_g", args.lr)
        given.setdefault("lr_d", args.lr)
    return recipe_config(**given), given


# ---------------------------------------------------------------- commands

def default_run_dir(config: TrainConfig) -> Path:
    """Where `train` without --out trains: a fresh directory under the runs root ($GAN_STUDIO_RUNS, else
    ./runs) named like the Train page's runs, so the page lists it. Under torchrun rank 0 makes it (the
    other ranks never write)."""
    import os

    from .train import jobs

    name = jobs.default_run_name(config)
    if os.environ.get("RANK", "0") != "0":
        return jobs.runs_root() / name
    return jobs.new_run_dir(jobs.runs_root(), name)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .train.loop import train

    config, given = config_from_args(args)
    if getattr(args, "dry_run", False):
        return print_config_card(config, args)
    if args.resume:
        allowed = {"epochs", "max_steps", "device", "log_every", "sample_every", "checkpoint_every", "eval_every"}
        extra = sorted(set(given) - allowed)
        if extra:
            raise ValueError(f"--resume keeps the run's settings; only {', '.join(sorted(flag_name(a) for a in allowed))} "
                             f"can change (not {', '.join(flag_name(e) for e in extra)}).")
        if "epochs" in given and "max_steps" not in given:
            given["max_steps"] = 0  # a new epoch count replaces a step limit the run had
        run_dir, overrides = Path(args.resume), given
    else:
        run_dir, overrides = (Path(args.out) if args.out else default_run_dir(config)), None
        ignored = [n for n in given if not field_applies(n, config.model)]
        if ignored:  # a note, not an error: what trains is still what was asked for
            print(f"note: a {config.model} run ignores " + ", ".join(
                f"{flag_name(n)} ({FAMILY_ONLY[n]})" if n in FAMILY_ONLY else flag_name(n) for n in ignored)
                + (", a setting" if len(ignored) == 1 else ", settings") + " other models read.", file=sys.stderr)

    bar = None

    def progress(step: int, total: int, row: dict | None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=step - 1, unit="step", disable=args.quiet, dynamic_ncols=True)
        bar.update(step - bar.n)
        if row is not None:
            bar.set_postfix(d_loss=f"{row['d_loss']:.3f}", g_loss=f"{row['g_loss']:.3f}",
                            img_s=f"{row['images_per_s']:.0f}", refresh=False)

    try:
        summary = train(None if args.resume else config, run_dir, resume=bool(args.resume),
                        overrides=overrides, progress_fn=progress)
    finally:
        if bar is not None:
            bar.close()
    if summary.get("rank", 0) != 0:
        return 0  # torchrun: rank 0 reports for every rank
    if summary.get("data_note"):
        print(f"note: {summary['data_note']}", file=sys.stderr)
    m = summary.get("metrics") or {}
    losses = f", d_loss {m['d_loss']:.3f}, g_loss {m['g_loss']:.3f}" if m else ""
    print(f"{summary['state']}: {run_dir} at step {summary['step']}/{summary['total_steps']} "
          f"(epoch {summary['epoch']:.2f}) in {summary['time']:.1f} s on {summary['device']}{losses}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .checkpoints import load_generator
    from .data import toy_modes
    from .device import pick_device
    from .images import save_samples
    from .sampling import generate

    device = pick_device(args.device)
    G, meta = load_generator(args.checkpoint, device=device)
    num_classes = meta["model_kwargs"]["G"].get("num_classes", 0)
    labels = None
    if args.class_ is not None:
        if not num_classes:
            raise ValueError(f"{args.checkpoint} holds an unconditional {meta['family']} model; --class needs a cgan.")
        if not 0 <= args.class_ < num_classes:
            raise ValueError(f"--class must be between 0 and {num_classes - 1}.")
        labels = torch.full((args.n,), args.class_, dtype=torch.long)
    elif num_classes:
        labels = torch.arange(args.n) % num_classes
    x = generate(G, args.n, labels=labels, seed=args.seed, device=device, truncation=args.truncation)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, x.numpy())
    else:
        ds = meta.get("dataset", {}).get("name", "")
        modes = toy_modes(ds)[0] if ds.startswith("toy-") else None
        nrow = num_classes if (labels is not None and args.class_ is None) else None
        save_samples(x, out, modes=modes, nrow=nrow)
    print(f"wrote {args.n} samples {tuple(x.shape[1:])} to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .checkpoints import describe, load_checkpoint

    if getattr(args, "layers", False):
        return print_checkpoint_card(args)
    info = describe(load_checkpoint(args.checkpoint))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.checkpoint}: GAN Studio checkpoint (format {info['format_version']})")
    for k, v in info.items():
        if k in ("metrics", "eval", "format_version"):
            continue
        print(f"  {k:22s} {v}")
    for title in ("metrics", "eval"):
        if info[title]:
            print(f"  {title}:")
            for k, v in info[title].items():
                print(f"    {k:20s} {v:.4g}" if isinstance(v, float) else f"    {k:20s} {v}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .checkpoints import load_checkpoint, load_generator
    from .device import pick_device
    from .evaluate import can_evaluate, evaluate_generator

    if load_checkpoint(args.checkpoint)["family"] == "cyclegan":
        return cmd_evaluate_cyclegan(args)
    device = pick_device(args.device)
    G, meta = load_generator(args.checkpoint, device=device)
    ds = meta.get("dataset", {})
    if not can_evaluate(ds.get("name", ""), ds.get("shape", [])):
        raise ValueError(f"No quality metrics apply to {ds.get('name')} {ds.get('shape')} models; "
                         "they need one-channel digits (mnist, typeset) or a 2-D toy.")
    num_classes = meta["model_kwargs"]["G"].get("num_classes", 0)
    result = evaluate_generator(G, ds["name"], ds["shape"], num_classes=num_classes, n=args.n,
                                seed=args.seed, device=device)
    result = {"checkpoint": str(args.checkpoint), "family": meta["family"], "dataset": ds["name"],
              "step": meta.get("step"), "ema": meta["ema"], **result}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for k, v in result.items():
        print(f"{k:24s} {v:.4g}" if isinstance(v, float) else f"{k:24s} {v}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .checkpoints import export_checkpoint

    info = export_checkpoint(args.checkpoint, args.out)
    size = Path(args.out).stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): {info['family']} on {info['dataset']}, step {info['step']}, "
          f"{'EMA and raw' if info['ema'] else 'raw'} generator weights, no D or optimiser state")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from .device import pick_device
    from .metrics import train_classifier

    result = train_classifier(args.out, epochs=args.epochs, seed=args.seed, device=str(pick_device(args.device)),
                              eval_data_dir=args.eval_data_dir)
    acc = result.get("test_accuracy")
    print(f"wrote {args.out}: trained {result['train_seconds']:.0f} s"
          + (f", test accuracy {acc * 100:.2f}%" if acc is not None else ""))
    return 0


# ---------------------------------------------------------------- model card (info --layers, train --dry-run)

def print_config_card(config: TrainConfig, args: argparse.Namespace) -> int:
    """`train --dry-run`: the networks a config (or the run given to --resume) would train; nothing is written."""
    from .modelcard import config_card

    if args.resume:
        config = TrainConfig.load(Path(args.resume) / "config.json")
    problems = config.validate()
    if problems:
        raise ValueError(problems[0])
    return _print_card(config_card(config), getattr(args, "json", False),
                       f"{config.model} on {config.dataset} (dry run: nothing trained, nothing written)")


def print_checkpoint_card(args: argparse.Namespace) -> int:
    """`info --layers`: the networks stored in a checkpoint, layer by layer."""
    from .modelcard import checkpoint_card

    return _print_card(checkpoint_card(args.checkpoint), args.json, str(args.checkpoint))


def _print_card(card: dict, as_json: bool, title: str) -> int:
    from .modelcard import card_json, format_card

    if as_json:
        print(json.dumps(card_json(card), indent=2))
    else:
        print(f"{title}\n")
        print(format_card(card), end="")
    return 0


def cmd_diversity(args: argparse.Namespace) -> int:
    """The seeds' 100-sample diversity test of a digit generator (the Mode-collapse lab's grid)."""
    import torch

    from .checkpoints import load_generator
    from .metrics import load_classifier
    from .metrics.diversity import diversity_grid_image, diversity_test, summary

    G, meta = load_generator(args.checkpoint)
    num_classes = meta["model_kwargs"]["G"].get("num_classes", 0)
    labels = torch.arange(args.n) % num_classes if num_classes else None
    result = diversity_test(G, load_classifier(), n=args.n, seed=args.seed, labels=labels)
    if args.out:
        diversity_grid_image(result).save(args.out)
    figures = summary(result)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"digits covered {figures['class_coverage']}/10, KL to uniform {figures['class_kl_uniform']:.3f}, "
          f"class histogram {figures['class_histogram']}")
    print("most similar pairs: " + ", ".join(f"#{i}-#{j} ({d:.3f})" for i, j, d in figures["similar_pairs"])
          + f"; median pair distance {figures['median_pair_distance']:.3f}" + (f"; grid: {args.out}" if args.out else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganlib", description="GAN Studio: train, sample and inspect GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN into a run directory, or resume one",
                       description="Train a GAN into a run directory (config.json, metrics.jsonl, samples/, "
                                   "checkpoint.pt, status.json), or continue one with --resume. Each model starts "
                                   "from its own recipe (the defaults below are DCGAN's; where cyclegan, stylegan or "
                                   "the gan model on a 2-D toy starts elsewhere, each flag says so); any flag you "
                                   "give replaces the recipe's value.",
                       epilog=TORCHRUN_EPILOG)
    t.add_argument("--out", help="run directory to create (default: a new one under $GAN_STUDIO_RUNS or ./runs, "
                                 "which the Train page lists)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly where it stopped")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--dry-run", action="store_true", help="print the networks layer by layer (shapes, parameters, "
                   "FLOPs per image) and exit without training")
    add_config_flags(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write samples from a checkpoint as a PNG grid or .npy array")
    s.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    s.add_argument("--n", type=int, default=64, help="number of samples (default: 64)")
    s.add_argument("--out", required=True, help="FILE.png (grid) or FILE.npy (N, C, H, W) in [-1, 1]")
    s.add_argument("--class", dest="class_", type=int, default=None, help="class to generate (cgan only)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--truncation", type=float, default=1.0, help="truncation psi in (0, 1] (default: 1, none)")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("info", help="say what a checkpoint is")
    i.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.add_argument("--layers", action="store_true", help="the networks layer by layer: type, output shape, "
                   "parameters, FLOPs per image")
    i.set_defaults(func=cmd_info)
    e = sub.add_parser("evaluate", help="quality metrics of a checkpoint's samples (FID on our MNIST "
                                        "classifier's features, KID, precision/recall, class coverage, modes)")
    e.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    e.add_argument("--n", type=int, default=10000, help="number of generated samples (default: 10000)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--device", default="auto")
    e.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="write a small inference-only copy of a checkpoint (generators and "
                                      "metadata; no D, optimiser or RNG state), as shipped in checkpoints/")
    x.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    x.add_argument("--out", required=True, help="where to write the exported checkpoint (.pt)")
    x.set_defaults(func=cmd_export)

    c = sub.add_parser("train-classifier", help="train the MNIST feature classifier used by the metrics")
    c.add_argument("--out", required=True, help="where to write the classifier (.pt)")
    c.add_argument("--epochs", type=int, default=60)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--eval-data-dir", default="", help="folder of MNIST test idx files to report accuracy on")
    c.add_argument("--device", default="auto")
    c.set_defaults(func=cmd_train_classifier)
    add_latent_commands(sub)
    add_translate_commands(sub)
    add_style_commands(sub)

    v = sub.add_parser("diversity", help="the 100-sample diversity test of a digit generator: class histogram, "
                                         "coverage of 0-9, KL to uniform, most similar pairs")
    v.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    v.add_argument("--n", type=int, default=100, help="number of samples (default: 100)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", default="", help="write the tagged grid to this PNG")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=cmd_diversity)
    return p


# ---------------------------------------------------------------- latent space (python -m ganlib latent / interpolate / invert)

def _parse_range(text: str) -> list[float]:
    """'-3:3:9' -> 9 evenly spaced values from -3 to 3."""
    try:
        lo, hi, n = text.split(":")
        lo, hi, n = float(lo), float(hi), int(n)
    except ValueError:
        raise ValueError(f"--range must look like -3:3:9 (from:to:count), not {text!r}.") from None
    if n < 1 or n > 64:
        raise ValueError("--range takes between 1 and 64 values.")
    import torch

    return torch.linspace(lo, hi, n).tolist()


def _load_for_latent(args: argparse.Namespace):
    from .checkpoints import load_generator
    from .device import pick_device

    G, meta = load_generator(args.checkpoint, device=pick_device(args.device))
    if len(meta.get("dataset", {}).get("shape", [])) != 3:
        raise ValueError(f"{args.checkpoint} holds a {meta['family']} model of 2-D points; the latent tools need "
                         "an image generator.")
    return G, meta


def _class_for(G, class_: int | None, flag: str = "--class") -> int | None:
    from .latent import num_classes

    if num_classes(G):
        if class_ is None:
            raise ValueError(f"This is a conditional model: give {flag} (0 to {num_classes(G) - 1}).")
        if not 0 <= class_ < num_classes(G):
            raise ValueError(f"{flag} must be between 0 and {num_classes(G) - 1}.")
        return class_
    if class_ is not None:
        raise ValueError(f"{flag} needs a conditional model (cgan); this one is unconditional.")
    return None


def cmd_latent(args: argparse.Namespace) -> int:
    from . import latent as L
    from .directions import cached_directions
    from .images import save_samples

    G, meta = _load_for_latent(args)
    label = _class_for(G, args.class_)
    kind, _, which = args.direction.partition(":")
    classifier = None
    if kind == "attribute":
        from .metrics.classifier import load_classifier

        classifier = load_classifier()
    dirs = cached_directions(G, args.checkpoint, kind, k=args.k, classifier=classifier)
    if which.lstrip("-").isdigit():
        index = int(which)
    elif which in dirs.names:
        index = dirs.names.index(which)
    else:
        raise ValueError(f"--direction {args.direction!r}: give {kind}:N (0 to {len(dirs.names) - 1}) or one of "
                         f"{', '.join(kind + ':' + n for n in dirs.names)}.")
    if not 0 <= index < len(dirs.names):
        raise ValueError(f"--direction {kind}:{index}: there are {len(dirs.names)} {kind} directions (0 to "
                         f"{len(dirs.names) - 1}).")
    values = _parse_range(args.range)
    z = L.truncate(L.sample_latents(G, 1, args.seed)[0], L.mean_latent(G), args.truncation)
    strip = L.direction_strip(G, z, dirs.vectors[index], values, [label] if label is not None else None)
    save_samples(strip, args.out, nrow=len(values))
    score = f", {dirs.score_name} {dirs.scores[index]:.3f}" if dirs.score_name else ""
    print(f"wrote {len(values)} images along {kind} direction {index} ({dirs.names[index]}{score}) from "
          f"{values[0]:g} to {values[-1]:g}, seed {args.seed}, to {args.out} (directions found in {dirs.seconds:.2f} s)")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from . import latent as L
    from .images import gif_bytes, save_samples
    from .files import atomic_write_bytes

    G, meta = _load_for_latent(args)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise ValueError(f"--seeds must be one or two whole numbers like 1,2, not {args.seeds!r}.") from None
    if len(seeds) not in (1, 2):
        raise ValueError("--seeds takes one seed (for an interpolation between --classes) or two.")
    classes = [None, None]
    if args.classes:
        try:
            classes = [int(c) for c in args.classes.split(",")]
        except ValueError:
            raise ValueError(f"--classes must be two whole numbers like 3,8, not {args.classes!r}.") from None
        if len(classes) != 2:
            raise ValueError("--classes takes two classes, like 3,8.")
    label_a = _class_for(G, classes[0], "--classes")
    label_b = _class_for(G, classes[1], "--classes")
    a = L.sample_latents(G, 1, seeds[0])[0]
    b = L.sample_latents(G, 1, seeds[-1])[0]
    frames = L.interpolate(G, a, b, args.frames, spherical=args.slerp, label_a=label_a, label_b=label_b)
    out = Path(args.out)
    if out.suffix.lower() == ".gif":
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, gif_bytes(frames))
    else:
        save_samples(frames, out, nrow=len(frames))
    how = "slerp" if args.slerp else "lerp"
    print(f"wrote {len(frames)} frames ({how}, seeds {args.seeds}" + (f", classes {args.classes}" if args.classes else "")
          + f") to {out}")
    return 0


def cmd_invert(args: argparse.Namespace) -> int:
    import torch

    from . import latent as L
    from .data import load_dataset
    from .images import save_samples, to_mnist_digit
    from .metrics.classifier import load_classifier

    target = to_mnist_digit(args.image)
    if args.digit_out:
        save_samples(target[None], args.digit_out)
    G, meta = _load_for_latent(args)
    if tuple(meta["dataset"]["shape"]) != (1, 28, 28):
        raise ValueError(f"Inversion takes 28x28 digits; {args.checkpoint} makes {tuple(meta['dataset']['shape'])} images.")
    label = _class_for(G, args.class_) if args.class_ is not None else None
    result = L.invert(G, target, label=label, classifier=load_classifier(), restarts=args.restarts, steps=args.steps,
                      seed=args.seed)
    train = load_dataset("mnist").x
    idx, dist = L.nearest_images(result.image[None], train, k=5)
    save_samples(torch.cat([target[None], result.image[None], train[idx[0]]]), args.out, nrow=7)
    if args.latent_out:
        torch.save(result.latent, args.latent_out)
    cls = f", class {result.label}" if result.label is not None else ""
    print(f"wrote {args.out}: the digit, its reconstruction (pixel MSE {result.error:.4f}, from {result.start_error:.4f} "
          f"at the best random start{cls}; {result.seconds:.1f} s) and the 5 nearest training images "
          f"(RMS distance {', '.join(f'{d:.3f}' for d in dist[0].tolist())})")
    return 0


def add_latent_commands(sub) -> None:
    import re

    from .directions import DIRECTION_KINDS

    lt = sub.add_parser("latent", help="a strip of images along one latent direction (SeFa, PCA, attribute, raw z)",
                        description="Walk from a seed's latent along one direction and write the images as a strip.")
    # let `--range -3:3:9` read as a value, not as an unknown option
    lt._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+:[-\d.:]+$")
    lt.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    lt.add_argument("--seed", type=int, default=0)
    lt.add_argument("--class", dest="class_", type=int, default=None, help="class (cgan only; required there)")
    lt.add_argument("--direction", default="sefa:0",
                    help=f"KIND:N or KIND:NAME, KIND one of {', '.join(DIRECTION_KINDS)} (e.g. sefa:0, pca:2, "
                         "attribute:thicker, 'attribute:more like a 3', raw:7; default sefa:0)")
    lt.add_argument("--range", default="-3:3:9", help="FROM:TO:COUNT steps along the unit direction (default -3:3:9)")
    lt.add_argument("--k", type=int, default=10, help="how many SeFa/PCA/raw directions to find (default 10)")
    lt.add_argument("--truncation", type=float, default=1.0, help="truncation psi in [0, 1.5] (default 1: none)")
    lt.add_argument("--out", required=True, help="PNG strip to write")
    lt.add_argument("--device", default="auto")
    lt.set_defaults(func=cmd_latent)

    ip = sub.add_parser("interpolate", help="frames between two seeds (or two classes) as a GIF or PNG strip")
    ip.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    ip.add_argument("--seeds", default="1,2", help="two seeds A,B; one seed with --classes keeps the noise fixed")
    ip.add_argument("--classes", default="", help="A,B: interpolate between two classes (cgan only)")
    ip.add_argument("--frames", type=int, default=16)
    ip.add_argument("--slerp", action=argparse.BooleanOptionalAction, default=True,
                    help="spherical interpolation (default); --no-slerp for a straight line")
    ip.add_argument("--out", required=True, help="FILE.gif (animated) or FILE.png (strip)")
    ip.add_argument("--device", default="auto")
    ip.set_defaults(func=cmd_interpolate)

    iv = sub.add_parser("invert", help="find the latent that best reproduces a digit image (any format)",
                        description="Convert an image to a 28x28 MNIST-style digit, find the latent whose image "
                                    "matches it, and write digit | reconstruction | 5 nearest training images.")
    iv.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    iv.add_argument("--image", required=True, help="an image file of a digit (PNG, JPEG, ...; any size, either polarity)")
    iv.add_argument("--class", dest="class_", type=int, default=None,
                    help="class to invert with (cgan; default: what the classifier reads)")
    iv.add_argument("--restarts", type=int, default=8)
    iv.add_argument("--steps", type=int, default=120)
    iv.add_argument("--seed", type=int, default=0)
    iv.add_argument("--out", required=True, help="PNG to write")
    iv.add_argument("--digit-out", default="", help="also write the converted 28x28 digit to this PNG")
    iv.add_argument("--latent-out", default="", help="also save the found latent (a tensor) here")
    iv.add_argument("--device", default="auto")
    iv.set_defaults(func=cmd_invert)


# ---------------------------------------------------------------- CycleGAN (python -m ganlib translate / evaluate)

def cmd_translate(args: argparse.Namespace) -> int:
    from .device import pick_device
    from .translate import load_cyclegan, load_images, save_images

    model = load_cyclegan(args.checkpoint, device=pick_device(args.device))
    x = load_images(args.input)
    if tuple(x.shape[1:]) != model.image_shape:
        raise ValueError(f"The model translates {list(model.image_shape)} images; the input is {list(x.shape[1:])}.")
    y, rec = model.round_trip(x, args.direction)
    save_images(y, args.out, nrow=min(len(y), 10))
    src, dst = model.domains if args.direction == "a2b" else model.domains[::-1]
    print(f"wrote {args.out}: {len(y)} image(s) translated {src} -> {dst}; mean cycle error "
          f"|x - back(translate(x))| {float((rec - x).abs().mean()):.4f}")
    if model.image_shape == (1, 28, 28) and len(x) <= 20:
        from .metrics.classifier import load_classifier
        from .metrics.image import classify

        _, probs = classify(load_classifier(), y)
        print("classifier reads: " + " ".join(str(int(d)) for d in probs.argmax(1)))
    return 0


def cmd_evaluate_cyclegan(args: argparse.Namespace) -> int:
    from .translate import evaluate_cyclegan, load_cyclegan

    model = load_cyclegan(args.checkpoint)
    result = {"checkpoint": str(args.checkpoint), "family": "cyclegan", "dataset": model.domains[0],
              "dataset_b": model.domains[1], "step": model.meta.get("step"), "ema": model.meta["ema"],
              **evaluate_cyclegan(model, n=min(args.n, 2500), seed=args.seed)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for k, v in result.items():
        print(f"{k:24s} {v:.4g}" if isinstance(v, float) else f"{k:24s} {v}")
    return 0


def add_translate_commands(sub) -> None:
    tr = sub.add_parser("translate", help="translate images with a CycleGAN checkpoint (a2b: G, b2a: F)",
                        description="Translate an image file, a folder of images or a .npy array with a CycleGAN. "
                                    "Evaluate one with `python -m ganlib evaluate --checkpoint FILE` (label "
                                    "preservation, FID, a typeset-vs-handwriting judge, cycle errors; n <= 2500).")
    tr.add_argument("--checkpoint", required=True, help="cyclegan checkpoint file or run directory")
    tr.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                    help="a2b: domain A -> B with G (typeset -> handwriting for the shipped model); b2a: B -> A with F")
    tr.add_argument("--input", required=True, help="IMG (any format; made white-on-black 28x28 like MNIST), a folder "
                                                   "of images, or FILE.npy (N, 1, 28, 28) or (N, 28, 28) in [-1, 1]")
    tr.add_argument("--out", required=True, help="OUT.png (grid) or OUT.npy ((N, 1, 28, 28) in [-1, 1])")
    tr.add_argument("--device", default="auto")
    tr.set_defaults(func=cmd_translate)


# ---------------------------------------------------------------- StyleGAN (python -m ganlib style-check / style-mix)

def cmd_style_check(args: argparse.Namespace) -> int:
    from .metrics.classifier import load_classifier
    from .style import TARGETS, load_stylegan, style_check

    G, _ = load_stylegan(args.checkpoint)
    result = style_check(G, load_classifier(), n=args.n, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.checkpoint}: {result['n']} random pairs (A, B), seed {result['seed']}")
    print(f"  coarse styles (4-8) from A, 16-32 from B: the classifier reads A's digit in {result['coarse_keeps_a']:.1%} "
          f"(target {TARGETS['coarse_keeps_a']:.0%}), B's in {result['coarse_reads_b']:.1%}; over the "
          f"{result['pairs_differ']} pairs whose digits differ, A's in {result['coarse_keeps_a_when_differ']:.1%}")
    print(f"  fine styles (16-32) from B: ink correlation with B {result['ink_corr_b']:.3f} (with A "
          f"{result['ink_corr_a']:.3f}); stroke thickness with B {result['thickness_corr_b']:.3f} (with A "
          f"{result['thickness_corr_a']:.3f})")
    print(f"  resampled noise, w fixed: mean absolute pixel change {result['noise_pixel_change']:.4f} (of 1); "
          f"same reading in {result['noise_keeps_label']:.1%} (target {TARGETS['noise_keeps_label']:.0%})")
    return 0


def cmd_style_mix(args: argparse.Namespace) -> int:
    import torch

    from .images import save_samples
    from .style import grid_tensor, load_stylegan, mixing_grid, parse_range, seeds_to_w

    G, _ = load_stylegan(args.checkpoint)
    lo, hi = parse_range(args.layers)
    seeds = []
    for flag, text in (("--a", args.a), ("--b", args.b)):
        try:
            seeds.append([int(s) for s in text.split(",") if s.strip()])
        except ValueError:
            raise ValueError(f"{flag} takes seeds separated by commas, like 1,2,3, not {text!r}.") from None
        if not 1 <= len(seeds[-1]) <= 16:
            raise ValueError(f"{flag} takes between 1 and 16 seeds.")
    grid = mixing_grid(G, seeds_to_w(G, seeds[0]), seeds_to_w(G, seeds[1]), lo, hi)
    images, nrow = grid_tensor(grid)
    save_samples(torch.as_tensor(images), args.out, nrow=nrow)
    print(f"wrote {args.out}: sources A (seeds {args.a}) across the top, B (seeds {args.b}) down the side; each cell "
          f"takes the {lo}-{hi} px layers from A and the rest from B")
    return 0


def add_style_commands(sub) -> None:
    sc = sub.add_parser("style-check", help="measure a StyleGAN's disentanglement: coarse styles keep the digit, "
                                            "fine styles carry the ink, noise changes only details")
    sc.add_argument("--checkpoint", required=True, help="stylegan checkpoint file or run directory")
    sc.add_argument("--n", type=int, default=1000, help="random pairs (default: 1000)")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--json", action="store_true", help="print JSON")
    sc.set_defaults(func=cmd_style_check)

    sm = sub.add_parser("style-mix", help="a style-mixing grid: sources A across the top, B down the side")
    sm.add_argument("--checkpoint", required=True, help="stylegan checkpoint file or run directory")
    sm.add_argument("--a", default="1,2,3,4", help="seeds of the sources A (default 1,2,3,4)")
    sm.add_argument("--b", default="5,6,7", help="seeds of the sources B (default 5,6,7)")
    sm.add_argument("--layers", default="coarse", help="layers taken from A: coarse (4-8), middle (16), fine (32) "
                                                       "or LO-HI in pixels, e.g. 8-16 (default coarse)")
    sm.add_argument("--out", required=True, help="PNG to write")
    sm.set_defaults(func=cmd_style_mix)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as e:  # our errors carry one sentence for the user
        print(f"error: {e}", file=sys.stderr)
        return 2
