"""Putting an input's own samples back into a vocoded edit, with joins that do not click.

The vocoder renders a mel with phases of its own and a magnitude only close to the input's, so
at a border between the input's kept samples and the vocoded new ones a hard cut jumps, and the
frames across it hear both a step and a change of sound. :func:`splice` cures it on the generated
side only: past each border the kept samples are continued by linear prediction
(:func:`predict`), which goes on with their own waveform, and that continuation is crossfaded
into the vocoded signal over half an analysis window.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from audiodiff.spectrogram import MelConfig

ORDER = 128  # linear-prediction order (benchmarks/toolkit.py, extend)


def _fade_out(length: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Raised cosine ``[length]`` from just below 1 to just above 0."""
    t = torch.arange(length, dtype=torch.float64)
    return (0.5 + 0.5 * torch.cos(math.pi * (t + 1) / (length + 1))).to(dtype)


def predict(past: Tensor, length: int, order: int = ORDER) -> Tensor:
    """The ``length`` samples that follow ``past [m]`` by linear prediction: ``[length]`` float64.

    The predictor of ``min(order, m - 1)`` coefficients is fitted to the whole of ``past`` by the
    autocorrelation method (Hann-windowed, Levinson-Durbin, 1e-6 white-noise correction), so
    its filter is minimum-phase and the continuation cannot grow; each new sample is predicted
    from the ``order`` before it. Silence predicts silence.
    """
    x = past.double()
    order = min(order, len(x) - 1)
    windowed = x * torch.hann_window(len(x), periodic=False, dtype=torch.float64, device=x.device)
    power = torch.fft.rfft(windowed, n=2 * len(x)).abs().square()
    r = torch.fft.irfft(power, n=2 * len(x))[:order + 1]
    if order < 1 or r[0] <= 0:
        return x.new_zeros(length)
    r[0] *= 1 + 1e-6
    a, error = torch.cat([x.new_ones(1), x.new_zeros(order)]), r[0]
    for i in range(1, order + 1):
        k = -(a[:i] @ r[1:i + 1].flip(0)) / error
        a[:i + 1] = a[:i + 1] + k * a[:i + 1].flip(0)
        error = error * (1 - k * k)
    weights = -a[1:].flip(0)  # on the last ``order`` samples, oldest first
    signal = torch.cat([x[len(x) - order:], x.new_zeros(length)])
    for t in range(length):
        signal[order + t] = weights @ signal[t:order + t]
    return signal[order:]


def splice(original: Tensor, generated: Tensor, keep: Tensor, config: MelConfig, *, loop: bool = False) -> Tensor:
    """``generated [samples]`` with ``original [samples]`` put back, bit for bit, where ``keep``.

    At every border between kept and generated samples, the ``n_fft // 2`` generated samples past
    it (at most half their run) are crossfaded (raised cosine) from the :func:`predict`'d
    continuation of up to ``2 * n_fft`` kept samples before it into ``generated``: the first new
    sample is the one the kept ones predict, so the join has no step, and the frames across it
    hear the input going on before the vocoded sound takes over. Kept samples are the
    original's; generated ones change only within ``n_fft // 2`` samples of a border. With
    ``loop`` the signal is a circle and borders wrap around. Returns ``[samples]``.
    """
    n = len(keep)
    if keep.all() or not keep.any():
        return torch.where(keep, original, generated)
    generated = generated.clone()
    runs = _run_lengths(keep, loop)
    for kept_side, gen_side, step in _borders(keep, loop):
        before = min(2 * config.n_fft, runs[kept_side])
        after = min(config.n_fft // 2, runs[gen_side] // 2)
        if after == 0:
            continue
        past = original[(kept_side - step * torch.arange(before - 1, -1, -1)) % n]  # in order towards the border
        index = (gen_side + step * torch.arange(after)) % n
        fade = _fade_out(after)
        generated[index] = (fade * predict(past, after) + (1 - fade) * generated[index].double()).to(generated.dtype)
    return torch.where(keep, original, generated)


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
