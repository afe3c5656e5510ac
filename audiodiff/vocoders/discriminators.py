"""Waveform discriminators and GAN losses for vocoder training.

A multi-period discriminator (HiFi-GAN, Kong et al., 2020) looks at the waveform folded into
``[samples / p, p]`` grids for a few prime periods ``p``; a multi-resolution discriminator
(UnivNet, Jang et al., 2021) looks at STFT magnitudes at a few resolutions. Vocos trains with
both and the hinge loss plus feature matching; so does :class:`~audiodiff.training.vocoder_module.VocoderModule`
when its ``adversarial_weight`` is positive. Widths here are set by ``channels`` so the same code
serves a CPU-sized and a GPU-sized run.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from audiodiff.stft import Resolution, stft_magnitude
from audiodiff.vocoders.losses import DEFAULT_RESOLUTIONS

# One sub-discriminator's output: its logits and the activations of each layer before them.
Judgement = tuple[Tensor, list[Tensor]]


def _conv2d(c_in: int, c_out: int, kernel: tuple[int, int], stride: tuple[int, int]) -> nn.Module:
    padding = (kernel[0] // 2, kernel[1] // 2)
    return weight_norm(nn.Conv2d(c_in, c_out, kernel, stride, padding))


def _judge(layers: nn.ModuleList, post: nn.Module, x: Tensor) -> Judgement:
    """Run ``layers`` (each followed by a leaky ReLU) and ``post`` on ``x``; keep every activation."""
    features = []
    for layer in layers:
        x = F.leaky_relu(layer(x), 0.1)
        features.append(x)
    return post(x), features


class PeriodDiscriminator(nn.Module):
    """Waveform ``[n, samples]`` folded to ``[n, 1, ceil(samples / period), period]`` -> 2-D convs
    with kernels ``(5, 1)``, so each column (one phase of the period) is judged on its own."""

    def __init__(self, period: int, channels: int = 32, max_channels: int = 1024) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        widths = [1] + [min(channels * 4**i, max_channels) for i in range(4)]
        self.layers = nn.ModuleList(
            _conv2d(a, b, (5, 1), (3, 1)) for a, b in pairwise(widths)
        )
        self.layers.append(_conv2d(widths[-1], widths[-1], (5, 1), (1, 1)))
        self.post = _conv2d(widths[-1], 1, (3, 1), (1, 1))

    def forward(self, audio: Tensor) -> Judgement:
        n, samples = audio.shape
        pad = -samples % self.period
        if pad:
            audio = F.pad(audio, (0, pad), mode="reflect" if pad < samples else "constant")
        return _judge(self.layers, self.post, audio.view(n, 1, -1, self.period))


class ResolutionDiscriminator(nn.Module):
    """Waveform ``[n, samples]`` -> STFT magnitude ``[n, 1, frames, n_fft // 2 + 1]`` -> 2-D convs
    striding along frequency."""

    def __init__(self, resolution: tuple[int, int, int], channels: int = 32) -> None:
        super().__init__()
        self.resolution = Resolution(*resolution)
        self.layers = nn.ModuleList([_conv2d(1, channels, (3, 9), (1, 1))])
        self.layers.extend(_conv2d(channels, channels, (3, 9), (1, 2)) for _ in range(3))
        self.layers.append(_conv2d(channels, channels, (3, 3), (1, 1)))
        self.post = _conv2d(channels, 1, (3, 3), (1, 1))

    def forward(self, audio: Tensor) -> Judgement:
        magnitude = stft_magnitude(audio, self.resolution)
        return _judge(self.layers, self.post, magnitude.transpose(1, 2).unsqueeze(1))


class MultiDiscriminator(nn.Module):
    """Period and resolution discriminators side by side: ``[n, samples]`` -> one
    :data:`Judgement` per sub-discriminator.

    Args:
        periods: the multi-period discriminator's periods (none to leave it out).
        resolutions: ``(n_fft, hop_length, win_length)`` of the multi-resolution discriminator.
        channels: width of the first layer of each sub-discriminator (HiFi-GAN and UnivNet: 32).
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS,
        channels: int = 32,
    ) -> None:
        super().__init__()
        if not periods and not resolutions:
            raise ValueError("a discriminator needs at least one period or resolution")
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)
        self.discriminators.extend(ResolutionDiscriminator(r, channels) for r in resolutions)

    def forward(self, audio: Tensor) -> list[Judgement]:
        return [d(audio) for d in self.discriminators]


def discriminator_loss(real: list[Judgement], fake: list[Judgement]) -> Tensor:
    """Hinge loss ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``, averaged over sub-discriminators."""
    terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for (r, _), (f, _) in zip(real, fake, strict=True)]
    return torch.stack(terms).mean()


def generator_loss(fake: list[Judgement]) -> Tensor:
    """Hinge generator loss ``mean(relu(1 - D(fake)))``, averaged over sub-discriminators."""
    return torch.stack([F.relu(1 - f).mean() for f, _ in fake]).mean()


def feature_matching_loss(real: list[Judgement], fake: list[Judgement]) -> Tensor:
    """Mean L1 distance between the real and fake activations of every layer (real detached)."""
    terms = [
        (a.detach() - b).abs().mean()
        for (_, real_features), (_, fake_features) in zip(real, fake, strict=True)
        for a, b in zip(real_features, fake_features, strict=True)
    ]
    return torch.stack(terms).mean()
