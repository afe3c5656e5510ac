"""Inpainting and continuation: regenerate some samples of a sound, keep the rest bit for bit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor

from audiodiff import samplers
from audiodiff.operations import core, source, splicing
from audiodiff.operations.checks import number, waveform
from audiodiff.operations.regions import check_regions, frame_mask, generated_samples, keep_known, loop_cut
from audiodiff.pipeline import Generation, Pipeline, ProgressFn

CROSSFADE = 0.1  # seconds of mel crossfade inside a regenerated region (benchmarks/toolkit.py)


def _fill(pipe: Pipeline, base: Tensor, generate: Tensor, *, crossfade: float | None, loop: bool,
          conditions: core.Conditions, settings: core.Settings, seeds: list[int],
          progress: ProgressFn | None) -> tuple[list[Tensor], list[Tensor]]:
    """Rows of ``base [samples]`` with the samples where ``generate [samples]`` regenerated.

    The mel of ``base`` is the known mel, :func:`frame_mask` says how much of each frame is known
    (a raised-cosine crossfade ``crossfade`` seconds into the generated side; ``None``: none) and
    :func:`keep_known` holds it there at every step; sampling starts from
    ``sigma_max * noise + mask * known``. The vocoded result gets ``base``'s own samples back
    wherever ``generate`` is False (:func:`splicing.splice`: the generated side of each join
    starts as the linear-prediction continuation of the kept samples). Returns (mels
    ``[1, n_mels, frames]``, audios ``[1, samples]``).
    """
    config = pipe.config.mel
    src = source.from_audio(pipe, base, loop=loop, name="audio")
    circle = src.area.frames * config.hop_length
    flags = generate[(torch.arange(circle) * len(generate)) // circle] if loop else generate
    fade = None if crossfade is None else round(number("crossfade", crossfade, low=0.0, high=10.0)
                                                * config.sample_rate)
    mask = frame_mask(flags, src.area.frames, config, crossfade=fade, loop=loop).to(pipe.device)
    area = dataclasses.replace(src.area, cut=loop_cut(mask.cpu())) if loop else src.area
    sigmas = settings.sigmas(pipe)
    mels, audios = [], []
    for i, row_seed in enumerate(seeds):
        gen = core.row_generator(pipe, row_seed)
        noise = samplers.randn_rows(src.mel.shape, [gen], device=pipe.device)
        x = noise * sigmas[0] + mask * src.mel
        callback = core.row_progress(progress, i, len(seeds), settings.steps)
        mel = core.denoise(pipe, settings, *conditions.row(i), x, sigmas, gen, area,
                           partial(keep_known, known=src.mel, mask=mask), callback)
        audio = source.to_audio(pipe, mel, area, src.samples)[0]
        kept = splicing.splice(base.cpu(), audio, ~generate, config, loop=loop)
        mels.append(mel)
        audios.append(kept[None])
    return mels, audios


@torch.inference_mode()
def inpaint(
    pipe: Pipeline,
    audio: Tensor,
    regions: Sequence[tuple[float, float]],
    *,
    prompt: str | Sequence[str] | None = None,
    label: Any = None,
    negative_prompt: str | None = None,
    seed: int | None = None,
    num: int = 1,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    loop: bool = False,
    crossfade: float = CROSSFADE,
    progress: ProgressFn | None = None,
) -> Generation:
    """Regenerate ``regions`` of ``audio [samples]`` (or ``[1, samples]``, the model's rate).

    ``regions`` are ``(start_s, end_s)`` pairs inside the sound (overlapping ones are merged). Mel
    frames whose analysis window touches no region come out equal to the input's mel (within
    1e-5: the last sampler step's float rounding); from the frames straddling a region border to
    ``crossfade`` seconds inside it (at most a third of the region), the mel crossfades from the
    input's to the generated one (:func:`frame_mask`). Outside the regions the audio is the
    input's own samples, bit for bit; the ``n_fft // 2`` samples inside each border crossfade from
    their linear-prediction continuation into the vocoded region (:func:`splicing.splice`). With
    ``loop`` the input is one period of a loop and the regions may be healed across its wrap.

    Returns ``audio [num, samples]``, ``mel [num, n_mels, frames]``; ``settings`` records
    ``operation="inpaint"`` and the merged ``regions``.
    """
    settings = core.Settings.resolve(pipe, steps, guidance, sampler)
    seeds = core.seeds_for(seed, num)
    audio = waveform("audio", audio, min_samples=pipe.config.mel.n_fft // 2 + 1)
    rate = pipe.config.mel.sample_rate
    spans = check_regions(regions, len(audio) / rate)
    generate = generated_samples(spans, len(audio), rate)
    if not generate.any():
        raise ValueError(f"regions {spans} are shorter than one sample")
    conditions = core.Conditions.encode(pipe, prompt, label, negative_prompt, num)
    mels, audios = _fill(pipe, audio, generate, crossfade=crossfade, loop=bool(loop), conditions=conditions,
                         settings=settings, seeds=seeds, progress=progress)
    record = {"operation": "inpaint", "regions": [list(s) for s in spans], "loop": bool(loop),
              "crossfade": crossfade,
              "duration": len(audio) / rate, **conditions.record, **settings.record()}
    return core.result(pipe, mels, audios, seeds, record)


@torch.inference_mode()
def extend(
    pipe: Pipeline,
    audio: Tensor,
    seconds: float,
    *,
    before: bool = False,
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
    """``audio [samples]`` continued by ``seconds`` after it (or, with ``before``, before it).

    The input is placed on a silent canvas of ``samples + round(seconds * rate)`` samples and the
    new part is inpainted (:func:`inpaint`'s mechanism): the input's frames whose analysis window
    lies wholly on the input are known, every other frame is generated (no mel crossfade: under
    the new part there is only the canvas' silence to fade from). The output's
    first (last, with ``before``) ``samples`` samples are the input's, bit for bit; the first
    ``n_fft // 2`` new samples past the join crossfade from the input's linear-prediction
    continuation into the vocoded new part (:func:`splicing.splice`), so the join has no step and
    the input's sound goes on into the new part. With ``loop`` the result is one period of a
    loop: the new part also leads back into the input's other end.

    Returns ``audio [num, samples + new]``, ``mel [num, n_mels, frames]``; ``settings`` records
    ``operation="extend"``, ``seconds``, ``before`` and ``loop``.
    """
    settings = core.Settings.resolve(pipe, steps, guidance, sampler)
    seeds = core.seeds_for(seed, num)
    audio = waveform("audio", audio)
    new = core.duration_samples(pipe, "seconds", seconds)
    silence = audio.new_zeros(new)
    base = torch.cat([silence, audio] if before else [audio, silence])
    generate = torch.zeros(len(base), dtype=torch.bool)
    generate[slice(0, new) if before else slice(len(audio), None)] = True
    conditions = core.Conditions.encode(pipe, prompt, label, negative_prompt, num)
    mels, audios = _fill(pipe, base, generate, crossfade=None, loop=bool(loop), conditions=conditions,
                         settings=settings, seeds=seeds, progress=progress)
    rate = pipe.config.mel.sample_rate
    record = {"operation": "extend", "seconds": float(seconds), "before": bool(before), "loop": bool(loop),
              "input_duration": len(audio) / rate, "duration": len(base) / rate,
              **conditions.record, **settings.record()}
    return core.result(pipe, mels, audios, seeds, record)
