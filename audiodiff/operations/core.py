"""What every operation shares: resolved settings, conditioning, the canvas, one sampling run."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from audiodiff import samplers, schedules
from audiodiff.conditioning_types import Conditioning
from audiodiff.denoiser import guided
from audiodiff.operations.checks import whole
from audiodiff.operations.windows import Canvas, DenoiseFn
from audiodiff.pipeline import MAX_DURATION, Generation, Pipeline, ProgressFn, check_seed


@dataclass(frozen=True)
class Settings:
    """A request's sampler, steps and guidance, resolved against the model's defaults."""

    sampler: str
    steps: int
    guidance: float

    @classmethod
    def resolve(cls, pipe: Pipeline, steps: int | None, guidance: float | None, sampler: str | None) -> Settings:
        d = pipe.config.defaults
        samplers.get_sampler(sampler or d.sampler)
        guidance = d.guidance if guidance is None else guidance
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not (
                math.isfinite(guidance) and guidance >= 0):
            raise ValueError(f"guidance must be a finite number >= 0, got {guidance!r}")
        return cls(sampler or d.sampler, whole("steps", d.steps if steps is None else steps, low=1), float(guidance))

    def sigmas(self, pipe: Pipeline) -> Tensor:
        """The model's ``[steps + 1]`` schedule, as plain generation uses it."""
        diffusion = pipe.config.diffusion
        return schedules.get_sigmas(diffusion.schedule, self.steps, diffusion.sigma_min, diffusion.sigma_max)

    def record(self) -> dict[str, Any]:
        return {"sampler": self.sampler, "steps": self.steps, "guidance": self.guidance}


@dataclass(frozen=True)
class Conditions:
    """Conditional and unconditional rows ``[num]``, made as ``Pipeline.__call__`` makes them."""

    cond: Conditioning
    uncond: Conditioning
    record: dict[str, Any]

    @classmethod
    def encode(cls, pipe: Pipeline, prompt: str | Sequence[str] | None, label: Any, negative_prompt: str | None,
               num: int) -> Conditions:
        if negative_prompt is not None and pipe.config.conditioner.kind != "text":
            raise ValueError("a negative prompt needs a text-conditioned model")
        if negative_prompt is not None and pipe.config.conditioner.guidance:
            raise ValueError("this model is guidance-distilled and has no unconditional pass for a negative prompt "
                             "to replace; drop --negative-prompt, or use the model it was distilled from (for the "
                             "bundled fast model: --model full)")
        as_list = [prompt] if isinstance(prompt, str) else prompt
        labels = [label] if isinstance(label, (str, int)) else label
        cond = pipe.encode(as_list, labels, num)
        uncond = pipe.conditioner([negative_prompt] * num) if negative_prompt else pipe.conditioner.null(num)
        return cls(cond, uncond, {"prompt": prompt, "negative_prompt": negative_prompt, "label": label})

    def row(self, i: int) -> tuple[Conditioning, Conditioning]:
        return self.cond.select(slice(i, i + 1)), self.uncond.select(slice(i, i + 1))


def seeds_for(seed: int | None, num: int) -> list[int]:
    """``num`` consecutive seeds from ``seed`` (a random one when ``None``), as plain generation."""
    whole("num", num, low=1)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    check_seed(seed, num)
    base = secrets.randbelow(2**31) if seed is None else int(seed)
    return [base + i for i in range(num)]


def window_frames(pipe: Pipeline) -> int:
    """The network's window: the frames of the model's training length (``defaults.window_seconds``)."""
    return pipe.frames_for(round(pipe.config.defaults.window_seconds * pipe.config.mel.sample_rate))


