"""Consistency refinement of a predicted STFT: Griffin-Lim iterations whose magnitude target is
re-fitted to the mel on every iteration.

A network's STFT estimate is not the STFT of any signal (it is "inconsistent"), so the audio that
its inverse STFT makes has another spectrogram than the one asked for. Fast Griffin-Lim (Perraudin
et al., 2013) started from the network's phase fixes that in a few iterations. Where plain
Griffin-Lim pulls the magnitude towards one fixed estimate, here each iteration keeps the fine
structure of the current signal's magnitude and rescales it with non-negative least-squares steps
until its mel matches the input mel (:class:`MelInverse` started from that magnitude).

With an ``anchor`` above 0 that fine structure is the weighted geometric mean of the current
signal's magnitude and the network's: an inconsistent phase leaks energy from loud bins into the
quiet ones around them, and plain iterations adopt the leak as the next target, where the anchor
pulls each quiet bin back towards the level the network predicted for it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig
from audiodiff.vocoders.griffinlim import check_momentum
from audiodiff.vocoders.losses import stft
from audiodiff.vocoders.mel_inverse import MelInverse


def inverse_stft(spectrum: Tensor, mel_config: MelConfig, window: Tensor) -> Tensor:
    """Complex STFT ``[n, n_fft // 2 + 1, frames]`` -> ``[n, (frames - 1) * hop_length]``."""
    return torch.istft(
        spectrum,
        n_fft=mel_config.n_fft,
        hop_length=mel_config.hop_length,
        win_length=mel_config.win_length,
        window=window,
        center=True,
        length=mel_config.num_samples(spectrum.shape[-1]),
    )


class MelConsistencyRefiner(nn.Module):
    """``iterations`` of mel-constrained fast Griffin-Lim from a magnitude and phase estimate.

    Args:
        mel_config: the analysis settings of the mels (and of the STFT).
        iterations: refinement iterations; 0 is the plain inverse STFT of the estimate.
        refit_steps: NNLS steps that fit each iteration's magnitude to the mel.
        momentum: fast Griffin-Lim momentum in ``[0, 1)``.
        anchor: weight in ``[0, 1]`` of the network's (mel-fitted) magnitude in each iteration's
            fine structure, against the current signal's; 0 keeps the signal's alone.
    """

    def __init__(
        self, mel_config: MelConfig, iterations: int, refit_steps: int = 3, momentum: float = 0.99,
        anchor: float = 0.0,
    ) -> None:
        super().__init__()
        if iterations < 0:
            raise ValueError(f"iterations must be at least 0, got {iterations}")
        check_anchor(anchor)
        check_momentum(momentum)
        self.mel_config = mel_config
        self.iterations = iterations
        self.momentum = momentum
        self.anchor = anchor
        self.refit = MelInverse(mel_config, refit_steps)
        self.register_buffer("window", torch.hann_window(mel_config.win_length), persistent=False)

    def forward(self, magnitude: Tensor, phase: Tensor, log_mel: Tensor) -> Tensor:
        """Magnitude and phase ``[n, n_fft // 2 + 1, frames]`` and the natural-log mel
        ``[n, n_mels, frames]`` they were predicted from -> waveform ``[n, (frames - 1) * hop_length]``."""
        config, window = self.mel_config, self.window.to(magnitude)
        frames = phase.shape[-1]
        spectrum = torch.polar(magnitude, phase)
        if self.iterations == 0:
            return inverse_stft(spectrum, config, window)
        back_projected = self.refit.back_project(log_mel.to(magnitude).exp())
        magnitude = self.refit.fit(magnitude.clamp_min(1e-12), back_projected)
        anchored = magnitude.clamp_min(1e-12) ** self.anchor if self.anchor > 0 else None
        previous = torch.zeros_like(spectrum)
        blend = self.momentum / (1 + self.momentum)
        for _ in range(self.iterations):
            audio = inverse_stft(spectrum, config, window)
            rebuilt = stft(audio, config.n_fft, config.hop_length, config.win_length)[..., :frames]
            direction = rebuilt - blend * previous
            previous = rebuilt
            current = _magnitude(rebuilt).clamp_min(1e-12)
            if anchored is not None:
                current = current ** (1 - self.anchor) * anchored
            magnitude = self.refit.fit(current, back_projected)
            spectrum = direction * (magnitude / _magnitude(direction).clamp_min(1e-16))
        return inverse_stft(spectrum, config, window)


def check_anchor(anchor: float, name: str = "anchor") -> None:
    """Raise ``ValueError`` (naming the setting ``name``) unless ``0 <= anchor <= 1``."""
    if not 0 <= anchor <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {anchor}")


def _magnitude(spectrum: Tensor) -> Tensor:
    """``|spectrum|`` of a complex tensor, by ``hypot`` of its parts (faster than ``abs`` on a CPU).

    Under autograd the square root of the clamped squared norm instead: the gradient of ``hypot``
    (and of ``abs``) is NaN at 0, and bins of exactly 0 occur where the audio is silent."""
    parts = torch.view_as_real(spectrum)
    if spectrum.requires_grad:
        return parts.square().sum(-1).clamp_min(1e-30).sqrt()
    return torch.hypot(parts[..., 0], parts[..., 1])
