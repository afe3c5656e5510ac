"""How the neural vocoder plays its network's magnitude: phase integrated from that magnitude at
the mel-fitted frequency, then a few iterations of anchored mel-consistency refinement.

The network predicts an STFT magnitude only. Its phase is integrated from the magnitude's
gradient (:func:`~audiodiff.vocoders.phase.gradient_phase`) at each partial's frequency re-fitted
to the input mel (:func:`~audiodiff.vocoders.frequency.mel_fitted_frequency`), which keeps
partials coherent from frame to frame. The result is still not the STFT of any signal, so fast
Griffin-Lim iterations (:func:`~audiodiff.vocoders.consistency.fast_griffin_lim`) follow. Where
plain Griffin-Lim pulls the magnitude towards one fixed estimate, here each iteration's target is
the weighted geometric mean of the current signal's magnitude and the network's (``anchor``),
rescaled with non-negative least-squares steps until its mel matches the input mel (:class:`MelInverse`
started from it). An inconsistent phase leaks energy from loud bins into the quiet ones around
them; plain iterations adopt the leak as the next target, where the anchor pulls each quiet bin
back towards the level the network predicted for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from audiodiff.dataclass_dict import checked_fields
from audiodiff.spectrogram import MelConfig
from audiodiff.stft import magnitude as magnitude_of
from audiodiff.vocoders.consistency import fast_griffin_lim
from audiodiff.vocoders.frequency import mel_fitted_frequency
from audiodiff.vocoders.mel_inverse import MelInverse
from audiodiff.vocoders.phase import gradient_phase


@dataclass(frozen=True)
class SynthesisConfig:
    """How a mel is played; shapes no weights. The defaults are the bundled vocoder's settings.

    Args:
        refine_iterations: consistency iterations after the integrated phase; 0 plays the
            magnitude with that phase as it is.
        refine_fit_steps: NNLS steps that fit each iteration's magnitude to the mel.
        refine_anchor: weight in ``[0, 1]`` of the network's (mel-fitted) magnitude in each
            iteration's fine structure, against the current signal's; 0 keeps the signal's alone.
    """

    refine_iterations: int = 4
    refine_fit_steps: int = 1
    refine_anchor: float = 0.5

    def __post_init__(self) -> None:
        if self.refine_iterations < 0:
            raise ValueError(f"refine_iterations must be at least 0, got {self.refine_iterations}")
        if self.refine_fit_steps < 0:
            raise ValueError(f"refine_fit_steps must be at least 0, got {self.refine_fit_steps}")
        if not 0 <= self.refine_anchor <= 1:
            raise ValueError(f"refine_anchor must be in [0, 1], got {self.refine_anchor}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthesisConfig:
        return cls(**checked_fields(cls, data))


class Synthesis(nn.Module):
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` and its natural-log mel ``[n, n_mels, frames]``
    -> waveform ``[n, (frames - 1) * hop_length]``, as ``config`` says. Holds no weights."""

    def __init__(self, mel_config: MelConfig, config: SynthesisConfig) -> None:
        super().__init__()
        self.mel_config = mel_config
        self.config = config
        self.refit = MelInverse(mel_config, config.refine_fit_steps)

    def forward(self, magnitude: Tensor, log_mel: Tensor, period: int | None = None) -> Tensor:
        """The magnitude with the phase integrated from it at the mel-fitted frequency, refined.

        ``period``: the inputs are a loop of that many frames unrolled; the integrated phase is
        made to repeat with it (:func:`gradient_phase`), so the waveform does too, away from the ends.
        """
        frequency = mel_fitted_frequency(magnitude, log_mel, self.mel_config)
        return self.refine(magnitude, gradient_phase(magnitude, frequency, self.mel_config, period), log_mel)

    def refine(self, magnitude: Tensor, phase: Tensor, log_mel: Tensor) -> Tensor:
        """Magnitude and phase ``[n, n_fft // 2 + 1, frames]`` and the log-mel ``[n, n_mels, frames]``
        they stand for -> waveform ``[n, (frames - 1) * hop_length]`` after ``refine_iterations``."""
        spectrum = torch.polar(magnitude, phase)
        back_projected = self.refit.back_project(log_mel.to(magnitude).exp())
        anchor = self.config.refine_anchor
        if anchor > 0:
            anchored = self.refit.fit(magnitude.clamp_min(1e-12), back_projected).clamp_min(1e-12) ** anchor

        def target(rebuilt: Tensor) -> Tensor:
            current = magnitude_of(rebuilt).clamp_min(1e-12)
            if anchor > 0:
                current = current ** (1 - anchor) * anchored
            return self.refit.fit(current, back_projected)

        return fast_griffin_lim(spectrum, self.mel_config, self.config.refine_iterations, target)
