"""The consistency loop both vocoders share (``audiodiff.vocoders.consistency``), against torchaudio's Griffin-Lim."""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio
from torch import Tensor

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import hann_window, istft, stft
from audiodiff.vocoders import GriffinLimVocoder
from audiodiff.vocoders.consistency import fast_griffin_lim
from audiodiff.vocoders.mel_inverse import MelInverse

CONFIG = MelConfig()


def sounds() -> Tensor:
    """``[2, samples]``: a second of a decaying harmonic tone, and of a decaying noise burst."""
    t = torch.arange(CONFIG.sample_rate) / CONFIG.sample_rate
    harmonic = sum(0.3 / k * torch.sin(2 * math.pi * 220 * k * t) for k in range(1, 9)) * torch.exp(-t)
    noise = 0.3 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0)) * torch.exp(-6 * t)
    return torch.stack([harmonic, noise])


def torchaudio_griffin_lim(magnitude: Tensor, iterations: int, momentum: float) -> Tensor:
    return torchaudio.functional.griffinlim(
        magnitude, window=hann_window(CONFIG.win_length), n_fft=CONFIG.n_fft, hop_length=CONFIG.hop_length,
        win_length=CONFIG.win_length, power=1.0, n_iter=iterations, momentum=momentum,
        length=CONFIG.num_samples(magnitude.shape[-1]), rand_init=False)


@pytest.mark.parametrize(("iterations", "momentum", "tolerance"), [(8, 0.0, 1e-5), (32, 0.99, 1e-3)])
def test_griffin_lim_is_torchaudios_within_float_rounding(iterations: int, momentum: float, tolerance: float) -> None:
    """The Griffin-Lim vocoder (the loop from zero phase with the NNLS magnitude as its fixed target)
    gives torchaudio's ``griffinlim`` but for float32 rounding, which the momentum carries on.
    Measured (peaks near 0.6 and 1.0): 5.4e-7 apart after 8 plain iterations, 2.9e-4 after 32 with
    momentum 0.99; on four 1-3 s sounds at most 1.9e-6 and 2.9e-4."""
    log_mel = MelSpectrogram(CONFIG)(sounds())
    out = GriffinLimVocoder(CONFIG, n_iter=iterations, momentum=momentum)(log_mel)
    expected = torchaudio_griffin_lim(MelInverse(CONFIG)(log_mel.exp()), iterations, momentum)
    torch.testing.assert_close(out, expected, atol=tolerance, rtol=0)


def test_no_iterations_is_the_inverse_stft_and_a_consistent_stft_is_a_fixed_point() -> None:
    audio = sounds()[:, : CONFIG.hop_length * 40]
    spectrum = stft(audio, CONFIG)
    torch.testing.assert_close(fast_griffin_lim(spectrum, CONFIG, 0, lambda rebuilt: spectrum.abs()),
                               istft(spectrum, CONFIG), rtol=0, atol=0)
    torch.testing.assert_close(istft(spectrum, CONFIG), audio, atol=1e-5, rtol=0)
    kept = fast_griffin_lim(spectrum, CONFIG, 4, lambda rebuilt: spectrum.abs())
    torch.testing.assert_close(kept, audio, atol=1e-4, rtol=0)


def test_each_iteration_takes_its_magnitude_from_the_target() -> None:
    """The loop hands the target the STFT of the current signal: a target that halves it halves the
    output (the phase of a scaled STFT is the same)."""
    spectrum = stft(sounds(), CONFIG)
    seen: list[Tensor] = []

    def halving(rebuilt: Tensor) -> Tensor:
        seen.append(rebuilt)
        return rebuilt.abs() / 2

    out = fast_griffin_lim(spectrum, CONFIG, 1, halving, momentum=0.0)
    assert len(seen) == 1 and seen[0].shape == spectrum.shape and seen[0].is_complex()
    torch.testing.assert_close(out, istft(spectrum, CONFIG) / 2, atol=1e-5, rtol=0)


def test_bad_momentum_is_refused() -> None:
    spectrum = stft(sounds(), CONFIG)
    for momentum in (1.0, -0.1):
        with pytest.raises(ValueError, match="momentum must be in"):
            fast_griffin_lim(spectrum, CONFIG, 1, lambda rebuilt: rebuilt.abs(), momentum)
