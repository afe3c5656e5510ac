"""The vocoder interface: natural-log mel `[n, n_mels, frames]` -> waveform `[n, samples]`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig, check_mel_config


class Vocoder(nn.Module, ABC):
    """Turns log-mel spectrograms made with :attr:`mel_config` back into audio.

    Subclasses implement :meth:`synthesize`; callers use :meth:`forward`, which checks the
    frequency axis and, when given, the ``MelConfig`` the mel was made with.
    """

    name: str = "vocoder"

    def __init__(self, mel_config: MelConfig) -> None:
        super().__init__()
        self.mel_config = mel_config

    def settings(self) -> dict[str, Any]:
        """What selects this vocoder's output, for the record kept next to generated audio (JSON)."""
        return {"name": self.name}

    @abstractmethod
    def synthesize(self, log_mel: Tensor, period: int | None = None) -> Tensor:
        """Natural-log mel ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``.

        ``period``: the mel is a loop of ``period`` frames unrolled (frame ``t + period`` is
        frame ``t``); a vocoder that can makes its output repeat with that period too, away from
        the ends, and one that cannot ignores it.
        """

    def forward(self, log_mel: Tensor, mel_config: MelConfig | None = None, *, period: int | None = None) -> Tensor:
        if mel_config is not None:
            check_mel_config(self.mel_config, mel_config, what=f"the mel given to the {self.name} vocoder")
        if log_mel.dim() != 3 or log_mel.shape[1] != self.mel_config.n_mels:
            raise ValueError(
                f"{self.name} vocoder expects a log-mel of shape [n, {self.mel_config.n_mels}, frames], "
                f"got {tuple(log_mel.shape)}"
            )
        if period is not None and not 0 < period < log_mel.shape[-1]:
            raise ValueError(f"a loop's period must be in (0, {log_mel.shape[-1]}) frames, got {period}")
        return self.synthesize(log_mel, period)
