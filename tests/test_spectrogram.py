from __future__ import annotations

import dataclasses
import json
import math

import librosa
import numpy as np
import pytest
import torch

from audiodiff.spectrogram import (
    MelConfig,
    MelConfigMismatch,
    MelSpectrogram,
    check_mel_config,
    denormalize,
    normalize,
    silence_level,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 0}, "sample_rate must be positive"),
        ({"hop_length": 0}, "hop_length"),
        ({"win_length": 2048}, "win_length <= n_fft"),
        ({"n_mels": 600}, "n_mels must be in 1..513"),
        ({"fmax": 20000.0}, "fmax <= sample_rate/2"),
        ({"fmin": 500.0, "fmax": 400.0}, "fmin < fmax"),
        ({"log_floor": 0.0}, "log_floor > 0"),
        ({"norm_min": 3.0}, "norm_max > norm_min"),
    ],
)
def test_invalid_config_is_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MelConfig(**changes)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MelConfig().n_mels = 64  # type: ignore[misc]


def test_config_round_trips_through_json() -> None:
    config = MelConfig(sample_rate=16000, hop_length=160, n_mels=64, fmin=30.0, fmax=7600.0)
    restored = MelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config


def test_unknown_config_field_is_named() -> None:
    data = {**MelConfig().to_dict(), "n_bins": 3}
    with pytest.raises(ValueError, match="n_bins"):
        MelConfig.from_dict(data)


@pytest.mark.parametrize("num_samples", [100, 511, 512, 513, 1000, 11025])
def test_num_frames_matches_the_analysis(num_samples: int) -> None:
    config = MelConfig()
    log_mel = MelSpectrogram(config)(torch.zeros(num_samples))
    assert log_mel.shape == (config.n_mels, config.num_frames(num_samples))
    assert config.num_samples(config.num_frames(num_samples)) <= num_samples


def test_batch_dimensions_are_kept() -> None:
    mel = MelSpectrogram(MelConfig())
    x = torch.randn(2, 3, 2048, generator=torch.Generator().manual_seed(0))
    out = mel(x)
    assert out.shape == (2, 3, 80, 9)
    torch.testing.assert_close(out[1, 2], mel(x[1, 2]))


def test_normalize_and_denormalize_are_inverses() -> None:
    config = MelConfig()
    log_mel = torch.linspace(-14.0, 4.0, 301)
    torch.testing.assert_close(
        denormalize(normalize(log_mel, config), config), log_mel, atol=1e-6, rtol=1e-6
    )
    x = torch.linspace(-1.2, 1.2, 301)
    torch.testing.assert_close(normalize(denormalize(x, config), config), x, atol=1e-6, rtol=1e-6)
    ends = normalize(torch.tensor([config.norm_min, config.norm_max]), config)
    torch.testing.assert_close(ends, torch.tensor([-1.0, 1.0]))
    assert silence_level(config) == pytest.approx(
        float(normalize(torch.tensor(math.log(1e-5)), config))
    )


def test_1khz_sine_peaks_in_the_nearest_mel_band() -> None:
    config = MelConfig()
    t = torch.arange(config.sample_rate) / config.sample_rate
    log_mel = MelSpectrogram(config)(torch.sin(2 * math.pi * 1000.0 * t))
    centres = librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=config.fmax)[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000.0)))
    peaks = log_mel[:, 4:-4].argmax(dim=0)  # interior frames, away from the padded edges
    assert (peaks == expected).all()


def test_matches_librosa() -> None:
    config = MelConfig()
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(11025) / config.sample_rate
    x = 0.1 * torch.randn(11025, generator=generator) + 0.5 * torch.sin(2 * math.pi * 1000 * t)
    reference = librosa.feature.melspectrogram(
        y=x.numpy(),
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window="hann",
        center=True,
        pad_mode="reflect",  # librosa >= 0.10 pads with zeros by default
        power=1.0,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        htk=False,
        norm="slaney",
    )
    expected = torch.from_numpy(np.log(np.maximum(reference, config.log_floor))).float()
    torch.testing.assert_close(MelSpectrogram(config)(x), expected, atol=1e-4, rtol=0)


def test_check_mel_config_names_the_difference() -> None:
    check_mel_config(MelConfig(), MelConfig())
    with pytest.raises(MelConfigMismatch, match=r"hop_length=128 \(expected 256\)") as error:
        check_mel_config(MelConfig(), MelConfig(hop_length=128), what="the cached mel")
    assert "the cached mel" in str(error.value)
    assert "n_mels" not in str(error.value)
    assert isinstance(error.value, ValueError)
