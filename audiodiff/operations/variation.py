"""Variation: noise an input's mel to the level a strength selects and denoise it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from audiodiff import samplers
from audiodiff.operations import core, source
from audiodiff.operations.checks import number
from audiodiff.operations.noise import strength_tail
from audiodiff.pipeline import Generation, Pipeline, ProgressFn


@torch.inference_mode()
def vary(
    pipe: Pipeline,
    sound: Tensor,
    *,
    strength: float,
    prompt: str | Sequence[str] | None = None,
    label: Any = None,
    negative_prompt: str | None = None,
    seed: int | None = None,
    num: int = 1,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    loop: bool = False,
    progress: ProgressFn | None = None,
) -> Generation:
    """``num`` variations of ``sound``: its mel noised to ``sigma_start`` and denoised again.

    Args:
        sound: a waveform ``[samples]`` / ``[1, samples]`` at the model's rate, or a normalised
            log-mel ``[n_mels, frames]`` / ``[1, n_mels, frames]``.
        strength: ``S`` in ``[0, 1]``: the sampler runs the last ``round(S * steps)`` steps of the
            model's schedule (:func:`~audiodiff.operations.noise.strength_tail`) from
            ``x = mel + sigma_start * noise``. ``S = 0`` returns the input's mel (the analysis of a
            waveform, clamped to ``[-1, 1]``; a given mel unchanged) and its vocoding. ``S = 1``
            starts from ``sigma_max * noise`` like plain generation (the input is 1/80 of the
            noise there, below what the model resolves), so it equals ``pipe(prompt, seed=...,
            duration=len(audio) / sample_rate)`` bit for bit.
        loop: treat the input as one period of a loop and denoise it on a circle (the output loops
            seamlessly, has the input's length and keeps its alignment; at ``S = 1`` it is
            ``generate_long(..., loop=True)``'s fresh loop, turned to start at its steadiest point).
        prompt, label, negative_prompt, seed, num, steps, guidance, sampler, progress: as for
            ``Pipeline.__call__`` (row ``i`` uses seed ``seed + i``); no prompt means unconditional.

    Returns:
        A :class:`Generation`: ``audio [num, samples]`` (the input's length), ``mel [num, n_mels,
        frames]``; ``settings`` records ``operation="vary"``, ``strength`` and ``sigma_start``.
    """
    strength = number("strength", strength, low=0.0, high=1.0)
    settings = core.Settings.resolve(pipe, steps, guidance, sampler)
    seeds = core.seeds_for(seed, num)
    src = source.from_input(pipe, sound, loop=bool(loop))
    conditions = core.Conditions.encode(pipe, prompt, label, negative_prompt, num)
    full = settings.sigmas(pipe)
    tail = strength_tail(full, strength)
    fresh = len(tail) == len(full)  # strength 1: the input plays no part
    mels, audios = [], []
    for i, row_seed in enumerate(seeds):
        if len(tail) == 1:  # strength 0: nothing to run
            mel = src.mel.cpu().clone()
        else:
            gen = core.row_generator(pipe, row_seed)
            noise = samplers.randn_rows(src.mel.shape, [gen], device=pipe.device)
            x = noise * tail[0] if fresh else src.mel + noise * tail[0]
            callback = core.row_progress(progress, i, num, len(tail) - 1)
            mel = core.denoise(pipe, settings, *conditions.row(i), x, tail, gen, src.area, callback=callback)
        if fresh:  # a new sound, as generate_long makes it (a loop turned to its steadiest point)
            mel, audio, _ = source.to_new_audio(pipe, mel, src.area, src.samples)
        else:
            audio = source.to_audio(pipe, mel, src.area, src.samples)
        audios.append(audio)
        mels.append(mel[..., :src.frames])
    record = {"operation": "vary", "strength": strength, "sigma_start": float(tail[0]),
              "steps_run": len(tail) - 1, "loop": bool(loop), **conditions.record, **settings.record(),
              "duration": src.samples / pipe.config.mel.sample_rate}
    return core.result(pipe, mels, audios, seeds, record)
