"""Known regions: which samples to regenerate, the frame mask they give, and the x0 constraint."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from audiodiff.operations.checks import number
from audiodiff.operations.windows import DenoiseFn
from audiodiff.spectrogram import MelConfig


def check_regions(regions: Sequence[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    """``regions`` as sorted, merged ``(start_s, end_s)`` inside ``[0, duration]`` seconds."""
    if isinstance(regions, (str, bytes)) or not isinstance(regions, Sequence) or not regions:
        raise ValueError("regions must be a non-empty list of (start_s, end_s) pairs")
    spans = []
    for i, region in enumerate(regions):
        if not isinstance(region, Sequence) or len(region) != 2:
            raise ValueError(f"regions[{i}] must be a (start_s, end_s) pair, got {region!r}")
        start, end = (number(f"regions[{i}] {side}", v) for side, v in zip(("start", "end"), region, strict=True))
        if not start < end:
            raise ValueError(f"regions[{i}] is empty: start {start} s is not before end {end} s")
        if start < 0 or end > duration + 1e-9:
            raise ValueError(f"regions[{i}] ({start}, {end}) s is outside the sound, which lasts {duration:.4g} s")
        spans.append((start, min(end, duration)))
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def generated_samples(regions: Sequence[tuple[float, float]], samples: int, sample_rate: int) -> Tensor:
    """``[samples]`` bool, True on the samples of the regions (seconds, rounded to samples)."""
    out = torch.zeros(samples, dtype=torch.bool)
    for start, end in regions:
        out[round(start * sample_rate):round(end * sample_rate)] = True
    return out


def frame_mask(generated: Tensor, frames: int, config: MelConfig, *, crossfade: int | None = 0,
               loop: bool = False) -> Tensor:
    """How much of each frame is known: ``[frames]`` in ``[0, 1]`` from ``generated [samples]`` bool.

    Frame ``j`` is centred on sample ``j * hop_length`` (the centred STFT); ``e`` is the signed
    distance from its centre to the nearest border between known and generated samples (> 0 on
    the generated side). The mask is exactly 1 where the frame's analysis window (``win_length``)
    touches no generated sample, exactly 0 from ``crossfade`` samples into the generated side on
    (``crossfade`` capped at a third of the shortest generated run), and a raised cosine of ``e``
    in between: the crossfade lies inside the regions, outside them the input's frames are kept
    whole. ``crossfade=None`` is a hard mask: 1 where the window touches no generated sample, else
    0 (for generated samples with nothing known under them, as in a continuation). Samples past the
    end count as the last sample; with ``loop`` the ``frames * hop_length`` samples are a circle.
    """
    hop, half = config.hop_length, config.win_length // 2
    total = frames * hop if loop else (frames - 1) * hop + 1
    flags = generated.bool()
    if not loop:
        flags = torch.cat([flags, flags[-1:].expand(max(0, total - len(flags)))])[:total]
    if not flags.any():
        return torch.ones(frames)
    if flags.all():
        return torch.zeros(frames)
    border = torch.nonzero(flags != torch.roll(flags, 1)).flatten().double() - 0.5  # between samples
    if not loop:
        border = border[border > 0]
    centre = torch.arange(frames, dtype=torch.float64) * hop
    gap = (centre[:, None] - border[None, :]).abs()
    if loop:
        gap = torch.minimum(gap, len(flags) - gap)
    inside = flags[(torch.arange(frames) * hop) % len(flags)]
    e = torch.where(inside, 1.0, -1.0).double() * gap.min(1).values
    runs = _runs(flags, loop)
    fade = -half if crossfade is None else min(float(crossfade), min(runs) / 3)
    ramp = 0.5 + 0.5 * torch.cos(torch.pi * ((e + half) / max(fade + half, 1e-9)).clamp(0, 1))
    padded = flags[torch.arange(-half, (frames - 1) * hop + half) % len(flags)] if loop else \
        F.pad(flags.float()[None, None], (half, half), mode="replicate")[0, 0] > 0.5
    touched = F.max_pool1d(padded.float()[None, None], 2 * half, stride=hop)[0, 0, :frames] > 0
    return torch.where(touched, ramp, 1.0).float()


def _runs(flags: Tensor, loop: bool) -> list[int]:
    """Lengths of the runs of True in ``flags [samples]`` (joined across the wrap with ``loop``)."""
    padded = torch.cat([flags.new_zeros(1), flags, flags.new_zeros(1)]).int()
    edges = torch.diff(padded)
    starts, ends = torch.nonzero(edges == 1).flatten(), torch.nonzero(edges == -1).flatten()
    lengths = (ends - starts).tolist()
    if loop and len(lengths) > 1 and flags[0] and flags[-1]:
        lengths = [lengths[0] + lengths[-1], *lengths[1:-1]]
    return lengths


def loop_cut(mask: Tensor) -> int:
    """Where to cut a loop's circle open (:class:`~audiodiff.operations.windows.Canvas` ``cut``)
    for a frame mask ``[frames]`` on it: the middle of its longest run of wholly known frames
    (``mask == 1``, runs joined across the wrap), so that every generated frame is denoised with
    the frames on both sides of it; 0 when no frame, or every frame, is wholly known."""
    known = (mask >= 1).tolist()
    if all(known) or not any(known):
        return 0
    frames = len(known)
    first = known.index(False)  # walk the circle from a generated frame: no run is split by the wrap
    best_start, best_length, start, length = 0, 0, 0, 0
    for i in ((first + k) % frames for k in range(frames)):
        if not known[i]:
            length = 0
            continue
        start, length = (i, 1) if length == 0 else (start, length + 1)
        if length > best_length:
            best_start, best_length = start, length
    return (best_start + best_length // 2) % frames


def keep_known(fn: DenoiseFn, known: Tensor, mask: Tensor) -> DenoiseFn:
    """``fn`` whose ``x0`` estimate is ``mask * known + (1 - mask) * estimate``.

    ``known [n, n_mels, frames]`` is the mel to keep and ``mask`` (broadcastable, e.g. ``[frames]``)
    is 1 where it is kept, 0 where the sound is generated and in between at region borders. Every
    sampler's update is linear in the estimate, so where ``mask = 1`` a state ``known + sigma * e``
    steps to ``known + sigma_next * e'`` with ``e'`` again unit noise (the same ``e`` for the ODE
    samplers, the ancestral mix for ddpm / euler_a), and the final step, to sigma 0, lands on
    ``known`` up to float rounding: the known region is put back at the current noise level at every
    step without a hook in the samplers. ``mask = 0`` everywhere gives ``fn``'s estimate bit for bit.
    """
    mask = mask.to(known.device, known.dtype)
    kept = mask * known

    def constrained(x: Tensor, sigma: Tensor) -> Tensor:
        return kept + (1 - mask) * fn(x, sigma)

    return constrained
