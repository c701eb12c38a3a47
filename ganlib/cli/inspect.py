"""What to do with a checkpoint: sample, info (--layers: the model card), evaluate, export, diversity;
and train-classifier (the MNIST classifier the metrics read)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import describe, export_checkpoint, generator_classes, load_checkpoint, load_generator
from ..data import toy_modes
from ..device import pick_device
from ..evaluate import can_evaluate, evaluate_generator
from ..images import save_samples
from ..metrics import load_classifier, train_classifier
from ..metrics.diversity import diversity_grid_image, diversity_test, summary
from ..modelcard import card_json, checkpoint_card, format_card
from ..sampling import generate
from ..translate import evaluate_cyclegan, load_cyclegan
from .args import IMAGE_SUFFIXES, count_arg, disk_count, memory_count, output_path, seed_arg, truncation_arg


def cmd_sample(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    out = output_path(args.out, suffixes=(".npy",) + IMAGE_SUFFIXES)
    G, meta = load_generator(args.checkpoint, device=device)
    num_classes = generator_classes(meta)
    shape = tuple(meta.get("dataset", {}).get("shape", [])) or (2,)
    bytes_each = 4 * int(np.prod(shape))
    if out.suffix.lower() == ".npy":   # streamed to disk in chunks: the disk is the limit
        disk_count(args.n, bytes_each, out, "--n", "samples")
    else:                             # a grid picture: the samples, the grid and its PNG are all in memory
        memory_count(args.n, 4 * bytes_each, "--n", "samples for a picture", ceiling=65_536,
                     hint=" (write FILE.npy for more: it is written in chunks)")
    labels = None
    if args.class_ is not None:
        if not num_classes:
            raise ValueError(f"{args.checkpoint} holds an unconditional {meta['family']} model; --class needs a cgan.")
        if not 0 <= args.class_ < num_classes:
            raise ValueError(f"--class must be between 0 and {num_classes - 1}.")
        labels = torch.full((args.n,), args.class_, dtype=torch.long)
    elif num_classes:
        labels = torch.arange(args.n) % num_classes
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        shape_out = write_npy_in_chunks(G, args.n, labels, args.seed, device, args.truncation, out)
        print(f"wrote {args.n} samples {shape_out} to {out}")
        return 0
    x = generate(G, args.n, labels=labels, seed=args.seed, device=device, truncation=args.truncation)
    ds = meta.get("dataset", {}).get("name", "")
    modes = toy_modes(ds)[0] if ds.startswith("toy-") else None
    nrow = num_classes if (labels is not None and args.class_ is None) else None
    save_samples(x, out, modes=modes, nrow=nrow)
    print(f"wrote {args.n} samples {tuple(x.shape[1:])} to {out}")
    return 0


SAMPLE_CHUNK = 10_000


def write_npy_in_chunks(G, n, labels, seed, device, truncation, out: Path) -> tuple:
    """`sample --out FILE.npy`: samples written SAMPLE_CHUNK at a time into an .npy opened with open_memmap, then
    moved into place; z is drawn chunk by chunk from the seed's generator, so up to SAMPLE_CHUNK samples are exactly
    generate(G, n, seed=seed)'s (and the PNG's), and memory stays one chunk whatever n is."""
    from numpy.lib.format import open_memmap

    if not 0 < truncation <= 1:
        raise ValueError("Truncation must be in (0, 1].")
    g = torch.Generator().manual_seed(seed)
    G.eval()
    tmp = out.with_name(f".{out.name}.part")
    arr = None
    try:
        with torch.no_grad():
            for i in range(0, n, SAMPLE_CHUNK):
                zb = torch.randn(min(SAMPLE_CHUNK, n - i), G.latent_dim, generator=g) * truncation
                yb = labels[i:i + SAMPLE_CHUNK] if labels is not None else None
                x = generate_from(G, zb, yb, device)
                if arr is None:
                    arr = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *x.shape[1:]))
                arr[i:i + len(x)] = x.numpy()
        arr.flush()
        shape = tuple(arr.shape[1:])
        del arr
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return shape


def generate_from(G, z, labels, device, batch_size: int = 500) -> torch.Tensor:
    """G's images of the given latents (and labels), on the CPU, batch by batch."""
    out = []
    for i in range(0, len(z), batch_size):
        yb = labels[i:i + batch_size].to(device) if labels is not None else None
        out.append(G(z[i:i + batch_size].to(device), yb).float().cpu())
    return torch.cat(out)


def cmd_info(args: argparse.Namespace) -> int:
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
    if load_checkpoint(args.checkpoint)["family"] == "cyclegan":
        return cmd_evaluate_cyclegan(args)
    device = pick_device(args.device)
    G, meta = load_generator(args.checkpoint, device=device)
    ds = meta.get("dataset", {})
    if not can_evaluate(ds.get("name", ""), ds.get("shape", [])):
        raise ValueError(f"No quality metrics apply to {ds.get('name')} {ds.get('shape')} models; "
                         "they need one-channel digits (mnist, typeset) or a 2-D toy.")
    num_classes = generator_classes(meta)
    memory_count(args.n, 8 * 4 * int(np.prod(ds["shape"])), "--n", "samples to evaluate")
    result = evaluate_generator(G, ds["name"], ds["shape"], num_classes=num_classes, n=args.n,
                                seed=args.seed, device=device)
    result = {"checkpoint": str(args.checkpoint), "family": meta["family"], "dataset": ds["name"],
              "step": meta.get("step"), "ema": meta["ema"], **result}
    return print_result(result, args.json)


