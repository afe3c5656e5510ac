"""Building blocks shared by the 1-D and 2-D U-Nets, parametrised by ``dims`` (1 or 2).

Feature maps are ``[n, channels, *spatial]`` with ``spatial = (frames,)`` for ``dims=1`` and
``(n_mels, frames)`` for ``dims=2``. ``emb`` is the per-request embedding ``[n, emb_dim]`` of the
noise level plus the pooled conditioning; ``Context`` is the cross-attention input.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiodiff.conditioning_types import Conditioning

if TYPE_CHECKING:
    from audiodiff.models.config import UNetConfig


class Context(NamedTuple):
    """Cross-attention context: ``tokens [n, t, token_dim]`` and ``mask [n, t]`` (True = real)."""

    tokens: Tensor
    mask: Tensor


def conv_nd(dims: int, in_channels: int, out_channels: int, kernel_size: int,
            **kwargs: int) -> nn.Module:
    """``nn.Conv1d`` or ``nn.Conv2d`` chosen by ``dims``."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    return conv(in_channels, out_channels, kernel_size, **kwargs)


def group_count(channels: int, groups: int) -> int:
    """The largest number of GroupNorm groups ``<= groups`` that divides ``channels``."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(group_count(channels, groups), channels)


def zero_(module: nn.Module) -> nn.Module:
    """Set every parameter of ``module`` to zero (in place) and return it."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class NoiseEmbedding(nn.Module):
    """``c_noise [n]`` and ``pooled [n, cond_dim]`` -> ``emb [n, emb_dim]``, SiLU already applied.

    ``c_noise`` (any real number, e.g. ``log(sigma) / 4``) is expanded into sinusoids with
    geometrically spaced angular frequencies in ``[min_freq, max_freq]``, passed through a two-layer
    MLP, and the pooled conditioning is added twice: linearly projected, and through a
    LayerNorm-Linear-SiLU-Linear MLP whose last layer starts at zero. The MLP can decode what a
    sentence embedding holds only nonlinearly (e.g. the note named in a prompt).
    """

    def __init__(self, freq_dim: int, emb_dim: int, cond_dim: int, min_freq: float = 0.1,
                 max_freq: float = 1000.0) -> None:
        super().__init__()
        if freq_dim % 2:
            raise ValueError(f"freq_dim must be even, got {freq_dim}")
        freqs = torch.exp(torch.linspace(math.log(min_freq), math.log(max_freq), freq_dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(freq_dim, emb_dim), nn.SiLU(),
                                 nn.Linear(emb_dim, emb_dim))
        self.cond = nn.Linear(cond_dim, emb_dim)
        self.cond_mlp = nn.Sequential(nn.LayerNorm(cond_dim), nn.Linear(cond_dim, emb_dim), nn.SiLU(),
                                      zero_(nn.Linear(emb_dim, emb_dim)))

    def forward(self, c_noise: Tensor, pooled: Tensor) -> Tensor:
        angles = c_noise.float()[:, None] * self.freqs.float()
        waves = torch.cat([angles.cos(), angles.sin()], dim=1).to(pooled.dtype)
        return F.silu(self.mlp(waves) + self.cond(pooled) + self.cond_mlp(pooled))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with FiLM (scale, shift from ``emb``) after the second norm.

    The FiLM projection starts at zero, so at initialisation the modulation is the identity.
    ``[n, in_channels, *spatial] -> [n, out_channels, *spatial]``.
    """

    def __init__(self, dims: int, in_channels: int, out_channels: int, emb_dim: int,
                 dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = conv_nd(dims, in_channels, out_channels, 3, padding=1)
        self.film = zero_(nn.Linear(emb_dim, 2 * out_channels))
        self.norm2 = group_norm(out_channels, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv_nd(dims, out_channels, out_channels, 3, padding=1)
        self.skip = (nn.Identity() if in_channels == out_channels
                     else conv_nd(dims, in_channels, out_channels, 1))

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        film = self.film(emb).reshape(x.shape[0], -1, *(1,) * (x.ndim - 2))
        scale, shift = film.chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head attention of a feature map over itself, or over ``Context`` tokens.

    The map ``[n, c, *spatial]`` is flattened to a sequence of ``prod(spatial)`` positions. With
    ``context_dim=None`` keys and values come from the map (self-attention); otherwise from the
    layer-normed context tokens, with padding tokens masked out. A request whose mask is all False
    gets no update (as if it had no context). The output projection starts at zero, so the block
    starts as the identity. ``[n, c, *spatial] -> [n, c, *spatial]``.
    """

    def __init__(self, channels: int, num_heads: int, groups: int,
                 context_dim: int | None = None) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels={channels} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.norm = group_norm(channels, groups)
        self.q = nn.Linear(channels, channels)
        kv_dim = channels if context_dim is None else context_dim
        self.context_norm = None if context_dim is None else nn.LayerNorm(context_dim)
        self.kv = nn.Linear(kv_dim, 2 * channels)
        self.out = zero_(nn.Linear(channels, channels))

    def _heads(self, x: Tensor) -> Tensor:
        """``[n, length, c] -> [n, heads, length, c // heads]``."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, context: Context | None = None) -> Tensor:
        seq = self.norm(x).flatten(2).transpose(1, 2)  # [n, L, c]
        if self.context_norm is None:
            source, attn_mask, has_context = seq, None, None
        else:
            if context is None:
                raise ValueError("cross-attention needs a Context")
            source = self.context_norm(context.tokens)
            has_context = context.mask.any(dim=1)  # [n]
            # Rows with no real token attend to everything, then their update is zeroed below.
            attn_mask = (context.mask | ~has_context[:, None])[:, None, None, :]
        k, v = self.kv(source).chunk(2, dim=-1)
        q, k, v = self._heads(self.q(seq)), self._heads(k), self._heads(v)
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        h = self.out(h.transpose(1, 2).flatten(2))  # [n, L, c]
        if has_context is not None:
            h = h * has_context[:, None, None].to(h.dtype)
        return x + h.transpose(1, 2).reshape(x.shape)


class Stage(nn.Module):
    """``num_blocks`` residual blocks, each followed by self- (and cross-) attention if asked.

    ``[n, in_channels, *spatial] -> [n, out_channels, *spatial]``. Cross-attention is built when
    ``token_dim`` is given and skipped at run time when the context is ``None``.
    """

    def __init__(self, dims: int, in_channels: int, out_channels: int, num_blocks: int, *,
                 emb_dim: int, dropout: float, groups: int, attention: bool, num_heads: int,
                 token_dim: int | None) -> None:
        super().__init__()
        self.res = nn.ModuleList([
            ResBlock(dims, in_channels if i == 0 else out_channels, out_channels, emb_dim,
                     dropout, groups)
            for i in range(num_blocks)
        ])
        with_attention = range(num_blocks if attention else 0)
        self.self_attn = nn.ModuleList([Attention(out_channels, num_heads, groups)
                                        for _ in with_attention])
        with_cross = range(num_blocks if attention and token_dim is not None else 0)
        self.cross_attn = nn.ModuleList([Attention(out_channels, num_heads, groups, token_dim)
                                         for _ in with_cross])

    def forward(self, x: Tensor, emb: Tensor, context: Context | None) -> Tensor:
        for i, block in enumerate(self.res):
            x = block(x, emb)
            if self.self_attn:
                x = self.self_attn[i](x)
            if self.cross_attn and context is not None:
                x = self.cross_attn[i](x, context)
        return x


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a 3-wide conv. ``[n, c, *s] -> [n, c, *s * 2]``."""

    def __init__(self, dims: int, channels: int) -> None:
        super().__init__()
        self.conv = conv_nd(dims, channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNetBackbone(nn.Module):
    """The U-Net skeleton shared by :class:`UNet1D` and :class:`UNet2D`.

    ``[n, in_channels, *spatial] -> [n, in_channels, *spatial]``: a stem conv, an encoder
    ``Stage`` per level (its output kept as the skip) with stride-2 downsampling between levels,
    a middle ``Stage`` with attention, a decoder ``Stage`` per level fed the upsampled features
    concatenated with the skip, and a zero-initialised output conv. A linear 1x1 skip from the
    input to the output (also zero at first) carries what the output must copy from the input
    (the noise, for eps and v targets) past the stem, which may have fewer channels than mel bins.
    """

    def __init__(self, config: UNetConfig, dims: int, in_channels: int) -> None:
        super().__init__()
        self.config = config
        levels = len(config.channel_mults)
        base = config.base_channels
        emb_dim = 4 * base
        self.embed = NoiseEmbedding(base, emb_dim, config.cond_dim)

        def stage(level: int, in_ch: int, blocks: int, attention: bool) -> Stage:
            return Stage(dims, in_ch, config.channels(level), blocks, emb_dim=emb_dim,
                         dropout=config.dropout, groups=config.groups, attention=attention,
                         num_heads=config.num_heads, token_dim=config.token_dim)

        self.stem = conv_nd(dims, in_channels, base, 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        channels = base
        for level in range(levels):
            attention = level in config.attention_levels
            self.down.append(stage(level, channels, config.num_res_blocks, attention))
            channels = config.channels(level)
            self.downsample.append(nn.Identity() if level == levels - 1 else
                                   conv_nd(dims, channels, channels, 3, stride=2, padding=1))
        self.mid = stage(levels - 1, channels, 1, True)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(levels)):
            attention = level in config.attention_levels
            in_ch = channels + config.channels(level)
            self.up.append(stage(level, in_ch, config.num_res_blocks, attention))
            channels = config.channels(level)
            self.upsample.append(nn.Identity() if level == 0 else Upsample(dims, channels))
        self.out = nn.Sequential(group_norm(channels, config.groups), nn.SiLU(),
                                 zero_(conv_nd(dims, channels, in_channels, 3, padding=1)))
        self.input_skip = zero_(conv_nd(dims, in_channels, in_channels, 1))

    def check_length(self, frames: int) -> None:
        """Raise ``ValueError`` unless ``frames`` is a positive multiple of ``length_multiple``."""
        multiple = self.config.length_multiple
        if frames > 0 and frames % multiple == 0:
            return
        lower, upper = frames // multiple * multiple, (frames // multiple + 1) * multiple
        example = f"{lower} or {upper}" if lower > 0 else f"{upper}"
        raise ValueError(f"frames={frames} is not allowed: this model needs a multiple of "
                         f"{multiple} (e.g. {example})")

    def check_inputs(self, x: Tensor, c_noise: Tensor, cond: Conditioning) -> None:
        """Validate ``x [n, n_mels, frames]``, ``c_noise [n]`` and ``cond`` against the config."""
        cfg = self.config
        if x.ndim != 3 or x.shape[1] != cfg.n_mels:
            raise ValueError(f"x must be [n, {cfg.n_mels}, frames], got {tuple(x.shape)}")
        self.check_length(x.shape[2])
        n = x.shape[0]
        if c_noise.shape != (n,) or cond.pooled.shape != (n, cfg.cond_dim):
            raise ValueError(f"need c_noise [{n}] and cond.pooled [{n}, {cfg.cond_dim}], got "
                             f"{tuple(c_noise.shape)} and {tuple(cond.pooled.shape)}")
        if cond.tokens is None:
            return
        if cfg.token_dim is None:
            raise ValueError("cond.tokens was given but this model has no cross-attention "
                             "(token_dim=None)")
        if cond.tokens.shape[0] != n or cond.tokens.shape[2] != cfg.token_dim:
            raise ValueError(f"cond.tokens must be [{n}, t, {cfg.token_dim}], "
                             f"got {tuple(cond.tokens.shape)}")

    def run(self, x: Tensor, c_noise: Tensor, cond: Conditioning) -> Tensor:
        """The U-Net on ``x [n, in_channels, *spatial]`` (inputs already checked)."""
        emb = self.embed(c_noise, cond.pooled)
        context = None if cond.tokens is None else Context(cond.tokens, cond.mask)
        h = self.stem(x)
        skips = []
        for stage, downsample in zip(self.down, self.downsample, strict=True):
            h = stage(h, emb, context)
            skips.append(h)
            h = downsample(h)
        h = self.mid(h, emb, context)
        for stage, upsample in zip(self.up, self.upsample, strict=True):
            h = upsample(stage(torch.cat([h, skips.pop()], dim=1), emb, context))
        return self.out(h) + self.input_skip(x)
