"""Exploring a generator from the command line: latent strips, interpolation, inversion (latent space),
translation (CycleGAN), style checks and mixing grids (StyleGAN)."""
from __future__ import annotations

import argparse
import json
import re

import torch

from .. import latent as L
from ..checkpoints import load_generator
from ..data import load_dataset
from ..device import pick_device
from ..directions import DIRECTION_KINDS, cached_directions
from ..files import atomic_write_bytes
from ..images import gif_bytes, save_samples, to_mnist_digit
from ..metrics.classifier import load_classifier
from ..metrics.image import classify
from ..style import TARGETS, grid_tensor, load_stylegan, mixing_grid, parse_range, seeds_to_w, style_check
from ..translate import load_cyclegan, load_images, save_images
from .args import (IMAGE_SUFFIXES, count_arg, float_arg, input_file, memory_count, output_path, seed_arg,
                   seed_list, value_range)

# ---------------------------------------------------------------- latent space (python -m ganlib latent / interpolate / invert)

def _parse_range(text: str) -> list[float]:
    """'-3:3:9' -> 9 evenly spaced values from -3 to 3 (finite ends, 1 to 64 values)."""
    lo, hi, n = value_range(text, "--range", max_count=64)
    return torch.linspace(lo, hi, n).tolist()


def _check_k(G, k: int) -> None:
    if k > L.latent_dim(G):
        raise ValueError(f"--k must be at most the model's latent size {L.latent_dim(G)}, not {k}.")


def _load_for_latent(args: argparse.Namespace):
    G, meta = load_generator(args.checkpoint, device=pick_device(args.device))
    if len(meta.get("dataset", {}).get("shape", [])) != 3:
        raise ValueError(f"{args.checkpoint} holds a {meta['family']} model of 2-D points; the latent tools need "
                         "an image generator.")
    return G, meta


def _class_for(G, class_: int | None, flag: str = "--class") -> int | None:
    if L.num_classes(G):
        if class_ is None:
            raise ValueError(f"This is a conditional model: give {flag} (0 to {L.num_classes(G) - 1}).")
        if not 0 <= class_ < L.num_classes(G):
            raise ValueError(f"{flag} must be between 0 and {L.num_classes(G) - 1}.")
        return class_
    if class_ is not None:
        raise ValueError(f"{flag} needs a conditional model (cgan); this one is unconditional.")
    return None


def cmd_latent(args: argparse.Namespace) -> int:
    out = output_path(args.out)
    values = _parse_range(args.range)
    G, meta = _load_for_latent(args)
    _check_k(G, args.k)
    label = _class_for(G, args.class_)
    kind, _, which = args.direction.partition(":")
    classifier = None
    if kind == "attribute":
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
    z = L.truncate(L.sample_latents(G, 1, args.seed)[0], L.mean_latent(G), args.truncation)
    strip = L.direction_strip(G, z, dirs.vectors[index], values, [label] if label is not None else None)
    save_samples(strip, out, nrow=len(values))
    score = f", {dirs.score_name} {dirs.scores[index]:.3f}" if dirs.score_name else ""
    print(f"wrote {len(values)} images along {kind} direction {index} ({dirs.names[index]}{score}) from "
          f"{values[0]:g} to {values[-1]:g}, seed {args.seed}, to {args.out} (directions found in {dirs.seconds:.2f} s)")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    out = output_path(args.out, suffixes=(".gif",) + IMAGE_SUFFIXES)
    seeds = seed_list(args.seeds, "--seeds", 1, 2)
    G, meta = _load_for_latent(args)
    shape = tuple(meta["dataset"]["shape"])
    # the frames, their uint8 copies and the GIF or strip: about 4 float copies of each frame
    memory_count(args.frames, 16 * int(torch.tensor(shape).prod()), "--frames", "frames", ceiling=MAX_FRAMES)
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
    out = output_path(args.out)
    if args.digit_out:
        output_path(args.digit_out, "--digit-out")
    target = to_mnist_digit(input_file(args.image, "--image"))
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
    save_samples(torch.cat([target[None], result.image[None], train[idx[0]]]), out, nrow=7)
    if args.latent_out:
        torch.save(result.latent, args.latent_out)
    cls = f", class {result.label}" if result.label is not None else ""
    print(f"wrote {args.out}: the digit, its reconstruction (pixel MSE {result.error:.4f}, from {result.start_error:.4f} "
          f"at the best random start{cls}; {result.seconds:.1f} s) and the 5 nearest training images "
          f"(RMS distance {', '.join(f'{d:.3f}' for d in dist[0].tolist())})")
    return 0


MAX_FRAMES = 10_000   # a GIF of more frames is not watchable; memory may allow fewer


