"""The mel/caption cache: clips, skips, incremental updates, refusals and text embeddings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from audiodiff.audio import find_onset, fit_length
from audiodiff.conditioning import ConditionerConfig, TextConditioner
from audiodiff.data import CacheError, open_cache, prepare, training_frames
from audiodiff.data.clips import clip_samples
from audiodiff.spectrogram import (
    MelConfig,
    MelConfigMismatch,
    MelSpectrogram,
    normalize,
    silence_level,
)

MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
SECONDS = 0.5  # -> 64 frames, 4032 samples


def burst(rate: int, lead: float, length: float, seed: int) -> np.ndarray:
    """``lead`` seconds of silence, then a decaying noise burst of ``length`` seconds."""
    noise = np.random.default_rng(seed).uniform(-1, 1, int(length * rate))
    envelope = np.exp(-np.arange(noise.size) / (0.05 * rate))
    return np.concatenate([np.zeros(int(lead * rate)), 0.8 * noise * envelope])


def make_dataset(root: Path) -> Path:
    """Two one-shots with leading silence (one at 16 kHz), a 2 s drone, a silent and a bad file."""
    (root / "kick").mkdir(parents=True)
    (root / "drone").mkdir()
    soundfile.write(root / "kick/hit1.wav", burst(8000, 0.3, 0.2, seed=1), 8000)
    soundfile.write(root / "kick/hit2.flac", burst(16000, 0.2, 0.2, seed=2), 16000)
    soundfile.write(root / "drone/long.wav", 0.5 * np.sin(np.arange(16000) * 0.3), 8000)
    soundfile.write(root / "drone/quiet.wav", np.full(4000, 1e-4), 8000)
    (root / "drone/broken.wav").write_bytes(b"RIFF not really a wave file")
    return root


def run(root: Path, out: Path, **kwargs):
    return prepare(root, out, mel_config=kwargs.pop("mel_config", MEL), seconds=SECONDS,
                   progress=False, **kwargs)


def rows_of(out: Path) -> dict[tuple[str, int], np.ndarray]:
    cache = open_cache(out)
    return {(item.source, item.window): np.array(cache.mels[i]) for i, item in enumerate(cache.items)}


def test_training_frames() -> None:
    assert training_frames(MEL, SECONDS) == 64  # 4000 samples -> 63 frames -> rounded up
    assert training_frames(MelConfig(), 1.0) == 96
    assert training_frames(MEL, SECONDS, frames=32) == 32
    assert MEL.num_frames(clip_samples(MEL, 64)) == 64
    for bad in (0, 40, -16):
        with pytest.raises(ValueError, match="multiple of 16"):
            training_frames(MEL, SECONDS, frames=bad)


def test_prepare_cuts_onset_aligned_clips_and_skips_bad_files(tmp_path: Path) -> None:
    root, out = make_dataset(tmp_path / "data"), tmp_path / "cache"
    report = run(root, out)
    assert (report.items, report.processed, report.reused, report.removed) == (6, 5, 0, 0)
    assert report.skipped == {"silent": 1, "unreadable": 1}
    assert report.skipped_examples == {"silent": ["drone/quiet.wav"],
                                       "unreadable": ["drone/broken.wav"]}
    assert "1 unreadable (e.g. drone/broken.wav)" in report.summary()

    cache = open_cache(out, MEL)
    assert cache.mels.dtype == np.float16 and cache.mels.shape == (6, 16, 64)
    assert cache.labels == ["drone", "kick"] and cache.conditioner_config.labels == ("drone", "kick")
    # 16000 samples from the onset: three full windows of 4032 and a 3904-sample tail.
    windows = [(item.window, item.label) for item in cache.items if item.source == "drone/long.wav"]
    assert windows == [(0, 0), (1, 0), (2, 0), (3, 0)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"] == 64 and manifest["mel_config"] == MEL.to_dict()
    assert manifest["encoder"] is None and manifest["seconds"] == 4032 / 8000
    assert not list(out.glob(".*")), "temporary files left behind"

    # The one-shot starts at its onset: the first frames hold the attack, not the silence.
    hit = burst(8000, 0.3, 0.2, seed=1).astype(np.float32)
    onset = find_onset(torch.from_numpy(hit)[None], 8000)
    assert abs(onset - 2400) < 8
    row = {item.source: i for i, item in enumerate(cache.items)}
    clip = fit_length(torch.from_numpy(hit[onset:])[None], 4032)
    expected = normalize(MelSpectrogram(MEL)(clip), MEL)[0]
    np.testing.assert_allclose(cache.mels[row["kick/hit1.wav"]], expected.numpy(), atol=4e-3)
    uncut = normalize(MelSpectrogram(MEL)(torch.from_numpy(hit[:4032])), MEL)
    assert uncut[:, :4].max() < silence_level(MEL) + 0.01  # what a plain crop would have given
    for source in ("kick/hit1.wav", "kick/hit2.flac"):
        first = cache.mels[row[source]][:, :2].astype(np.float32)
        assert first.mean() > silence_level(MEL) + 0.5, source


def test_rerun_processes_only_new_and_changed_files(tmp_path: Path) -> None:
    root, out = make_dataset(tmp_path / "data"), tmp_path / "cache"
    run(root, out)
    before = rows_of(out)
    again = run(root, out)
    assert (again.processed, again.reused, again.items) == (0, 5, 6)
    assert again.skipped == {"silent": 1, "unreadable": 1}

    mtime = (root / "kick/hit1.wav").stat().st_mtime_ns
    soundfile.write(root / "kick/hit1.wav", burst(8000, 0.1, 0.2, seed=7), 8000)
    os.utime(root / "kick/hit1.wav", ns=(mtime + 10**9, mtime + 10**9))
    soundfile.write(root / "kick/hit3.wav", burst(8000, 0.0, 0.3, seed=3), 8000)
    (root / "drone/long.wav").unlink()
    report = run(root, out)
    assert (report.processed, report.reused, report.removed, report.items) == (2, 3, 1, 3)
    after = rows_of(out)
    assert set(after) == {("kick/hit1.wav", 0), ("kick/hit2.flac", 0), ("kick/hit3.wav", 0)}
    np.testing.assert_array_equal(after["kick/hit2.flac", 0], before["kick/hit2.flac", 0])
    assert not np.array_equal(after["kick/hit1.wav", 0], before["kick/hit1.wav", 0])
    assert open_cache(out).labels == ["kick"]


def test_cache_with_other_settings_is_refused(tmp_path: Path) -> None:
    root, out = make_dataset(tmp_path / "data"), tmp_path / "cache"
    run(root, out)
    other = MelConfig(**{**MEL.to_dict(), "hop_length": 32})
    with pytest.raises(CacheError, match=r"mel_config\.hop_length=32 \(cache: 64\).*overwrite"):
        run(root, out, mel_config=other)
    with pytest.raises(CacheError, match=r"frames=32 \(cache: 64\)"):
        run(root, out, frames=32)
    with pytest.raises(CacheError, match=r"encoder=\{'name': 'all-MiniLM-L6-v2'.*\(cache: None\)"):
        run(root, out, conditioner_config=ConditionerConfig())
    with pytest.raises(MelConfigMismatch, match=r"hop_length=64 \(expected 32\).*new cache"):
        open_cache(out, other)
    report = run(root, out, mel_config=other, overwrite=True)
    assert report.processed == 5 and open_cache(out).mels.shape[-1] == 128


def test_open_cache_errors(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="no cache in .*prepare"):
        open_cache(tmp_path)
    manifest = tmp_path / "manifest.json"
    for text, message in [("[1, 2", "not valid JSON"), ('{"something": "else"}', "not written by audiodiff"),
                          ('{"format": "other", "format_version": 1}', "not an audiodiff cache"),
                          ('{"format": "audiodiff-mel-cache", "format_version": 99}', "reads up to 2; upgrade")]:
        manifest.write_text(text)
        with pytest.raises(CacheError, match=message):
            open_cache(tmp_path)


def in_memory_mels(root: Path, sources: list[str]) -> np.ndarray:
    """What the cache should hold for ``sources`` (in this order), computed here all at once."""
    from audiodiff.data.clips import load_clips

    frames = training_frames(MEL, SECONDS)
    rows = []
    for source in dict.fromkeys(sources):
        clips, _ = load_clips(root / source, MEL, clip_samples(MEL, frames))
        mels = normalize(MelSpectrogram(MEL)(torch.cat([c.audio for c in clips])), MEL)
        rows += list(mels.to(torch.float16).numpy())
    return np.stack(rows)


def test_streamed_cache_equals_an_in_memory_computation(tmp_path: Path) -> None:
    """Rows written file by file (and copied on a re-run) are exactly the rows computed at once."""
    root, out = make_dataset(tmp_path / "data"), tmp_path / "cache"
    run(root, out)
    sources = [item.source for item in open_cache(out).items]
    expected = in_memory_mels(root, sources)
    np.testing.assert_array_equal(np.load(out / "mels.npy"), expected)  # a plain .npy, read whole too
    soundfile.write(root / "kick/new.wav", burst(8000, 0.0, 0.3, seed=9), 8000)
    run(root, out)  # old rows copied from the previous cache, the new file's appended
    cache = open_cache(out)
    sources = [item.source for item in cache.items]
    np.testing.assert_array_equal(cache.mels, in_memory_mels(root, sources))
    assert not list(out.glob(".*")), "temporary files left behind"


def test_a_failed_prepare_keeps_the_old_cache_and_leaves_no_files(tmp_path: Path, monkeypatch) -> None:
    root, out = make_dataset(tmp_path / "data"), tmp_path / "cache"
    run(root, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    soundfile.write(root / "kick/new.wav", burst(8000, 0.0, 0.3, seed=9), 8000)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("audiodiff.data.cache.load_clips", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(root, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(KeyboardInterrupt):
        run(root, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


PEAK_SCRIPT = """
import json, sys
from audiodiff.data import prepare
from audiodiff.spectrogram import MelConfig

