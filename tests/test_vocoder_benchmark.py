"""Known answers for ``benchmarks/vocoder.py``: its frequency probes and ``--decompose`` (a neural
vocoder's magnitude and phase apart)."""

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
from audiodiff.stft import stft
from audiodiff.vocoders import GriffinLimVocoder, NeuralVocoder, SynthesisConfig, VocosConfig
from audiodiff.vocoders.losses import MultiResolutionSTFTLoss

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "vocoder.py"
_SPEC = importlib.util.spec_from_file_location("vocoder_benchmark", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

CONFIG = MelConfig()
BIN_HZ = CONFIG.sample_rate / CONFIG.n_fft
FREQUENCY_ROW = "frequency error at the clip's peaks, bins: the vocoder's estimate, the clip magnitude's slope"


def harmonic(seconds: float = 0.5) -> Tensor:
    """``[samples]``: a decaying 220 Hz tone with three harmonics."""
    t = torch.arange(round(seconds * CONFIG.sample_rate), dtype=torch.float64) / CONFIG.sample_rate
    wave = sum(torch.sin(2 * math.pi * 220 * k * t) / k for k in (1, 2, 3)) * torch.exp(-3 * t)
    return (0.3 * wave).float()


def true_stft(clip: Tensor) -> Tensor:
    """The clip's STFT ``[1, bins, frames]`` over the frames of its log-mel."""
    frames = MelSpectrogram(CONFIG)(clip[None]).shape[-1]
    return stft(clip[None, : CONFIG.num_samples(frames)], CONFIG)[..., :frames]


class Oracle(nn.Module):
    """A stand-in network that returns the clip's own STFT magnitude."""

    def __init__(self, clip: Tensor) -> None:
        super().__init__()
        self.stft = true_stft(clip)

    def forward(self, log_mel: Tensor) -> Tensor:
        return self.stft.abs()


def tiny_vocoder(seed: int, **synthesis: Any) -> NeuralVocoder:
    """An untrained one-block vocoder; ``synthesis`` are :class:`SynthesisConfig` fields."""
    torch.manual_seed(seed)
    network = VocosConfig(mel=CONFIG, dim=16, intermediate_dim=32, num_layers=1, spectral_layers=0)
    return NeuralVocoder(network, SynthesisConfig(**synthesis)).eval()


def sine(frequency: float, seconds: float = 0.75) -> Tensor:
    """``[1, samples]`` sinusoid at ``frequency`` Hz."""
    t = torch.arange(round(seconds * CONFIG.sample_rate)) / CONFIG.sample_rate
    return torch.sin(2 * math.pi * frequency * t)[None]


@pytest.mark.parametrize("frequency", [440.0, 1000.3, 3210.7])
def test_instantaneous_frequency_of_a_sinusoid(frequency: float) -> None:
    """Measured from the phase: the sinusoid's frequency to within 0.001 Hz over its lobe's three
    loudest bins; from the magnitude's slope at the peak bin: within 1% of a bin (21.5 Hz)."""
    spectrum = stft(sine(frequency), CONFIG)
    peak = int(spectrum.abs()[0, :, 30].argmax())
    measured = bench.phase_frequency(spectrum, CONFIG)[0, peak - 1 : peak + 2, 8:56] * CONFIG.sample_rate
    assert float((measured - frequency).abs().max()) < 1e-3
    estimated = bench.magnitude_frequency(spectrum.abs(), CONFIG)[0, peak, 8:56] * CONFIG.sample_rate
    assert float((estimated - frequency).abs().max()) < 0.01 * BIN_HZ


def test_phase_frequency_of_one_frame_is_the_bin_centres() -> None:
    spectrum = stft(sine(440.0), CONFIG)[..., :1]
    centres = torch.arange(CONFIG.n_fft // 2 + 1)[None, :, None] / CONFIG.n_fft
    torch.testing.assert_close(bench.phase_frequency(spectrum, CONFIG), centres.float())


def test_a_network_that_returns_the_true_magnitude_scores_zero_with_the_true_phase() -> None:
    """With the clip's own magnitude the "network" rows are the clip (with the true phase) and the
    vocoder's unrefined playing of it (with its phase, which is then the only error)."""
    clip = harmonic()
    vocoder = tiny_vocoder(0, refine_iterations=0)
    vocoder.network = Oracle(clip)
    rows = bench.decompose(vocoder, [clip])
    stft_distance, mel = rows["network magnitude + true phase"]
    assert stft_distance < 0.05 and mel < 0.05, rows["network magnitude + true phase"]
    with torch.inference_mode():
        out = vocoder.synthesis(true_stft(clip).abs(), MelSpectrogram(CONFIG)(clip[None]))
        played = float(MultiResolutionSTFTLoss()(out, clip[None, : out.shape[-1]]))
    assert math.isclose(rows["true magnitude + vocoder phase"][0], played, rel_tol=1e-5)
    assert played > 0.1  # the integrated phase is not the clip's
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
    true = true_stft(clip).abs()
    fitted = GriffinLimVocoder(CONFIG).mel_inverse(MelSpectrogram(CONFIG)(clip[None]).exp())
    expected = (fitted.clamp_min(1e-5).log() - true.clamp_min(1e-5).log()).abs().mean()
    assert math.isclose(a["log-magnitude error: network, least-squares"][1], float(expected), rel_tol=1e-5)


def test_the_refined_rows_are_the_vocoders_output_and_its_frequency_swapped_for_the_clips() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0, refine_iterations=2)
    rows = bench.decompose(vocoder, [clip])
    log_mel = MelSpectrogram(CONFIG)(clip[None])
    with torch.inference_mode():
        out = vocoder(log_mel, CONFIG)
        expected = MultiResolutionSTFTLoss()(out, clip[None, : out.shape[-1]])
    assert math.isclose(rows["network magnitude + vocoder phase, refined (the vocoder's output)"][0],
                        float(expected), rel_tol=1e-5)
    swapped = rows["network magnitude + gradient phase of the clip's frequency, refined"]
    assert swapped != rows["network magnitude + vocoder phase, refined (the vocoder's output)"]
    slope_only = rows["network magnitude + gradient phase of its slope-only frequency, refined"]
    assert slope_only != rows["network magnitude + vocoder phase, refined (the vocoder's output)"]
    network_error, clip_error = rows[FREQUENCY_ROW]
    # the mel fit moves even an untrained network's peaks near the clip's partials; its slope does not
    slope_error = bench.decompose(vocoder, [clip], bench_slope)[FREQUENCY_ROW][0]
    assert clip_error < 0.1 < slope_error and network_error < slope_error


def test_with_the_true_magnitude_both_frequency_estimates_are_the_clips() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0)
    vocoder.network = Oracle(clip)
    network_error, clip_error = bench.decompose(vocoder, [clip], bench_slope)[FREQUENCY_ROW]
    assert network_error == clip_error < 0.1


