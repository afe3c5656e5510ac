"""STFT geometry, in one place: the Hann window, the centred STFT and its inverse, bin frequencies
and the magnitude of a complex STFT. The mel analysis, the vocoders, their losses, the phase and
frequency estimates and the benchmarks all use these.

Every STFT here is ``torch.stft``'s with ``center=True`` and a periodic Hann window of
``win_length`` samples centred in ``n_fft``: ``[n, n_fft // 2 + 1, frames]`` for a waveform
``[n, samples]``, frame ``t`` centred on sample ``t * hop_length``, ``1 + samples // hop_length``
frames. A geometry is anything with ``n_fft``, ``hop_length`` and ``win_length``: a
:class:`~audiodiff.spectrogram.MelConfig` or a :class:`Resolution`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor
from torch.nn import functional as F

# The Gaussian window that matches a Hann window of length L has gamma = HANN_GAMMA * L**2 (samples**2):
# the constant that phase-gradient estimates for Gaussian windows (PGHI, Průša et al., 2017) use.
HANN_GAMMA = 0.25645


class Geometry(Protocol):
    """The sizes of an STFT, in samples."""

    @property
    def n_fft(self) -> int: ...

    @property
    def hop_length(self) -> int: ...

    @property
    def win_length(self) -> int: ...


class Resolution(NamedTuple):
    """An STFT geometry on its own (the multi-resolution losses and discriminators use several)."""

    n_fft: int
    hop_length: int
    win_length: int


def hann_window(win_length: int, *, dtype: torch.dtype | None = None, device: torch.device | None = None) -> Tensor:
    """The periodic Hann window ``[win_length]`` every STFT of audiodiff uses."""
    return torch.hann_window(win_length, dtype=dtype, device=device)


def padded_hann_window(geometry: Geometry, *, dtype: torch.dtype | None = None) -> Tensor:
    """``[n_fft]``: the Hann window zero-padded on both sides to ``n_fft``, as ``torch.stft`` applies it."""
    left = (geometry.n_fft - geometry.win_length) // 2
    window = hann_window(geometry.win_length, dtype=dtype)
    return F.pad(window, (left, geometry.n_fft - geometry.win_length - left))


def stft(audio: Tensor, geometry: Geometry, window: Tensor | None = None) -> Tensor:
    """Waveform ``[n, samples]`` -> complex STFT ``[n, n_fft // 2 + 1, 1 + samples // hop_length]``.

    The padding reflects the signal where it is longer than ``n_fft // 2`` and is zero otherwise.
    ``window`` is :func:`hann_window` in ``audio``'s dtype and device unless given (to build it once).
    """
    if window is None:
        window = hann_window(geometry.win_length, dtype=audio.dtype, device=audio.device)
    pad_mode = "reflect" if audio.shape[-1] > geometry.n_fft // 2 else "constant"
    return torch.stft(audio, **_framing(geometry, window), pad_mode=pad_mode, return_complex=True)


def stft_magnitude(audio: Tensor, geometry: Geometry) -> Tensor:
    """Waveform ``[n, samples]`` -> ``|stft(audio)|`` ``[n, n_fft // 2 + 1, frames]``."""
    return stft(audio, geometry).abs()


def istft(spectrum: Tensor, geometry: Geometry, window: Tensor | None = None) -> Tensor:
    """Complex STFT ``[n, n_fft // 2 + 1, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``
    (the inverse of :func:`stft` for signals of whole hops)."""
    if window is None:
        window = hann_window(geometry.win_length, dtype=spectrum.real.dtype, device=spectrum.device)
    return torch.istft(spectrum, **_framing(geometry, window), length=(spectrum.shape[-1] - 1) * geometry.hop_length)


def _framing(geometry: Geometry, window: Tensor) -> dict[str, Any]:
    """The framing arguments ``torch.stft`` and ``torch.istft`` share: sizes, window, centred frames."""
    return {"n_fft": geometry.n_fft, "hop_length": geometry.hop_length, "win_length": geometry.win_length,
            "window": window, "center": True}


def magnitude(spectrum: Tensor) -> Tensor:
    """``|spectrum|`` of a complex tensor, by ``hypot`` of its parts (faster than ``abs`` on a CPU).

    Under autograd the square root of the clamped squared norm instead: the gradient of ``hypot``
    (and of ``abs``) is NaN at 0, and bins of exactly 0 occur where the audio is silent."""
    parts = torch.view_as_real(spectrum)
    if spectrum.requires_grad:
        return parts.square().sum(-1).clamp_min(1e-30).sqrt()
    return torch.hypot(parts[..., 0], parts[..., 1])


def bin_frequencies(geometry: Geometry, like: Tensor) -> Tensor:
    """``[n_fft // 2 + 1]``: each bin's centre frequency in cycles per sample, in ``like``'s dtype and device."""
    return torch.arange(geometry.n_fft // 2 + 1, device=like.device, dtype=like.dtype) / geometry.n_fft


def check_spectrogram(spectrogram: Tensor, geometry: Geometry) -> None:
    """Raise ``ValueError`` unless ``spectrogram`` is ``[n, n_fft // 2 + 1, frames]``."""
    bins = geometry.n_fft // 2 + 1
    if spectrogram.dim() != 3 or spectrogram.shape[1] != bins:
        raise ValueError(f"expected a spectrogram [n, {bins}, frames], got {tuple(spectrogram.shape)}")
