"""StyleGAN for 28x28 (or 32x32) digits on a CPU (Karras et al. 2019, 2020), after rosinality/stylegan2-pytorch.

    z (N, D) --mapping (MLP, lr x 0.01)--> w (N, D) --broadcast / mix--> ws (N, L, D)
    ws --synthesis--> learned constant 4x4 -> styled convs at 4, 8, 16, 32 (+ per-pixel noise) -> image

Every styled layer (convs and the to-image 1x1 convs of the skip architecture) reads its own w from
ws[:, i], so style mixing, per-layer edits and truncation are all just edits of ws (`G.synthesis(ws)`).
A style enters a conv either by StyleGAN2's weight modulation / demodulation ("modulate", default) or
by StyleGAN1's AdaIN ("adain"). Same recipe (batch 32, width 16), measured on a GPU: at 2,000 steps
modulation had FID 10-17, AdaIN 31-55 with recall <= 0.05 and StyleGAN1's droplet blobs; modulation
went on to FID 4.5 at 5,000 steps (all ten digits, recall 0.44). With style mixing it draws only 4-6
digits in its first 1,000 steps, a dip that short probes had mistaken for collapse. Modulation is
computed in its non-fused form (scale the input channels, shared conv, scale the output channels),
which equals per-sample kernels exactly and is a plain batched conv on the CPU.

Both networks keep their conv weights channels-last (NHWC, `channels_last`), so every conv, the bilinear
up-sampling and the average pooling run on channels-last activations: a CPU training step took 252 ->
178 ms (one core, batch 32, bf16) with the same maths. Checkpoints load as usual (copy_ keeps the layout).

28x28 data: synthesis runs at 32x32 and G returns the central 28x28 crop; D pads its 28x28 input back
to 32x32 with the background value -1 (MNIST's 2-pixel border is background anyway).
All weights use the equalised learning rate (stored ~N(0, 1), scaled at run time by 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import MinibatchStd

RESOLUTIONS = (4, 8, 16, 32)
STYLE_MODES = ("modulate", "adain")
NOISE_MODES = ("random", "const", "none")


def channels_at(res: int, width: int) -> int:
    """Feature channels at a resolution: 4w at 4 and 8, 2w at 16, w at 32."""
    return {4: 4 * width, 8: 4 * width, 16: 2 * width, 32: width}[res]


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU scaled by sqrt(2) to keep unit variance (StyleGAN's 'lrelu' with gain)."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate: weight ~ N(0, 1) / lr_mul, used as
    weight * lr_mul / sqrt(in). lr_mul < 1 slows this layer's learning by that factor under Adam."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)) / lr_mul)
        self.scale, self.lr_mul = lr_mul / math.sqrt(in_features), lr_mul
        self.in_features, self.out_features = in_features, out_features

    def effective_weight(self) -> torch.Tensor:  # (out, in): what multiplies the input
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, in) -> (N, out)
        return F.linear(x, self.effective_weight(), self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Conv with the equalised learning rate (stride 1, 'same' padding)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale, self.padding = 1 / math.sqrt(in_channels * kernel * kernel), kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class MappingNetwork(nn.Module):
    """z (N, D) -> w (N, D): pixel norm, then `layers` fully connected layers with lrelu, lr x lr_mul."""

    def __init__(self, latent_dim: int, layers: int = 4, lr_mul: float = 0.01):
        super().__init__()
        self.fcs = nn.ModuleList(EqualLinear(latent_dim, latent_dim, lr_mul=lr_mul) for _ in range(layers))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)  # pixel norm: z on the sphere of radius sqrt(D)
        for fc in self.fcs:
            x = lrelu(fc(x))
        return x


def modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool,
                   padding: int) -> torch.Tensor:
    """StyleGAN2 eq. 1-3: w'_oik = s_i w_oik, then w''_oik = w'_oik / sqrt(sum_ik w'_oik^2 + eps).

    x (N, Cin, H, W), weight (Cout, Cin, k, k) (already scaled), styles (N, Cin) -> (N, Cout, H, W).
    Non-fused: (x * s) conv w, times the per-sample demodulation factor of each output channel.
    """
    out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)
    if demodulate:
        # sum_ik (s_i w_oik)^2 = sum_i s_i^2 (sum_k w_oik^2): (N, Cin) @ (Cin, Cout)
        d = torch.rsqrt(styles.square() @ weight.square().sum((2, 3)).T + 1e-8)   # (N, Cout)
        out = out * d[:, :, None, None]
    return out


def adain(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """StyleGAN1: AdaIN(x, y) = y_s (x - mean(x)) / std(x) + y_b per sample and channel.
    x (N, C, H, W), scale and shift (N, C)."""
    mean = x.mean((2, 3), keepdim=True)
    std = (x.var((2, 3), keepdim=True, unbiased=False) + 1e-8).sqrt()
    return scale[:, :, None, None] * (x - mean) / std + shift[:, :, None, None]


class StyledConv(nn.Module):
    """[2x bilinear upsample] -> 3x3 conv taking a style -> + noise x per-channel strength -> bias, lrelu."""

    def __init__(self, in_channels: int, out_channels: int, latent_dim: int, resolution: int, up: bool,
                 style_mode: str):
        super().__init__()
        self.up, self.style_mode, self.resolution = up, style_mode, resolution
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.scale = 1 / math.sqrt(in_channels * 9)
        # the style: per input channel (modulation, init 1) or a scale and shift per output channel (AdaIN)
        n_style = in_channels if style_mode == "modulate" else 2 * out_channels
        self.affine = EqualLinear(latent_dim, n_style, bias_init=1.0)
        if style_mode == "adain":
            with torch.no_grad():
                self.affine.bias[out_channels:] = 0.0   # shift starts at 0, scale at 1
        self.noise_strength = nn.Parameter(torch.zeros(out_channels))   # learned per channel, starts off
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("const_noise", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        style = self.affine(w)
        weight = self.weight * self.scale
        if self.style_mode == "modulate":
            x = modulated_conv(x, weight, style, demodulate=True, padding=1)
        else:
            x = F.conv2d(x, weight, padding=1)
        if noise is not None:
            x = x + self.noise_strength[None, :, None, None] * noise
        x = lrelu(x + self.bias[None, :, None, None])
        if self.style_mode == "adain":
            x = adain(x, *style.chunk(2, dim=1))
        return x


class ToImage(nn.Module):
    """1x1 modulated conv (no demodulation) to the image channels: the skip architecture's output branch."""

    def __init__(self, in_channels: int, channels: int, latent_dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.weight = nn.Parameter(torch.randn(channels, in_channels, 1, 1))
        self.scale = 1 / math.sqrt(in_channels)
        self.affine = EqualLinear(latent_dim, in_channels, bias_init=1.0)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = modulated_conv(x, self.weight * self.scale, self.affine(w), demodulate=False, padding=0)
        return out + self.bias[None, :, None, None]


class ConstantInput(nn.Module):
    """The learned constant 4x4 input of the synthesis network, repeated for the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, n: int) -> torch.Tensor:  # -> (n, C, 4, 4)
        return self.weight.expand(n, -1, -1, -1)


class CenterCrop(nn.Module):
    """(N, C, 32, 32) -> (N, C, size, size): the central crop (28 px data is synthesised at 32)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x.shape[-1] - self.size) // 2
        return x[:, :, m:m + self.size, m:m + self.size] if m else x


class Synthesis(nn.Module):
    """ws (N, num_ws, D) -> images (N, C, 32, 32). Styled layers in order, each reading ws[:, i]:

        4: conv, to-image | 8: up-conv, conv, to-image | 16: ... | 32: ...   (num_ws = 11)
    """

    def __init__(self, latent_dim: int, channels: int, width: int, style_mode: str):
        super().__init__()
        c4 = channels_at(4, width)
        self.input = ConstantInput(c4)
        self.convs, self.to_images = nn.ModuleList(), nn.ModuleList()
        self.layer_names, self.layer_resolutions = [], []   # one per w, in ws order
        self.conv_ws, self.image_ws = [], []                 # which w each conv / to-image reads
        cin = c4
        for res in RESOLUTIONS:
            cout = channels_at(res, width)
            for j in range(1 if res == 4 else 2):
                up = res > 4 and j == 0
                self.conv_ws.append(len(self.layer_names))
                self.convs.append(StyledConv(cin, cout, latent_dim, res, up, style_mode))
                self.layer_names.append(f"{res}x{res} {'up-conv' if up else 'conv'}")
                self.layer_resolutions.append(res)
                cin = cout
            self.image_ws.append(len(self.layer_names))
            self.to_images.append(ToImage(cout, channels, latent_dim, res))
            self.layer_names.append(f"{res}x{res} to-image")
            self.layer_resolutions.append(res)
        self.num_ws = len(self.layer_names)

    def affine(self, index: int) -> EqualLinear:
        """The affine layer (w -> style) of styled layer `index` in ws order."""
        if index in self.conv_ws:
            return self.convs[self.conv_ws.index(index)].affine
        return self.to_images[self.image_ws.index(index)].affine

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", noise_scale=None,
                noises: list[torch.Tensor] | None = None, return_features: bool = False):
        """ws (N, num_ws, D) -> (N, C, 32, 32); with return_features also {layer name: (N, C_l, R, R)}.

        noise_mode: "random" (fresh per call), "const" (fixed per layer: deterministic), "none".
        noise_scale: one factor per conv (len(self.convs)) multiplying its learned strength (the page's 0-2x).
        noises: explicit noise per conv, (N or 1, 1, R, R) each, overriding noise_mode.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, not {noise_mode!r}.")
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"synthesis takes ws of shape (N, {self.num_ws}, D), got {tuple(ws.shape)}.")
        n = ws.shape[0]
        x = self.input(n)
        image, features = None, {}
        conv_i = 0
        for res_i, to_image in enumerate(self.to_images):
            for _ in range(1 if res_i == 0 else 2):
                conv = self.convs[conv_i]
                if noises is not None:
                    noise = noises[conv_i].to(x)
                elif noise_mode == "random":
                    noise = torch.randn(n, 1, conv.resolution, conv.resolution, device=x.device, dtype=x.dtype)
                elif noise_mode == "const":
                    noise = conv.const_noise.to(x)
                else:
                    noise = None
                if noise is not None and noise_scale is not None:
                    noise = noise * float(noise_scale[conv_i])
                x = conv(x, ws[:, self.conv_ws[conv_i]], noise)
                if return_features:
                    features[self.layer_names[self.conv_ws[conv_i]]] = x
                conv_i += 1
            y = to_image(x, ws[:, self.image_ws[res_i]])
            image = y if image is None else F.interpolate(image, scale_factor=2, mode="bilinear",
                                                          align_corners=False) + y
        return (image, features) if return_features else image


class StyleGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, S, S) in about [-1, 1] (clamped outside training).

    `G(z)` maps, broadcasts (with style mixing in training) and synthesises; `G.mapping(z)` -> w (N, D);
    `G.synthesis(ws)` with ws (N, num_ws, D); `G.w_avg` the tracked mean w (truncation's centre).
    """

    def __init__(self, latent_dim: int = 64, image_size: int = 28, channels: int = 1, width: int = 16,
                 mapping_layers: int = 4, mapping_lr_mul: float = 0.01, style_mode: str = "modulate",
                 num_classes: int = 0):
        super().__init__()
        assert image_size in (28, 32), image_size
        if style_mode not in STYLE_MODES:
            raise ValueError(f"style_mode must be one of {', '.join(STYLE_MODES)}, not {style_mode!r}.")
        if num_classes:
            raise ValueError("Class-conditional StyleGAN is not built yet; use the cgan family for classes.")
        self.latent_dim, self.image_size, self.channels, self.num_classes = latent_dim, image_size, channels, 0
        self.style_mode = style_mode
        self.mapping = MappingNetwork(latent_dim, mapping_layers, mapping_lr_mul)
        self.synthesis = Synthesis(latent_dim, channels, width, style_mode)
        self.num_ws = self.synthesis.num_ws
        self.crop_to_size = CenterCrop(image_size)
        self.register_buffer("w_avg", torch.zeros(latent_dim))
        self.to(memory_format=torch.channels_last)   # NHWC: 1.4x faster on a CPU (module docstring)

    @property
    def layer_names(self) -> list[str]:
        return self.synthesis.layer_names

    @property
    def layer_resolutions(self) -> list[int]:
        return self.synthesis.layer_resolutions

    @torch.no_grad()
    def update_w_avg(self, w: torch.Tensor, beta: float = 0.995) -> None:
        """w_avg <- beta w_avg + (1 - beta) mean(w) (StyleGAN's w_avg_beta)."""
        self.w_avg.copy_(torch.lerp(w.detach().float().mean(0), self.w_avg, beta))

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w (N, D) -> ws (N, num_ws, D), the same w for every layer."""
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """(N, C, 32, 32) -> (N, C, S, S): the central 28x28 for 28 px data; clamped outside training."""
        image = self.crop_to_size(image)
        return image if self.training else image.clamp(-1, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, *, truncation_psi: float = 1.0,
                style_mixing_prob: float = 0.0, noise_mode: str | None = None) -> torch.Tensor:
        """z (N, D) -> images. Style mixing (training): with probability p a second z takes over the
        layers from a random cut on. Noise is random in training and fixed ("const") otherwise, so
        sampling in eval mode is deterministic for a given z."""
        w = self.mapping(z)
        if truncation_psi != 1.0:
            w = torch.lerp(self.w_avg.to(w), w, truncation_psi)
        ws = self.broadcast(w)
        if style_mixing_prob > 0 and torch.rand(()).item() < style_mixing_prob:
            cut = int(torch.randint(1, self.num_ws, ()).item())
            w2 = self.mapping(torch.randn_like(z))
            ws = torch.cat([ws[:, :cut], self.broadcast(w2)[:, cut:]], dim=1)
        noise_mode = noise_mode or ("random" if self.training else "const")
        return self.crop(self.synthesis(ws, noise_mode=noise_mode))


class GroupMinibatchStd(nn.Module):
    """StyleGAN2's minibatch std: within each group of `group` samples, the std of every feature, averaged
    to one number per group, appended as an extra channel. (N, C, H, W) -> (N, C + 1, H, W)."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n) if n % min(self.group, n) == 0 else 1
        y = x.float().view(g, -1, c, h, w)                          # (G, N/G, C, H, W): sample i in group i % (N/G)
        y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))   # (N/G,)
        y = y.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w).to(x.dtype)
        return torch.cat([x, y], dim=1)


