"""The network of the neural vocoder in the style of Vocos (Siuzdak, 2023): log-mel -> ConvNeXt
trunk -> linear head -> STFT magnitude, with the shape it is built from (:class:`VocosConfig`).

The network predicts the STFT magnitude at the mel analysis' own resolution (``n_fft``,
``hop_length``), so there is no upsampling stack: all layers run at the frame rate and the model
is fast on a CPU. The phase is not the network's: :mod:`audiodiff.vocoders.synthesis` integrates
it from the magnitude.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from audiodiff.dataclass_dict import checked_fields
from audiodiff.spectrogram import MelConfig, normalize
from audiodiff.vocoders.mel_inverse import NNLS_STEPS, MelInverse


@dataclass(frozen=True)
class VocosConfig:
    """What shapes a :class:`VocosNetwork`'s weights; the defaults are the bundled vocoder's.

    Args:
        mel: the analysis settings of the mels the vocoder accepts (and of its STFT).
        dim: channels of the ConvNeXt trunk.
        intermediate_dim: hidden width of each block's pointwise MLP (Vocos uses ``3 * dim``).
        num_layers: ConvNeXt blocks.
        kernel_size: width of the depthwise convolutions (odd).
        max_magnitude: predicted STFT magnitudes are clipped to this (``exp`` of the log output).
        magnitude_prior: predict the log magnitude as a correction of the inverse mel
            filterbank's estimate (FreeV, Lv et al., 2024) instead of from scratch.
        prior_nnls_steps: NNLS steps of that estimate (:class:`MelInverse`); 0 is the clamped
            pseudo-inverse, which leaves the quiet bins between harmonics at the log floor.
        spectral_layers: dilated convolutions along the frequency axis that correct the log
            magnitude frame by frame (:class:`SpectralRefiner`); 0 leaves the head's output.
        spectral_channels: their width.
    """

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 256
    intermediate_dim: int = 768
    num_layers: int = 8
    kernel_size: int = 7
    max_magnitude: float = 100.0
    magnitude_prior: bool = True
    prior_nnls_steps: int = NNLS_STEPS
    spectral_layers: int = 3
    spectral_channels: int = 16

    def __post_init__(self) -> None:
        if min(self.dim, self.intermediate_dim, self.num_layers) < 1:
            raise ValueError("dim, intermediate_dim and num_layers must be positive")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.prior_nnls_steps < 0:
            raise ValueError(f"prior_nnls_steps must be at least 0, got {self.prior_nnls_steps}")
        if self.spectral_layers < 0 or self.spectral_channels < 1:
            raise ValueError("spectral_layers must be at least 0 and spectral_channels positive, got "
                             f"{self.spectral_layers} and {self.spectral_channels}")
        if self.max_magnitude <= 0:
            raise ValueError(f"max_magnitude must be positive, got {self.max_magnitude}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VocosConfig:
        values = dict(checked_fields(cls, data))
        if "mel" in values:
            values["mel"] = MelConfig.from_dict(values["mel"])
        return cls(**values)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, plus the input."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        """``[n, dim, frames]`` -> ``[n, dim, frames]``."""
        h = self.norm(self.dwconv(x).transpose(1, 2))
        h = self.pwconv2(self.act(self.pwconv1(h))) * self.gamma
        return x + h.transpose(1, 2)


class SpectralRefiner(nn.Module):
    """A residual correction of a log magnitude along the frequency axis, frame by frame.

    The head maps each frame's features to all bins with one linear layer, which draws harmonic
    combs at arbitrary pitches only coarsely. Here dilated 1-D convolutions slide over the bins of
    each frame (shift-equivariant in frequency, so one peak shape serves every partial), with the
    frame's trunk features added as a bias. The last layer starts at zero: an untrained refiner
    leaves the magnitude as it is.

    Args:
        dim: width of the trunk features.
        channels: convolution channels.
        layers: convolutions (the k-th dilated by ``2 ** k``), at least 1.
        kernel_size: their width in bins (odd).
    """

    def __init__(self, dim: int, channels: int, layers: int, kernel_size: int = 9) -> None:
        super().__init__()
        self.condition = nn.Linear(dim, channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(1 if k == 0 else channels, channels, kernel_size, dilation=2**k,
                      padding=kernel_size // 2 * 2**k)
            for k in range(layers)
        )
        self.out = nn.Conv1d(channels, 1, 1)
        self.act = nn.GELU()

    def forward(self, log_magnitude: Tensor, features: Tensor) -> Tensor:
        """Log magnitude ``[n, bins, frames]`` and trunk features ``[n, frames, dim]`` -> corrected
        log magnitude ``[n, bins, frames]``."""
        # Computed as [n, channels, bins, frames] channels-last 2-D convolutions with (k, 1) kernels:
        # the same weights and result as 1-D convolutions over each frame, 1.5x faster on a CPU.
        # Log magnitudes span about [-12, 5]; the 0.2 brings them near unit scale.
        x = (log_magnitude * 0.2)[:, None].contiguous(memory_format=torch.channels_last)
        h = _along_frequency(self.convs[0], x) + self.condition(features).transpose(1, 2)[:, :, None, :]
        for conv in self.convs[1:]:
            h = h + _along_frequency(conv, self.act(h))
        return log_magnitude + _along_frequency(self.out, self.act(h))[:, 0]


def _along_frequency(conv: nn.Conv1d, x: Tensor) -> Tensor:
    """``conv`` applied along the bins of every frame: ``[n, in, bins, frames]`` -> ``[n, out, bins, frames]``."""
    return F.conv2d(x, conv.weight[..., None], conv.bias, padding=(conv.padding[0], 0),
                    dilation=(conv.dilation[0], 1))


class VocosNetwork(nn.Module):
    """Natural-log mel ``[n, n_mels, frames]`` -> STFT magnitude ``[n, n_fft // 2 + 1, frames]``."""

    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        mel, dim = config.mel, config.dim
        self.mel_config = mel
        self.magnitude_prior = config.magnitude_prior
        self.mel_inverse = MelInverse(mel, config.prior_nnls_steps)
        self.max_log_magnitude = float(torch.tensor(config.max_magnitude).log())
        self.embed = nn.Conv1d(mel.n_mels, dim, config.kernel_size, padding=config.kernel_size // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, config.intermediate_dim, config.kernel_size, 1.0 / config.num_layers)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, mel.n_fft // 2 + 1)  # the log magnitude of each bin
        self.spectral = (
            SpectralRefiner(dim, config.spectral_channels, config.spectral_layers) if config.spectral_layers else None
        )
        self.apply(_init_weights)
        if self.spectral is not None:
            nn.init.zeros_(self.spectral.out.weight)

    def forward(self, log_mel: Tensor) -> Tensor:
        h = self.norm(self.embed(normalize(log_mel, self.mel_config)).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        features = self.final_norm(h.transpose(1, 2))
        log_magnitude = self.head(features).transpose(1, 2)
        if self.magnitude_prior:
            prior = self.mel_inverse(log_mel.exp()).clamp_min(self.mel_config.log_floor)
            log_magnitude = log_magnitude + prior.log()
        if self.spectral is not None:
            log_magnitude = self.spectral(log_magnitude, features)
        return log_magnitude.clamp(max=self.max_log_magnitude).exp()


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