def kib(field):  # this process's own memory; ru_maxrss would count the parent's, from before exec
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

mel = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=128, fmax=4000.0)
prepare(sys.argv[1], sys.argv[3], mel_config=mel, seconds=0.1, frames=1024, progress=False)  # warm up
before = kib("VmHWM")
prepare(sys.argv[2], sys.argv[4], mel_config=mel, seconds=0.1, frames=1024, progress=False)
print(json.dumps((kib("VmHWM") - before) / 1024))
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak RSS from /proc")
def test_prepare_memory_does_not_grow_with_the_dataset(tmp_path: Path) -> None:
    """240 clips of 256 KiB mels (60 MiB in all) are prepared in a few MiB more than 4 clips."""
    import subprocess
    import sys

    for name, count in (("small", 4), ("large", 240)):
        (tmp_path / name / "hit").mkdir(parents=True)
        for i in range(count):
            soundfile.write(tmp_path / name / "hit" / f"{i}.wav", burst(8000, 0.0, 0.05, seed=i), 8000)
    paths = [str(tmp_path / p) for p in ("small", "large", "cache-small", "cache-large")]
    result = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, *paths], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    growth = json.loads(result.stdout)
    assert open_cache(paths[3]).mels.shape == (240, 128, 1024)
    assert growth < 20, f"peak RSS grew by {growth:.0f} MiB while preparing 60 MiB of mels"


