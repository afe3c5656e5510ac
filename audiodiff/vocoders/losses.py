"""Spectral losses for vocoder training; the same functions serve as benchmark distances.

Both compare a predicted waveform with a target waveform of the same shape ``[n, samples]`` and
return a scalar; both are exactly 0 for identical inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig, MelSpectrogram

# (n_fft, hop_length, win_length) per resolution, as in Parallel WaveGAN.
DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (512, 128, 512),
    (1024, 256, 1024),
    (2048, 512, 2048),
)


def stft(audio: Tensor, n_fft: int, hop_length: int, win_length: int) -> Tensor:
    """Waveform ``[n, samples]`` -> centred complex STFT ``[n, n_fft // 2 + 1, frames]`` (Hann)."""
    window = torch.hann_window(win_length, dtype=audio.dtype, device=audio.device)
    return torch.stft(
        audio,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=True,
        pad_mode="reflect" if audio.shape[-1] > n_fft // 2 else "constant",
        return_complex=True,
    )


def stft_magnitude(audio: Tensor, n_fft: int, hop_length: int, win_length: int) -> Tensor:
    """Waveform ``[n, samples]`` -> centred STFT magnitude ``[n, n_fft // 2 + 1, frames]``."""
    return stft(audio, n_fft, hop_length, win_length).abs()


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + L1 log-magnitude distance, averaged over STFT resolutions.

    Per resolution: ``||S_t - S_p||_F / ||S_t||_F + mean|log S_t - log S_p|`` with magnitudes
    clamped at ``eps`` (Yamamoto et al., 2020, Parallel WaveGAN). A prediction of twice the
    target gives ``1 + ln 2`` wherever the magnitudes are above ``eps``.
    """

    def __init__(
        self, resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS, eps: float = 1e-5
    ) -> None:
        super().__init__()
        if not resolutions:
            raise ValueError("need at least one STFT resolution")
        self.resolutions = tuple(tuple(r) for r in resolutions)
        self.eps = eps

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """``[n, samples]`` twice -> scalar."""
        _check_shapes(prediction, target)
        total = prediction.new_zeros(())
        for n_fft, hop, win in self.resolutions:
            pred = stft_magnitude(prediction, n_fft, hop, win).clamp_min(self.eps)
            true = stft_magnitude(target, n_fft, hop, win).clamp_min(self.eps)
            convergence = torch.linalg.vector_norm(true - pred) / torch.linalg.vector_norm(true)
            total = total + convergence + (true.log() - pred.log()).abs().mean()
        return total / len(self.resolutions)


class MelL1Loss(nn.Module):
    """Mean absolute difference of the natural-log mels (``MelSpectrogram``) of two waveforms."""

    def __init__(self, mel_config: MelConfig) -> None:
        super().__init__()
        self.mel = MelSpectrogram(mel_config)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """``[n, samples]`` twice -> scalar."""
        _check_shapes(prediction, target)
        return (self.mel(prediction) - self.mel(target)).abs().mean()


def anti_wrap(x: Tensor) -> Tensor:
    """``|x - 2 pi round(x / 2 pi)|``: the distance of angle differences ``x`` from 0 around the
    circle, in ``[0, pi]`` (the anti-wrapping function of APNet, Ai & Ling, 2023)."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_loss(prediction: Tensor, target: Tensor, magnitude: Tensor, min_magnitude: float) -> Tensor:
    """APNet's three anti-wrapped phase distances, summed: instantaneous phase, group delay
    (difference along frequency) and instantaneous angular frequency (difference along time).

    ``prediction`` and ``target`` are STFT phases ``[n, bins, frames]``; bins whose target
    ``magnitude`` (same shape) is below ``min_magnitude`` carry no phase and are left out (a
    difference needs both of its bins). Each term is in ``[0, pi]``; 0 for identical phases.
    """
    if not prediction.shape == target.shape == magnitude.shape or prediction.dim() != 3:
        raise ValueError(
            "expected phases and magnitude of one shape [n, bins, frames], got "
            f"{tuple(prediction.shape)}, {tuple(target.shape)} and {tuple(magnitude.shape)}"
        )
    voiced = (magnitude >= min_magnitude).to(prediction.dtype)
    error = prediction - target

    def masked_mean(distance: Tensor, mask: Tensor) -> Tensor:
        return (distance * mask).sum() / mask.sum().clamp_min(1.0)

    instantaneous = masked_mean(anti_wrap(error), voiced)
    group_delay = masked_mean(anti_wrap(error.diff(dim=1)), voiced[:, 1:] * voiced[:, :-1])
    frequency = masked_mean(anti_wrap(error.diff(dim=2)), voiced[..., 1:] * voiced[..., :-1])
    return instantaneous + group_delay + frequency


def _check_shapes(prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape or prediction.dim() != 2:
        raise ValueError(
            "expected two waveforms of the same shape [n, samples], got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
