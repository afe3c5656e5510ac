"""Noise schedules and prediction targets in the sigma ("VE") form ``x = x0 + sigma * eps``.

Everything here is a small pure function of tensors. Sigmas are per-row: ``sigma`` is ``[n]`` and
is broadcast over the remaining dimensions of ``x`` ``[n, ...]``. The data are assumed to have unit
scale (``sigma_data = 1``), which the normalised log-mel in ``[-1, 1]`` roughly has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

PredictionTarget = Literal["eps", "v"]
PREDICTION_TARGETS: tuple[PredictionTarget, ...] = ("eps", "v")

SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
COSINE_S = 0.008
_COS_AT_0 = math.cos(COSINE_S / (1 + COSINE_S) * math.pi / 2)


def cosine_alpha_bar(t: Tensor) -> Tensor:
    """Cosine ``alpha_bar(t)`` for ``t`` in ``[0, 1]``, same shape (Nichol & Dhariwal 2021)."""
    return (torch.cos((t + COSINE_S) / (1 + COSINE_S) * (math.pi / 2)) / _COS_AT_0) ** 2


def _cosine_t(alpha_bar: Tensor) -> Tensor:
    """Inverse of :func:`cosine_alpha_bar`: the ``t`` where the schedule reaches ``alpha_bar``."""
    return torch.acos(torch.sqrt(alpha_bar) * _COS_AT_0) * (2 / math.pi) * (1 + COSINE_S) - COSINE_S


def sigma_from_alpha_bar(alpha_bar: Tensor) -> Tensor:
    """VP ``alpha_bar`` -> VE ``sigma = sqrt((1 - alpha_bar) / alpha_bar)`` (same shape)."""
    return torch.sqrt((1 - alpha_bar) / alpha_bar)


def alpha_bar_from_sigma(sigma: Tensor) -> Tensor:
    """VE ``sigma`` -> VP ``alpha_bar = 1 / (1 + sigma^2)`` (same shape)."""
    return 1 / (1 + sigma**2)


def training_sigmas(
    n: int,
    *,
    generator: torch.Generator | None,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    device: torch.device | str | None = None,
) -> Tensor:
    """``[n]`` float32 training noise levels: cosine-schedule sigmas at ``t ~ U(0, 1)``, clamped.

    The uniform draw is made on ``generator``'s device and moved to ``device`` (default: the
    generator's); ``generator=None`` draws from torch's global generator on ``device``.
    """
    source = device if generator is None else generator.device
    t = torch.rand(n, generator=generator, device=source)
    sigma = sigma_from_alpha_bar(cosine_alpha_bar(t)).clamp(sigma_min, sigma_max)
    return sigma.to(source if device is None else device)


def _check_schedule(steps: int, sigma_min: float, sigma_max: float) -> None:
    if steps <= 0:
        raise ValueError(f"a sampling schedule needs steps >= 1, got {steps}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")


def _finish(sigmas: Tensor) -> Tensor:
    """Append the final 0 and return float32 ``[steps + 1]``."""
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float()


def karras_sigmas(
    steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 7.0
) -> Tensor:
    """``[steps + 1]`` sigmas evenly spaced in ``sigma^(1/rho)``, then 0 (Karras et al. 2022)."""
    _check_schedule(steps, sigma_min, sigma_max)
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _finish((hi + ramp * (lo - hi)) ** rho)


def cosine_sigmas(steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> Tensor:
    """``[steps + 1]`` sigmas evenly spaced in ``t`` of the cosine schedule, then 0."""
    _check_schedule(steps, sigma_min, sigma_max)
    ends = alpha_bar_from_sigma(torch.tensor([sigma_max, sigma_min], dtype=torch.float64))
    t_start, t_end = _cosine_t(ends).tolist()
    t = torch.linspace(t_start, t_end, steps, dtype=torch.float64)
    return _finish(sigma_from_alpha_bar(cosine_alpha_bar(t)))


def karras_open_sigmas(steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> Tensor:
    """The first ``steps`` sigmas of the ``steps + 1``-step Karras schedule, then 0: no step is
    spent at ``sigma_min``, where an estimate barely changes the sound. The schedule of a few-step
    student (:mod:`audiodiff.training.trajectories`); its sigmas are levels of the teacher's
    ``25``-step Karras schedule whenever ``steps`` divides 24."""
    return _finish(karras_sigmas(steps + 1, sigma_min, sigma_max)[:steps])


ScheduleFn = Callable[[int, float, float], Tensor]
SCHEDULES: dict[str, ScheduleFn] = {"karras": karras_sigmas, "cosine": cosine_sigmas,
                                    "karras_open": karras_open_sigmas}


def get_sigmas(
    name: str, steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX
) -> Tensor:
    """The decreasing ``[steps + 1]`` schedule ``name`` from ``sigma_max`` down to 0."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known schedules: {', '.join(SCHEDULES)}")
    return SCHEDULES[name](steps, sigma_min, sigma_max)


def expand_to(sigma: Tensor, x: Tensor) -> Tensor:
    """Per-row ``[n]`` -> ``[n, 1, ..., 1]`` so that it broadcasts against ``x`` ``[n, ...]``."""
    return sigma.reshape(-1, *([1] * (x.dim() - 1)))


def c_in(sigma: Tensor) -> Tensor:
    """Input scaling ``1 / sqrt(sigma^2 + 1)`` that gives the network unit-variance inputs."""
    return torch.rsqrt(sigma**2 + 1)


def c_noise(sigma: Tensor) -> Tensor:
    """The noise-level input of the network, ``log(sigma) / 4`` (Karras et al. 2022)."""
    return torch.log(sigma) / 4


def _check_target(target: str) -> None:
    if target not in PREDICTION_TARGETS:
        raise ValueError(
            f"unknown prediction target {target!r}; known targets: {', '.join(PREDICTION_TARGETS)}"
        )


def training_target(target: PredictionTarget, x0: Tensor, eps: Tensor, sigma: Tensor) -> Tensor:
    """What the network should output for ``x = x0 + sigma * eps``; ``[n, ...]`` like ``x0``.

    ``"eps"``: the noise. ``"v"``: ``alpha * eps - s * x0`` with ``alpha = 1 / sqrt(1 + sigma^2)``
    and ``s = sigma / sqrt(1 + sigma^2)`` (Salimans & Ho 2022).
    """
    _check_target(target)
    if target == "eps":
        return eps
    s = expand_to(sigma, x0)
    return (eps - s * x0) * torch.rsqrt(1 + s**2)


def x0_from_prediction(target: PredictionTarget, x: Tensor, sigma: Tensor, F: Tensor) -> Tensor:
    """The denoised estimate ``[n, ...]`` from network output ``F`` for noisy ``x`` at ``sigma``.

    Inverse of :func:`training_target`: ``"eps"``: ``x - sigma * F``; ``"v"``:
    ``x / (1 + sigma^2) - sigma / sqrt(1 + sigma^2) * F``.
    """
    _check_target(target)
    s = expand_to(sigma, x)
    if target == "eps":
        return x - s * F
    return x / (1 + s**2) - s * torch.rsqrt(1 + s**2) * F
