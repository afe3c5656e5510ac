"""The U-Net configuration (the only place a network's shape is decided) and its factory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from audiodiff.dataclass_dict import checked_fields
from audiodiff.models.unet1d import UNet1D
from audiodiff.models.unet2d import UNet2D


@dataclass(frozen=True, kw_only=True)
class UNetConfig:
    """Shape of a :class:`UNet1D` (``kind="1d"``) or :class:`UNet2D` (``kind="2d"``).

    Level ``i`` has ``base_channels * channel_mults[i]`` channels and works at ``1 / 2**i`` of the
    input resolution (time only for 1d; time and mel bins for 2d). Each level has
    ``num_res_blocks`` residual blocks in the encoder and in the decoder. Levels listed in
    ``attention_levels`` add self-attention (and cross-attention over the conditioning tokens
    when ``token_dim`` is set) after every residual block; the middle block at the coarsest level
    always has both. ``groups`` is the GroupNorm group count, lowered per layer to the largest
    divisor of the channel count. ``cond_dim``/``token_dim`` are the conditioner's widths (training
    fills them in from the data). Lists given for tuple fields (e.g. from JSON) become tuples.
    """

    kind: Literal["1d", "2d"]
    n_mels: int = 80
    base_channels: int
    channel_mults: tuple[int, ...]
    num_res_blocks: int
    attention_levels: tuple[int, ...]
    num_heads: int
    cond_dim: int = 384
    token_dim: int | None = None
    dropout: float = 0.0
    groups: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_mults", tuple(self.channel_mults))
        object.__setattr__(self, "attention_levels", tuple(self.attention_levels))
        problems = self._problems()
        if problems:
            raise ValueError("invalid UNetConfig: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        if self.kind not in ("1d", "2d"):
            problems.append(f"kind must be '1d' or '2d', got {self.kind!r}")
        positive = ("n_mels", "base_channels", "num_res_blocks", "num_heads", "cond_dim", "groups")
        for name in positive:
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.token_dim is not None and self.token_dim < 1:
            problems.append(f"token_dim must be None or at least 1, got {self.token_dim}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.channel_mults or min(self.channel_mults) < 1:
            problems.append(f"channel_mults must be non-empty and positive, "
                            f"got {self.channel_mults}")
            return problems
        levels = len(self.channel_mults)
        if len(set(self.attention_levels)) != len(self.attention_levels) or any(
            not 0 <= i < levels for i in self.attention_levels
        ):
            problems.append(f"attention_levels must be distinct indices in 0..{levels - 1}, "
                            f"got {self.attention_levels}")
        attending = {self.channels(i) for i in (*self.attention_levels, levels - 1)
                     if 0 <= i < levels}
        if self.num_heads >= 1 and any(c % self.num_heads for c in attending):
            problems.append(f"num_heads={self.num_heads} must divide the channel count of every "
                            f"attention level, got {sorted(attending)}")
        if self.kind == "2d" and self.n_mels % self.length_multiple:
            problems.append(f"a 2d U-Net with {levels} levels needs n_mels to be a multiple of "
                            f"{self.length_multiple}, got {self.n_mels}")
        return problems

    def channels(self, level: int) -> int:
        """Channel count of ``level``."""
        return self.base_channels * self.channel_mults[level]

    @property
    def length_multiple(self) -> int:
        """Input frames (and, for 2d, mel bins) must be a multiple of this."""
        return 2 ** (len(self.channel_mults) - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        return cls(**checked_fields(cls, data))


def unet1d_default(n_mels: int, cond_dim: int, token_dim: int | None = None) -> UNetConfig:
    """The default 1-D U-Net (15-19M parameters): fast on a laptop CPU."""
    return UNetConfig(kind="1d", n_mels=n_mels, base_channels=96, channel_mults=(1, 2, 2, 4),
                      num_res_blocks=2, attention_levels=(2, 3), num_heads=4, cond_dim=cond_dim,
                      token_dim=token_dim, dropout=0.1)


def unet2d_default(n_mels: int, cond_dim: int, token_dim: int | None = None) -> UNetConfig:
    """The default 2-D U-Net over the mel image (3-4M parameters; ``n_mels`` a multiple of 8)."""
    return UNetConfig(kind="2d", n_mels=n_mels, base_channels=32, channel_mults=(1, 2, 2, 4),
                      num_res_blocks=2, attention_levels=(3,), num_heads=4, cond_dim=cond_dim,
                      token_dim=token_dim, dropout=0.1)


def build_unet(config: UNetConfig) -> nn.Module:
    """The network ``config`` describes, freshly initialised."""
    return UNet1D(config) if config.kind == "1d" else UNet2D(config)
