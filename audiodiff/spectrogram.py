"""Mel-spectrogram front end: a frozen :class:`MelConfig`, the analysis module and normalisation.

Every model and vocoder stores its ``MelConfig``; two components work together only when their
configs are equal (:func:`check_mel_config`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from audiodiff.dataclass_dict import checked_fields
from audiodiff.stft import hann_window


class MelConfigMismatch(ValueError):
    """Raised when two components were made for different mel-spectrogram settings."""


@dataclass(frozen=True)
class MelConfig:
    """Settings of the log-mel analysis shared by a diffusion model and its vocoder.

    The log-mel is ``log(max(mel, log_floor))`` of the magnitude (``power=1``) mel spectrogram
    (Slaney mel scale and area normalisation, like librosa). :func:`normalize` maps the log range
    ``[norm_min, norm_max]`` linearly onto ``[-1, 1]``.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 11025.0
    log_floor: float = 1e-5
    norm_min: float = -11.5129
    norm_max: float = 2.5

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        if self.hop_length <= 0 or self.win_length > self.n_fft or self.win_length <= 0:
            problems.append("need 0 < hop_length and 0 < win_length <= n_fft")
        if self.n_mels <= 0 or self.n_mels > self.n_fft // 2 + 1:
            problems.append(f"n_mels must be in 1..{self.n_fft // 2 + 1}, got {self.n_mels}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            problems.append(f"need 0 <= fmin < fmax <= sample_rate/2, got {self.fmin}, {self.fmax}")
        if self.log_floor <= 0 or self.norm_max <= self.norm_min:
            problems.append("need log_floor > 0 and norm_max > norm_min")
        if problems:
            raise ValueError("invalid MelConfig: " + "; ".join(problems))

    def num_frames(self, num_samples: int) -> int:
        """Frames the analysis gives for ``num_samples`` samples (centred STFT)."""
        return num_samples // self.hop_length + 1

    def num_samples(self, num_frames: int) -> int:
        """Samples a vocoder gives back for ``num_frames`` frames."""
        return (num_frames - 1) * self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelConfig:
        return cls(**checked_fields(cls, data))


def check_mel_config(expected: MelConfig, got: MelConfig, *, what: str = "input") -> None:
    """Raise :class:`MelConfigMismatch` naming both configs when they differ."""
    if expected == got:
        return
    diffs = [
        f"{f.name}={getattr(got, f.name)} (expected {getattr(expected, f.name)})"
        for f in dataclasses.fields(MelConfig)
        if getattr(expected, f.name) != getattr(got, f.name)
    ]
    raise MelConfigMismatch(
        f"{what} was made with other mel settings: {', '.join(diffs)}; "
        "use a model and vocoder trained with the same MelConfig"
    )


def mel_filterbank(config: MelConfig) -> Tensor:
    """Slaney mel filterbank, shape ``[n_fft // 2 + 1, n_mels]`` (torchaudio layout)."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs=config.n_fft // 2 + 1,
        f_min=config.fmin,
        f_max=config.fmax,
        n_mels=config.n_mels,
        sample_rate=config.sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


class MelSpectrogram(nn.Module):
    """Waveform ``[..., samples]`` -> log-mel ``[..., n_mels, frames]`` (natural log, not normalised)."""

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", hann_window(config.win_length), persistent=False)
        self.register_buffer("fbank", mel_filterbank(config), persistent=False)

    def magnitude(self, audio: Tensor) -> Tensor:
        """Linear STFT magnitude ``[..., n_fft // 2 + 1, frames]``."""
        shape = audio.shape
        spec = torch.stft(
            audio.reshape(-1, shape[-1]).float(),
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            win_length=self.config.win_length,
            window=self.window,
            center=True,
            pad_mode="reflect" if shape[-1] > self.config.n_fft // 2 else "constant",
            return_complex=True,
        ).abs()
        return spec.reshape(*shape[:-1], *spec.shape[-2:])

    def forward(self, audio: Tensor) -> Tensor:
        mel = torch.matmul(self.magnitude(audio).transpose(-1, -2), self.fbank).transpose(-1, -2)
        return torch.log(torch.clamp(mel, min=self.config.log_floor))


def normalize(log_mel: Tensor, config: MelConfig) -> Tensor:
    """Map log-mel values from ``[norm_min, norm_max]`` onto ``[-1, 1]`` (exact inverse of :func:`denormalize`)."""
    return (log_mel - config.norm_min) * (2.0 / (config.norm_max - config.norm_min)) - 1.0


def denormalize(x: Tensor, config: MelConfig) -> Tensor:
    """Map normalised values back to natural-log mel magnitudes."""
    return (x + 1.0) * ((config.norm_max - config.norm_min) / 2.0) + config.norm_min


def silence_level(config: MelConfig) -> float:
    """The normalised value of a silent bin."""
    return float(normalize(torch.tensor(math.log(config.log_floor)), config))
