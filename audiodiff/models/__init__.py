"""Denoiser networks: pure ``nn.Module`` U-Nets over log-mel spectrograms."""

from audiodiff.models.config import UNetConfig, build_unet, unet1d_default, unet2d_default
from audiodiff.models.unet1d import UNet1D
from audiodiff.models.unet2d import UNet2D

__all__ = ["UNet1D", "UNet2D", "UNetConfig", "build_unet", "unet1d_default", "unet2d_default"]
