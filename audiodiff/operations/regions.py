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


def frame_mask(generated: Tensor, frames: int, config: MelConfig, *, loop: bool = False) -> Tensor:
    """How much of each frame is known: ``[frames]`` in ``[0, 1]`` from ``generated [samples]`` bool.

    Frame ``j`` is centred on sample ``j * hop_length`` (the centred STFT). Its value is the share
    of its Hann analysis window that lies on known samples: exactly 1 when the window touches no
    generated sample, exactly 0 when it lies wholly on generated ones, and a smooth ramp over the
    ``win_length / hop_length`` frames that straddle a border (the crossfade of the constraint).
    Samples past the end count as the last sample (or, on a circle of ``frames * hop_length``
    samples, wrap around).
    """
    hop, win = config.hop_length, config.win_length
    half = win // 2
    total = (frames - 1) * hop + 1 if not loop else frames * hop
    flags = generated.float()
    flags = F.pad(flags, (0, max(0, total - len(flags))), value=float(flags[-1]))[:total] if not loop else flags
    if loop:
        index = torch.arange(-half, total + half) % len(flags)
        padded = flags[index]
    else:
        padded = F.pad(flags[None, None], (half, half), mode="replicate")[0, 0]
    window = torch.hann_window(win, periodic=False, dtype=torch.float64)
    share = F.conv1d(padded.double()[None, None], window[None, None] / window.sum(), stride=hop)[0, 0, :frames]
    touched = F.max_pool1d(padded[None, None], win, stride=hop)[0, 0, :frames]
    inside = -F.max_pool1d(-padded[None, None], win, stride=hop)[0, 0, :frames]
    known = (1 - share).float()
    return torch.where(touched == 0, 1.0, torch.where(inside == 1, 0.0, known.clamp(0, 1)))


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
