"""Known answers for the neural vocoder's synthesis: the integrated phase and the anchored
mel-consistency refinement (``audiodiff.vocoders.synthesis``)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import istft, stft
from audiodiff.vocoders import SynthesisConfig, VocosConfig, load_vocoder
from audiodiff.vocoders.consistency import fast_griffin_lim
from audiodiff.vocoders.frequency import mel_fitted_frequency
from audiodiff.vocoders.mel_inverse import MelInverse
from audiodiff.vocoders.neural import NeuralVocoder
from audiodiff.vocoders.phase import gradient_phase
from audiodiff.vocoders.synthesis import Synthesis

CONFIG = MelConfig()
TINY = VocosConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1, spectral_layers=0)


def refiner(iterations: int, fit_steps: int = 3, anchor: float = 0.0) -> Synthesis:
    """A synthesis with these refinement settings (by default those of the refinement before the anchor)."""
    return Synthesis(CONFIG, SynthesisConfig(iterations, fit_steps, anchor))


def tone() -> torch.Tensor:
    """A quarter second of a decaying 330 Hz tone with four harmonics, ``[1, samples]``; the
    length is whole hops, so the STFT's frames cover it exactly."""
    t = torch.arange(CONFIG.hop_length * 22) / CONFIG.sample_rate
    partials = sum(0.3 / k * torch.sin(2 * math.pi * 330 * k * t + k) for k in range(1, 5))
    return (partials * torch.exp(-4 * t))[None]


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return stft(audio, CONFIG)


def log_mel_error(audio: torch.Tensor, log_mel: torch.Tensor) -> float:
    return float((MelSpectrogram(CONFIG)(audio) - log_mel).abs().mean())


def test_no_iterations_is_the_plain_inverse_stft() -> None:
    x = tone()
    spectrum = spectrum_of(x)
    log_mel = MelSpectrogram(CONFIG)(x)
    out = refiner(0).refine(spectrum.abs(), spectrum.angle(), log_mel)
    torch.testing.assert_close(out, istft(spectrum, CONFIG))
    torch.testing.assert_close(out, x[:, : out.shape[-1]], atol=1e-5, rtol=0)


def test_a_consistent_stft_with_its_own_mel_is_a_fixed_point() -> None:
    """The true STFT of a signal already matches its mel and is consistent: refining it gives the
    signal back on every bin a mel filter covers (the refit empties DC and Nyquist, which none do).
    Measured: relative error 3.5e-3 (float32 round trips)."""
    x = tone()
    spectrum = spectrum_of(x)
    log_mel = MelSpectrogram(CONFIG)(x)
    out = refiner(6).refine(spectrum.abs(), spectrum.angle(), log_mel)
    rebuilt = spectrum_of(out)[..., 1:-1, 1:-1]  # inner frames: out is one hop shorter than x
    true = spectrum[..., 1:-1, 1:-1]
    assert float((rebuilt - true).abs().norm() / true.abs().norm()) < 1e-2


def test_refinement_brings_a_random_phase_to_the_mel() -> None:
    """From the right magnitude and random phases, the output's log-mel error falls with iterations.
    Measured: 0.64 (nats) with no iterations, 0.29 after 8, 0.23 after 32."""
    x = tone()
    spectrum = spectrum_of(x)
    log_mel = MelSpectrogram(CONFIG)(x)
    phase = torch.rand(spectrum.shape, generator=torch.Generator().manual_seed(0)) * 2 * math.pi
    errors = [log_mel_error(refiner(n).refine(spectrum.abs(), phase, log_mel), log_mel)
              for n in (0, 8, 32)]
    assert errors[0] > 0.4
    assert errors[1] < errors[0] / 2
    assert errors[2] < errors[1]


