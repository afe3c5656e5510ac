"""Spectral losses for vocoder training; the same functions serve as benchmark distances.

Both compare a predicted waveform with a target waveform of the same shape ``[n, samples]`` and
return a scalar; both are exactly 0 for identical inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import Resolution, stft_magnitude

# (n_fft, hop_length, win_length) per resolution, as in Parallel WaveGAN.
DEFAULT_RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution(512, 128, 512),
    Resolution(1024, 256, 1024),
    Resolution(2048, 512, 2048),
)


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
        self.resolutions = tuple(Resolution(*r) for r in resolutions)
        self.eps = eps

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """``[n, samples]`` twice -> scalar."""
        _check_shapes(prediction, target)
        total = prediction.new_zeros(())
        for resolution in self.resolutions:
            pred = stft_magnitude(prediction, resolution).clamp_min(self.eps)
            true = stft_magnitude(target, resolution).clamp_min(self.eps)
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


def _check_shapes(prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape or prediction.dim() != 2:
        raise ValueError(
            "expected two waveforms of the same shape [n, samples], got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
