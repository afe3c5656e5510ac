"""Random fixed-length waveform segments from a folder of audio files, for vocoder training.

Clips are decoded once into memory (one-shots are short). Segment ``i`` of epoch ``e`` is drawn
by a generator seeded from ``(seed, e, i)``, so a run is reproducible, resumes draw the same
segments, and every epoch sees new ones. Training segments can be pitch-shifted (resampled) and
gain-scaled at random: a data set of notes on a grid of pitches otherwise teaches a vocoder the
harmonic patterns of those pitches only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torchaudio
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from audiodiff.audio import AudioError, fit_length, load

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
METADATA = "metadata.jsonl"
PATH_KEYS = ("path", "file", "audio", "filename")
# Pitch shifts resample by rate / RESAMPLE_BASE for a whole ``rate``: steps of 1/200, about 8.7 cents.
RESAMPLE_BASE = 200


def list_audio_files(root: str | Path, split: str | None = None) -> list[Path]:
    """Audio files under ``root``, sorted; with ``split``, those of ``root/metadata.jsonl`` in it.

    Each metadata line is a JSON object with a ``split`` field and the file's path relative to
    ``root`` in one of the fields :data:`PATH_KEYS`.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no audio folder at {root}")
    if split is None:
        return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    metadata = root / METADATA
    if not metadata.is_file():
        raise FileNotFoundError(f"split={split!r} needs {metadata}; pass split=None to use every file")
    files = []
    for number, line in enumerate(metadata.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("split") != split:
            continue
        key = next((k for k in PATH_KEYS if k in entry), None)
        if key is None:
            raise ValueError(f"{metadata}:{number} has none of the path fields {PATH_KEYS}")
        files.append(root / entry[key])
    return sorted(files)


def load_clips(
    files: Sequence[Path], sample_rate: int, min_peak: float = 1e-3
) -> tuple[list[Tensor], int]:
    """Decode ``files`` as mono ``[samples]`` tensors at ``sample_rate``.

    Files that cannot be decoded or whose peak is below ``min_peak`` are skipped (and logged).

    Returns:
        ``(clips, skipped)``.
    """
    clips, unreadable, silent = [], 0, 0
    for path in files:
        try:
            audio, _ = load(path, sample_rate)
        except AudioError as err:
            log.warning("skipping %s", err)
            unreadable += 1
            continue
        if audio.abs().max() < min_peak:
            silent += 1
            continue
        clips.append(audio[0])
    if unreadable or silent:
        log.warning("skipped %d of %d audio files (%d unreadable, %d silent)",
                    unreadable + silent, len(files), unreadable, silent)
    return clips, unreadable + silent


class WaveformSegments(Dataset):
    """``num_segments`` segments ``[segment_samples]``, each from a random clip at a random offset.

    Clips shorter than a segment are zero-padded at the end. Item ``i`` depends only on
    ``(seed, epoch, i)``.

    Args:
        pitch_shift_cents: when positive, each segment is resampled (windowed sinc) so that its
            pitch moves by a uniform random amount in ``[-pitch_shift_cents, pitch_shift_cents]``,
            in steps of ``1 / RESAMPLE_BASE`` of the frequency (about 8.7 cents); its length
            changes by the inverse factor, so it is cut from a longer or shorter stretch of clip.
        gain_db: when positive, each segment is scaled by a uniform random gain in
            ``[-gain_db, gain_db]`` decibels.
    """

    def __init__(
        self, clips: Sequence[Tensor], segment_samples: int, num_segments: int, seed: int = 0,
        epoch: int = 0, pitch_shift_cents: float = 0.0, gain_db: float = 0.0,
    ) -> None:
        if not clips:
            raise ValueError("no usable audio clips to draw segments from")
        if segment_samples < 1 or num_segments < 1:
            raise ValueError("segment_samples and num_segments must be positive")
        if not 0 <= pitch_shift_cents <= 1200 or gain_db < 0:
            raise ValueError(
                f"pitch_shift_cents must be in [0, 1200] and gain_db at least 0, got "
                f"{pitch_shift_cents} and {gain_db}"
            )
        self.pitch_shift_cents = pitch_shift_cents
        self.gain_db = gain_db
        self.clips = list(clips)
        self.segment_samples = segment_samples
        self.num_segments = num_segments
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_segments

    def __getitem__(self, index: int) -> Tensor:
        if not 0 <= index < self.num_segments:
            raise IndexError(index)
        entropy = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2)
        gen = torch.Generator().manual_seed(int(entropy[0]) << 32 | int(entropy[1]))
        clip = self.clips[int(torch.randint(len(self.clips), (), generator=gen))]
        rate = RESAMPLE_BASE
        if self.pitch_shift_cents:
            cents = (2 * float(torch.rand((), generator=gen)) - 1) * self.pitch_shift_cents
            rate = round(RESAMPLE_BASE * 2 ** (cents / 1200))
        span = -(-self.segment_samples * rate // RESAMPLE_BASE)  # clip samples that make a segment
        start = int(torch.randint(max(1, clip.shape[-1] - span + 1), (), generator=gen))
        segment = clip[start : start + span]
        if rate != RESAMPLE_BASE:
            segment = torchaudio.functional.resample(segment, rate, RESAMPLE_BASE)
        if self.gain_db:
            segment = segment * 10 ** ((2 * float(torch.rand((), generator=gen)) - 1) * self.gain_db / 20)
        return fit_length(segment, self.segment_samples)


class WaveformDataModule(L.LightningDataModule):
    """Training and validation segments from ``root`` (see :func:`list_audio_files`).

    ``train_split``/``val_split`` select clips from ``root/metadata.jsonl``; ``None`` uses every
    audio file under ``root``. Validation segments are the same every epoch; training segments
    change with the epoch (when the trainer reloads dataloaders every epoch). ``pitch_shift_cents``
    and ``gain_db`` augment the training segments (see :class:`WaveformSegments`), never the
    validation ones.
    """

    def __init__(
        self,
        root: str,
        sample_rate: int = 22050,
        segment_samples: int = 8192,
        batch_size: int = 16,
        train_segments: int = 1024,
        val_segments: int = 64,
        train_split: str | None = "train",
        val_split: str | None = "val",
        seed: int = 0,
        num_workers: int = 0,
        pitch_shift_cents: float = 0.0,
        gain_db: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_clips: list[Tensor] = []
        self.val_clips: list[Tensor] = []
        self.skipped = 0

    def setup(self, stage: str | None = None) -> None:
        if self.train_clips:
            return
        hp = self.hparams
        train, skipped_train = load_clips(list_audio_files(hp.root, hp.train_split), hp.sample_rate)
        val, skipped_val = load_clips(list_audio_files(hp.root, hp.val_split), hp.sample_rate)
        self.train_clips, self.val_clips = train, val
        self.skipped = skipped_train + skipped_val
        log.info("vocoder data: %d training clips, %d validation clips", len(train), len(val))

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        dataset = WaveformSegments(self.train_clips, hp.segment_samples, hp.train_segments,
                                   seed=hp.seed, epoch=epoch, pitch_shift_cents=hp.pitch_shift_cents,
                                   gain_db=hp.gain_db)
        return DataLoader(dataset, batch_size=hp.batch_size, shuffle=False, drop_last=True,
                          num_workers=hp.num_workers)

    def val_dataloader(self) -> DataLoader:
        hp = self.hparams
        dataset = WaveformSegments(self.val_clips, hp.segment_samples, hp.val_segments,
                                   seed=hp.seed + 1)
        return DataLoader(dataset, batch_size=hp.batch_size, num_workers=hp.num_workers)