def test_the_refit_keeps_the_starting_fine_structure() -> None:
    """Started from a magnitude of the right shape at the wrong level, the NNLS steps rescale it to
    the mel (refit error falls) while the ratio between neighbouring bins stays close."""
    x = tone()
    true = spectrum_of(x).abs()
    mel = MelSpectrogram(CONFIG)(x).exp()
    inverse = MelInverse(CONFIG, 3)
    refit = inverse.fit((0.25 * true).clamp_min(1e-12), inverse.back_project(mel))
    fbank = inverse.fbank
    before = ((fbank.T @ (0.25 * true)) - mel).abs().sum()
    after = ((fbank.T @ refit) - mel).abs().sum()
    assert after < 0.05 * before
    inner = slice(1, -1)  # DC and Nyquist: no filter covers them and the refit empties them
    shape, true_shape = refit[:, inner], true[:, inner]
    torch.testing.assert_close(shape / shape.sum(1, keepdim=True), true_shape / true_shape.sum(1, keepdim=True),
                               atol=2e-3, rtol=0)


def test_a_fully_anchored_refinement_is_griffin_lim_on_the_starting_magnitude() -> None:
    """With ``anchor=1`` and no fit steps every iteration's target is the starting magnitude: the
    refinement is then the Griffin-Lim vocoder's loop with that magnitude as its fixed target."""
    x = tone()
    magnitude = spectrum_of(x).abs()
    log_mel = MelSpectrogram(CONFIG)(x)
    zero = torch.zeros_like(magnitude)
    out = refiner(5, fit_steps=0, anchor=1.0).refine(magnitude, zero, log_mel)
    target = magnitude.clamp_min(1e-12)
    expected = fast_griffin_lim(torch.polar(magnitude, zero), CONFIG, 5, lambda rebuilt: target)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    unanchored = refiner(5, fit_steps=0).refine(magnitude, zero, log_mel)
    assert float((unanchored - expected).abs().max()) > 1e-3


def test_the_anchor_keeps_the_quiet_bins_nearer_the_starting_magnitude() -> None:
    """From the tone's true magnitude and its phase jittered by up to 0.6 rad, the inconsistent
    phase leaks the partials into the quiet bins between them (the output is louder there than
    the tone); plain iterations keep the leak as their next target, anchored ones pull those bins
    back. Measured: mean log-magnitude error in the bins 40 dB or more below the loudest 1.75
    (nats) unanchored, 1.65 with anchor 0.5."""
    x = tone()
    spectrum = spectrum_of(x)
    true = spectrum[..., 1:-1, 1:-1].abs()  # inner frames: the output is one hop shorter than x
    log_mel = MelSpectrogram(CONFIG)(x)
    jitter = (torch.rand(spectrum.shape, generator=torch.Generator().manual_seed(0)) - 0.5) * 1.2
    quiet = true < true.max() * 10 ** (-40 / 20)

    def quiet_error(anchor: float) -> tuple[float, float]:
        """(mean |error|, mean error) of the output's log magnitude in the quiet bins."""
        out = refiner(3, anchor=anchor).refine(spectrum.abs(), spectrum.angle() + jitter, log_mel)
        error = spectrum_of(out)[..., 1:-1, 1:-1].abs().clamp_min(1e-5).log() - true.clamp_min(1e-5).log()
        return float(error.abs()[quiet].mean()), float(error[quiet].mean())

    (plain, plain_signed), (anchored, _) = quiet_error(0.0), quiet_error(0.5)
    assert plain_signed > 0.9 * plain  # a leak: louder than the tone
    assert anchored < plain - 0.05


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="refine_anchor must be in"):
        SynthesisConfig(refine_anchor=-0.1)
    with pytest.raises(ValueError, match="refine_anchor must be in"):
        SynthesisConfig(refine_anchor=1.5)
    with pytest.raises(ValueError, match="refine_fit_steps"):
        SynthesisConfig(refine_fit_steps=-1)
    with pytest.raises(ValueError, match="refine_iterations"):
        SynthesisConfig(refine_iterations=-2)


