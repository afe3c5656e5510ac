"""Griffin-Lim vocoder: no weights, works with any :class:`MelConfig`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig
from audiodiff.vocoders.base import Vocoder
from audiodiff.vocoders.consistency import MOMENTUM, check_momentum, fast_griffin_lim
from audiodiff.vocoders.mel_inverse import MelInverse


class GriffinLimVocoder(Vocoder):
    """Log-mel -> STFT magnitude (pseudo-inverse filterbank) -> fast Griffin-Lim -> waveform.

    The mel magnitudes are mapped back to linear STFT magnitudes by non-negative least squares
    (:class:`MelInverse`). Phase is recovered with fast Griffin-Lim (Perraudin et al., 2013;
    :func:`~audiodiff.vocoders.consistency.fast_griffin_lim` with that magnitude as the fixed
    target) starting from zero phase, so the output is deterministic.

    Args:
        mel_config: the analysis settings of the mels this vocoder accepts.
        n_iter: Griffin-Lim iterations; more gives a closer match and takes longer.
        momentum: fast Griffin-Lim momentum in ``[0, 1)``; 0 is plain Griffin-Lim.
    """

    name = "griffinlim"

    def __init__(self, mel_config: MelConfig, n_iter: int = 32, momentum: float = MOMENTUM) -> None:
        super().__init__(mel_config)
        if n_iter < 1:
            raise ValueError(f"n_iter must be at least 1, got {n_iter}")
        check_momentum(momentum)
        self.n_iter = n_iter
        self.momentum = momentum
        self.mel_inverse = MelInverse(mel_config)

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "iterations": self.n_iter, "momentum": self.momentum}

    def synthesize(self, log_mel: Tensor, period: int | None = None) -> Tensor:
        """Natural-log mel ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``.

        Runs on the device of ``log_mel`` in its dtype (at least float32). ``period`` is not
        needed: the zero-phase start repeats with any period the magnitude has.
        """
        dtype = torch.promote_types(log_mel.dtype, torch.float32)
        magnitude = self.mel_inverse(log_mel.to(dtype).exp())
        start = torch.polar(magnitude, torch.zeros_like(magnitude))
        return fast_griffin_lim(start, self.mel_config, self.n_iter, lambda rebuilt: magnitude, self.momentum)
