"""1-D U-Net: mel bins are channels, convolutions run over time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from audiodiff.conditioning_types import Conditioning
from audiodiff.models.blocks import UNetBackbone

if TYPE_CHECKING:
    from audiodiff.models.config import UNetConfig


class UNet1D(UNetBackbone):
    """Denoiser network ``(x [n, n_mels, frames], c_noise [n], cond) -> [n, n_mels, frames]``.

    Each level halves the time axis, so ``frames`` must be a multiple of
    ``config.length_multiple``. ``c_noise`` is the noise-level input (e.g. ``log(sigma) / 4``).
    ``cond.pooled [n, cond_dim]`` modulates every residual block; ``cond.tokens`` (with
    ``cond.mask``) feeds cross-attention when the config has ``token_dim``.
    """

    def __init__(self, config: UNetConfig) -> None:
        if config.kind != "1d":
            raise ValueError(f"UNet1D needs a config with kind='1d', got {config.kind!r}")
        super().__init__(config, dims=1, in_channels=config.n_mels)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Conditioning) -> Tensor:
        self.check_inputs(x, c_noise, cond)
        return self.run(x, c_noise, cond)
