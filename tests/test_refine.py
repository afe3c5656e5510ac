"""Known answers for the refinements of a neural vocoder: mel-consistency iterations and the spectral refiner."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
import torchaudio

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.vocoders import load_vocoder
from audiodiff.vocoders.losses import stft
from audiodiff.vocoders.mel_inverse import MelInverse
from audiodiff.vocoders.neural import NeuralVocoder, NeuralVocoderConfig, SpectralRefiner
from audiodiff.vocoders.refine import MelConsistencyRefiner, inverse_stft

CONFIG = MelConfig()


def tone() -> torch.Tensor:
    """A quarter second of a decaying 330 Hz tone with four harmonics, ``[1, samples]``; the
    length is whole hops, so the STFT's frames cover it exactly."""
    t = torch.arange(CONFIG.hop_length * 22) / CONFIG.sample_rate
    partials = sum(0.3 / k * torch.sin(2 * math.pi * 330 * k * t + k) for k in range(1, 5))
    return (partials * torch.exp(-4 * t))[None]


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return stft(audio, CONFIG.n_fft, CONFIG.hop_length, CONFIG.win_length)


def log_mel_error(audio: torch.Tensor, log_mel: torch.Tensor) -> float:
    return float((MelSpectrogram(CONFIG)(audio) - log_mel).abs().mean())


def test_no_iterations_is_the_plain_inverse_stft() -> None:
    x = tone()
    spectrum = spectrum_of(x)
    log_mel = MelSpectrogram(CONFIG)(x)
    out = MelConsistencyRefiner(CONFIG, 0)(spectrum.abs(), spectrum.angle(), log_mel)
    torch.testing.assert_close(out, inverse_stft(spectrum, CONFIG, torch.hann_window(CONFIG.win_length)))
    torch.testing.assert_close(out, x[:, : out.shape[-1]], atol=1e-5, rtol=0)


def test_a_consistent_stft_with_its_own_mel_is_a_fixed_point() -> None:
    """The true STFT of a signal already matches its mel and is consistent: refining it gives the
    signal back on every bin a mel filter covers (the refit empties DC and Nyquist, which none do).
    Measured: relative error 3.5e-3 (float32 round trips)."""
    x = tone()
    spectrum = spectrum_of(x)
    log_mel = MelSpectrogram(CONFIG)(x)
    out = MelConsistencyRefiner(CONFIG, 6)(spectrum.abs(), spectrum.angle(), log_mel)
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
    errors = [log_mel_error(MelConsistencyRefiner(CONFIG, n)(spectrum.abs(), phase, log_mel), log_mel)
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


def test_a_fully_anchored_refinement_is_fast_griffin_lim_on_the_starting_magnitude() -> None:
    """With ``anchor=1`` and no refit steps every iteration keeps the starting magnitude, which is
    fast Griffin-Lim: torchaudio's from zero phase gives the same waveform. Measured: 1.1e-6 apart
    without momentum, 1.2e-4 with 0.9 (float32 rounding that the momentum carries on)."""
    x = tone()
    magnitude = spectrum_of(x).abs()
    log_mel = MelSpectrogram(CONFIG)(x)
    window = torch.hann_window(CONFIG.win_length)
    refiner = MelConsistencyRefiner(CONFIG, 5, refit_steps=0, momentum=0.9, anchor=1.0)
    out = refiner(magnitude, torch.zeros_like(magnitude), log_mel)
    expected = torchaudio.functional.griffinlim(
        magnitude, window=window, n_fft=CONFIG.n_fft, hop_length=CONFIG.hop_length,
        win_length=CONFIG.win_length, power=1.0, n_iter=5, momentum=0.9, length=out.shape[-1], rand_init=False)
    torch.testing.assert_close(out, expected, atol=1e-3, rtol=0)
    unanchored = MelConsistencyRefiner(CONFIG, 5, refit_steps=0, momentum=0.9)
    unanchored = unanchored(magnitude, torch.zeros_like(magnitude), log_mel)
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
        out = MelConsistencyRefiner(CONFIG, 3, anchor=anchor)(spectrum.abs(), spectrum.angle() + jitter, log_mel)
        error = spectrum_of(out)[..., 1:-1, 1:-1].abs().clamp_min(1e-5).log() - true.clamp_min(1e-5).log()
        return float(error.abs()[quiet].mean()), float(error[quiet].mean())

    (plain, plain_signed), (anchored, _) = quiet_error(0.0), quiet_error(0.5)
    assert plain_signed > 0.9 * plain  # a leak: louder than the tone
    assert anchored < plain - 0.05


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="iterations must be at least 0"):
        MelConsistencyRefiner(CONFIG, -1)
    with pytest.raises(ValueError, match="momentum"):
        MelConsistencyRefiner(CONFIG, 2, momentum=1.0)
    with pytest.raises(ValueError, match="anchor must be in"):
        MelConsistencyRefiner(CONFIG, 2, anchor=1.5)
    with pytest.raises(ValueError, match="refine_anchor must be in"):
        NeuralVocoderConfig(refine_anchor=-0.1)
    with pytest.raises(ValueError, match="refine_fit_steps"):
        NeuralVocoderConfig(refine_fit_steps=-1)
    with pytest.raises(ValueError, match="refine_iterations"):
        NeuralVocoderConfig(refine_iterations=-2)