def cmd_export(args: argparse.Namespace) -> int:
    info = export_checkpoint(args.checkpoint, args.out)
    size = Path(args.out).stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): {info['family']} on {info['dataset']}, step {info['step']}, "
          f"{'EMA and raw' if info['ema'] else 'raw'} generator weights, no D or optimiser state")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    result = train_classifier(args.out, epochs=args.epochs, seed=args.seed, device=str(pick_device(args.device)),
                              eval_data_dir=args.eval_data_dir)
    acc = result.get("test_accuracy")
    print(f"wrote {args.out}: trained {result['train_seconds']:.0f} s"
          + (f", test accuracy {acc * 100:.2f}%" if acc is not None else ""))
    return 0


def cmd_evaluate_cyclegan(args: argparse.Namespace) -> int:
    model = load_cyclegan(args.checkpoint)
    result = {"checkpoint": str(args.checkpoint), "family": "cyclegan", "dataset": model.domains[0],
              "dataset_b": model.domains[1], "step": model.meta.get("step"), "ema": model.meta["ema"],
              **evaluate_cyclegan(model, n=min(args.n, 2500), seed=args.seed, mnist_test_dir=args.mnist_test_dir)}
    return print_result(result, args.json)


def print_result(result: dict, as_json: bool) -> int:
    """A command's figures: JSON, or one `name  value` line each (floats to 4 significant digits)."""
    if as_json:
        print(json.dumps(result, indent=2))
        return 0
    for k, v in result.items():
        print(f"{k:24s} {v:.4g}" if isinstance(v, float) else f"{k:24s} {v}")
    return 0


def print_checkpoint_card(args: argparse.Namespace) -> int:
    """`info --layers`: the networks stored in a checkpoint, layer by layer."""
    return print_card(checkpoint_card(args.checkpoint), args.json, str(args.checkpoint))


def print_card(card: dict, as_json: bool, title: str) -> int:
    """Print a model card (ganlib.modelcard) as text under a title, or as JSON."""
    if as_json:
        print(json.dumps(card_json(card), indent=2))
    else:
        print(f"{title}\n")
        print(format_card(card), end="")
    return 0


def cmd_diversity(args: argparse.Namespace) -> int:
    """The seeds' 100-sample diversity test of a digit generator (the Mode-collapse lab's grid)."""
    G, meta = load_generator(args.checkpoint)
    num_classes = generator_classes(meta)
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


def add_checkpoint_commands(sub) -> None:
    s = sub.add_parser("sample", help="write samples from a checkpoint as a PNG grid or .npy array")
    s.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    s.add_argument("--n", type=count_arg("--n"), default=64, help="number of samples (default: 64)")
    s.add_argument("--out", required=True, help="FILE.png (grid) or FILE.npy (N, C, H, W) in [-1, 1]")
    s.add_argument("--class", dest="class_", type=count_arg("--class", 0), default=None, help="class to generate (cgan only)")
    s.add_argument("--seed", type=seed_arg(), default=0)
    s.add_argument("--truncation", type=truncation_arg(), default=1.0, help="truncation psi in (0, 1] (default: 1, none)")
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
    e.add_argument("--n", type=count_arg("--n", 1, 1_000_000), default=10000, help="number of generated samples (default: 10000)")
    e.add_argument("--seed", type=seed_arg(), default=0)
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--device", default="auto")
    e.add_argument("--mnist-test-dir", default="", help="CycleGAN: folder of the official MNIST t10k idx files, so "
                   "handwriting -> typeset is judged on digits the model never trained on")
    e.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="write a small inference-only copy of a checkpoint (generators and "
                                      "metadata; no D, optimiser or RNG state), as shipped in checkpoints/")
    x.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    x.add_argument("--out", required=True, help="where to write the exported checkpoint (.pt)")
    x.set_defaults(func=cmd_export)

    c = sub.add_parser("train-classifier", help="train the MNIST feature classifier used by the metrics")
    c.add_argument("--out", required=True, help="where to write the classifier (.pt)")
    c.add_argument("--epochs", type=count_arg("--epochs", 1, 100_000), default=60)
    c.add_argument("--seed", type=seed_arg(), default=0)
    c.add_argument("--eval-data-dir", default="", help="folder of MNIST test idx files to report accuracy on")
    c.add_argument("--device", default="auto")
    c.set_defaults(func=cmd_train_classifier)


def add_diversity_command(sub) -> None:
    v = sub.add_parser("diversity", help="the 100-sample diversity test of a digit generator: class histogram, "
                                         "coverage of 0-9, KL to uniform, most similar pairs")
    v.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    v.add_argument("--n", type=count_arg("--n", 2, 2_000), default=100, help="number of samples (default: 100)")
    v.add_argument("--seed", type=seed_arg(), default=0)
    v.add_argument("--out", default="", help="write the tagged grid to this PNG")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=cmd_diversity)
