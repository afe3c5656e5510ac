"""Known answers for ``benchmarks/vocoder.py --decompose`` (a neural vocoder's magnitude and phase apart)."""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.vocoders import GriffinLimVocoder, NeuralVocoder
from audiodiff.vocoders.losses import MultiResolutionSTFTLoss
from audiodiff.vocoders.neural import NeuralVocoderConfig

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "vocoder.py"
_SPEC = importlib.util.spec_from_file_location("vocoder_benchmark", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

CONFIG = MelConfig()
FREQUENCY_ROW = "frequency error at the clip's peaks, bins: the vocoder's estimate, the clip magnitude's slope"


def harmonic(seconds: float = 0.5) -> Tensor:
    """``[samples]``: a decaying 220 Hz tone with three harmonics."""
    t = torch.arange(round(seconds * CONFIG.sample_rate), dtype=torch.float64) / CONFIG.sample_rate
    wave = sum(torch.sin(2 * math.pi * 220 * k * t) / k for k in (1, 2, 3)) * torch.exp(-3 * t)
    return (0.3 * wave).float()


class Oracle(nn.Module):
    """A stand-in network that returns the clip's own STFT magnitude and phase."""

    def __init__(self, clip: Tensor, window: Tensor) -> None:
        super().__init__()
        frames = MelSpectrogram(CONFIG)(clip[None]).shape[-1]
        n = CONFIG.num_samples(frames)
        self.stft = torch.stft(clip[None, :n], CONFIG.n_fft, CONFIG.hop_length, CONFIG.win_length, window,
                               center=True, return_complex=True)[..., :frames]

    def forward(self, log_mel: Tensor) -> tuple[Tensor, Tensor]:
        return self.stft.abs(), self.stft.angle()


def tiny_vocoder(seed: int, **settings: Any) -> NeuralVocoder:
    """An untrained one-block vocoder; ``settings`` are further :class:`NeuralVocoderConfig` fields."""
    torch.manual_seed(seed)
    return NeuralVocoder(NeuralVocoderConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1, **settings)).eval()


def test_a_network_that_returns_the_true_stft_scores_zero_on_its_own_rows() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0)
    vocoder.network = Oracle(clip, vocoder.window)
    rows = bench.decompose(vocoder, [clip])
    for name in ("network magnitude + true phase", "true magnitude + network phase"):
        stft, mel = rows[name]
        assert stft < 0.05 and mel < 0.05, (name, rows[name])
    assert rows["log-magnitude error: network, least-squares"][0] < 1e-6
    # the least-squares magnitude from 80 mel bins is not the true one
    assert rows["log-magnitude error: network, least-squares"][1] > 0.1
    assert rows["least-squares magnitude + true phase"][0] > rows["network magnitude + true phase"][0]


def test_the_least_squares_reference_does_not_depend_on_the_network() -> None:
    clip = harmonic()
    a, b = bench.decompose(tiny_vocoder(0), [clip]), bench.decompose(tiny_vocoder(1), [clip])
    key = "least-squares magnitude + true phase"
    assert a[key] == b[key]
    assert a["log-magnitude error: network, least-squares"][1] == b["log-magnitude error: network, least-squares"][1]
    assert a["network magnitude + true phase"] != b["network magnitude + true phase"]
    # and it is Griffin-Lim's own magnitude estimate, compared with the clip's STFT magnitude
    true = Oracle(clip, tiny_vocoder(0).window).stft.abs()
    fitted = GriffinLimVocoder(CONFIG).mel_inverse(MelSpectrogram(CONFIG)(clip[None]).exp())
    expected = (fitted.clamp_min(1e-5).log() - true.clamp_min(1e-5).log()).abs().mean()
    assert math.isclose(a["log-magnitude error: network, least-squares"][1], float(expected), rel_tol=1e-5)


