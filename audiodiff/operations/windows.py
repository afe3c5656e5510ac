"""Overlapping windows (MultiDiffusion, Bar-Tal et al. 2023) on a line or on a circle.

A :class:`Canvas` is the mel the sampler works on: ``frames`` frames on a line, or on a circle
when ``loop`` (frame ``frames - 1`` is followed by frame 0). Its :meth:`Canvas.wrap` turns a
denoiser for windows of at most ``window`` frames into one for the whole canvas: each call runs
the denoiser on overlapping windows and blends their ``x0`` estimates with triangular weights,
which sum to 1 on every frame. Memory is that of one window plus the canvas; time grows linearly
with ``frames``.

On a circle the windows wrap around (their frames are taken modulo ``frames``), so the join of the
last frame with the first is denoised like any other pair of neighbours, and the whole grid of
windows turns by a different offset on every network call (a Weyl sequence of the golden ratio),
so that no frame is always at a window's edge. A short loop (``frames <= window``) is covered by
two windows half a turn apart, each seeing the whole circle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

DenoiseFn = Callable[[Tensor, Tensor], Tensor]
GOLDEN = (math.sqrt(5) - 1) / 2


def triangle(length: int) -> Tensor:
    """Blending weights ``[length]``: a triangle peaking mid-window, > 0 everywhere (min ``1/length``)."""
    t = (torch.arange(length, dtype=torch.float64) + 0.5) / length
    return (1 - (2 * t - 1).abs()).float()


@dataclass(frozen=True)
class Canvas:
    """``frames`` mel frames (a circle when ``loop``) denoised in windows of ``window`` frames.

    ``multiple`` is the U-Net's ``length_multiple``; ``window`` must be one of its multiples, and
    so must ``frames`` on a line that fits one window (it is then passed to the denoiser whole).
    Up to ``batch`` windows go through the denoiser in one call (stacked along the batch axis).
    ``seconds``: the exact duration of the sound on a line seen whole (``None``: it fills its
    frames); see :meth:`content_seconds`.
    """

    frames: int
    window: int
    multiple: int
    loop: bool = False
    batch: int = 8
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.frames < 1 or self.window < 1 or self.window % self.multiple or self.batch < 1:
            raise ValueError(f"bad canvas: frames={self.frames}, window={self.window}, multiple={self.multiple}")
        if not self.loop and self.frames <= self.window and self.frames % self.multiple:
            raise ValueError(f"a line of {self.frames} frames is not a multiple of {self.multiple}")

    @property
    def whole(self) -> bool:
        """True when the denoiser sees the canvas in one piece (a line no longer than a window)."""
        return not self.loop and self.frames <= self.window

    @property
    def length(self) -> int:
        """Frames of each window: ``window``, or a short loop's frames rounded up to ``multiple``."""
        if self.loop and self.frames <= self.window:
            return -(-self.frames // self.multiple) * self.multiple
        return min(self.window, self.frames)

    def content_seconds(self, hop_length: int, sample_rate: int) -> float:
        """The seconds of sound in each piece the denoiser sees (a duration-conditioned model's
        condition): the exact ``seconds`` of a line seen whole, else the whole piece's
        ``length * hop_length`` samples (a window, or a short circle, is all sound)."""
        if self.whole and self.seconds is not None:
            return self.seconds
        return self.length * hop_length / sample_rate

    def starts(self, offset: int = 0) -> list[int]:
        """First frame of each window; on a circle the grid is turned by ``offset`` frames.

        Line: ``1 + ceil((frames - length) / (length // 2))`` windows from 0 to ``frames - length``,
        evenly spaced (neighbours overlap by at least half a window). Circle: ``n`` windows evenly
        spaced around it, ``n`` the smallest number >= 2 that puts them at most half a window apart.
        """
        length = self.length
        if not self.loop:
            if self.frames <= length:
                return [0]
            n = 1 + -(-(self.frames - length) // max(1, length // 2))
            return [round(i * (self.frames - length) / (n - 1)) for i in range(n)]
        n = max(2, -(-2 * self.frames // length))
        return [(offset + round(i * self.frames / n)) % self.frames for i in range(n)]

    def indices(self, start: int) -> Tensor:
        """The canvas frames ``[length]`` of the window starting at ``start`` (modulo ``frames`` on a circle)."""
        index = torch.arange(start, start + self.length)
        return index % self.frames if self.loop else index

    def coverage(self, offset: int = 0) -> Tensor:
        """Total blending weight ``[frames]`` each frame gets from the windows (> 0 everywhere)."""
        total = torch.zeros(self.frames)
        for start in self.starts(offset):
            total.index_add_(0, self.indices(start), triangle(self.length))
        return total

    def blend(self, fn: DenoiseFn, x: Tensor, sigma: Tensor, offset: int = 0) -> Tensor:
        """The windows' ``x0`` estimates of ``x [n, ..., frames]`` blended into ``[n, ..., frames]``.

        ``fn`` gets ``[k * n, ..., length]`` (``k <= batch`` windows, each ``n`` rows) and ``sigma`` repeated.
        """
        weight = triangle(self.length).to(x.device, torch.promote_types(x.dtype, torch.float32))
        total = torch.zeros(self.frames, device=x.device, dtype=weight.dtype)
        out = torch.zeros(x.shape, device=x.device, dtype=weight.dtype)
        starts = self.starts(offset)
        for first in range(0, len(starts), self.batch):
            index = [self.indices(s).to(x.device) for s in starts[first:first + self.batch]]
            estimates = fn(torch.cat([x.index_select(-1, i) for i in index]), sigma.repeat(len(index)))
            for i, estimate in zip(index, estimates.split(x.shape[0]), strict=True):
                out.index_add_(-1, i, estimate * weight)
                total.index_add_(0, i, weight)
        return (out / total).to(x.dtype)

    def wrap(self, fn: DenoiseFn) -> DenoiseFn:
        """``fn`` for the whole canvas: ``fn`` itself when it fits in one piece, else windowed.

        On a circle the ``k``-th call turns the grid by ``floor(frac(k * golden) * frames)`` frames,
        so make one wrapper per sampling run (the count starts at 0).
        """
        if self.whole:
            return fn
        calls = [0]

        def windowed(x: Tensor, sigma: Tensor) -> Tensor:
            offset = int((calls[0] * GOLDEN) % 1.0 * self.frames) if self.loop else 0
            calls[0] += 1
            return self.blend(fn, x, sigma, offset)

        return windowed

