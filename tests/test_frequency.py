"""Known answers for the instantaneous-frequency estimates (``audiodiff.vocoders.frequency``); the
probes only the benchmark uses (the phase-measured and slope-only frequency of a whole STFT) are
tested in test_vocoder_benchmark.py."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import stft
from audiodiff.vocoders.frequency import (
    FIT_MAX_HZ,
    FIT_SPAN,
    FIT_STEP,
    _lobe_signatures,
    mel_fitted_frequency,
    slope_frequency,
)

CONFIG = MelConfig()
BIN_HZ = CONFIG.sample_rate / CONFIG.n_fft
SAMPLES = CONFIG.hop_length * 64


def sine(frequency: float, amplitude: float = 1.0) -> torch.Tensor:
    """``[1, SAMPLES]`` sinusoid at ``frequency`` Hz."""
    return amplitude * torch.sin(2 * math.pi * frequency * torch.arange(SAMPLES) / CONFIG.sample_rate)[None]


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return stft(audio, CONFIG)


def slope_of(magnitude: torch.Tensor, config: MelConfig = CONFIG) -> torch.Tensor:
    """:func:`slope_frequency` of a magnitude ``[n, bins, frames]``, in that layout."""
    return slope_frequency(magnitude.transpose(1, 2).clamp_min(1e-12).log(), config).transpose(1, 2)


def analysed(audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``audio``'s STFT magnitude and log-mel, of the same frames."""
    log_mel = MelSpectrogram(CONFIG)(audio)
    return spectrum_of(audio)[..., : log_mel.shape[-1]].abs(), log_mel


@pytest.mark.parametrize("frequency", [440.0, 1000.3, 3210.7])
def test_the_slope_of_a_sinusoids_peak_is_its_frequency(frequency: float) -> None:
    """At the peak bin, within 1% of a bin (21.5 Hz)."""
    magnitude = spectrum_of(sine(frequency)).abs()
    peak = int(magnitude[0, :, 30].argmax())
    estimated = slope_of(magnitude)[0, peak, 8:56] * CONFIG.sample_rate
    assert float((estimated - frequency).abs().max()) < 0.01 * BIN_HZ


@pytest.mark.parametrize("frequency", [440.0, 1000.3, 2500.6])
def test_the_mel_moves_a_misplaced_peak_back_to_the_sinusoid(frequency: float) -> None:
    """A magnitude whose partial sits 0.4 bins too high (a network's error) with the log-mel of the
    true sinusoid: the fit puts the peak within one candidate step (0.05 bins) of the truth, where
    the magnitude's own slope says 0.4 bins higher."""
    log_mel = analysed(sine(frequency))[1]
    magnitude = analysed(sine(frequency + 0.4 * BIN_HZ))[0]
    peak = int(magnitude[0, :, 30].argmax())
    fitted = mel_fitted_frequency(magnitude, log_mel, CONFIG)[0, peak, 8:56] * CONFIG.sample_rate
    assert float((fitted - frequency).abs().max()) <= 0.05 * BIN_HZ + 1e-3
    slope = slope_of(magnitude)[0, peak, 8:56] * CONFIG.sample_rate
    assert float((slope - frequency).abs().min()) > 0.3 * BIN_HZ


def test_only_loud_peaks_below_the_limit_are_fitted() -> None:
    """Three partials misplaced by 0.4 bins: the loud one below FIT_MAX_HZ is moved back; the one
    above FIT_MAX_HZ and the one 50 dB below its frame's loudest keep the slope estimate."""
    tones = [(1000.3, 1.0), (FIT_MAX_HZ + 500.0, 1.0), (2000.7, 10 ** (-50 / 20))]
    log_mel = analysed(sum(sine(f, a) for f, a in tones))[1]
    magnitude = analysed(sum(sine(f + 0.4 * BIN_HZ, a) for f, a in tones))[0]
    fitted, slope = mel_fitted_frequency(magnitude, log_mel, CONFIG), slope_of(magnitude)
    for (frequency, _), moved in zip(tones, (True, False, False), strict=True):
        peak = round(frequency / BIN_HZ + 0.4)
        got = fitted[0, peak, 8:56] * CONFIG.sample_rate
        if moved:
            assert float((got - frequency).abs().max()) <= 0.05 * BIN_HZ + 1e-3
        else:
            assert torch.equal(fitted[0, peak, 8:56], slope[0, peak, 8:56])


def test_silence_and_batches() -> None:
    """Silence has no peaks (the slope estimate comes back); each item of a batch is fitted alone."""
    silence, silent_mel = analysed(torch.zeros(1, SAMPLES))
    assert torch.equal(mel_fitted_frequency(silence, silent_mel, CONFIG), slope_of(silence))
    magnitude, log_mel = analysed(torch.cat([sine(440.0), sine(1234.5)]))
    both = mel_fitted_frequency(magnitude, log_mel, CONFIG)
    for i in range(2):
        alone = mel_fitted_frequency(magnitude[i : i + 1], log_mel[i : i + 1], CONFIG)
        torch.testing.assert_close(both[i : i + 1], alone)


def test_wrong_shapes_are_refused() -> None:
    magnitude, log_mel = analysed(sine(440.0))
    with pytest.raises(ValueError, match=r"expected a log-mel \[1, 80, "):
        mel_fitted_frequency(magnitude, log_mel[..., 1:], CONFIG)
    with pytest.raises(ValueError, match=r"expected a spectrogram \[n, 513, frames\]"):
        mel_fitted_frequency(log_mel, log_mel, CONFIG)


def test_a_low_sample_rate_fits_below_nyquist_only() -> None:
    """At 8 kHz (Nyquist below FIT_MAX_HZ) the candidates stop at Nyquist: a tone in range is still
    moved back from a misplaced peak, and no bin, near Nyquist either, moves further from its slope
    estimate than the candidates reach (half a bin, plus the rounding to the grid and the parabola)."""
    config = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=40, fmax=4000.0)
    bin_hz = config.sample_rate / config.n_fft
    assert _lobe_signatures(config)[0].shape[0] == round(config.n_fft / 2 / FIT_STEP) + 1
    t = torch.arange(64 * 64) / config.sample_rate
    tones = (1000.0, 3950.0)
    log_mel = MelSpectrogram(config)(sum(torch.sin(2 * math.pi * f * t) for f in tones)[None])
    shifted = sum(torch.sin(2 * math.pi * (f + 0.4 * bin_hz) * t) for f in tones)[None]
    magnitude = stft(shifted, config)[..., : log_mel.shape[-1]].abs()
    fitted = mel_fitted_frequency(magnitude, log_mel, config)
    peak = round(1000.0 / bin_hz + 0.4)
    assert float((fitted[0, peak, 8:56] * config.sample_rate - 1000.0).abs().max()) <= 0.05 * bin_hz + 1e-3
    moved = (fitted - slope_of(magnitude, config)).abs() * config.n_fft
    assert bool(fitted.isfinite().all()) and float(moved.max()) <= FIT_SPAN + 1.5 * FIT_STEP + 1e-4
