"""The model card: G and D of a config or a checkpoint, layer by layer (type, output shape, parameters,
FLOPs per image), read from the real built networks with forward hooks, so it can never drift from them.

    card = config_card(TrainConfig(model="dcgan"))        # {"G": [LayerRow, ...], "D": [...]}
    print(format_card(card))

FLOPs count a multiply-add as 2 (the usual convention), per image, for one forward pass; norms and
activations count their element-wise work (2 and 1 per output element).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from ganlib.checkpoints import load_checkpoint
from ganlib.config import TrainConfig
from ganlib.models import build_models, model_kwargs
from ganlib.models.layers import MinibatchDiscrimination, MinibatchStd
from ganlib.models.stylegan import (CenterCrop, ConstantInput, EqualConv2d, EqualLinear, StyledConv,
                                    ToImage)

PROBE_BATCH = 4  # images pushed through each net to read the shapes (BatchNorm in eval mode takes any batch)


@dataclass
class LayerRow:
    name: str                       # module path, e.g. "net.3" ("input" for the input row)
    layer: str                      # what it is, e.g. "ConvTranspose2d 128→64, k4 s2 p1"
    output_shape: tuple[int, ...]   # per image: (C, H, W) or (features,)
    params: int
    flops: int                      # per image, one forward pass

    def shape_text(self) -> str:
        return "×".join(str(s) for s in self.output_shape) if self.output_shape else "scalar"


STYLEGAN_ATOMS = (StyledConv, ToImage)  # one row each, their style affine included (the conv is functional)


def _describe_stylegan(m: nn.Module) -> str | None:
    if isinstance(m, StyledConv):
        cout, cin = m.weight.shape[:2]
        how = "modulated/demodulated" if m.style_mode == "modulate" else "AdaIN"
        return f"StyledConv {cin}→{cout}, k3{' after 2x up' if m.up else ''}, {how} + noise"
    if isinstance(m, ToImage):
        return f"ToImage {m.weight.shape[1]}→{m.weight.shape[0]}, k1, modulated (skip sum)"
    if isinstance(m, EqualLinear):
        lr = f", lr×{m.lr_mul:g}" if m.lr_mul != 1 else ""
        return f"EqualLinear {m.in_features}→{m.out_features}{lr}"
    if isinstance(m, EqualConv2d):
        cout, cin, k = m.weight.shape[:3]
        return f"EqualConv2d {cin}→{cout}, k{k}"
    if isinstance(m, ConstantInput):
        return "learned constant " + "×".join(map(str, m.weight.shape[1:]))
    if isinstance(m, CenterCrop):
        return f"centre crop to {m.size}×{m.size}"
    return None


def _describe(m: nn.Module) -> str:
    styled = _describe_stylegan(m)
    if styled is not None:
        return styled
    kind = type(m).__name__.removeprefix("Parametrized")
    sn = " + spectral norm" if hasattr(m, "parametrizations") else ""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
        return f"{kind} {m.in_channels}→{m.out_channels}, k{k} s{s} p{p}{sn}"
    if isinstance(m, nn.Linear):
        return f"{kind} {m.in_features}→{m.out_features}{sn}"
    if isinstance(m, nn.Embedding):
        return f"{kind} {m.num_embeddings} classes→{m.embedding_dim}"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU({m.negative_slope:g})"
    if isinstance(m, nn.GroupNorm):
        return "LayerNorm (GroupNorm, 1 group)" if m.num_groups == 1 else f"GroupNorm({m.num_groups})"
    if isinstance(m, MinibatchDiscrimination):
        return f"MinibatchDiscrimination {m.n_kernels} kernels×{m.kernel_dim}"
    return kind + sn


def _flops(m: nn.Module, inputs: tuple, out: torch.Tensor, batch_size: int) -> int:
    """FLOPs of one call of leaf module m for the whole batch in the call."""
    x = inputs[0] if inputs else None
    if isinstance(m, (StyledConv, ToImage)):  # conv MACs + the style affine (+ demodulation's per-sample sums)
        cout, cin, k = m.weight.shape[:3]
        n = out.shape[0]
        return 2 * out.numel() * cin * k * k + 2 * n * m.affine.in_features * m.affine.out_features + 3 * out.numel()
    if isinstance(m, EqualLinear):
        return 2 * out.numel() * m.in_features
    if isinstance(m, EqualConv2d):
        return 2 * out.numel() * m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
    if isinstance(m, (ConstantInput, CenterCrop)):
        return 0
    if isinstance(m, nn.Conv2d):
        return 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.ConvTranspose2d):  # every input element scatters into Cout x k x k outputs
        return 2 * x.numel() * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return 2 * out.numel() * m.in_features
    if isinstance(m, nn.Embedding):
        return 0  # a table lookup
    if isinstance(m, MinibatchDiscrimination):  # x @ T, then |m_i - m_j| summed over each pair in the batch
        n, a = x.shape
        bc = m.n_kernels * m.kernel_dim
        return 2 * n * a * bc + 3 * n * batch_size * bc
    if isinstance(m, MinibatchStd):
        return 3 * x.numel()
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
        return 2 * out.numel()
    return out.numel()  # activations and anything else element-wise


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that do the work: no children, or only a spectral-norm parametrization."""
    out = []
    atoms = [name for name, m in model.named_modules() if isinstance(m, STYLEGAN_ATOMS)]
    for name, m in model.named_modules():
        if "parametrizations" in name.split(".") or any(name.startswith(a + ".") for a in atoms):
            continue
        if isinstance(m, STYLEGAN_ATOMS):
            out.append((name, m))
            continue
        if [c for c, _ in m.named_children() if c != "parametrizations"]:
            continue
        out.append((name or type(model).__name__, m))
    return out


