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
from collections.abc import Callable

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig

# The Gaussian window that matches a Hann window of length L has gamma = HANN_GAMMA * L**2 (samples**2).
HANN_GAMMA = 0.25645
# Bins quieter than this, relative to the loudest bin of their item, are not locked to a peak.
TOLERANCE = 1e-4


def gradient_phase(
    magnitude: Tensor, mel_config: MelConfig, tolerance: float = TOLERANCE, frequency: Tensor | None = None
) -> Tensor:
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` (of a Hann-window, ``center=True`` STFT with
    ``mel_config``'s sizes) -> phase of the same shape, in ``torch.stft``'s convention.

    ``frequency`` (same shape, cycles per sample) replaces the instantaneous frequency that is
    integrated over time, by default :func:`magnitude_frequency` of ``magnitude``; the benchmark
    passes a clip's own (:func:`phase_frequency`) to tell how much of a vocoder's error that
    estimate makes. Deterministic and without gradient (the result is detached).
    """
    _check_spectrogram(magnitude, mel_config)
    if frequency is not None and frequency.shape != magnitude.shape:
        raise ValueError(
            f"frequency must have the magnitude's shape {tuple(magnitude.shape)}, got {tuple(frequency.shape)}"
        )
    with torch.no_grad():
        n_fft, hop = mel_config.n_fft, mel_config.hop_length
        gamma = HANN_GAMMA * mel_config.win_length**2
        # Computed as [n, frames, bins], contiguous along frequency, where the peak search runs.
        log_magnitude = magnitude.transpose(1, 2).clamp_min(1e-12).log()
        bins = torch.arange(magnitude.shape[1], device=magnitude.device, dtype=magnitude.dtype)
        # Instantaneous frequency (cycles per sample) -> phase advance per frame.
        if frequency is None:
            frequency = _slope_frequency(log_magnitude, mel_config)
        else:
            frequency = frequency.detach().transpose(1, 2).to(log_magnitude)
        time_phase = _trapezoid_cumsum(2 * math.pi * hop * frequency, 1)
        # Local group delay -> phase change from bin to bin.
        bin_phase = _trapezoid_cumsum(-gamma * _central_difference(log_magnitude, 1) / (hop * n_fft), 2)
        # A peak region is tonal where its peak curves along frequency more, relative to a
        # sinusoid's lobe, than along time, relative to a click's: it keeps its peak's time
        # integral. Other regions integrate the group delay over the whole frame from DC, which
        # keeps the bins of a transient in step with each other.
        along_frequency = -_second_difference(log_magnitude, 2) / (2 * math.pi * gamma / n_fft**2)
        along_time = -_second_difference(log_magnitude, 1) / (2 * math.pi * hop**2 / gamma)
        offset = (time_phase - bin_phase).masked_fill_(along_frequency <= along_time, 0.0)
        phase = bin_phase + _at_peaks(log_magnitude, offset)
        quiet = log_magnitude < math.log(tolerance) + log_magnitude.amax(dim=(1, 2), keepdim=True)
        phase = torch.where(quiet, time_phase, phase)
        # torch.stft's frames start at the window's first sample, not its centre: a factor (-1)^k.
        return (phase + math.pi * bins).transpose(1, 2)


def magnitude_frequency(magnitude: Tensor, mel_config: MelConfig) -> Tensor:
    """Instantaneous frequency in cycles per sample, ``[n, n_fft // 2 + 1, frames]``, from the slope
    of an STFT magnitude (same shape) along frequency, as :func:`gradient_phase` integrates it:
    exact at the peak of a Gaussian window's lobe, close for a Hann window's."""
    _check_spectrogram(magnitude, mel_config)
    with torch.no_grad():
        return _slope_frequency(magnitude.transpose(1, 2).clamp_min(1e-12).log(), mel_config).transpose(1, 2)


def phase_frequency(spectrum: Tensor, mel_config: MelConfig) -> Tensor:
    """Instantaneous frequency in cycles per sample, ``[n, n_fft // 2 + 1, frames]``, measured from a
    complex STFT (same shape, ``torch.stft``'s convention): each bin's phase advance from frame to
    frame beyond its centre frequency's, wrapped to ``(-pi, pi]``, and averaged over the two frame
    steps around each frame (one step at the ends). Exact for a steady sinusoid within
    ``n_fft / (2 * hop_length)`` bins of the bin."""
    _check_spectrogram(spectrum, mel_config)
    n_fft, hop = mel_config.n_fft, mel_config.hop_length
    bins = torch.arange(spectrum.shape[1], device=spectrum.device, dtype=spectrum.real.dtype)[:, None]
    centre = bins / n_fft
    if spectrum.shape[-1] < 2:
        return centre.expand(spectrum.shape).clone()
    advance = spectrum.angle().diff(dim=2) - 2 * math.pi * hop * centre
    step = centre + torch.remainder(advance + math.pi, 2 * math.pi).sub(math.pi) / (2 * math.pi * hop)
    return torch.cat([step[..., :1], (step[..., 1:] + step[..., :-1]) / 2, step[..., -1:]], dim=2)


def _check_spectrogram(spectrogram: Tensor, mel_config: MelConfig) -> None:
    bins = mel_config.n_fft // 2 + 1
    if spectrogram.dim() != 3 or spectrogram.shape[1] != bins:
        raise ValueError(f"expected a spectrogram [n, {bins}, frames], got {tuple(spectrogram.shape)}")


def _slope_frequency(log_magnitude: Tensor, mel_config: MelConfig) -> Tensor:
    """PGHI's instantaneous frequency from a log magnitude laid out ``[n, frames, bins]`` (same layout)."""
    n_fft = mel_config.n_fft
    bins = torch.arange(log_magnitude.shape[2], device=log_magnitude.device, dtype=log_magnitude.dtype)
    slope = _central_difference(log_magnitude, 2)
    return bins / n_fft + n_fft * slope / (2 * math.pi * HANN_GAMMA * mel_config.win_length**2)


def _central_difference(x: Tensor, dim: int) -> Tensor:
    """``(x[i + 1] - x[i - 1]) / 2`` along ``dim``, 0 at both ends; same shape as ``x``."""
    return _interior(x, dim, lambda before, _, after: (after - before) / 2)


def _second_difference(x: Tensor, dim: int) -> Tensor:
    """``x[i + 1] - 2 x[i] + x[i - 1]`` along ``dim``, 0 at both ends; same shape as ``x``."""
    return _interior(x, dim, lambda before, middle, after: after - 2 * middle + before)


def _interior(x: Tensor, dim: int, stencil: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Tensor:
    """``stencil(x[i - 1], x[i], x[i + 1])`` for the inner entries along ``dim``, 0 at both ends."""
    out = torch.zeros_like(x)
    size = x.shape[dim] - 2
    if size > 0:
        out.narrow(dim, 1, size).copy_(stencil(x.narrow(dim, 0, size), x.narrow(dim, 1, size), x.narrow(dim, 2, size)))
    return out


def _trapezoid_cumsum(step: Tensor, dim: int) -> Tensor:
    """Running trapezoidal integral of ``step`` along ``dim``, starting at 0; same shape."""
    mids = (step.narrow(dim, 1, step.shape[dim] - 1) + step.narrow(dim, 0, step.shape[dim] - 1)) / 2
    return torch.cat([torch.zeros_like(step.narrow(dim, 0, 1)), mids.cumsum(dim)], dim)


def _at_peaks(log_magnitude: Tensor, values: Tensor) -> Tensor:
    """For each bin of ``log_magnitude`` ``[n, frames, bins]``, ``values`` (same shape) at the
    loudest bin of its peak region: the run of bins between two local minima along frequency.
    Where a region has several loudest bins, the largest of their values; where it has none (a NaN),
    0."""
    log_magnitude = log_magnitude.contiguous()
    is_minimum = torch.zeros_like(log_magnitude, dtype=torch.bool)
    if log_magnitude.shape[2] > 2:
        middle = log_magnitude[..., 1:-1]
        is_minimum[..., 1:-1] = (middle < log_magnitude[..., :-2]) & (middle <= log_magnitude[..., 2:])
    region = is_minimum.long().cumsum(2)  # region id of each bin, 0 .. bins - 1
    loudest = torch.full_like(log_magnitude, -math.inf).scatter_reduce(2, region, log_magnitude, "amax")
    at_peak = values.masked_fill(log_magnitude != torch.gather(loudest, 2, region), -math.inf)
    per_region = torch.full_like(values, -math.inf).scatter_reduce(2, region, at_peak, "amax")
    return torch.gather(per_region, 2, region).nan_to_num(neginf=0.0)