def add_latent_commands(sub) -> None:
    lt = sub.add_parser("latent", help="a strip of images along one latent direction (SeFa, PCA, attribute, raw z)",
                        description="Walk from a seed's latent along one direction and write the images as a strip.")
    # let `--range -3:3:9` read as a value, not as an unknown option
    lt._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+:[-\d.:]+$")
    lt.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    lt.add_argument("--seed", type=seed_arg(), default=0)
    lt.add_argument("--class", dest="class_", type=count_arg("--class", 0), default=None, help="class (cgan only; required there)")
    lt.add_argument("--direction", default="sefa:0",
                    help=f"KIND:N or KIND:NAME, KIND one of {', '.join(DIRECTION_KINDS)} (e.g. sefa:0, pca:2, "
                         "attribute:thicker, 'attribute:more like a 3', raw:7; default sefa:0)")
    lt.add_argument("--range", default="-3:3:9", help="FROM:TO:COUNT steps along the unit direction (default -3:3:9)")
    lt.add_argument("--k", type=count_arg("--k", 1, 4096), default=10, help="how many SeFa/PCA/raw directions to find (default 10)")
    lt.add_argument("--truncation", type=float_arg("--truncation", 0.0, 1.5), default=1.0, help="truncation psi in [0, 1.5] (default 1: none)")
    lt.add_argument("--out", required=True, help="PNG strip to write")
    lt.add_argument("--device", default="auto")
    lt.set_defaults(func=cmd_latent)

    ip = sub.add_parser("interpolate", help="frames between two seeds (or two classes) as a GIF or PNG strip")
    ip.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    ip.add_argument("--seeds", default="1,2", help="two seeds A,B; one seed with --classes keeps the noise fixed")
    ip.add_argument("--classes", default="", help="A,B: interpolate between two classes (cgan only)")
    ip.add_argument("--frames", type=count_arg("--frames", 2), default=16,
                    help=f"frames from A to B (2 to {MAX_FRAMES}, fewer where memory is short; default 16)")
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
    iv.add_argument("--class", dest="class_", type=count_arg("--class", 0), default=None,
                    help="class to invert with (cgan; default: what the classifier reads)")
    iv.add_argument("--restarts", type=count_arg("--restarts", 1, 1000), default=8)
    iv.add_argument("--steps", type=count_arg("--steps", 1, 100_000), default=120)
    iv.add_argument("--seed", type=seed_arg(), default=0)
    iv.add_argument("--out", required=True, help="PNG to write")
    iv.add_argument("--digit-out", default="", help="also write the converted 28x28 digit to this PNG")
    iv.add_argument("--latent-out", default="", help="also save the found latent (a tensor) here")
    iv.add_argument("--device", default="auto")
    iv.set_defaults(func=cmd_invert)


# ---------------------------------------------------------------- CycleGAN (python -m ganlib translate / evaluate)

def cmd_translate(args: argparse.Namespace) -> int:
    out = output_path(args.out, suffixes=(".npy",) + IMAGE_SUFFIXES)
    model = load_cyclegan(args.checkpoint, device=pick_device(args.device))
    x = load_images(args.input)
    if tuple(x.shape[1:]) != model.image_shape:
        raise ValueError(f"The model translates {list(model.image_shape)} images; the input is {list(x.shape[1:])}.")
    y, rec = model.round_trip(x, args.direction)
    save_images(y, out, nrow=min(len(y), 10))
    src, dst = model.domains if args.direction == "a2b" else model.domains[::-1]
    print(f"wrote {args.out}: {len(y)} image(s) translated {src} -> {dst}; mean cycle error "
          f"|x - back(translate(x))| {float((rec - x).abs().mean()):.4f}")
    if model.image_shape == (1, 28, 28) and len(x) <= 20:
        _, probs = classify(load_classifier(), y)
        print("classifier reads: " + " ".join(str(int(d)) for d in probs.argmax(1)))
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
    out = output_path(args.out)
    seeds = [seed_list(args.a, "--a", 1, 16), seed_list(args.b, "--b", 1, 16)]
    try:
        lo, hi = parse_range(args.layers)
    except ValueError as e:
        raise ValueError(f"--layers: {e}") from None
    G, _ = load_stylegan(args.checkpoint)
    have = sorted(set(int(r) for r in G.layer_resolutions))
    if not any(lo <= r <= hi for r in have):
        raise ValueError(f"--layers {lo}-{hi} holds none of this model's layers ({', '.join(map(str, have))} px).")
    grid = mixing_grid(G, seeds_to_w(G, seeds[0]), seeds_to_w(G, seeds[1]), lo, hi)
    images, nrow = grid_tensor(grid)
    save_samples(torch.as_tensor(images), out, nrow=nrow)
    print(f"wrote {args.out}: sources A (seeds {args.a}) across the top, B (seeds {args.b}) down the side; each cell "
          f"takes the {lo}-{hi} px layers from A and the rest from B")
    return 0


def add_style_commands(sub) -> None:
    sc = sub.add_parser("style-check", help="measure a StyleGAN's disentanglement: coarse styles keep the digit, "
                                            "fine styles carry the ink, noise changes only details")
    sc.add_argument("--checkpoint", required=True, help="stylegan checkpoint file or run directory")
    sc.add_argument("--n", type=count_arg("--n", 1, 100_000), default=1000, help="random pairs (default: 1000)")
    sc.add_argument("--seed", type=seed_arg(), default=0)
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


