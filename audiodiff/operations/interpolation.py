"""Interpolation between two prompts and/or two seeds."""

from __future__ import annotations

from typing import Any

import torch

from audiodiff import samplers
from audiodiff.operations import core, source
from audiodiff.operations.checks import whole
from audiodiff.operations.generation import canvas_for
from audiodiff.operations.noise import lerp_conditioning, slerp
from audiodiff.pipeline import Generation, Pipeline, ProgressFn


@torch.inference_mode()
def interpolate(
    pipe: Pipeline,
    prompt_a: str | None = None,
    prompt_b: str | None = None,
    *,
    label_a: Any = None,
    label_b: Any = None,
    seed_a: int,
    seed_b: int | None = None,
    num: int = 5,
    duration: float | None = None,
    negative_prompt: str | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    loop: bool = False,
    progress: ProgressFn | None = None,
) -> Generation:
    """``num >= 2`` sounds morphing from A (prompt/label ``_a``, ``seed_a``) to B at ``t = i / (num - 1)``.

    Row ``i`` starts from ``slerp(noise(seed_a), noise(seed_b), t)`` (unit-variance noise all the
    way) with the conditioning interpolated linearly (:func:`lerp_conditioning`: pooled vectors
    and resampled token sequences); the unconditional branch is shared. ``prompt_b`` / ``label_b``
    default to A's (a seed walk), ``seed_b`` to ``seed_a`` (a prompt walk). The endpoints equal
    :func:`generate_long` (plain ``pipe(...)`` up to the training duration) with A's and B's
    prompt and seed, bit for bit (with ``loop``, each row is turned to start at its steadiest
    point, as ``generate_long``'s loops are). The ancestral samplers (ddpm, euler_a) draw each step's fresh
    noise from the generator of the nearer endpoint's seed (``seeds[i]``), so their path has a
    step at ``t = 0.5``; the ODE samplers' path is continuous.

    Returns ``audio [num, samples]``, ``mel [num, n_mels, frames]``; ``settings`` records
    ``operation="interpolate"``, both prompts/labels and seeds, and the ``t`` of each row.
    """
    whole("num", num, low=2)
    settings = core.Settings.resolve(pipe, steps, guidance, sampler)
    seed_a = core.seeds_for(seed_a, 1)[0]
    seed_b = seed_a if seed_b is None else core.seeds_for(seed_b, 1)[0]
    prompt_b = prompt_a if prompt_b is None else prompt_b
    label_b = label_a if label_b is None else label_b
    d = pipe.config.defaults.duration if duration is None else duration
    samples = core.duration_samples(pipe, "duration", d)
    area = canvas_for(pipe, samples, bool(loop))
    a = core.Conditions.encode(pipe, prompt_a, label_a, negative_prompt, 1)
    b = core.Conditions.encode(pipe, prompt_b, label_b, negative_prompt, 1)
    sigmas = settings.sigmas(pipe)
    shape = (1, pipe.config.mel.n_mels, area.frames)
    ts = [i / (num - 1) for i in range(num)]
    mels, audios, seeds = [], [], []
    for i, t in enumerate(ts):
        gen_a, gen_b = core.row_generator(pipe, seed_a), core.row_generator(pipe, seed_b)
        noise_a = samplers.randn_rows(shape, [gen_a], device=pipe.device)
        noise_b = samplers.randn_rows(shape, [gen_b], device=pipe.device)
        x = (noise_a if seed_b == seed_a else slerp(noise_a, noise_b, t)) * sigmas[0]
        cond = lerp_conditioning(a.cond, b.cond, t)
        callback = core.row_progress(progress, i, num, settings.steps)
        gen = gen_a if t < 0.5 else gen_b
        mel = core.denoise(pipe, settings, cond, a.uncond, x, sigmas, gen, area, callback=callback)
        seeds.append(seed_a if t < 0.5 else seed_b)
        mel, audio, _ = source.to_new_audio(pipe, mel, area, samples)  # loops turned like generate_long's
        mels.append(mel)
        audios.append(audio)
    record = {"operation": "interpolate", "prompt_a": prompt_a, "prompt_b": prompt_b, "label_a": label_a,
              "label_b": label_b, "seed_a": seed_a, "seed_b": seed_b, "t": ts, "duration": float(d),
              "negative_prompt": negative_prompt, "loop": bool(loop), **settings.record()}
    return core.result(pipe, mels, audios, seeds, record)
