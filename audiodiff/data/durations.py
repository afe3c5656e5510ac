"""Variable-length training: every batch is one canvas duration, drawn at random, and each clip is
fitted to it (cropped with a fade-out, or left to end in the silence it was padded with).

A duration-conditioned model (:class:`audiodiff.conditioning.DurationEmbedding`) learns from this
to fit a sound into exactly the seconds it is asked for: a hi-hat asked for 0.25 s is a hi-hat of
0.25 s, asked for 3 s it is a hi-hat followed by silence, and a door creak asked for 0.5 s fades
out at 0.5 s. Batches hold about the same number of mel frames whatever their duration, so a step
costs about the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from audiodiff.data.clips import training_frames
from audiodiff.spectrogram import MelConfig, silence_level

FADE_SECONDS = 0.1
SHORTEST = 0.25  # seconds: the shortest canvas a fine-tune of a duration-conditioned model trains on


def canvas_frames(config: MelConfig, seconds: float, max_frames: int) -> int:
    """Mel frames of a canvas of ``seconds`` (:func:`training_frames`: rounded up to a multiple
    of 16), at most ``max_frames``."""
    return min(max_frames, training_frames(config, seconds))


def fit_to_canvas(mel: Tensor, sound: float, seconds: float, frames: int, config: MelConfig) -> Tensor:
    """A clip's normalised log-mel ``[n_mels, >= frames]`` on a canvas of ``seconds``: ``[n_mels, frames]``.

    ``sound`` is how many seconds of the clip are sound (after them it is silent padding). Frames
    whose centre lies at or past ``seconds`` become silence; when the sound is longer than the
    canvas, the last :data:`FADE_SECONDS` before the end fade out linearly in amplitude (added to
    the log-mel, floored at silence), as if the audio had been faded before analysis.
    """
    out = mel[:, :frames].clone()
    floor = silence_level(config)
    centres = torch.arange(frames, dtype=torch.float64) * config.hop_length / config.sample_rate
    if sound > seconds:
        fade = min(FADE_SECONDS, seconds / 2)
        gain = ((seconds - centres) / fade).clamp(1e-6, 1.0)
        scale = 2.0 / (config.norm_max - config.norm_min)  # natural-log units -> normalised units
        out = torch.maximum(out + (scale * gain.log()).to(out.dtype), torch.tensor(floor, dtype=out.dtype))
    out[:, centres >= seconds] = floor
    return out


class DurationBatchSampler(Sampler[list[tuple[int, float]]]):
    """Batches of ``(item, seconds)`` keys: a permutation of the items cut into batches that each
    draw one canvas duration, log-uniform in ``[low, high]`` seconds.

    A batch of a canvas of ``f`` frames holds ``floor(batch_size * max_frames / f)`` items, so
    ``batch_size`` is the batch at the longest canvas (and no batch exceeds the items). Everything
    is a function of ``(seed, epoch)`` (:meth:`set_epoch`); batch ``b`` goes to rank
    ``b % num_replicas``; the first ``start`` batches of the rank's share are skipped (resuming
    mid-epoch). The last, short batch is dropped.
    """

    def __init__(self, items: int, *, batch_size: int, low: float, high: float, config: MelConfig,
                 max_frames: int, seed: int, num_replicas: int = 1, rank: int = 0,
                 on_epoch: Callable[[int], None] | None = None) -> None:
        if not 0 < low <= high:
            raise ValueError(f"durations must be 0 < low <= high seconds, got [{low}, {high}]")
        if training_frames(config, high) > max_frames:
            raise ValueError(f"the longest duration {high} s needs more than the cache's {max_frames} frames; "
                             "prepare the cache with seconds >= the longest training duration")
        self.items, self.batch_size, self.low, self.high = items, batch_size, low, high
        self.config, self.max_frames, self.seed = config, max_frames, seed
        self.num_replicas, self.rank, self.epoch, self.start = num_replicas, rank, 0, 0
        self.on_epoch = on_epoch
        self._planned: tuple[int, list[list[tuple[int, float]]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Choose epoch ``epoch``'s batches (and tell ``on_epoch``, e.g. the dataset's caption choice)."""
        self.epoch = epoch
        if self.on_epoch is not None:
            self.on_epoch(epoch)

    def plan(self) -> list[list[tuple[int, float]]]:
        """This rank's batches of the current epoch (made once per epoch)."""
        if self._planned is None or self._planned[0] != self.epoch:
            self._planned = (self.epoch, self._make_plan())
        return self._planned[1]

    def _make_plan(self) -> list[list[tuple[int, float]]]:
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(2)
        generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        order = torch.randperm(self.items, generator=generator).tolist()
        span = math.log(self.high / self.low)
        batches, used = [], 0
        while True:
            seconds = self.low * math.exp(span * float(torch.rand((), generator=generator)))
            size = self.batch_size * self.max_frames // canvas_frames(self.config, seconds, self.max_frames)
            size = min(max(1, size), len(order))
            if used + size > len(order):
                break
            batches.append([(i, seconds) for i in order[used:used + size]])
            used += size
        return batches[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[list[tuple[int, float]]]:
        return iter(self.plan()[self.start:])

    def __len__(self) -> int:
        return len(self.plan())
