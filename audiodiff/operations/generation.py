"""Generation of any length, and seamless loops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from audiodiff import samplers
from audiodiff.operations import core, signal, source
from audiodiff.operations.checks import number
from audiodiff.pipeline import Generation, Pipeline, ProgressFn


def bars_to_seconds(bars: float, bpm: float, beats_per_bar: float = 4) -> float:
    """The exact duration of ``bars`` bars at ``bpm`` beats per minute: ``bars * beats_per_bar * 60 / bpm``."""
    bars = number("bars", bars, positive=True)
    bpm = number("bpm", bpm, positive=True)
    beats_per_bar = number("beats_per_bar", beats_per_bar, positive=True)
    return bars * beats_per_bar * 60.0 / bpm


def canvas_for(pipe: Pipeline, samples: int, loop: bool):
    """The canvas of a new sound of ``samples`` samples: a line like plain generation, or a circle."""
    config = pipe.config.mel
    if loop:
        if samples < 2 * config.hop_length:
            raise ValueError(f"a loop needs at least {2 * config.hop_length} samples (2 hops), got {samples}")
        return core.canvas(pipe, signal.circle_frames(samples, config), True)
    return core.canvas(pipe, pipe.frames_for(samples), False, samples)


@torch.inference_mode()
def generate_long(
    pipe: Pipeline,
    duration: float,
    prompt: str | Sequence[str] | None = None,
    *,
    label: Any = None,
    negative_prompt: str | None = None,
    num: int = 1,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    loop: bool = False,
    progress: ProgressFn | None = None,
) -> Generation:
    """``num`` sounds of ``duration`` seconds (up to an hour), optionally as seamless loops.

    Longer than the model's window (``config.defaults.window_seconds``), the denoiser runs on
    overlapping windows of that length whose estimates are blended every step
    (:class:`~audiodiff.operations.windows.Canvas`): memory and time grow linearly with
    ``duration``. Up to that length and without ``loop`` this *is* plain generation: the result
    equals ``pipe(prompt, duration=duration, ...)`` bit for bit. With ``loop`` the mel is a circle
    of ``round(samples / hop_length)`` frames and the audio one seamless period of exactly
    ``round(duration * sample_rate)`` samples (:func:`signal.vocode_loop`), turned to start at its
    steadiest point (:func:`source.to_new_audio`); use :func:`bars_to_seconds` for a number of
    bars at a tempo.

    Returns ``audio [num, samples]``, ``mel [num, n_mels, frames]``; ``settings`` records
    ``operation="generate"``, ``duration`` and ``loop`` (and, for loops, ``loop_turns``: each
    row's turn in frames and then in samples).
    """
    settings = core.Settings.resolve(pipe, steps, guidance, sampler)
    samples = core.duration_samples(pipe, "duration", duration)
    seeds = core.seeds_for(seed, num)
    area = canvas_for(pipe, samples, bool(loop))
    conditions = core.Conditions.encode(pipe, prompt, label, negative_prompt, num)
    sigmas = settings.sigmas(pipe)
    shape = (1, pipe.config.mel.n_mels, area.frames)
    mels, audios, turns = [], [], []
    for i, row_seed in enumerate(seeds):
        gen = core.row_generator(pipe, row_seed)
        x = samplers.randn_rows(shape, [gen], device=pipe.device) * sigmas[0]
        callback = core.row_progress(progress, i, num, settings.steps)
        mel = core.denoise(pipe, settings, *conditions.row(i), x, sigmas, gen, area, callback=callback)
        mel, audio, turn = source.to_new_audio(pipe, mel, area, samples)
        turns.append(turn)
        mels.append(mel)
        audios.append(audio)
    record = {**conditions.record, **settings.record(), "duration": float(duration), "operation": "generate",
              "loop": bool(loop), "window_frames": area.length, "windows": len(area.starts())}
    if loop:
        record["loop_turns"] = turns
    return core.result(pipe, mels, audios, seeds, record)