class StyleGANDiscriminator(nn.Module):
    """images (N, C, S, S) -> (N,) logits. StyleGAN2's residual D: from-image 1x1, then per resolution a
    3x3 conv, a 2x average-pool down and a 3x3 conv (plus a pooled 1x1 skip), minibatch std at 4x4, two
    linear layers."""

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 16, num_classes: int = 0,
                 mbstd_group: int = 4):
        super().__init__()
        assert image_size in (28, 32), image_size
        self.image_size, self.num_classes = image_size, 0
        self.from_image = EqualConv2d(channels, channels_at(32, width), 1)
        self.blocks = nn.ModuleList()
        for res in (32, 16, 8):
            cin, cout = channels_at(res, width), channels_at(res // 2, width)
            self.blocks.append(nn.ModuleDict({"conv1": EqualConv2d(cin, cin, 3), "conv2": EqualConv2d(cin, cout, 3),
                                              "skip": EqualConv2d(cin, cout, 1, bias=False)}))
        c4 = channels_at(4, width)
        self.mbstd = GroupMinibatchStd(mbstd_group) if mbstd_group else MinibatchStd()   # 0: over the whole batch
        self.conv4 = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, 1)
        self.to(memory_format=torch.channels_last)   # NHWC: 1.4x faster on a CPU (module docstring)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.image_size == 28:
            x = F.pad(x, (2, 2, 2, 2), value=-1.0)   # back to 32x32 with background
        x = lrelu(self.from_image(x))
        for b in self.blocks:
            skip = b["skip"](F.avg_pool2d(x, 2))
            h = F.avg_pool2d(lrelu(b["conv1"](x)), 2)   # the second conv runs at the lower resolution (4x cheaper)
            x = (lrelu(b["conv2"](h)) + skip) / math.sqrt(2)
        x = lrelu(self.conv4(self.mbstd(x)))
        return self.out(lrelu(self.fc(x.flatten(1)))).squeeze(1)
