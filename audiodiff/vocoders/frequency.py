"""Instantaneous frequency of STFT bins, in cycles per sample, for the phase the neural vocoder integrates.

- :func:`slope_frequency`: from the slope of the log magnitude along frequency (the estimate of
  phase-gradient heap integration, PGHI, for a Gaussian window): exact at the peak of a Gaussian
  window's lobe, close for a Hann window's.
- :func:`mel_fitted_frequency`: the same, with each loud spectral peak's frequency re-fitted to the
  log-mel the magnitude was predicted from: the peak is moved, within half a bin, to where a
  steady sinusoid's lobe would give the mel bands around it the shape they have. The mel keeps
  where a partial lies between two bins (in how it splits its energy over overlapping filters)
  better than a network's magnitude does.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig, mel_filterbank
from audiodiff.stft import HANN_GAMMA, bin_frequencies, check_spectrogram, padded_hann_window
from audiodiff.vocoders.differences import central_difference, local_maxima

# Mel fit: candidate spacing and reach around the slope estimate (bins), the highest frequency fitted
# (Hz), which peaks are fitted (louder than this fraction of their frame's loudest bin), and which
# mel bands count (where a sinusoid at the slope estimate puts more than this fraction of its
# largest band). Chosen on 24 held-out clips (MR-STFT distance; 6 kHz beat 3 and 4.3 kHz, and 8 kHz
# gained nothing more), and the candidate spacing halved with no loss once the parabola was added.
FIT_STEP = 0.1
FIT_SPAN = 0.5
FIT_MAX_HZ = 6000.0
FIT_LEVEL = 0.01
FIT_BAND_LEVEL = 0.02


def slope_frequency(log_magnitude: Tensor, mel_config: MelConfig) -> Tensor:
    """Log STFT magnitude laid out ``[n, frames, n_fft // 2 + 1]`` -> instantaneous frequency from its
    slope along frequency, in the same layout."""
    n_fft = mel_config.n_fft
    slope = central_difference(log_magnitude, 2)
    return bin_frequencies(mel_config, log_magnitude) + n_fft * slope / (
        2 * math.pi * HANN_GAMMA * mel_config.win_length**2)


def mel_fitted_frequency(magnitude: Tensor, log_mel: Tensor, mel_config: MelConfig) -> Tensor:
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` and the natural-log mel ``[n, n_mels, frames]``
    it stands for -> instantaneous frequency of the magnitude's shape.

    :func:`slope_frequency`, except at the magnitude's spectral peaks below ``FIT_MAX_HZ`` that
    are louder than ``FIT_LEVEL`` times their frame's loudest bin. There, among candidates every
    ``FIT_STEP`` bins within ``FIT_SPAN`` of the slope estimate, the frequency is the one whose
    sinusoid's mel (its Hann lobe through the mel filterbank, at any level) is closest, in least
    squares over the log mel bands that lobe reaches, to the frame's log-mel; then moved to the
    vertex of the parabola through that candidate's misfit and its two neighbours'.
    """
    check_spectrogram(magnitude, mel_config)
    if log_mel.shape != (magnitude.shape[0], mel_config.n_mels, magnitude.shape[2]):
        raise ValueError(f"expected a log-mel [{magnitude.shape[0]}, {mel_config.n_mels}, {magnitude.shape[2]}] "
                         f"for that magnitude, got {tuple(log_mel.shape)}")
    with torch.no_grad():
        n_fft = mel_config.n_fft
        log_magnitude = magnitude.transpose(1, 2).clamp_min(1e-12).log()  # [n, frames, bins]
        estimate = slope_frequency(log_magnitude, mel_config) * n_fft  # in bins
        log_signatures, first_band, reached = (t.to(magnitude.device) for t in _lobe_signatures(mel_config))
        last = (log_signatures.shape[0] - 1) * FIT_STEP
        peaks = local_maxima(log_magnitude, 2)
        peaks &= log_magnitude > log_magnitude.amax(dim=2, keepdim=True) + math.log(FIT_LEVEL)
        peaks &= (estimate >= 0) & (estimate <= last - FIT_SPAN)
        item, frame, peak_bin = peaks.nonzero(as_tuple=True)
        if item.numel() == 0:
            return (estimate / n_fft).transpose(1, 2)
        centre = estimate[item, frame, peak_bin]
        row = (centre / FIT_STEP).round().long()
        reach = round(FIT_SPAN / FIT_STEP)
        rows = (row[:, None] + torch.arange(-reach, reach + 1, device=magnitude.device)).clamp(
            0, log_signatures.shape[0] - 1)  # [peaks, C]: the candidates, as rows of the table
        bands = (first_band[row, None] + torch.arange(reached.shape[1], device=magnitude.device)).clamp(
            max=mel_config.n_mels - 1)  # [peaks, B]: the mel bands the centre's lobe reaches, and a few more
        weight = reached[row].to(magnitude.dtype)  # [peaks, B]: 1 for those it reaches
        frames, n_mels = log_mel.shape[2], log_mel.shape[1]
        observed = log_mel.reshape(-1).take((item * n_mels)[:, None] * frames + bands * frames + frame[:, None])
        cost = _misfit(observed, weight, log_signatures, rows, bands)
        estimate[item, frame, peak_bin] = _vertex(cost, rows) * FIT_STEP
        return (estimate / n_fft).transpose(1, 2)


def _misfit(observed: Tensor, weight: Tensor, log_signatures: Tensor, rows: Tensor, bands: Tensor) -> Tensor:
    """Least squares of each candidate's log signature (``rows`` of ``log_signatures``, ``[peaks, C]``)
    against the ``observed`` log-mel bands ``[peaks, B]`` (which ``bands``, weighted by ``weight``),
    with the level free: ``sum w r^2 - (sum w r)^2 / sum w`` for the residuals ``r = observed -
    signature``, accumulated band by band -> ``[peaks, C]``."""
    sum_r = sum_r2 = torch.zeros(rows.shape, device=observed.device, dtype=weight.dtype)
    flat_rows = rows * log_signatures.shape[1]
    for b in range(bands.shape[1]):
        residual = observed[:, b, None] - log_signatures.view(-1).take(flat_rows + bands[:, b, None]).to(sum_r)
        weighted = residual * weight[:, b, None]
        sum_r, sum_r2 = sum_r + weighted, sum_r2 + weighted * residual
    return sum_r2 - sum_r**2 / weight.sum(-1, keepdim=True)


def _vertex(cost: Tensor, rows: Tensor) -> Tensor:
    """The best candidate's row of each peak ``[peaks]`` (``cost`` and ``rows`` ``[peaks, C]``), moved to
    the vertex of the parabola through its cost and its neighbours', in table rows (``FIT_STEP`` bins)."""
    best = cost.argmin(dim=1, keepdim=True).clamp(1, rows.shape[1] - 2)
    before, at, after = (cost.gather(1, best + k)[:, 0] for k in (-1, 0, 1))
    curvature = before - 2 * at + after
    shift = torch.where(curvature > 0, (before - after) / (2 * curvature).clamp_min(1e-12), 0.0).clamp(-1, 1)
    return rows.gather(1, best)[:, 0] + shift


@functools.lru_cache(maxsize=4)
def _lobe_signatures(mel_config: MelConfig) -> tuple[Tensor, Tensor, Tensor]:
    """The mel of a unit cosine at every ``FIT_STEP`` bins from 0 to ``FIT_MAX_HZ`` plus ``FIT_SPAN`` (at most Nyquist),
    through ``mel_config``'s Hann-window STFT and filterbank: its log ``[candidates, n_mels]``, the
    first band each one reaches (above ``FIT_BAND_LEVEL`` times its largest) ``[candidates]``, and
    which of the next ``width`` bands it reaches ``[candidates, width]`` (``width``: the most any reaches)."""
    n_fft = mel_config.n_fft
    top = min(FIT_MAX_HZ * n_fft / mel_config.sample_rate + FIT_SPAN, n_fft / 2)  # no tone above Nyquist
    frequencies = torch.arange(0, top + FIT_STEP / 2, FIT_STEP, dtype=torch.float64)
    window = padded_hann_window(mel_config, dtype=torch.float64)
    samples = torch.arange(n_fft, dtype=torch.float64)
    tones = window * torch.cos(2 * math.pi * frequencies[:, None] * samples / n_fft)
    mel = torch.fft.rfft(tones).abs() @ mel_filterbank(mel_config).double()
    reaches = mel > FIT_BAND_LEVEL * mel.amax(dim=1, keepdim=True)
    bands = torch.arange(mel.shape[1])
    first = torch.where(reaches, bands, mel.shape[1]).amin(dim=1)
    last = torch.where(reaches, bands, -1).amax(dim=1)
    width = int((last - first).max()) + 1
    window_bands = first[:, None] + torch.arange(width)
    reached = (window_bands <= last[:, None]) & reaches.gather(1, window_bands.clamp(max=mel.shape[1] - 1))
    return mel.clamp_min(1e-30).log().float(), first, reached
