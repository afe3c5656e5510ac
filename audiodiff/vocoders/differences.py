"""Three-point stencils along one axis of a tensor (same shape as the input, zero or False at both ends)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def central_difference(x: Tensor, dim: int) -> Tensor:
    """``(x[i + 1] - x[i - 1]) / 2`` along ``dim``, 0 at both ends; same shape as ``x``."""
    return _interior(x, dim, lambda before, _, after: (after - before) / 2)


def second_difference(x: Tensor, dim: int) -> Tensor:
    """``x[i + 1] - 2 x[i] + x[i - 1]`` along ``dim``, 0 at both ends; same shape as ``x``."""
    return _interior(x, dim, lambda before, middle, after: after - 2 * middle + before)


def local_maxima(x: Tensor, dim: int) -> Tensor:
    """Boolean, same shape as ``x``: ``x[i]`` is above ``x[i - 1]`` and at least ``x[i + 1]`` along
    ``dim`` (the first of a flat top counts); False at both ends."""
    return _interior(x, dim, lambda before, middle, after: ((middle > before) & (middle >= after)).to(x.dtype)).bool()


def _interior(x: Tensor, dim: int, stencil: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Tensor:
    """``stencil(x[i - 1], x[i], x[i + 1])`` for the inner entries along ``dim``, 0 at both ends."""
    out = torch.zeros_like(x)
    size = x.shape[dim] - 2
    if size > 0:
        out.narrow(dim, 1, size).copy_(stencil(x.narrow(dim, 0, size), x.narrow(dim, 1, size), x.narrow(dim, 2, size)))
    return out
