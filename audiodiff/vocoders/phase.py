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
integral from DC. Bins below ``TOLERANCE`` times the loudest keep their own time integral.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig
from audiodiff.stft import HANN_GAMMA, check_spectrogram
from audiodiff.vocoders.differences import central_difference, local_maxima, second_difference

# Bins quieter than this, relative to the loudest bin of their item, are not locked to a peak.
TOLERANCE = 1e-3


def gradient_phase(magnitude: Tensor, frequency: Tensor, mel_config: MelConfig,
                   period: int | None = None) -> Tensor:
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` (of a Hann-window, ``center=True`` STFT with
    ``mel_config``'s sizes) and each bin's instantaneous frequency (same shape, cycles per sample:
    what is integrated over time) -> phase of the same shape, in ``torch.stft``'s convention.

    ``period``: the inputs are a loop of ``period`` frames unrolled (``period < frames``). Each
    bin's time integral then advances by a whole number of turns over one period, measured at the
    middle of the unrolled frames (:func:`_whole_turns`), so the phase repeats with the period
    wherever the magnitude does.

    Deterministic and without gradient (the result is detached).
    """
    check_spectrogram(magnitude, mel_config)
    if frequency.shape != magnitude.shape:
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
        frequency = frequency.detach().transpose(1, 2).to(log_magnitude)
        time_phase = _trapezoid_cumsum(2 * math.pi * hop * frequency, 1)
        if period is not None:
            time_phase = _whole_turns(time_phase, period)
        # Local group delay -> phase change from bin to bin.
        bin_phase = _trapezoid_cumsum(-gamma * central_difference(log_magnitude, 1) / (hop * n_fft), 2)
        # A peak region is tonal where its peak curves along frequency more, relative to a
        # sinusoid's lobe, than along time, relative to a click's: it keeps its peak's time
        # integral. Other regions integrate the group delay over the whole frame from DC, which
        # keeps the bins of a transient in step with each other.
        along_frequency = -second_difference(log_magnitude, 2) / (2 * math.pi * gamma / n_fft**2)
        along_time = -second_difference(log_magnitude, 1) / (2 * math.pi * hop**2 / gamma)
        offset = (time_phase - bin_phase).masked_fill_(along_frequency <= along_time, 0.0)
        phase = bin_phase + _at_peaks(log_magnitude, offset)
        quiet = log_magnitude < math.log(TOLERANCE) + log_magnitude.amax(dim=(1, 2), keepdim=True)
        phase = torch.where(quiet, time_phase, phase)
        # torch.stft's frames start at the window's first sample, not its centre: a factor (-1)^k.
        return (phase + math.pi * bins).transpose(1, 2)


def _trapezoid_cumsum(step: Tensor, dim: int) -> Tensor:
    """Running trapezoidal integral of ``step`` along ``dim``, starting at 0; same shape."""
    mids = (step.narrow(dim, 1, step.shape[dim] - 1) + step.narrow(dim, 0, step.shape[dim] - 1)) / 2
    return torch.cat([torch.zeros_like(step.narrow(dim, 0, 1)), mids.cumsum(dim)], dim)


def _whole_turns(time_phase: Tensor, period: int) -> Tensor:
    """Running phase ``[n, frames, bins]`` less a ramp per bin, so that from the middle frame ``s``
    (``(frames - period) // 2``) to ``s + period`` it advances by a whole number of turns.

    The ramp takes off each bin's advance over that period modulo a turn (at most half a turn, so
    its frequency moves by at most half a cycle per period) spread evenly over the period.
    """
    frames = time_phase.shape[1]
    if not 0 < period < frames:
        raise ValueError(f"period must be in (0, {frames}) frames, got {period}")
    start = (frames - period) // 2
    advance = time_phase[:, start + period] - time_phase[:, start]  # [n, bins]
    excess = advance - 2 * math.pi * torch.round(advance / (2 * math.pi))
    ramp = torch.arange(frames, device=time_phase.device, dtype=time_phase.dtype)[None, :, None]
    return time_phase - ramp * (excess / period)[:, None, :]


def _at_peaks(log_magnitude: Tensor, values: Tensor) -> Tensor:
    """For each bin of ``log_magnitude`` ``[n, frames, bins]``, ``values`` (same shape) at the
    loudest bin of its peak region: the run of bins between two local minima along frequency.
    Where a region has several loudest bins, the largest of their values; where it has none (a NaN),
    0."""
    log_magnitude = log_magnitude.contiguous()
    region = local_maxima(-log_magnitude, 2).long().cumsum(2)  # region id of each bin, 0 .. bins - 1
    loudest = torch.full_like(log_magnitude, -math.inf).scatter_reduce(2, region, log_magnitude, "amax")
    at_peak = values.masked_fill(log_magnitude != torch.gather(loudest, 2, region), -math.inf)
    per_region = torch.full_like(values, -math.inf).scatter_reduce(2, region, at_peak, "amax")
    return torch.gather(per_region, 2, region).nan_to_num(neginf=0.0)
