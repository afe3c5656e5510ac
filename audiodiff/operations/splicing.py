"""Putting an input's own samples back into a vocoded edit, with joins that do not click.

The vocoder renders a mel with phases of its own, so at a border between the input's kept samples
and the vocoded new ones the two waveforms are out of phase: a hard cut clicks and smears the
spectrum of every frame across it. :func:`splice` cures it on the generated side only: the first
samples past each border are re-phased to continue the kept ones (Griffin-Lim with the kept
samples held fixed, :func:`continue_phase`), then faded back into the vocoded signal, and a short
point-reflected difference makes the join continuous in value and slope.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig

ITERATIONS = 16


def _fade_out(length: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Raised cosine ``[length]`` from just below 1 to just above 0."""
    t = torch.arange(length, dtype=torch.float64)
    return (0.5 + 0.5 * torch.cos(math.pi * (t + 1) / (length + 1))).to(dtype)


def continue_phase(kept: Tensor, generated: Tensor, config: MelConfig, iterations: int = ITERATIONS) -> Tensor:
    """``generated [L1 + L2]`` over a join, re-phased past it to continue ``kept [L1]``.

    ``generated [L1 + L2]`` is the vocoded signal over the kept samples' span and past it; its STFT
    magnitude (``n_fft``, ``hop_length``) is the target. Past the last frame that lies wholly on
    the kept samples, each bin's phase is extrapolated at the instantaneous frequency it has there
    (the phase vocoder's rule), then ``iterations`` of Griffin-Lim with the kept samples put back
    after each make the result consistent. Past the join it is faded back into ``generated[L1:]``
    over the second half, so it ends on the vocoded signal. Returns ``[L1 + L2]`` in
    ``generated``'s dtype: the last inverse STFT before the kept samples are put back (the
    signal the join is continuous in; on the kept side it only approximates ``kept``), then the
    faded continuation.
    """
    size, hop, n_fft = len(kept), config.hop_length, config.n_fft
    window = torch.hann_window(n_fft, dtype=torch.float64, device=generated.device)

    def stft(x: Tensor) -> Tensor:
        return torch.stft(x, n_fft, hop, window=window, return_complex=True)

    def istft(spec: Tensor) -> Tensor:
        return torch.istft(spec, n_fft, hop, window=window, length=len(generated))

    def held(y: Tensor) -> Tensor:
        return torch.cat([kept.double(), y[size:]])

    target = stft(generated.double()).abs()
    start = stft(torch.cat([kept.double(), generated[size:].double()]))
    last = (size - n_fft // 2) // hop  # the last frame wholly on the kept samples
    if last >= 1:
        centre = 2 * math.pi * torch.arange(target.shape[0], dtype=torch.float64) * hop / n_fft
        turn = start[:, last].angle() - start[:, last - 1].angle() - centre
        advance = centre + torch.remainder(turn + math.pi, 2 * math.pi) - math.pi  # per hop
        ahead = torch.arange(1, target.shape[1] - last, dtype=torch.float64)
        phase = start.angle().clone()
        phase[:, last + 1:] = start[:, last, None].angle() + advance[:, None] * ahead
        start = torch.polar(torch.ones_like(phase), phase)
    y = istft(torch.polar(target, start.angle()))
    for _ in range(iterations):
        y = istft(torch.polar(target, stft(held(y)).angle()))
    new, tail = y[size:], generated[size:].double()
    half = len(new) // 2
    weight = torch.cat([torch.ones(len(new) - half, dtype=torch.float64), _fade_out(half)])
    return torch.cat([y[:size], weight * new + (1 - weight) * tail]).to(generated.dtype)


def splice(original: Tensor, generated: Tensor, keep: Tensor, config: MelConfig, *, loop: bool = False) -> Tensor:
    """``generated [samples]`` with ``original [samples]`` put back, bit for bit, where ``keep``.

    At every border between kept and generated samples: up to ``3 * n_fft`` generated samples past
    it (at most half their run) are :func:`continue_phase`'d from up to ``2 * n_fft`` kept ones;
    then the kept samples' difference ``d`` from the continued signal (continuous across the
    border) is carried ``hop_length`` samples across by point reflection (``2 d[0] - d[t + 1]``,
    ``d[s]`` at ``s`` samples before the border) and faded out. Kept samples are
    the original's; generated ones change only within ``3 * n_fft`` samples of a border. With
    ``loop`` the signal is a circle and borders wrap around. Returns ``[samples]``.
    """
    n = len(keep)
    if keep.all() or not keep.any():
        return torch.where(keep, original, generated)
    generated, fixes = generated.clone(), []
    borders = _borders(keep, loop)
    runs = _run_lengths(keep, loop)
    for kept_side, gen_side, step in borders:
        before = min(2 * config.n_fft, runs[kept_side])
        after = min(3 * config.n_fft, runs[gen_side] // 2)
        span = (kept_side - step * (before - 1) + step * torch.arange(before + after)) % n  # in time order
        if before + after > config.n_fft:  # room for the STFT
            joined = continue_phase(original[span[:before]], generated[span], config)
            generated[span[before:]] = joined[before:]
        else:
            joined = generated[span]
        diff = (original[span[:before]] - joined[:before]).double().flip(0)  # diff[s]: s samples before the join
        length = min(config.hop_length, before - 1, runs[gen_side])
        if length > 0:
            t = torch.arange(length)
            fixes.append(((gen_side + step * t) % n, _fade_out(length) * (2 * diff[0] - diff[t + 1])))
    out = torch.where(keep, original, generated)
    for index, value in fixes:
        out[index] += value.to(out.dtype)
    return out


def _borders(keep: Tensor, loop: bool) -> list[tuple[int, int, int]]:
    """``(kept_side, gen_side, step)`` for each border between two samples: the kept and the
    generated sample next to it, and ``step`` = +1 when the generated side is later."""
    n, out = len(keep), []
    for b in torch.nonzero(keep != torch.roll(keep, 1)).flatten().tolist():
        if b == 0 and not loop:
            continue
        before, after = (b - 1) % n, b
        out.append((before, after, 1) if keep[before] else (after, before, -1))
    return out


def _run_lengths(keep: Tensor, loop: bool) -> dict[int, int]:
    """For the first and last sample of each run of equal ``keep``, the run's length."""
    n = len(keep)
    starts = torch.nonzero(keep != torch.roll(keep, 1)).flatten().tolist()
    if not loop:
        starts = sorted(set(starts) | {0})
    lengths: dict[int, int] = {}
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else (starts[0] + n if loop else n)
        lengths[s % n] = end - s
        lengths[(end - 1) % n] = end - s
    return lengths
