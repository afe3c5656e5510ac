"""STFT phase from an STFT magnitude by phase-gradient integration (after PGHI, Průša et al., 2017).

For a Gaussian analysis window the phase gradient of an STFT follows from its log magnitude:
the time derivative (instantaneous frequency) from the log magnitude's slope along frequency, the
frequency derivative (local group delay) from its slope along time. A Hann window is close
enough to the Gaussian of ``gamma = 0.25645 * win_length ** 2``. Integrating the gradient gives a
phase whose partials advance coherently from frame to frame, which the frame-by-frame phase of a
network or Griffin-Lim's zero-phase start do not.

Where PGHI integrates along a heap ordered by magnitude, a sequential loop, this integration is
vectorised. Every bin integrates its instantaneous frequency over time, and every frame integrates
its group delay over frequency. The bins of a tonal spectral peak (between two local minima along
frequency) take the peak's time integral plus their group-delay offset from the peak (phase
locking, Laroche & Dolson, 1999); the bins of other peaks, transients and noise, take the frame's
integral from DC. Bins below ``tolerance`` times the loudest keep their own time integral.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig

# The Gaussian window that matches a Hann window of length L has gamma = HANN_GAMMA * L**2 (samples**2).
HANN_GAMMA = 0.25645
# Bins quieter than this, relative to the loudest bin of their item, are not locked to a peak.
TOLERANCE = 1e-4


def gradient_phase(magnitude: Tensor, mel_config: MelConfig, tolerance: float = TOLERANCE) -> Tensor:
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` (of a Hann-window, ``center=True`` STFT with
    ``mel_config``'s sizes) -> phase of the same shape, in ``torch.stft``'s convention.

    Deterministic and without gradient (the result is detached).
    """
    if magnitude.dim() != 3 or magnitude.shape[1] != mel_config.n_fft // 2 + 1:
        raise ValueError(f"expected a magnitude [n, {mel_config.n_fft // 2 + 1}, frames], got {tuple(magnitude.shape)}")
    with torch.no_grad():
        n_fft, hop = mel_config.n_fft, mel_config.hop_length
        gamma = HANN_GAMMA * mel_config.win_length**2
        log_magnitude = magnitude.clamp_min(1e-12).log()
        bins = torch.arange(magnitude.shape[1], device=magnitude.device, dtype=magnitude.dtype)[:, None]
        # Instantaneous frequency (cycles per sample) -> phase advance per frame.
        frequency = bins / n_fft + n_fft * _central_difference(log_magnitude, 1) / (2 * math.pi * gamma)
        time_phase = _trapezoid_cumsum(2 * math.pi * hop * frequency, 2)
        # Local group delay -> phase change from bin to bin.
        bin_phase = _trapezoid_cumsum(-gamma * _central_difference(log_magnitude, 2) / (hop * n_fft), 1)
        # A peak region is tonal where its peak curves along frequency more, relative to a
        # sinusoid's lobe, than along time, relative to a click's: it keeps its peak's time
        # integral. Other regions integrate the group delay over the whole frame from DC, which
        # keeps the bins of a transient in step with each other.
        along_frequency = -_second_difference(log_magnitude, 1) / (2 * math.pi * gamma / n_fft**2)
        along_time = -_second_difference(log_magnitude, 2) / (2 * math.pi * hop**2 / gamma)
        peak = _peak_of_each_bin(log_magnitude)
        tonal = torch.gather(along_frequency > along_time, 1, peak)
        anchor = torch.where(tonal, torch.gather(time_phase - bin_phase, 1, peak), 0.0)
        loud = magnitude >= tolerance * magnitude.amax(dim=(1, 2), keepdim=True)
        phase = torch.where(loud, bin_phase + anchor, time_phase)
        # torch.stft's frames start at the window's first sample, not its centre: a factor (-1)^k.
        return phase + math.pi * bins


def _central_difference(x: Tensor, dim: int) -> Tensor:
    """``(x[i + 1] - x[i - 1]) / 2`` along ``dim``, 0 at both ends; same shape as ``x``."""
    out = torch.zeros_like(x)
    if x.shape[dim] > 2:
        inner = (x.narrow(dim, 2, x.shape[dim] - 2) - x.narrow(dim, 0, x.shape[dim] - 2)) / 2
        out.narrow(dim, 1, x.shape[dim] - 2).copy_(inner)
    return out


def _second_difference(x: Tensor, dim: int) -> Tensor:
    """``x[i + 1] - 2 x[i] + x[i - 1]`` along ``dim``, 0 at both ends; same shape as ``x``."""
    out = torch.zeros_like(x)
    if x.shape[dim] > 2:
        size = x.shape[dim] - 2
        inner = x.narrow(dim, 2, size) - 2 * x.narrow(dim, 1, size) + x.narrow(dim, 0, size)
        out.narrow(dim, 1, size).copy_(inner)
    return out


def _trapezoid_cumsum(step: Tensor, dim: int) -> Tensor:
    """Running trapezoidal integral of ``step`` along ``dim``, starting at 0; same shape."""
    mids = (step.narrow(dim, 1, step.shape[dim] - 1) + step.narrow(dim, 0, step.shape[dim] - 1)) / 2
    return torch.cat([torch.zeros_like(step.narrow(dim, 0, 1)), mids.cumsum(dim)], dim)


def _peak_of_each_bin(log_magnitude: Tensor) -> Tensor:
    """``[n, bins, frames]`` -> index (long, same shape) of the loudest bin of each bin's peak region:
    the run of bins between two local minima along frequency. A bin of a region without a finite
    maximum (NaN) is its own peak."""
    log_magnitude = log_magnitude.contiguous()
    n, bins, frames = log_magnitude.shape
    is_minimum = torch.zeros_like(log_magnitude, dtype=torch.bool)
    if bins > 2:
        middle = log_magnitude[:, 1:-1]
        is_minimum[:, 1:-1] = (middle < log_magnitude[:, :-2]) & (middle <= log_magnitude[:, 2:])
    region = is_minimum.long().cumsum(1)  # region id of each bin, 0 .. bins - 1
    loudest = torch.full_like(log_magnitude, -math.inf).scatter_reduce(1, region, log_magnitude, "amax")
    index = torch.arange(bins, device=log_magnitude.device)[:, None].expand(n, bins, frames)
    candidates = torch.where(log_magnitude == torch.gather(loudest, 1, region), index, -1)
    peak = torch.gather(torch.full_like(region, -1).scatter_reduce(1, region, candidates, "amax"), 1, region)
    return torch.where(peak < 0, index, peak)
