from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from audiodiff import audio
from audiodiff.audio import AudioError

SR = 22050


def sine(
    freq: float, seconds: float, sample_rate: int = SR, amplitude: float = 0.5
) -> torch.Tensor:
    """``[1, samples]`` float32 sine."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()[None]


def peak_frequency(x: torch.Tensor, sample_rate: int) -> float:
    spectrum = torch.fft.rfft(
        x.flatten().double() * torch.hann_window(x.shape[-1], dtype=torch.float64)
    )
    return float(torch.argmax(spectrum.abs())) * sample_rate / x.shape[-1]


@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_pcm16_round_trip_is_within_quantisation(tmp_path: Path, suffix: str) -> None:
    x = sine(440, 0.25)
    path = audio.save(tmp_path / f"tone.{suffix}", x, SR)
    y, rate = audio.load(path)
    assert rate == SR
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert (y - x).abs().max() < 1e-4
    assert soundfile.info(str(path)).subtype == "PCM_16"


def test_float_wav_round_trip_is_exact(tmp_path: Path) -> None:
    x = sine(440, 0.25)
    y, _ = audio.load(audio.save(tmp_path / "tone.wav", x, SR, subtype="float"))
    assert torch.equal(x, y)


def test_ogg_round_trip_keeps_length_and_shape(tmp_path: Path) -> None:
    x = sine(440, 0.5)
    y, rate = audio.load(audio.save(tmp_path / "tone.ogg", x, SR))
    assert rate == SR
    assert abs(y.shape[-1] - x.shape[-1]) <= 256
    n = min(x.shape[-1], y.shape[-1])
    correlation = np.corrcoef(x[0, :n].numpy(), y[0, :n].numpy())[0, 1]
    assert correlation > 0.99


def test_format_argument_overrides_suffix(tmp_path: Path) -> None:
    path = audio.save(tmp_path / "tone.bin", sine(440, 0.1), SR, format="flac")
    assert soundfile.info(str(path)).format == "FLAC"


def test_stereo_is_mixed_to_mono_by_averaging(tmp_path: Path) -> None:
    left, right = sine(440, 0.2, amplitude=0.6), sine(660, 0.2, amplitude=0.2)
    path = audio.save(tmp_path / "stereo.wav", torch.cat([left, right]), SR, subtype="FLOAT")
    mono, _ = audio.load(path)
    both, _ = audio.load(path, mono=False)
    assert both.shape == (2, left.shape[-1])
    assert mono.shape == (1, left.shape[-1])
    torch.testing.assert_close(mono, (left + right) / 2)


def test_resampling_keeps_frequency_and_duration(tmp_path: Path) -> None:
    path = audio.save(tmp_path / "tone.wav", sine(440, 1.0, sample_rate=44100), 44100)
    y, rate = audio.load(path, sample_rate=22050)
    assert rate == 22050
    assert y.shape == (1, 22050)
    assert peak_frequency(y, rate) == pytest.approx(440, abs=1.0)
    # No energy moves: the RMS of a 440 Hz sine survives resampling.
    assert y[0, 1000:-1000].square().mean().sqrt() == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)


def test_resample_keeps_dtype_and_batch_shape() -> None:
    x = sine(1000, 0.1, sample_rate=16000).double().expand(3, 2, -1)
    y = audio.resample(x, 16000, 24000)
    assert y.shape == (3, 2, 2400) and y.dtype == torch.float64
    assert audio.resample(x, 16000, 16000) is x


def test_save_clips_and_accepts_1d_audio(tmp_path: Path) -> None:
    x = torch.tensor([0.0, 1.5, -2.0, 0.25])
    y, _ = audio.load(audio.save(tmp_path / "clip.wav", x, SR, subtype="FLOAT"))
    assert torch.equal(y[0], torch.tensor([0.0, 1.0, -1.0, 0.25]))


def test_save_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NaN"):
        audio.save(tmp_path / "bad.wav", torch.tensor([0.0, float("nan")]), SR)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_is_refused_unless_asked(tmp_path: Path) -> None:
    path = audio.save(tmp_path / "a.wav", sine(440, 0.1), SR)
    with pytest.raises(FileExistsError, match="overwrite=True") as error:
        audio.save(path, sine(880, 0.1), SR)
    assert str(path) in str(error.value)
    assert peak_frequency(audio.load(path)[0], SR) == pytest.approx(440, abs=10)
    audio.save(path, sine(880, 0.1), SR, overwrite=True)
    assert peak_frequency(audio.load(path)[0], SR) == pytest.approx(880, abs=10)


def test_failed_write_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = audio.save(tmp_path / "keep.wav", sine(440, 0.1), SR)
    before = keep.read_bytes()

    def broken_write(file: Path, *args: object, **kwargs: object) -> None:
        Path(file).write_bytes(b"RIFF half")  # a partial file, then the disk "fills up"
        raise OSError("disk full")

    monkeypatch.setattr(audio.soundfile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        audio.save(tmp_path / "new.wav", sine(440, 0.1), SR)
    with pytest.raises(OSError, match="disk full"):
        audio.save(keep, sine(880, 0.1), SR, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]
    assert keep.read_bytes() == before


def test_unknown_formats_are_named(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="wav, flac, ogg"):
        audio.save(tmp_path / "tone.xyz", sine(440, 0.1), SR)
    with pytest.raises(AudioError, match="PCM_16"):
        audio.save(tmp_path / "tone.ogg", sine(440, 0.1), SR, subtype="PCM_16")
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioError, match="no such audio file") as error:
        audio.load(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("content", [b"", b"this is not audio" * 64])
def test_corrupt_file_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as error:
        audio.load(path)
    assert str(path) in str(error.value)


def test_file_without_samples_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1), dtype=np.float32), SR)
    with pytest.raises(AudioError, match="no audio samples") as error:
        audio.load(path)
    assert str(path) in str(error.value)


def test_peak_normalize() -> None:
    x = torch.cat([sine(440, 0.1, amplitude=0.5), sine(440, 0.1, amplitude=0.1)])
    joint = audio.peak_normalize(x)
    assert joint.abs().max() == pytest.approx(0.95, rel=1e-5)
    # One scale for all channels: their balance (1 : 0.2) is kept.
    torch.testing.assert_close(joint, x * (0.95 / 0.5))
    rows = audio.peak_normalize(x, 0.5, dim=-1)
    torch.testing.assert_close(rows.abs().amax(dim=-1), torch.tensor([0.5, 0.5]), rtol=1e-5, atol=0)
    silence = torch.zeros(2, 100)
    assert torch.equal(audio.peak_normalize(silence), silence)


def test_fit_length_cuts_or_pads() -> None:
    x = torch.arange(1.0, 6.0).expand(2, -1)
    assert torch.equal(audio.fit_length(x, 3), x[:, :3])
    padded = audio.fit_length(x, 8)
    assert padded.shape == (2, 8)
    assert torch.equal(padded[:, :5], x) and not padded[:, 5:].any()


@pytest.mark.parametrize("channels", [1, 2])
def test_find_onset_finds_a_click_after_silence(channels: int) -> None:
    onset = 6789
    generator = torch.Generator().manual_seed(0)
    x = 1e-4 * torch.randn(channels, SR, generator=generator)  # -80 dB background noise
    decay = torch.exp(-torch.arange(500) / 100.0)
    x[:, onset : onset + 500] += 0.8 * decay * torch.sin(torch.arange(500) * 0.3 + 0.5)
    found = audio.find_onset(x, SR, threshold_db=-30)
    assert abs(found - onset) <= SR * 0.002


def test_find_onset_of_silence_is_zero() -> None:
    assert audio.find_onset(torch.zeros(1, 1000), SR) == 0


def test_missing_output_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist") as error:
        audio.save(tmp_path / "nope" / "tone.wav", sine(440, 0.1), SR)
    assert str(tmp_path / "nope") in str(error.value)