def test_the_synthesis_refines_the_phase_integrated_at_the_mel_fitted_frequency() -> None:
    """The shipped path, step by step: the phase integrated from the magnitude at the mel-fitted
    frequency, then the refinement; more iterations bring the output closer to the mel."""
    x = tone()
    magnitude, log_mel = spectrum_of(x).abs(), MelSpectrogram(CONFIG)(x)
    synthesis = Synthesis(CONFIG, SynthesisConfig())
    phase = gradient_phase(magnitude, mel_fitted_frequency(magnitude, log_mel, CONFIG), CONFIG)
    torch.testing.assert_close(synthesis(magnitude, log_mel), synthesis.refine(magnitude, phase, log_mel),
                               rtol=0, atol=0)
    plain = Synthesis(CONFIG, SynthesisConfig(refine_iterations=0))(magnitude, log_mel)
    torch.testing.assert_close(plain, istft(torch.polar(magnitude, phase), CONFIG))
    assert log_mel_error(synthesis(magnitude, log_mel), log_mel) < log_mel_error(plain, log_mel)


def test_training_through_silence_keeps_gradients_finite() -> None:
    """Silent audio gives STFT bins of exactly 0, where the gradient of ``|z|`` is NaN; the
    refinement's magnitude keeps it finite."""
    torch.manual_seed(0)
    vocoder = NeuralVocoder(TINY, SynthesisConfig(refine_iterations=2))
    log_mel = MelSpectrogram(CONFIG)(torch.zeros(2, CONFIG.hop_length * 16))
    magnitude = vocoder.network(log_mel)
    vocoder.synthesis(magnitude * 0, log_mel).square().sum().backward()
    grads = [p.grad for p in vocoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_neural_vocoder_plays_its_synthesis_and_loads_with_other_settings(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vocoder = NeuralVocoder(TINY).eval()
    folder = vocoder.save_pretrained(tmp_path / "v")
    log_mel = MelSpectrogram(CONFIG)(tone())
    loaded = NeuralVocoder.from_pretrained(folder, refine_iterations=8, refine_fit_steps=3)
    assert loaded.synthesis_config == SynthesisConfig(refine_iterations=8, refine_fit_steps=3)
    assert NeuralVocoder.from_pretrained(folder).synthesis_config == SynthesisConfig()
    with torch.no_grad():
        expected = Synthesis(CONFIG, loaded.synthesis_config)(vocoder.network(log_mel), log_mel)
        torch.testing.assert_close(loaded(log_mel), expected, rtol=0, atol=0)
        torch.testing.assert_close(vocoder(log_mel), vocoder.synthesis(vocoder.network(log_mel), log_mel))


def test_neural_spec_option_is_the_refinement_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from audiodiff import vocoders

    folder = NeuralVocoder(TINY, SynthesisConfig(refine_iterations=2)).save_pretrained(tmp_path / "bundled")
    monkeypatch.setattr(vocoders, "BUNDLED_NEURAL", folder)
    assert load_vocoder("neural:5", CONFIG).synthesis_config == SynthesisConfig(refine_iterations=5)
    assert load_vocoder("neural", CONFIG).synthesis_config.refine_iterations == 2
    with pytest.raises(ValueError, match="neural:N needs a whole number"):
        load_vocoder("neural:x", CONFIG)


def test_told_its_period_the_neural_vocoder_repeats_with_it() -> None:
    """Four turns of a 30-frame loop's mel: told the period, the middle two turns of the output
    agree (the phase turns a whole number of times per period); not told, they are unrelated."""
    torch.manual_seed(0)
    vocoder = NeuralVocoder(TINY).eval()
    period, hop = 30, CONFIG.hop_length
    circle = MelSpectrogram(CONFIG)(torch.randn(1, period * hop, generator=torch.Generator().manual_seed(1)))
    log_mel = circle[..., :period].repeat(1, 1, 4)
    with torch.no_grad():
        looped, plain = vocoder(log_mel, period=period)[0], vocoder(log_mel)[0]
    def mismatch(audio: torch.Tensor) -> float:
        one, two = audio[period * hop:2 * period * hop], audio[2 * period * hop:3 * period * hop]
        return float((one - two).norm() / one.norm())
    assert mismatch(looped) < 0.05 and mismatch(plain) > 0.5
    with pytest.raises(ValueError, match="a loop's period must be in"):
        vocoder(log_mel, period=4 * period)