def bench_slope(magnitude: Tensor, log_mel: Tensor, config: MelConfig) -> Tensor:
    """The slope-only frequency estimate, as a vocoder's estimate for :func:`decompose`."""
    return bench.magnitude_frequency(magnitude, config)


REFINED_ROWS = (
    "network magnitude + vocoder phase, refined (the vocoder's output)",
    "network magnitude + gradient phase of the clip's frequency, refined",
    "network magnitude + gradient phase of the clip's frequency at the network's loud peaks only, refined",
    "network magnitude + gradient phase of the clip's frequency everywhere but the network's loud peaks, refined",
)


def test_the_split_rows_take_the_clips_frequency_at_the_loud_peaks_and_everywhere_else() -> None:
    """A vocoder whose own estimate is the clip's frequency at its loud peaks only: its output is the
    "at the loud peaks only" row, and "everywhere but the loud peaks" is the clip's frequency everywhere."""
    clip = harmonic()
    vocoder = tiny_vocoder(0, refine_iterations=2)
    clip_frequency = bench.phase_frequency(true_stft(clip), CONFIG)

    def estimate(magnitude: Tensor, log_mel: Tensor, config: MelConfig) -> Tensor:
        return torch.where(bench.loud_peaks(magnitude), clip_frequency, bench.magnitude_frequency(magnitude, config))

    rows = bench.decompose(vocoder, [clip], estimate)
    own, everywhere, at_peaks, elsewhere = (rows[name] for name in REFINED_ROWS)
    assert at_peaks == own and elsewhere == everywhere
    assert everywhere != own  # the untrained network's slope is not the clip's frequency between its peaks


def test_a_vocoder_whose_estimate_is_the_clips_frequency_scores_the_same_on_all_refined_rows() -> None:
    clip = harmonic()
    vocoder = tiny_vocoder(0, refine_iterations=2)
    clip_frequency = bench.phase_frequency(true_stft(clip), CONFIG)
    rows = bench.decompose(vocoder, [clip], lambda magnitude, log_mel, config: clip_frequency)
    scores = [rows[name] for name in REFINED_ROWS]
    assert all(math.isclose(s[0], scores[0][0], rel_tol=1e-6) and math.isclose(s[1], scores[0][1], rel_tol=1e-6)
               for s in scores)
    assert rows[FREQUENCY_ROW][0] == 0.0


def test_synthesis_settings_are_parsed_to_their_config_types() -> None:
    assert bench.synthesis_settings("refine_anchor=0,refine_fit_steps=3") == {
        "refine_anchor": 0.0, "refine_fit_steps": 3}
    assert isinstance(bench.synthesis_settings("refine_anchor=1")["refine_anchor"], float)
    for bad in ("dim=8", "phase_source=network", "refine_iterations", "refine_iterations="):
        with pytest.raises(argparse.ArgumentTypeError, match="is not SETTING=VALUE with SETTING one of refine_"):
            bench.synthesis_settings(bad)
    with pytest.raises(ValueError):
        bench.synthesis_settings("refine_iterations=two")


def test_split_all_picks_the_clips_of_every_split(tmp_path: Path) -> None:
    import soundfile

    (tmp_path / "tone").mkdir()
    for i in range(6):
        soundfile.write(tmp_path / "tone" / f"{i}.wav", (harmonic() * (1 + i / 10)).numpy(), CONFIG.sample_rate)
    count = {split: len(bench.pick_clips(tmp_path, split, 10, CONFIG.sample_rate)) for split in ("train", "val", "all")}
    assert count["val"] >= 1 and count["all"] == count["train"] + count["val"] == 6
