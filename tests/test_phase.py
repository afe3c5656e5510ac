"""Known answers for phase-gradient integration (``audiodiff.vocoders.phase``) and its use in the
neural vocoder."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.vocoders.frequency import magnitude_frequency, mel_fitted_frequency
from audiodiff.vocoders.losses import MultiResolutionSTFTLoss, anti_wrap, stft
from audiodiff.vocoders.neural import NeuralVocoder, NeuralVocoderConfig
from audiodiff.vocoders.phase import _at_peaks, gradient_phase
from audiodiff.vocoders.refine import MelConsistencyRefiner, inverse_stft

CONFIG = MelConfig()
SAMPLES = CONFIG.hop_length * 64
WINDOW = torch.hann_window(CONFIG.win_length)


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return stft(audio, CONFIG.n_fft, CONFIG.hop_length, CONFIG.win_length)


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
    phase = gradient_phase(magnitude, CONFIG) if phase is None else phase
    return inverse_stft(torch.polar(magnitude, phase), CONFIG, WINDOW)


@pytest.mark.parametrize("frequency", [440.0, 1000.3, 3210.7])
def test_a_sinusoid_gets_its_phase_advance_and_its_lobe_in_step(frequency: float) -> None:
    """Between bin centres too, the peak bin advances by ``2 pi f hop / sr`` per frame (the true
    STFT's advance), and the lobe's neighbours are in antiphase with the peak, as in the true STFT
    (``torch.stft``'s frames start at the window's first sample)."""
    spectrum = spectrum_of(sine(frequency))
    phase = gradient_phase(spectrum.abs(), CONFIG)
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
    magnitude = spectrum_of(torch.cat([sine(440.0), click(7000)])).abs().requires_grad_()
    phase = gradient_phase(magnitude, CONFIG)
    assert not phase.requires_grad
    torch.testing.assert_close(phase, gradient_phase(magnitude, CONFIG), rtol=0, atol=0)
    torch.testing.assert_close(phase[1:], gradient_phase(magnitude[1:], CONFIG))


def test_given_frequency_replaces_the_magnitudes_own() -> None:
    magnitude = spectrum_of(sine(1000.3) + 0.5 * click(5000)).abs()
    own = magnitude_frequency(magnitude, CONFIG)
    assert torch.equal(gradient_phase(magnitude, CONFIG, frequency=own), gradient_phase(magnitude, CONFIG))
    shifted = gradient_phase(magnitude, CONFIG, frequency=own + 1 / CONFIG.n_fft)
    assert not torch.equal(shifted, gradient_phase(magnitude, CONFIG))
    with pytest.raises(ValueError, match="frequency must have the magnitude's shape"):
        gradient_phase(magnitude, CONFIG, frequency=own[..., 1:])


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected a spectrogram \[n, 513, frames\]"):
        gradient_phase(torch.ones(1, 80, 10), CONFIG)
    with pytest.raises(ValueError, match="phase_source must be one of network, gradient"):
        NeuralVocoderConfig(phase_source="random")


def test_neural_vocoder_with_gradient_phase_ignores_the_network_phase(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1, refine_iterations=2)
    folder = NeuralVocoder(config).save_pretrained(tmp_path / "v")
    vocoder = NeuralVocoder.from_pretrained(folder, phase_source="gradient")
    assert vocoder.config == dataclasses.replace(config, phase_source="gradient")
    assert NeuralVocoder.from_pretrained(vocoder.save_pretrained(tmp_path / "g")).config.phase_source == "gradient"
    log_mel = MelSpectrogram(CONFIG)(sine(330.0))
    with torch.no_grad():
        magnitude, phase = vocoder.network(log_mel)
        out = vocoder.render(magnitude, phase, log_mel)
        torch.testing.assert_close(out, vocoder.render(magnitude, torch.rand_like(phase) * 6, log_mel))
        expected = MelConsistencyRefiner(CONFIG, 2)(magnitude, gradient_phase(magnitude, CONFIG), log_mel)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(vocoder(log_mel), out)
        plain = NeuralVocoder.from_pretrained(folder)
        assert plain.starting_phase(magnitude, phase, log_mel) is phase
        torch.testing.assert_close(vocoder.starting_phase(magnitude, phase, log_mel), gradient_phase(magnitude, CONFIG))
        fitted = NeuralVocoder.from_pretrained(folder, phase_source="gradient", frequency_estimate="mel")
        frequency = mel_fitted_frequency(magnitude, log_mel, CONFIG)
        torch.testing.assert_close(fitted.starting_phase(magnitude, phase, log_mel),
                                   gradient_phase(magnitude, CONFIG, frequency=frequency))


def test_training_through_silence_keeps_gradients_finite() -> None:
    """Silent audio gives STFT bins of exactly 0, where the gradient of ``|z|`` is NaN; the
    refinement's magnitude keeps it finite."""
    torch.manual_seed(0)
    vocoder = NeuralVocoder(NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1,
                                                refine_iterations=2, phase_source="gradient"))
    log_mel = MelSpectrogram(CONFIG)(torch.zeros(2, CONFIG.hop_length * 16))
    magnitude, phase = vocoder.network(log_mel)
    vocoder.render(magnitude * 0, phase, log_mel).square().sum().backward()
    grads = [p.grad for p in vocoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
