"""Griffin-Lim vocoder: no weights, works with any :class:`MelConfig`."""

from __future__ import annotations

from typing import Any

import torch
import torchaudio
from torch import Tensor

from audiodiff.spectrogram import MelConfig
from audiodiff.vocoders.base import Vocoder
from audiodiff.vocoders.mel_inverse import MelInverse


def check_momentum(momentum: float) -> None:
    """Refuse a fast Griffin-Lim momentum outside ``[0, 1)``."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")


class GriffinLimVocoder(Vocoder):
    """Log-mel -> STFT magnitude (pseudo-inverse filterbank) -> fast Griffin-Lim -> waveform.

    The mel magnitudes are mapped back to linear STFT magnitudes by non-negative least squares
    (:class:`MelInverse`). Phase is recovered with fast Griffin-Lim (Perraudin
    et al., 2013) starting from zero phase, so the output is deterministic.

    Args:
        mel_config: the analysis settings of the mels this vocoder accepts.
        n_iter: Griffin-Lim iterations; more gives a closer match and takes longer.
        momentum: fast Griffin-Lim momentum in ``[0, 1)``; 0 is plain Griffin-Lim.
    """

    name = "griffinlim"

    def __init__(self, mel_config: MelConfig, n_iter: int = 32, momentum: float = 0.99) -> None:
        super().__init__(mel_config)
        if n_iter < 1:
            raise ValueError(f"n_iter must be at least 1, got {n_iter}")
        check_momentum(momentum)
        self.n_iter = n_iter
        self.momentum = momentum
        self.mel_inverse = MelInverse(mel_config)
        self.register_buffer("window", torch.hann_window(mel_config.win_length), persistent=False)

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "iterations": self.n_iter, "momentum": self.momentum}

    def synthesize(self, log_mel: Tensor) -> Tensor:
        """Natural-log mel ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``.

        Runs on the device of ``log_mel`` in its dtype (at least float32). Needs more than
        ``n_fft // 2`` output samples, the reflect padding of the STFT inside Griffin-Lim.
        """
        config = self.mel_config
        min_frames = config.n_fft // 2 // config.hop_length + 2
        if log_mel.shape[-1] < min_frames:
            raise ValueError(
                f"griffinlim vocoder needs at least {min_frames} frames, got {log_mel.shape[-1]}"
            )
        dtype = torch.promote_types(log_mel.dtype, torch.float32)
        magnitude = self.mel_inverse(log_mel.to(dtype).exp())
        return torchaudio.functional.griffinlim(
            magnitude,
            window=self.window.to(magnitude),
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.win_length,
            power=1.0,
            n_iter=self.n_iter,
            momentum=self.momentum,
            length=config.num_samples(log_mel.shape[-1]),
            rand_init=False,
        )
