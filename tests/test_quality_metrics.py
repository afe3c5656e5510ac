"""Known answers for the pure metrics of ``benchmarks/quality.py`` (``benchmarks/quality_metrics.py``).

The CREPE tests need the ``bench`` extra (torchcrepe) and are skipped without it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from audiodiff.notes import note_to_midi
from audiodiff.spectrogram import MelConfig, MelSpectrogram, normalize, silence_level

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_metrics.py"
_SPEC = importlib.util.spec_from_file_location("quality_metrics", _PATH)
qm = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(qm)

RATE = 22050


def sine(freq: float, seconds: float = 0.5, rate: int = RATE, amplitude: float = 0.5) -> torch.Tensor:
    """``[samples]`` sine wave."""
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()


def test_cents() -> None:
    assert qm.midi_to_hz(69) == pytest.approx(440.0)
    assert qm.midi_to_hz(60) == pytest.approx(261.6256, abs=1e-3)
    assert qm.cents_error(440.0, 69) == pytest.approx(0.0, abs=1e-9)
    assert qm.cents_error(880.0, 69) == pytest.approx(1200.0)
    assert qm.cents_error(220.0, 69) == pytest.approx(-1200.0)
    assert qm.cents_error(qm.midi_to_hz(70), 69) == pytest.approx(100.0)
    assert math.isnan(qm.cents_error(math.nan, 69))
    assert math.isnan(qm.cents(0.0, 440.0))


def test_hits() -> None:
    a4 = 440.0
    assert qm.is_hit(a4, 69)
    assert qm.is_hit(a4 * 2 ** (49 / 1200), 69)
    assert not qm.is_hit(a4 * 2 ** (51 / 1200), 69)
    assert not qm.is_hit(2 * a4, 69)
    assert qm.is_hit(2 * a4, 69, octave_free=True)
    assert qm.is_hit(a4 / 2 * 2 ** (-30 / 1200), 69, octave_free=True)
    assert not qm.is_hit(math.nan, 69)
    assert not qm.is_hit(math.nan, 69, octave_free=True)
    assert qm.hit_rate([True, False, True, True]) == 0.75
    assert math.isnan(qm.hit_rate([]))


def test_median_f0_uses_voiced_loud_frames_only() -> None:
    pitch = torch.tensor([100.0, 440.0, 441.0, 439.0, 440.0, 2000.0, 440.0])
    periodicity = torch.tensor([0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    level = torch.tensor([0.0, -10.0, -10.0, -10.0, -10.0, -90.0, -10.0])
    assert qm.median_f0(pitch, periodicity, level, min_voiced=5) == pytest.approx(440.0)
    assert math.isnan(qm.median_f0(pitch, periodicity, level, min_voiced=6))  # only 5 voiced, loud frames
    assert math.isnan(qm.median_f0(pitch, torch.zeros(7)))


def test_local_average_decoder() -> None:
    salience = torch.zeros(1, 360, 4)
    salience[0, 100, 0] = 0.9  # one peak: the bin's own pitch
    salience[0, 99:102, 1] = torch.tensor([0.5, 0.9, 0.5])  # symmetric neighbours: the same
    salience[0, 100:102, 2] = 0.8  # two equal bins: half-way (+10 cents)
    salience[0, :, 3] = -math.inf  # all masked (fmin/fmax): finite, and periodicity 0 makes it unvoiced
    salience[0, 0, 3] = 0.7
    bins, f0 = qm.local_average_decoder(salience)
    hz = 10.0 * 2.0 ** ((qm.CENTS_PER_BIN * 100 + qm.CENTS_OF_BIN0) / 1200)
    assert bins[0, :3].tolist() == [100, 100, 100]
    assert f0[0, 0].item() == pytest.approx(hz, rel=1e-5)
    assert f0[0, 1].item() == pytest.approx(hz, rel=1e-5)
    assert qm.cents(f0[0, 2].item(), hz) == pytest.approx(10.0, abs=1e-2)
    assert bins[0, 3].item() == 0 and math.isfinite(f0[0, 3].item())


def test_frame_rms_db() -> None:
    level = qm.frame_rms_db(torch.full((1600,), 0.1), hop=160, window=320)
    assert level.shape == (11,)  # CREPE's framing: 1 + samples // hop
    assert level[5].item() == pytest.approx(-20.0, abs=1e-4)
    assert level[0].item() < level[5].item()  # the zero padding at the edges
    assert qm.frame_rms_db(torch.zeros(1600), hop=160).max().item() == pytest.approx(-200.0)


@pytest.fixture(scope="module")
def crepe() -> None:
    pytest.importorskip("torchcrepe")


# The tiny CREPE model is off by a few cents on pure tones (the hit tolerance is 50).
@pytest.mark.parametrize(("freq", "note", "cents"), [(440.0, "A4", 5), (261.6256, "C4", 5), (130.8128, "C3", 15)])
def test_crepe_finds_the_note_of_a_sine(crepe: None, freq: float, note: str, cents: float) -> None:
    f0 = qm.estimate_f0(sine(freq), RATE)
    assert abs(qm.cents_error(f0, note_to_midi(note))) < cents
    assert qm.is_hit(f0, note_to_midi(note))


def test_crepe_output_shapes(crepe: None) -> None:
    pitch, periodicity, level = qm.crepe_pitch(sine(440.0, seconds=0.5), RATE)
    assert pitch.shape == periodicity.shape == level.shape == (1 + 8000 // 160,)


@pytest.mark.parametrize("signal", ["silence", "whisper"])
def test_crepe_silence_is_unvoiced_and_a_miss(crepe: None, signal: str) -> None:
    audio = torch.zeros(RATE // 2) if signal == "silence" else sine(440.0, amplitude=1e-5)  # -100 dBFS
    f0 = qm.estimate_f0(audio, RATE)
    assert math.isnan(f0)
    assert not qm.is_hit(f0, 69)


def test_mel_features_shape_and_values() -> None:
    mel = np.random.default_rng(0).uniform(-1, 1, size=(3, 80, 176)).astype(np.float16)
    features = qm.mel_features(mel)
    assert features.shape == (3, 4 * 80 + 16 * 7)
    assert features.dtype == np.float32
    assert np.allclose(features[:, :80], mel.astype(np.float32).mean(-1), atol=1e-5)
    constant = qm.mel_features(torch.full((1, 80, 176), -0.5))
    assert np.allclose(constant[0, 80:160], 0.0) and np.allclose(constant[0, 240:320], 0.0)  # std, flux
    assert np.allclose(constant[0, 320:], -0.5)  # energy grid
    with pytest.raises(ValueError, match="frames"):
        qm.mel_features(np.zeros((1, 80, 100)))


def test_fit_frames() -> None:
    mel = torch.zeros(2, 80, 173)
    padded = qm.fit_frames(mel, 176, fill=-1.0)
    assert padded.shape == (2, 80, 176)
    assert (padded[..., 173:] == -1.0).all() and (padded[..., :173] == 0).all()
    assert qm.fit_frames(torch.zeros(1, 80, 200), 176, fill=-1.0).shape == (1, 80, 176)


def test_reanalyse_matches_the_cache_front_end() -> None:
    config = MelConfig()
    audio = torch.stack([sine(440.0, seconds=2.0), sine(1000.0, seconds=2.0)])
    mel = qm.reanalyse(audio, RATE, config, frames=176)
    assert mel.shape == (2, 80, 176)
    clip = torch.nn.functional.pad(audio, (0, config.num_samples(176) - audio.shape[-1]))
    assert torch.allclose(mel, normalize(MelSpectrogram(config)(clip), config))
    assert mel[0, :, -1].max() <= silence_level(config) + 1e-4  # the zero padding is silent
    assert qm.reanalyse(audio[:, ::2], RATE // 2, config, frames=176).shape == (2, 80, 176)  # resampled


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift() -> None:
    frechet, Projection = qm.frechet, qm.Projection
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 12))
    assert abs(frechet(a, a)) < 1e-6
    b = rng.normal(size=(400, 12))
    near, far = frechet(a, b), frechet(a, b + 1.0)
    assert near < 0.5 and far == pytest.approx(near + 12.0, abs=1.0)  # a mean shift of 1 in 12 dimensions
    project = Projection(np.concatenate([a, b]), components=3)
    assert project(b).shape == (400, 3)
