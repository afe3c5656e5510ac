"""Overlapping windows (MultiDiffusion, Bar-Tal et al. 2023) on a line, and loops cut into one.

A :class:`Canvas` is the mel the sampler works on: ``frames`` frames on a line, or on a circle
when ``loop`` (frame ``frames - 1`` is followed by frame 0). Its :meth:`Canvas.wrap` turns a
denoiser for windows of at most ``window`` frames into one for the whole canvas: each call runs
the denoiser on overlapping windows and blends their ``x0`` estimates with triangular weights,
which sum to 1 on every frame. Memory is that of one window plus the canvas; time grows linearly
with ``frames``.

A circle is denoised as a line cut open at frame ``cut`` and run on past its end: the line's
positions ``0 .. frames - 1`` are the circle's frames from ``cut`` on, and ``window // 8`` more
positions repeat its first frames (read from the same state; their estimates are dropped). So
the frames before the cut see what follows them round the circle, and the line starts where a
sound the model knows starts: a canvas' first frame, where a one-shot has its attack. A circle
seen through windows that all start at different places -- windows that wrap around, turned on
every call -- leaves a one-shot no place to start, and a duration-conditioned model then denoises
it to silence (``docs/toolkit.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

DenoiseFn = Callable[[Tensor, Tensor], Tensor]
MARGIN_DIVISOR = 8  # a loop's line runs on past its end by window // 8 frames (benchmarks/toolkit.py, loop)


def triangle(length: int) -> Tensor:
    """Blending weights ``[length]``: a triangle peaking mid-window, > 0 everywhere (min ``1/length``)."""
    t = (torch.arange(length, dtype=torch.float64) + 0.5) / length
    return (1 - (2 * t - 1).abs()).float()


@dataclass(frozen=True)
class Canvas:
    """``frames`` mel frames (a circle when ``loop``, cut open at ``cut``) denoised in windows of ``window`` frames.

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
    cut: int = 0

    def __post_init__(self) -> None:
        if self.frames < 1 or self.window < 1 or self.window % self.multiple or self.batch < 1:
            raise ValueError(f"bad canvas: frames={self.frames}, window={self.window}, multiple={self.multiple}")
        if not self.loop and self.frames <= self.window and self.frames % self.multiple:
            raise ValueError(f"a line of {self.frames} frames is not a multiple of {self.multiple}")
        if not 0 <= self.cut < self.frames or (self.cut and not self.loop):
            raise ValueError(f"cut must be a frame of a loop's circle, got {self.cut} of {self.frames}")

    @property
    def whole(self) -> bool:
        """True when the denoiser sees the canvas in one piece (a line no longer than a window)."""
        return not self.loop and self.frames <= self.window

    @property
    def line(self) -> int:
        """Positions of the line the windows cover: ``frames``, and for a loop ``window // 8`` more,
        rounded up to ``multiple`` while that fits one window."""
        if not self.loop:
            return self.frames
        extended = self.frames + max(1, self.window // MARGIN_DIVISOR)
        rounded = -(-extended // self.multiple) * self.multiple
        return rounded if rounded <= self.window else extended

    @property
    def length(self) -> int:
        """Frames of each window: ``window``, or the whole line when it is shorter."""
        return min(self.window, self.line)

    def content_seconds(self, hop_length: int, sample_rate: int) -> float:
        """The seconds of sound in each piece the denoiser sees (a duration-conditioned model's
        condition): the exact ``seconds`` of a line seen whole, else the whole piece's
        ``length * hop_length`` samples (a window, or a loop's line, is all sound)."""
        if self.whole and self.seconds is not None:
            return self.seconds
        return self.length * hop_length / sample_rate

    def starts(self) -> list[int]:
        """First line position of each window: ``1 + ceil((line - length) / (length // 2))``
        windows from 0 to ``line - length``, evenly spaced (neighbours overlap by at least half a window)."""
        length = self.length
        if self.line <= length:
            return [0]
        n = 1 + -(-(self.line - length) // max(1, length // 2))
        return [round(i * (self.line - length) / (n - 1)) for i in range(n)]

    def indices(self, start: int) -> Tensor:
        """The canvas frames ``[length]`` of the window starting at line position ``start``
        (on a circle: from ``cut`` on, modulo ``frames``)."""
        index = torch.arange(start, start + self.length)
        return (index + self.cut) % self.frames if self.loop else index

    def weights(self, start: int, shape: Tensor) -> Tensor:
        """Blending weights ``[length]`` of that window: ``shape`` (:func:`triangle`), 0 on a loop's
        repeated positions (past line position ``frames - 1``)."""
        past = start + self.length - self.frames
        return shape if past <= 0 else torch.cat([shape[:-past], shape.new_zeros(past)])

    def coverage(self) -> Tensor:
        """Total blending weight ``[frames]`` each frame gets from the windows (> 0 everywhere)."""
        total, shape = torch.zeros(self.frames), triangle(self.length)
        for start in self.starts():
            total.index_add_(0, self.indices(start), self.weights(start, shape))
        return total

    def blend(self, fn: DenoiseFn, x: Tensor, sigma: Tensor) -> Tensor:
        """The windows' ``x0`` estimates of ``x [n, ..., frames]`` blended into ``[n, ..., frames]``.

        ``fn`` gets ``[k * n, ..., length]`` (``k <= batch`` windows, each ``n`` rows) and ``sigma`` repeated.
        """
        dtype = torch.promote_types(x.dtype, torch.float32)
        shape = triangle(self.length).to(x.device, dtype)
        total = torch.zeros(self.frames, device=x.device, dtype=dtype)
        out = torch.zeros(x.shape, device=x.device, dtype=dtype)
        starts = self.starts()
        for first in range(0, len(starts), self.batch):
            chunk = starts[first:first + self.batch]
            index = [self.indices(s).to(x.device) for s in chunk]
            estimates = fn(torch.cat([x.index_select(-1, i) for i in index]), sigma.repeat(len(index)))
            for s, i, estimate in zip(chunk, index, estimates.split(x.shape[0]), strict=True):
                weight = self.weights(s, shape)
                out.index_add_(-1, i, estimate * weight)
                total.index_add_(0, i, weight)
        return (out / total).to(x.dtype)

    def wrap(self, fn: DenoiseFn) -> DenoiseFn:
        """``fn`` for the whole canvas: ``fn`` itself when it fits in one piece, else windowed."""
        if self.whole:
            return fn
        return lambda x, sigma: self.blend(fn, x, sigma)
