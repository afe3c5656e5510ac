"""Pure helpers for where sampling starts: the schedule tail a strength selects, slerp of noises,
interpolation of conditionings."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from audiodiff.conditioning_types import Conditioning


def strength_tail(sigmas: Tensor, strength: float) -> Tensor:
    """The last ``round(strength * steps)`` steps of the schedule ``sigmas [steps + 1]``.

    Returns ``sigmas[k:]`` with ``k = round((1 - strength) * steps)``: its first value is the noise
    level ``sigma_start`` the input is noised to, and every value is ``<= sigma_start``
    (``sigmas[sigmas <= sigma_start]``). ``strength = 1`` is the whole schedule and ``0`` the
    final ``[0]`` alone (nothing to run). This is diffusers' img2img convention: ``strength``
    is the fraction of the schedule that runs, so it has the resolution ``1 / steps``.
    """
    steps = len(sigmas) - 1
    return sigmas[round((1.0 - strength) * steps):]


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation of each row of ``a`` and ``b`` (``[n, ...]``) at ``t`` in ``[0, 1]``.

    Two independent standard normal draws are almost orthogonal and of almost equal norm, so every
    point of the path is again (close to) unit-variance noise, which a straight line is not (its
    midpoint has variance 1/2). ``t = 0`` returns ``a`` and ``t = 1`` returns ``b`` exactly.
    """
    if t == 0:
        return a
    if t == 1:
        return b
    fa, fb = a.flatten(1).double(), b.flatten(1).double()
    cos = (fa * fb).sum(1) / (fa.norm(dim=1) * fb.norm(dim=1))
    theta = torch.acos(cos.clamp(-1.0, 1.0))[:, None]
    sin = torch.sin(theta)
    small = sin < 1e-6  # (anti)parallel rows: the straight line is the arc
    wa = torch.where(small, torch.full_like(theta, 1 - t), torch.sin((1 - t) * theta) / sin.clamp_min(1e-12))
    wb = torch.where(small, torch.full_like(theta, t), torch.sin(t * theta) / sin.clamp_min(1e-12))
    return (wa * fa + wb * fb).to(a.dtype).reshape(a.shape)


def _resample_tokens(tokens: Tensor, length: int) -> Tensor:
    """``[t, d]`` -> ``[length, d]`` by linear interpolation along the sequence."""
    if tokens.shape[0] == length:
        return tokens
    return F.interpolate(tokens.T[None], size=length, mode="linear", align_corners=True)[0].T


def lerp_conditioning(a: Conditioning, b: Conditioning, t: float) -> Conditioning:
    """Conditioning between ``a`` (``t = 0``, returned as is) and ``b`` (``t = 1``), one row each.

    Pooled vectors are interpolated linearly. Token sequences (``[1, t, d]`` with a mask) are first
    brought to a common number of real tokens ``L`` (the longer of the two) by linear resampling
    along the sequence, then interpolated position by position; the result's first ``L`` tokens
    are real. Between prompts with different token counts this makes a small step between ``t = 0``
    and the first ``t > 0``; equal counts interpolate without one.
    """
    if len(a) != 1 or len(b) != 1:
        raise ValueError(f"lerp_conditioning takes one row each, got {len(a)} and {len(b)}")
    if t == 0:
        return a
    if t == 1:
        return b
    pooled = torch.lerp(a.pooled, b.pooled.to(a.pooled.dtype), t)
    if a.tokens is None or b.tokens is None:
        if (a.tokens is None) != (b.tokens is None):
            raise ValueError("cannot interpolate a conditioning with tokens and one without")
        return Conditioning(pooled)
    count_a, count_b = int(a.mask[0].sum()), int(b.mask[0].sum())
    length, width = max(count_a, count_b), max(a.tokens.shape[1], b.tokens.shape[1])
    if min(count_a, count_b) == 0:  # no real token on one side: tokens of the nearer end
        near = a if t < 0.5 else b
        return Conditioning(pooled, near.tokens, near.mask)
    ta = _resample_tokens(a.tokens[0, a.mask[0]], length)
    tb = _resample_tokens(b.tokens[0, b.mask[0]], length)
    tokens = torch.zeros(1, width, a.tokens.shape[2], dtype=a.tokens.dtype, device=a.tokens.device)
    tokens[0, :length] = torch.lerp(ta, tb.to(ta.dtype), t)
    mask = torch.zeros(1, width, dtype=torch.bool, device=a.mask.device)
    mask[0, :length] = True
    return Conditioning(pooled, tokens, mask)