def test_neural_vocoder_refines_as_configured_and_loads_with_another_count(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1)
    vocoder = NeuralVocoder(config).eval()
    folder = vocoder.save_pretrained(tmp_path / "v")
    log_mel = MelSpectrogram(CONFIG)(tone())
    with torch.no_grad():
        plain = vocoder(log_mel)
        refined = NeuralVocoder.from_pretrained(folder, refine_iterations=8)(log_mel)
        magnitude, phase = vocoder.network(log_mel)
        expected = MelConsistencyRefiner(CONFIG, 8)(magnitude, phase, log_mel)
    torch.testing.assert_close(refined, expected)
    torch.testing.assert_close(plain, vocoder.inverse_stft(magnitude, phase))
    assert log_mel_error(refined, log_mel) < log_mel_error(plain, log_mel)
    assert NeuralVocoder.from_pretrained(folder).config.refine_iterations == 0
    again = dataclasses.replace(config, refine_iterations=8)
    assert NeuralVocoder.from_pretrained(folder, refine_iterations=8).config == again


def test_the_refinement_settings_load_over_the_saved_ones(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1, refine_iterations=2)
    folder = NeuralVocoder(config).save_pretrained(tmp_path / "v")
    loaded = NeuralVocoder.from_pretrained(folder, refine_anchor=0.5, refine_fit_steps=1)
    assert loaded.config == dataclasses.replace(config, refine_anchor=0.5, refine_fit_steps=1)
    assert (loaded.refiner.anchor, loaded.refiner.refit.steps) == (0.5, 1)
    assert loaded.settings()["refine_anchor"] == 0.5
    with pytest.raises(TypeError, match="not playback settings: dim"):
        NeuralVocoder.from_pretrained(folder, dim=32)


def test_neural_spec_option_is_the_refinement_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from audiodiff import vocoders

    folder = NeuralVocoder(NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1)
                           ).save_pretrained(tmp_path / "bundled")
    monkeypatch.setattr(vocoders, "BUNDLED_NEURAL", folder)
    assert load_vocoder("neural:5", CONFIG).config.refine_iterations == 5
    assert load_vocoder("neural", CONFIG).config.refine_iterations == 0
    with pytest.raises(ValueError, match="neural:N needs a whole number"):
        load_vocoder("neural:x", CONFIG)


def test_an_untrained_spectral_refiner_changes_nothing() -> None:
    torch.manual_seed(0)
    plain = NeuralVocoder(NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1)).eval()
    spectral = NeuralVocoder(dataclasses.replace(plain.config, spectral_layers=2, spectral_channels=4)).eval()
    missing, unexpected = spectral.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("network.spectral.") for k in missing)
    log_mel = MelSpectrogram(CONFIG)(tone())
    with torch.no_grad():
        torch.testing.assert_close(spectral.network(log_mel), plain.network(log_mel))


def test_spectral_refiner_is_shift_equivariant_along_frequency() -> None:
    """The same peak shape gets the same correction wherever it lies (away from the edges)."""
    torch.manual_seed(0)
    refiner = SpectralRefiner(dim=8, channels=4, layers=3, kernel_size=5)
    torch.nn.init.normal_(refiner.out.weight)
    bins = torch.arange(200.0)
    peaks = [-8 + 6 * torch.exp(-((bins - centre) / 3) ** 2) for centre in (80.0, 110.0)]
    log_magnitude = torch.stack(peaks, -1)[None]  # [1, bins, 2 frames]
    features = torch.zeros(1, 2, 8)
    with torch.no_grad():
        correction = refiner(log_magnitude, features) - log_magnitude
    assert float(correction.abs().max()) > 1e-3
    torch.testing.assert_close(correction[0, 50:120, 0], correction[0, 80:150, 1], atol=1e-5, rtol=0)


def test_spectral_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="spectral_layers"):
        NeuralVocoderConfig(spectral_layers=-1)
    with pytest.raises(ValueError, match="spectral_channels"):
        NeuralVocoderConfig(spectral_layers=2, spectral_channels=0)
