"""Known answers for phase-gradient integration (``audiodiff.vocoders.phase``) at the frequency the
neural vocoder integrates (``mel_fitted_frequency``)."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import istft, stft
from audiodiff.vocoders.frequency import mel_fitted_frequency
from audiodiff.vocoders.losses import MultiResolutionSTFTLoss
from audiodiff.vocoders.phase import _at_peaks, gradient_phase

CONFIG = MelConfig()
SAMPLES = CONFIG.hop_length * 64


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """The distance of angle differences ``x`` from 0 around the circle, in ``[0, pi]``."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return stft(audio, CONFIG)


def vocoder_phase(audio: torch.Tensor) -> torch.Tensor:
    """The phase the vocoder would integrate from ``audio``'s STFT magnitude and log-mel."""
    magnitude = spectrum_of(audio).abs()
    return gradient_phase(magnitude, mel_fitted_frequency(magnitude, MelSpectrogram(CONFIG)(audio), CONFIG), CONFIG)


def sine(frequency: float) -> torch.Tensor:
    """``[1, SAMPLES]`` sinusoid at ``frequency`` Hz."""
    return torch.sin(2 * math.pi * frequency * torch.arange(SAMPLES) / CONFIG.sample_rate)[None]


def click(at: int) -> torch.Tensor:
    """``[1, SAMPLES]`` unit impulse at sample ``at``."""
    x = torch.zeros(1, SAMPLES)
    x[0, at] = 1.0
    return x


def rebuilt(audio: torch.Tensor, phase: torch.Tensor | None = None) -> torch.Tensor:
    """The inverse STFT of ``audio``'s STFT magnitude with ``phase`` (gradient phase by default)."""
    magnitude = spectrum_of(audio).abs()
    phase = vocoder_phase(audio) if phase is None else phase
    return istft(torch.polar(magnitude, phase), CONFIG)


@pytest.mark.parametrize("frequency", [440.0, 1000.3, 3210.7])
def test_a_sinusoid_gets_its_phase_advance_and_its_lobe_in_step(frequency: float) -> None:
    """Between bin centres too, the peak bin advances by ``2 pi f hop / sr`` per frame (the true
    STFT's advance), and the lobe's neighbours are in antiphase with the peak, as in the true STFT
    (``torch.stft``'s frames start at the window's first sample)."""
    spectrum = spectrum_of(sine(frequency))
    phase = vocoder_phase(sine(frequency))
    peak = int(spectrum.abs()[0, :, 30].argmax())
    expected = 2 * math.pi * frequency * CONFIG.hop_length / CONFIG.sample_rate
    advance = phase[0, peak, 11:54].diff()
    assert float(anti_wrap(advance - expected).max()) < 0.03
    true_advance = spectrum.angle()[0, peak, 11:54].diff()
    assert float(anti_wrap(true_advance - expected).max()) < 1e-3
    for neighbour in (peak - 1, peak + 1):
        assert float(anti_wrap(phase[0, neighbour, 11:54] - phase[0, peak, 11:54] - math.pi).max()) < 1e-3