def test_only_silent_audio_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "data/hum").mkdir(parents=True)
    soundfile.write(tmp_path / "data/hum/a.wav", np.zeros(3000), 8000)
    with pytest.raises(ValueError, match="no usable audio in .*1 silent"):
        run(tmp_path / "data", tmp_path / "cache")


class FakeEncoder:
    """Stands in for the sentence encoder: one deterministic vector per word, records prompts."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def preprocess(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        self.prompts += prompts
        rows = [[sum(map(ord, w)) for w in ["<s>", *p.split(), "</s>"]] for p in prompts]
        width = max(map(len, rows))
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return {"input_ids": ids, "attention_mask": mask}

    def __call__(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ids = features["input_ids"].double()
        return {"token_embeddings": torch.sin(ids[..., None] * torch.arange(1, 385) / 97).float()}


@pytest.mark.filterwarnings("ignore:prompt is 11 tokens long")
def test_text_cache_stores_each_caption_once(tmp_path: Path, monkeypatch) -> None:
    encoder = FakeEncoder()
    monkeypatch.setattr("audiodiff.conditioning.load_sentence_encoder", lambda name: encoder)
    root = tmp_path / "data"
    root.mkdir()
    for i in range(3):
        soundfile.write(root / f"{i}.wav", burst(8000, 0.05, 0.3, seed=i), 8000)
    rows = [{"path": "0.wav", "caption": "warm pad", "captions": ["soft warm pad", "pad"]},
            {"path": "1.wav", "caption": "warm pad"},
            {"path": "2.wav", "caption": "a very long caption with more words than allowed"}]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    config = ConditionerConfig(max_tokens=6)
    run(root, tmp_path / "cache", conditioner_config=config)
    assert sorted(encoder.prompts) == ["pad", "soft warm pad", "warm pad"]  # one batch, each caption once

    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(UserWarning, match="only the first 6"):
        run(root, tmp_path / "cache", conditioner_config=config)
    assert encoder.prompts[3:] == [rows[2]["caption"]]  # known captions were not re-encoded

    cache = open_cache(tmp_path / "cache")
    assert cache.captions == ["warm pad", "soft warm pad", "pad", rows[2]["caption"]]
    assert [item.captions for item in cache.items] == [(0, 1, 2), (0,), (3,)]
    assert cache.conditioner_config == config
    assert cache.text_pooled.shape == (4, 384) and cache.text_pooled.dtype == np.float16
    assert cache.text_tokens.shape == (4, 6, 384) and cache.text_tokens.dtype == np.float16
    np.testing.assert_array_equal(cache.text_lengths, [4, 5, 3, 6])
    reference = TextConditioner(config)
    for i, caption in enumerate(cache.captions):
        pooled, tokens = reference.embed(caption)
        np.testing.assert_allclose(cache.text_pooled[i], pooled.numpy(), atol=1e-3)
        np.testing.assert_allclose(cache.text_tokens[i, : len(tokens)], tokens.numpy(), atol=1e-3)
        assert not cache.text_tokens[i, len(tokens):].any()
