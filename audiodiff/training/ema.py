"""Exponential moving average of network weights (pure functions over two modules)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_copy(network: nn.Module) -> nn.Module:
    """A frozen copy of ``network`` in eval mode, to hold its moving average."""
    return copy.deepcopy(network).requires_grad_(False).eval()


def ema_decay(step: int, max_decay: float, warmup: float = 10.0) -> float:
    """Decay at optimizer step ``step``: ``min(max_decay, (1 + step) / (warmup + step))``.

    Early on the average follows the weights closely; later it settles at ``max_decay``.
    """
    return min(max_decay, (1.0 + step) / (warmup + step))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach().to(e.dtype), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)
