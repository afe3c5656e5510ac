"""Training audio: whole mono sounds (vocoder), and fixed-length clips cut from them at their onset (diffusion).

A clip has :func:`clip_samples` samples, so its mel has exactly ``frames`` frames, and ``frames``
is a multiple of :data:`FRAME_MULTIPLE` so the U-Nets can halve it four times.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from audiodiff.audio import AudioError, find_onset, fit_length, load
from audiodiff.spectrogram import MelConfig

log = logging.getLogger(__name__)

FRAME_MULTIPLE = 16
SILENCE_DB = -60.0
# A long file's last, partial window is kept when it holds at least this share of a clip.
MIN_TAIL = 0.5


@dataclass(frozen=True)
class Clip:
    """One training clip: ``audio`` ``[1, samples]``, its window number within the file and the
    seconds of it that are sound (the rest is zero padding)."""

    window: int
    audio: Tensor
    seconds: float


def training_frames(mel_config: MelConfig, seconds: float, frames: int | None = None) -> int:
    """Mel frames per training clip: ``frames`` if given, else ``seconds`` rounded up.

    Raises:
        ValueError: ``frames`` is not a positive multiple of 16, or ``seconds`` is not positive.
    """
    if frames is not None:
        if frames <= 0 or frames % FRAME_MULTIPLE:
            raise ValueError(
                f"frames must be a positive multiple of {FRAME_MULTIPLE} (the U-Net halves it "
                f"4 times), got {frames}; e.g. {max(1, round(frames / FRAME_MULTIPLE)) * 16}"
            )
        return frames
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    natural = mel_config.num_frames(round(seconds * mel_config.sample_rate))
    return math.ceil(natural / FRAME_MULTIPLE) * FRAME_MULTIPLE


def clip_samples(mel_config: MelConfig, frames: int) -> int:
    """Samples per clip so that the (centred) mel analysis gives exactly ``frames`` frames."""
    return mel_config.num_samples(frames)


def is_silent(audio: Tensor, threshold_db: float = SILENCE_DB) -> bool:
    """Whether the peak of ``audio [..., samples]`` is below ``threshold_db`` dBFS."""
    return audio.numel() == 0 or float(audio.abs().max()) < 10.0 ** (threshold_db / 20.0)


def cut_clips(audio: Tensor, sample_rate: int, num_samples: int) -> list[Clip]:
    """Cut ``audio [1, samples]`` into clips of ``num_samples`` starting at its onset.

    A sound of up to twice the clip length gives one clip (cut or zero-padded, so a one-shot's
    attack is never cropped). A longer one is split into consecutive windows from the onset;
    the last, partial window is zero-padded and kept if it holds at least half a clip.
    """
    sound = audio[..., find_onset(audio, sample_rate) :]
    length = sound.shape[-1]

    def clip(window: int, part: Tensor) -> Clip:
        return Clip(window, fit_length(part, num_samples), min(part.shape[-1], num_samples) / sample_rate)

    if length <= 2 * num_samples:
        return [clip(0, sound)]
    count = length // num_samples + (length % num_samples >= MIN_TAIL * num_samples)
    return [clip(w, sound[..., w * num_samples : (w + 1) * num_samples]) for w in range(count)]


def load_sound(path: str | os.PathLike[str], sample_rate: int) -> Tensor | None:
    """A file as mono ``[1, samples]`` at ``sample_rate``, or ``None`` when it is silent (:func:`is_silent`).

    Raises:
        AudioError: the file cannot be read.
    """
    audio, _ = load(Path(path), sample_rate)
    return None if is_silent(audio) else audio


def load_sounds(paths: Sequence[Path], sample_rate: int) -> tuple[list[Tensor], int]:
    """The files ``paths`` as whole mono sounds ``[samples]`` at ``sample_rate``; unreadable and
    silent files are skipped and logged.

    Returns:
        ``(sounds, skipped)``.
    """
    sounds, unreadable, silent = [], 0, 0
    for path in paths:
        try:
            audio = load_sound(path, sample_rate)
        except AudioError as err:
            log.warning("skipping %s", err)
            unreadable += 1
            continue
        if audio is None:
            silent += 1
        else:
            sounds.append(audio[0])
    if unreadable or silent:
        log.warning("skipped %d of %d audio files (%d unreadable, %d silent)",
                    unreadable + silent, len(paths), unreadable, silent)
    return sounds, unreadable + silent


def load_clips(
    path: str | os.PathLike[str], mel_config: MelConfig, num_samples: int
) -> tuple[list[Clip], int]:
    """Load a file as mono at the mel rate and cut it (:func:`cut_clips`).

    Returns:
        ``(clips, silent)``: the clips that are not silent and how many were dropped as silent
        (a silent file counts once).

    Raises:
        AudioError: the file cannot be read.
    """
    audio = load_sound(path, mel_config.sample_rate)
    if audio is None:
        return [], 1
    clips = cut_clips(audio, mel_config.sample_rate, num_samples)
    kept = [c for c in clips if not is_silent(c.audio)]
    return kept, len(clips) - len(kept)
