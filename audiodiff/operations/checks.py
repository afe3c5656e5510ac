"""Argument checks shared by the operations: each failure is a ``ValueError`` naming the argument."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
           positive: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``> 0`` with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def whole(name: str, value: Any, *, low: int) -> int:
    """``value`` as an int ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def waveform(name: str, audio: Any, *, min_samples: int = 1) -> Tensor:
    """A mono waveform ``[samples]`` or ``[1, samples]`` -> float ``[samples]`` (finite)."""
    if not isinstance(audio, Tensor):
        raise ValueError(f"{name} must be a waveform tensor [samples] or [1, samples], got {type(audio).__name__}")
    if audio.dim() == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.dim() != 1:
        raise ValueError(f"{name} must be mono, [samples] or [1, samples], got shape {tuple(audio.shape)}")
    if audio.shape[0] < min_samples:
        raise ValueError(f"{name} is too short: {audio.shape[0]} samples, need at least {min_samples}")
    if not audio.is_floating_point():
        raise ValueError(f"{name} must be a float waveform, got {audio.dtype}")
    if not torch.isfinite(audio).all():
        raise ValueError(f"{name} contains NaN or infinite samples")
    return audio
