"""Linear mel -> STFT magnitude: the non-negative least-squares inverse of the mel filterbank."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig, mel_filterbank

# Multiplicative non-negative least-squares steps after the pseudo-inverse. Measured on a 220 Hz
# harmonic tone (default MelConfig, 32 Griffin-Lim iterations) the mean abs log-mel error of the
# output falls from 0.49 to 0.25 with 10 steps and barely moves with more; noise is unchanged.
NNLS_STEPS = 10


class MelInverse(nn.Module):
    """Fits ``fbank.T @ magnitude ~= mel`` with ``magnitude >= 0``.

    Starts from the Moore-Penrose pseudo-inverse clamped at zero and refines it with
    multiplicative NNLS updates (Lee & Seung, 2001), since the clamping alone leaves the quiet bins
    between harmonics far off. That is a handful of matrix products, where
    ``torchaudio.transforms.InverseMelScale`` runs a gradient-descent optimisation with its own
    optimizer per call, which is much slower.

    Args:
        mel_config: the analysis settings of the mels to invert.
        steps: multiplicative NNLS steps; 0 leaves the clamped pseudo-inverse.
    """

    def __init__(self, mel_config: MelConfig, steps: int = NNLS_STEPS) -> None:
        super().__init__()
        if steps < 0:
            raise ValueError(f"steps must be at least 0, got {steps}")
        self.steps = steps
        fbank = mel_filterbank(mel_config)  # [n_freqs, n_mels]
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("pinv", torch.linalg.pinv(fbank.double().T).float(), persistent=False)

    def forward(self, mel: Tensor) -> Tensor:
        """Linear mel ``[n, n_mels, frames]`` -> STFT magnitude ``[n, n_fft // 2 + 1, frames]``,
        fitted from the pseudo-inverse clamped at zero."""
        return self.fit(torch.matmul(self.pinv.to(mel), mel).clamp_min(0.0), self.back_project(mel))

    def back_project(self, mel: Tensor) -> Tensor:
        """``fbank @ mel``, ``[n, n_fft // 2 + 1, frames]``: what :meth:`fit` needs of a mel."""
        return torch.matmul(self.fbank.to(mel), mel)

    def fit(self, magnitude: Tensor, back_projected: Tensor) -> Tensor:
        """``steps`` multiplicative NNLS steps from ``magnitude`` towards the mel whose
        :meth:`back_project` is ``back_projected`` (both ``[n, n_fft // 2 + 1, frames]``).

        The steps rescale the starting magnitude and keep its fine structure between the filters'
        centres. A bin at exactly 0 stays there: start from a magnitude clamped above 0 to let
        every bin move."""
        fbank = self.fbank.to(magnitude)
        for _ in range(self.steps):
            fitted = torch.matmul(fbank, torch.matmul(fbank.T, magnitude))
            magnitude = magnitude * back_projected / (fitted + 1e-12)
        return magnitude
