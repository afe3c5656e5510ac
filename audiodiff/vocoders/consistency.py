"""The consistency loop of fast Griffin-Lim (Perraudin et al., 2013), which both vocoders run.

An STFT estimate is in general not the STFT of any signal ("inconsistent"). Each iteration turns
the estimate into audio and back, steps past the result by a momentum (the "fast" of fast
Griffin-Lim), and gives the step the magnitude of a target: Griffin-Lim's target is one fixed
magnitude (:class:`~audiodiff.vocoders.griffinlim.GriffinLimVocoder`, from zero phase), the neural
vocoder's refinement re-fits the current signal's magnitude to the mel every iteration
(:meth:`~audiodiff.vocoders.synthesis.Synthesis.refine`, from the phase integrated from the
network's magnitude).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from audiodiff.stft import Geometry, hann_window, istft, magnitude, stft

MOMENTUM = 0.99


def fast_griffin_lim(
    spectrum: Tensor, geometry: Geometry, iterations: int, target: Callable[[Tensor], Tensor],
    momentum: float = MOMENTUM,
) -> Tensor:
    """Complex STFT estimate ``[n, n_fft // 2 + 1, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``
    after ``iterations`` of the loop; 0 is the plain inverse STFT of ``spectrum``.

    ``target(rebuilt)`` gives each iteration's magnitude (real, of ``spectrum``'s shape) from the
    complex STFT ``rebuilt`` of the current signal; the iteration keeps the phase of its momentum
    step ``rebuilt - momentum / (1 + momentum) * previous rebuilt``.
    """
    check_momentum(momentum)
    window = hann_window(geometry.win_length, dtype=spectrum.real.dtype, device=spectrum.device)
    previous = torch.zeros_like(spectrum)
    blend = momentum / (1 + momentum)
    for _ in range(iterations):
        rebuilt = stft(istft(spectrum, geometry, window), geometry, window)
        direction = rebuilt - blend * previous
        previous = rebuilt
        spectrum = direction * (target(rebuilt) / magnitude(direction).clamp_min(1e-16))
    return istft(spectrum, geometry, window)


def check_momentum(momentum: float) -> None:
    """Refuse a fast Griffin-Lim momentum outside ``[0, 1)``."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