@pytest.mark.parametrize("at", [5000, 5003, 9000])
def test_a_click_stays_a_click(at: int) -> None:
    """Without phase a click's energy spreads over the window; with the integrated group delay
    nearly all of it is back within 64 samples (3 ms) of the click."""

    def near(y: torch.Tensor) -> float:
        energy = y[0] ** 2
        return float(energy[at - 64 : at + 65].sum() / energy.sum())

    x = click(at)
    assert near(rebuilt(x)) > 0.95
    assert near(rebuilt(x, torch.zeros(1, CONFIG.n_fft // 2 + 1, SAMPLES // CONFIG.hop_length + 1))) < 0.5


def test_a_tone_needs_no_iterations_to_sound_like_itself() -> None:
    t = torch.arange(SAMPLES) / CONFIG.sample_rate
    x = sum(0.3 / k * torch.sin(2 * math.pi * 261.6 * k * t + k) for k in range(1, 6))[None]
    distance = MultiResolutionSTFTLoss()
    magnitude = spectrum_of(x).abs()
    assert float(distance(rebuilt(x), x)) < 0.5 * float(distance(rebuilt(x, torch.zeros_like(magnitude)), x))
    assert float(distance(rebuilt(x), x)) < 1.2


def test_peak_regions_run_between_local_minima() -> None:
    log_magnitude = torch.tensor([1.0, 3.0, 2.0, 0.5, 4.0, 5.0, 1.0, 2.0])[None, None]  # [1 item, 1 frame, 8 bins]
    index = torch.arange(8.0)[None, None]
    # minima at 3 (0.5) and 6 (1.0): regions [0, 3), [3, 6), [6, 8) peak at 1, 5 and 7
    assert _at_peaks(log_magnitude, index).flatten().tolist() == [1, 1, 1, 5, 5, 5, 7, 7]
    assert _at_peaks(log_magnitude, -index).flatten().tolist() == [-1, -1, -1, -5, -5, -5, -7, -7]
    flat = torch.tensor([2.0, 2.0, 2.0])[None, None]  # one region with three loudest bins: the largest value
    assert _at_peaks(flat, torch.tensor([3.0, 9.0, 1.0])[None, None]).flatten().tolist() == [9, 9, 9]
    with_nan = log_magnitude.clone()
    with_nan[..., 4] = math.nan
    assert _at_peaks(with_nan, index).flatten().tolist()[3:6] == [0, 0, 0]


def test_deterministic_detached_and_batch_independent() -> None:
    audio = torch.cat([sine(440.0), click(7000)])
    magnitude = spectrum_of(audio).abs().requires_grad_()
    frequency = mel_fitted_frequency(magnitude, MelSpectrogram(CONFIG)(audio), CONFIG)
    phase = gradient_phase(magnitude, frequency, CONFIG)
    assert not phase.requires_grad
    torch.testing.assert_close(phase, gradient_phase(magnitude, frequency, CONFIG), rtol=0, atol=0)
    torch.testing.assert_close(phase[1:], gradient_phase(magnitude[1:], frequency[1:], CONFIG))


def test_the_given_frequency_is_what_is_integrated() -> None:
    """A frequency one bin higher everywhere turns every frame's phase by ``2 pi hop / n_fft`` more
    per frame (at the bins that keep their own or their peak's time integral: all but transients)."""
    audio = sine(1000.3)
    magnitude = spectrum_of(audio).abs()
    frequency = mel_fitted_frequency(magnitude, MelSpectrogram(CONFIG)(audio), CONFIG)
    phase = gradient_phase(magnitude, frequency, CONFIG)
    shifted = gradient_phase(magnitude, frequency + 1 / CONFIG.n_fft, CONFIG)
    peak, step = int(magnitude[0, :, 30].argmax()), 2 * math.pi * CONFIG.hop_length / CONFIG.n_fft
    turned = (shifted - phase)[0, peak, 11:54].diff()
    assert float(anti_wrap(turned - step).max()) < 1e-3
    with pytest.raises(ValueError, match="frequency must have the magnitude's shape"):
        gradient_phase(magnitude, frequency[..., 1:], CONFIG)


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected a spectrogram \[n, 513, frames\]"):
        gradient_phase(torch.ones(1, 80, 10), torch.ones(1, 80, 10), CONFIG)


def test_a_period_makes_the_integrated_phase_repeat_with_it() -> None:
    """An unrolled loop (a magnitude and frequency repeating every ``period`` frames): with
    ``period`` the phase at ``t + period`` is the phase at ``t`` (modulo a turn) wherever both
    frames are away from the ends; without it a partial's phase drifts by its advance over the
    period. The correction is a ramp of at most half a turn per period."""
    period, turns = 37, 3
    gen = torch.Generator().manual_seed(0)
    bins = CONFIG.n_fft // 2 + 1
    magnitude = (torch.rand(1, bins, period, generator=gen, dtype=torch.float64) + 0.05).repeat(1, 1, turns)
    frequency = ((torch.arange(bins, dtype=torch.float64)[:, None] + torch.rand(bins, period, generator=gen,
                                                                              dtype=torch.float64) - 0.5)
                 / CONFIG.n_fft)[None].repeat(1, 1, turns)
    plain = gradient_phase(magnitude, frequency, CONFIG)
    looped = gradient_phase(magnitude, frequency, CONFIG, period)
    inner = slice(2, (turns - 1) * period - 2)  # frames t with t and t + period both away from the ends
    repeat = anti_wrap(looped[..., period:][..., inner] - looped[..., inner])
    assert float(repeat.max()) < 1e-6
    drift = anti_wrap(plain[..., period:][..., inner] - plain[..., inner])
    assert float((drift > 0.1).double().mean()) > 0.3  # the bins that keep a time integral
    ramp = torch.arange(turns * period, dtype=torch.float64)
    assert bool(((plain - looped).abs() <= math.pi * ramp / period + 1e-6).all())
    with pytest.raises(ValueError, match="period must be in"):
        gradient_phase(magnitude, frequency, CONFIG, turns * period)
