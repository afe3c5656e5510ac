"""Random fixed-length waveform segments from a dataset folder, for vocoder training.

The folder is read like the diffusion trainer's (:func:`audiodiff.data.layouts.scan`: class
sub-folders, or a metadata file with splits), and its sounds are decoded once into memory
(:func:`audiodiff.data.clips.load_sounds`; one-shots are short). Segment ``i`` of epoch ``e`` is drawn
by a generator seeded from ``(seed, e, i)``, so a run is reproducible, resumes draw the same
segments, and every epoch sees new ones. Training segments can be pitch-shifted (resampled) and
gain-scaled at random: a data set of notes on a grid of pitches otherwise teaches a vocoder the
harmonic patterns of those pitches only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
import torchaudio
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from audiodiff.audio import fit_length
from audiodiff.data.clips import load_sounds
from audiodiff.data.layouts import SPLITS, scan

log = logging.getLogger(__name__)

# Pitch shifts resample by rate / RESAMPLE_BASE for a whole ``rate``: steps of 1/200, about 8.7 cents.
RESAMPLE_BASE = 200


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
    """Training and validation segments from the sounds of the dataset folder ``root``.

    The splits are the dataset's (:func:`audiodiff.data.layouts.scan`): a metadata file's
    ``split`` column, else 5% of the files chosen by a hash of their path. Validation segments are
    the same every epoch; training segments change with the epoch (when the trainer reloads
    dataloaders every epoch). ``pitch_shift_cents`` and ``gain_db`` augment the training segments
    (see :class:`WaveformSegments`), never the validation ones.
    """

    def __init__(
        self,
        root: str,
        sample_rate: int = 22050,
        segment_samples: int = 8192,
        batch_size: int = 16,
        train_segments: int = 1024,
        val_segments: int = 64,
        seed: int = 0,
        num_workers: int = 0,
        pitch_shift_cents: float = 0.0,
        gain_db: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.sounds: dict[str, list[Tensor]] = {}
        self.skipped = 0

    def setup(self, stage: str | None = None) -> None:
        if self.sounds:
            return
        entries = scan(self.hparams.root).entries
        for split in SPLITS:
            paths = [entry.path for entry in entries if entry.split == split]
            self.sounds[split], skipped = load_sounds(paths, self.hparams.sample_rate)
            self.skipped += skipped
        log.info("vocoder data: %d training sounds, %d validation sounds", len(self.sounds["train"]),
                 len(self.sounds["val"]))

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        dataset = WaveformSegments(self.sounds["train"], hp.segment_samples, hp.train_segments,
                                   seed=hp.seed, epoch=epoch, pitch_shift_cents=hp.pitch_shift_cents,
                                   gain_db=hp.gain_db)
        return DataLoader(dataset, batch_size=hp.batch_size, shuffle=False, drop_last=True,
                          num_workers=hp.num_workers)

    def val_dataloader(self) -> DataLoader:
        hp = self.hparams
        dataset = WaveformSegments(self.sounds["val"], hp.segment_samples, hp.val_segments, seed=hp.seed + 1)
        return DataLoader(dataset, batch_size=hp.batch_size, num_workers=hp.num_workers)