def test_the_refined_rows_are_the_vocoders_output_and_its_frequency_swapped_for_the_clips() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0, refine_iterations=2, phase_source="gradient")
    rows = bench.decompose(vocoder, [clip])
    log_mel = MelSpectrogram(CONFIG)(clip[None])
    with torch.inference_mode():
        out = vocoder(log_mel, CONFIG)
        expected = MultiResolutionSTFTLoss()(out, clip[None, : out.shape[-1]])
    assert math.isclose(rows["network magnitude + network phase, refined (the vocoder's output)"][0],
                        float(expected), rel_tol=1e-5)
    swapped = rows["network magnitude + gradient phase of the clip's frequency, refined"]
    assert swapped != rows["network magnitude + network phase, refined (the vocoder's output)"]
    network_error, clip_error = rows[FREQUENCY_ROW]
    assert clip_error < 0.1 < network_error  # an untrained network's peaks are anywhere


def test_with_the_true_magnitude_both_frequency_estimates_are_the_clips() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0)
    vocoder.network = Oracle(clip, vocoder.window)
    network_error, clip_error = bench.decompose(vocoder, [clip])[FREQUENCY_ROW]
    assert network_error == clip_error < 0.1


REFINED_ROWS = (
    "network magnitude + network phase, refined (the vocoder's output)",
    "network magnitude + gradient phase of the clip's frequency, refined",
    "network magnitude + gradient phase of the clip's frequency at the network's loud peaks only, refined",
    "network magnitude + gradient phase of the clip's frequency everywhere but the network's loud peaks, refined",
)


def gradient_vocoder() -> NeuralVocoder:
    return tiny_vocoder(0, refine_iterations=2, phase_source="gradient", frequency_estimate="mel")


def test_the_split_rows_take_the_clips_frequency_at_the_loud_peaks_and_everywhere_else(monkeypatch) -> None:
    """A vocoder whose own estimate is the clip's frequency at its loud peaks only: its output is the
    "at the loud peaks only" row, and "everywhere but the loud peaks" is the clip's frequency everywhere."""
    clip = harmonic()
    vocoder = gradient_vocoder()
    clip_frequency = bench.phase_frequency(Oracle(clip, vocoder.window).stft, CONFIG)
    monkeypatch.setattr(vocoder, "instantaneous_frequency", lambda magnitude, log_mel: torch.where(
        bench.loud_peaks(magnitude), clip_frequency, bench.magnitude_frequency(magnitude, CONFIG)))
    rows = bench.decompose(vocoder, [clip])
    own, everywhere, at_peaks, elsewhere = (rows[name] for name in REFINED_ROWS)
    assert at_peaks == own and elsewhere == everywhere
    assert everywhere != own  # the untrained network's slope is not the clip's frequency between its peaks


def test_a_vocoder_whose_estimate_is_the_clips_frequency_scores_the_same_on_all_refined_rows(monkeypatch) -> None:
    clip = harmonic()
    vocoder = gradient_vocoder()
    clip_stft = Oracle(clip, vocoder.window).stft
    monkeypatch.setattr(vocoder, "instantaneous_frequency",
                        lambda magnitude, log_mel: bench.phase_frequency(clip_stft, CONFIG))
    rows = bench.decompose(vocoder, [clip])
    scores = [rows[name] for name in REFINED_ROWS]
    assert all(math.isclose(s[0], scores[0][0], rel_tol=1e-6) and math.isclose(s[1], scores[0][1], rel_tol=1e-6)
               for s in scores)
    assert rows[FREQUENCY_ROW][0] == 0.0


def test_playback_settings_are_parsed_to_their_config_types() -> None:
    assert bench.playback_settings("refine_anchor=0,refine_fit_steps=3,phase_source=network") == {
        "refine_anchor": 0.0, "refine_fit_steps": 3, "phase_source": "network"}
    assert isinstance(bench.playback_settings("refine_anchor=1")["refine_anchor"], float)
    for bad in ("dim=8", "refine_iterations", "refine_iterations="):
        with pytest.raises(argparse.ArgumentTypeError, match="is not SETTING=VALUE with SETTING one of refine_"):
            bench.playback_settings(bad)
    with pytest.raises(ValueError):
        bench.playback_settings("refine_iterations=two")