@torch.no_grad()
def layer_table(model: nn.Module, *inputs: torch.Tensor | None, batch_size: int = 64,
                input_label: str = "input") -> list[LayerRow]:
    """One row per leaf module in the order the forward pass calls them (an input row first;
    identities are left out). inputs: what model(*inputs) takes, batch first; shapes and FLOPs are
    per image of that batch; batch_size is the training batch (minibatch discrimination's cost grows with it)."""
    n = inputs[0].shape[0]
    rows: list[LayerRow] = [LayerRow("input", input_label, tuple(inputs[0].shape[1:]), 0, 0)]
    seen: set[int] = set()

    def hook(name):
        def record(m, args, out):
            if id(m) in seen or isinstance(m, nn.Identity):  # a module called twice keeps its first row
                return
            seen.add(id(m))
            params = sum(p.numel() for p in m.parameters())
            rows.append(LayerRow(name, _describe(m), tuple(out.shape[1:]), params,
                                 math.ceil(_flops(m, args, out, batch_size) / n)))
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in _leaves(model)]
    was_training = model.training
    try:
        model.eval()
        model(*inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return rows


def transposed_conv_size(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0) -> int:
    """Height (or width) out of nn.ConvTranspose2d: (size - 1) * stride - 2 * padding + kernel + output_padding,
    e.g. DCGAN's 4 -> 7 (k3 s2 p1) and 7 -> 14 (k4 s2 p1). ValueError when the settings leave no output."""
    out = (size - 1) * stride - 2 * padding + kernel + output_padding
    if out < 1:
        raise ValueError(f"A {kernel}x{kernel} transposed convolution with stride {stride} and padding {padding} "
                         f"leaves nothing of a {size}-pixel input.")
    return out


def data_shape_for(config: TrainConfig) -> tuple[tuple[int, ...], int]:
    """(shape of one training example, number of classes) a config's data set will have, without loading it."""
    if config.dataset.startswith("toy-"):
        return (2,), 0
    channels = config.channels or (3 if config.dataset == "folder" else 1)
    return (channels, config.image_size, config.image_size), 0 if config.dataset == "folder" else 10


def model_card(family: str, kwargs: dict, batch_size: int = 64) -> dict[str, list[LayerRow]]:
    """{"G": rows, "D": rows} for a family and its constructor arguments (models.model_kwargs).
    ValueError (one sentence) for a family whose networks do not take (z, labels) and (x, labels)."""
    try:
        return _model_card(family, kwargs, batch_size)
    except (KeyError, TypeError, RuntimeError, AttributeError) as e:
        raise ValueError(f"No layer table for the {family} family ({type(e).__name__}: {e}).") from None


def _model_card(family: str, kwargs: dict, batch_size: int) -> dict[str, list[LayerRow]]:
    torch.manual_seed(0)
    G, D = build_models(family, kwargs)
    g = kwargs["G"]
    if "latent_dim" not in g:  # CycleGAN: image-to-image G (F: B -> A is the same network) and patch D's
        x = torch.rand(PROBE_BATCH, g["channels"], g["image_size"], g["image_size"]) * 2 - 1
        g_rows = layer_table(G, x, batch_size=batch_size, input_label="image of domain A (F: B→A alike)")
        with torch.no_grad():
            fake = G.eval()(x)
        return {"G": g_rows, "D": layer_table(D, fake, batch_size=batch_size,
                                              input_label="image of domain B (D_A alike)")}
    classes = g.get("num_classes", 0)
    n = PROBE_BATCH * max(1, int(kwargs["D"].get("pack", 1) or 1))  # a packing D takes whole packs
    z = torch.randn(n, g["latent_dim"])
    y = torch.arange(n) % classes if classes else None
    label = " + class label" if classes else ""
    g_rows = layer_table(G, z, y, batch_size=batch_size, input_label="z ~ N(0, 1)" + label)
    with torch.no_grad():
        x = G.eval()(z, y)
    d_rows = layer_table(D, x, y, batch_size=batch_size,
                         input_label=("image" if x.dim() == 4 else "sample") + label)
    return {"G": g_rows, "D": d_rows}


def config_card(config: TrainConfig) -> dict[str, list[LayerRow]]:
    """The networks a TrainConfig will train (before any data is loaded)."""
    shape, classes = data_shape_for(config)
    return model_card(config.model, model_kwargs(config, shape, classes), config.batch_size)


def checkpoint_card(path) -> dict[str, list[LayerRow]]:
    """The networks stored in a checkpoint file or run directory (CheckpointError for a bad file)."""
    ckpt = load_checkpoint(path)
    batch = int(ckpt.get("train_config", {}).get("batch_size", 64))
    return model_card(ckpt["family"], ckpt["model_kwargs"], batch)


def totals(rows: list[LayerRow]) -> tuple[int, int]:
    """(parameters, FLOPs per image) of a table."""
    return sum(r.params for r in rows), sum(r.flops for r in rows)


def card_records(rows: list[LayerRow]) -> list[dict]:
    """Rows as plain dicts (for a DataFrame or JSON), shapes as text, with a totals row."""
    params, flops = totals(rows)
    out = [{"layer": r.layer, "name": r.name, "output": r.shape_text(), "params": r.params, "flops": r.flops}
           for r in rows]
    out.append({"layer": "total", "name": "", "output": "", "params": params, "flops": flops})
    return out


def human(n: float) -> str:
    """1234567 -> '1.23 M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:g}"


def format_card(card: dict[str, list[LayerRow]]) -> str:
    """The card as plain text tables (what `python -m ganlib info --layers` prints)."""
    lines = []
    for net, rows in card.items():
        params, flops = totals(rows)
        title = {"G": "Generator", "D": "Discriminator"}.get(net, net)
        lines.append(f"{title}: {params:,} parameters, {human(flops)}FLOPs per image")
        width = max(len(r.layer) for r in rows)
        lines.append(f"  {'layer':{width}s}  {'output':>14s}  {'params':>10s}  {'FLOPs/image':>12s}")
        for r in rows:
            lines.append(f"  {r.layer:{width}s}  {r.shape_text():>14s}  {r.params:>10,}  {r.flops:>12,}")
        lines.append(f"  {'total':{width}s}  {'':>14s}  {params:>10,}  {flops:>12,}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def card_json(card: dict[str, list[LayerRow]]) -> dict:
    return {net: [asdict(r) for r in rows] for net, rows in card.items()}