def duration_samples(pipe: Pipeline, name: str, seconds: Any) -> int:
    """``seconds`` (in ``(0, MAX_DURATION]``) as a whole number of samples (at least 1)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"{name} must be in (0, {MAX_DURATION:g}] seconds, got {seconds!r}")
    return max(1, round(seconds * pipe.config.mel.sample_rate))


def canvas(pipe: Pipeline, frames: int, loop: bool, samples: int | None = None) -> Canvas:
    """A canvas of ``frames`` frames in the network's windows; ``samples``: the sound's exact length."""
    seconds = None if samples is None else samples / pipe.config.mel.sample_rate
    return Canvas(frames, window_frames(pipe), pipe.config.unet.length_multiple, loop, seconds=seconds)


def row_generator(pipe: Pipeline, seed: int) -> torch.Generator:
    return torch.Generator(device=pipe.device).manual_seed(seed)


def row_progress(progress: ProgressFn | None, row: int, rows: int, steps: int) -> Callable[..., None] | None:
    """A sampler callback reporting ``progress(done, total)`` over all rows, or ``None``."""
    if progress is None:
        return None
    return lambda i, total, *_: progress(row * steps + i + 1, rows * steps)


def network(pipe: Pipeline, cond: Conditioning, uncond: Conditioning, guidance: float,
            seconds: float) -> DenoiseFn:
    """The guided denoiser of one request, for ``x [k, n_mels, frames]`` of any ``k`` (its windows).

    ``seconds`` is the duration each piece is conditioned on (both branches; models without
    duration conditioning ignore it). ``k = 1`` is exactly
    ``guided(pipe.denoiser, cond, uncond, guidance)`` with those conditions; a guidance-distilled
    model (``conditioner.guidance``) makes one conditional pass with ``guidance`` embedded instead
    and has no unconditional branch (``uncond`` is not used).
    """
    add = pipe.conditioner.add_duration
    cond, uncond = add(cond.to(pipe.device), seconds), add(uncond.to(pipe.device), seconds)
    if pipe.config.conditioner.guidance:
        cond = pipe.conditioner.add_guidance(cond, guidance)

    def one(c: Conditioning, u: Conditioning) -> DenoiseFn:
        if pipe.config.conditioner.guidance:
            return lambda x, sigma: pipe.denoiser(x, sigma, c)
        return guided(pipe.denoiser, c, u, guidance)

    made: dict[int, DenoiseFn] = {1: one(cond, uncond)}

    def fn(x: Tensor, sigma: Tensor) -> Tensor:
        rows = x.shape[0]
        if rows not in made:
            same = torch.zeros(rows, dtype=torch.long, device=pipe.device)
            made[rows] = one(cond.select(same), uncond.select(same))
        return made[rows](x, sigma)

    return fn


def denoise(pipe: Pipeline, settings: Settings, cond: Conditioning, uncond: Conditioning, x: Tensor,
            sigmas: Tensor, generator: torch.Generator, area: Canvas,
            constrain: Callable[[DenoiseFn], DenoiseFn] | None = None, callback=None) -> Tensor:
    """One row: sample from ``x [1, n_mels, frames]`` on ``sigmas`` -> mel ``[1, n_mels, frames]`` (CPU).

    The denoiser is the guided network (:func:`network`, as in plain generation), seen through
    ``area``'s windows (itself when the canvas fits the network) and then ``constrain`` (e.g. a
    known region). The result is clamped to ``[-1, 1]`` like every generated mel.
    """
    mel = pipe.config.mel
    seconds = area.content_seconds(mel.hop_length, mel.sample_rate)
    fn = area.wrap(network(pipe, cond, uncond, settings.guidance, seconds))
    if constrain is not None:
        fn = constrain(fn)
    sample_fn = samplers.get_sampler(settings.sampler)
    mel = sample_fn(fn, x, sigmas.to(pipe.device), generator=[generator], callback=callback)
    return mel.clamp(-1, 1).cpu()


def result(pipe: Pipeline, mels: list[Tensor], audios: list[Tensor], seeds: list[int],
           settings: dict[str, Any]) -> Generation:
    """The :class:`Generation` of rows ``mels [1, n_mels, frames]`` and ``audios [1, samples]``."""
    return Generation(torch.cat(audios), pipe.config.mel.sample_rate, seeds, torch.cat(mels),
                      {**settings, **pipe.provenance()})
