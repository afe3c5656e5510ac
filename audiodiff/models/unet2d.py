"""2-D U-Net: the log-mel is a one-channel image ``[n_mels, frames]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from audiodiff.conditioning_types import Conditioning
from audiodiff.models.blocks import UNetBackbone

if TYPE_CHECKING:
    from audiodiff.models.config import UNetConfig


class UNet2D(UNetBackbone):
    """Denoiser network ``(x [n, n_mels, frames], c_noise [n], cond) -> [n, n_mels, frames]``.

    Runs on ``x`` as an image ``[n, 1, n_mels, frames]``; each level halves both axes, so
    ``frames`` (and ``config.n_mels``) must be multiples of ``config.length_multiple``.
    ``c_noise`` is the noise-level input (e.g. ``log(sigma) / 4``). ``cond.pooled
    [n, cond_dim]`` modulates every residual block; ``cond.tokens`` (with ``cond.mask``) feeds
    cross-attention over the flattened feature map when the config has ``token_dim``.
    """

    def __init__(self, config: UNetConfig) -> None:
        if config.kind != "2d":
            raise ValueError(f"UNet2D needs a config with kind='2d', got {config.kind!r}")
        super().__init__(config, dims=2, in_channels=1)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Conditioning) -> Tensor:
        self.check_inputs(x, c_noise, cond)
        return self.run(x.unsqueeze(1), c_noise, cond).squeeze(1)
