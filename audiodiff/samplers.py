"""Samplers for the sigma form ``x = x0 + sigma * eps``, all with one signature.

``sample_NAME(denoiser, x, sigmas, *, generator=None, callback=None, **options) -> Tensor``

* ``denoiser(x [n, ...], sigma [n]) -> x0 estimate [n, ...]``: the network, its scalings and any
  guidance are wrapped into this callable elsewhere.
* ``x``: the starting noise ``[n, ...]``, already scaled by ``sigmas[0]``.
* ``sigmas``: the decreasing schedule ``[steps + 1]`` ending in 0 (see :mod:`audiodiff.schedules`).
* ``generator``: ``None``, one ``torch.Generator``, or one generator per row, which makes row ``i``
  of a batch equal to the same request made alone (see :func:`randn_rows`).
* ``callback(step, total, x, denoised)``: called after each of the ``total`` steps; ``step`` is
  the index of the step just taken, ``0 .. total - 1`` (k-diffusion's convention).
* ``options``: sampler-specific keywords (``eta``); an unknown one is a ``TypeError``.

The result has the shape, dtype and device of ``x``. Samplers run under the caller's grad mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

Denoiser = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[int, int, Tensor, Tensor], None]
Generators = torch.Generator | Sequence[torch.Generator] | None


def randn_rows(
    shape: Sequence[int],
    generator: Generators,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Standard normal noise ``[n, ...]``; with a list of generators, row ``i`` uses the ``i``-th.

    The noise is drawn on each generator's device and moved to ``device``, so a CPU generator gives
    the same noise whatever device the sampling runs on.
    """
    if generator is None or isinstance(generator, torch.Generator):
        source = device if generator is None else generator.device
        return torch.randn(shape, generator=generator, device=source, dtype=dtype).to(device)
    if len(generator) != shape[0]:
        raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]} rows")
    rows = [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype) for g in generator]
    return torch.stack(rows).to(device)


def _levels(x: Tensor, sigmas: Tensor) -> tuple[list[float], Callable[[float], Tensor]]:
    """The schedule as floats, and a maker of the per-row ``[n]`` sigma handed to the denoiser."""
    if sigmas.dim() != 1 or len(sigmas) < 2:
        raise ValueError(f"sigmas must be 1-D with steps + 1 >= 2 values, not {list(sigmas.shape)}")
    dtype = torch.promote_types(x.dtype, torch.float32)
    return sigmas.tolist(), lambda s: torch.full((x.shape[0],), s, device=x.device, dtype=dtype)


def ancestral_step(sigma: float, sigma_next: float, eta: float) -> tuple[float, float]:
    """``(sigma_down, sigma_up)``: a step to ``sigma_next`` as one to ``sigma_down`` plus new noise.

    ``sigma_down^2 + sigma_up^2 = sigma_next^2``; ``eta = 1`` gives the DDPM posterior
    ``q(x_next | x, x0)`` and ``eta = 0`` no noise.
    """
    sigma_up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2)) / sigma)
    return math.sqrt(sigma_next**2 - sigma_up**2), sigma_up


def sample_euler(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
) -> Tensor:
    """Euler steps of the probability-flow ODE (Karras et al. 2022, Algorithm 1 without churn).

    This is :func:`sample_euler_ancestral` with ``eta = 0``: no noise is added and each step goes
    straight to the next sigma.
    """
    return sample_euler_ancestral(denoiser, x, sigmas, generator=generator, callback=callback, eta=0.0)


def sample_euler_ancestral(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
    eta: float = 1.0,
) -> Tensor:
    """Euler steps plus fresh noise each step (ancestral sampling, k-diffusion; Ho et al. 2020)."""
    levels, sigma_in = _levels(x, sigmas)
    total = len(levels) - 1
    for i, (sigma, sigma_next) in enumerate(zip(levels[:-1], levels[1:], strict=True)):
        denoised = denoiser(x, sigma_in(sigma))
        sigma_down, sigma_up = ancestral_step(sigma, sigma_next, eta)
        x = x + (x - denoised) * ((sigma_down - sigma) / sigma)
        if sigma_up > 0:
            x = x + randn_rows(x.shape, generator, device=x.device, dtype=x.dtype) * sigma_up
        if callback is not None:
            callback(i, total, x, denoised)
    return x


def sample_ddim(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
    eta: float = 0.0,
) -> Tensor:
    """DDIM (Song et al. 2021).

    Dividing DDIM's VP update by ``sqrt(alpha_bar)`` turns it into an Euler step in sigma whose
    noise is exactly the ancestral split of :func:`ancestral_step` with the same ``eta``, so this
    runs :func:`sample_euler_ancestral`; ``eta = 0`` (the default) equals :func:`sample_euler`.
    """
    return sample_euler_ancestral(
        denoiser, x, sigmas, generator=generator, callback=callback, eta=eta
    )


def sample_ddpm(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
) -> Tensor:
    """DDPM ancestral sampling from ``q(x_next | x, x0_hat)`` (Ho et al. 2020): DDIM, ``eta=1``."""
    return sample_ddim(denoiser, x, sigmas, generator=generator, callback=callback, eta=1.0)


def sample_heun(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
) -> Tensor:
    """Heun's 2nd-order ODE solver, Euler on a last step to 0 (Karras et al. 2022, Algorithm 1)."""
    levels, sigma_in = _levels(x, sigmas)
    total = len(levels) - 1
    for i, (sigma, sigma_next) in enumerate(zip(levels[:-1], levels[1:], strict=True)):
        denoised = denoiser(x, sigma_in(sigma))
        slope = (x - denoised) / sigma
        x_euler = x + slope * (sigma_next - sigma)
        if sigma_next == 0:
            x = x_euler
        else:
            slope_next = (x_euler - denoiser(x_euler, sigma_in(sigma_next))) / sigma_next
            x = x + (slope + slope_next) * ((sigma_next - sigma) / 2)
        if callback is not None:
            callback(i, total, x, denoised)
    return x


def sample_dpmpp_2m(
    denoiser: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: Generators = None,
    callback: Callback | None = None,
) -> Tensor:
    """DPM-Solver++(2M), multistep 2nd order in data prediction (Lu et al. 2022)."""
    levels, sigma_in = _levels(x, sigmas)
    total = len(levels) - 1
    previous: tuple[Tensor, float] | None = None  # (denoised, h) of the step before
    for i, (sigma, sigma_next) in enumerate(zip(levels[:-1], levels[1:], strict=True)):
        denoised = denoiser(x, sigma_in(sigma))
        if sigma_next == 0:
            x = denoised
        else:
            h = math.log(sigma / sigma_next)  # step in lambda = -log(sigma)
            estimate = denoised
            if previous is not None:
                half_ratio = h / (2 * previous[1])  # 1 / (2 r) with r = h_last / h
                estimate = denoised * (1 + half_ratio) - previous[0] * half_ratio
            x = x * (sigma_next / sigma) - estimate * math.expm1(-h)
            previous = (denoised, h)
        if callback is not None:
            callback(i, total, x, denoised)
    return x


Sampler = Callable[..., Tensor]
SAMPLERS: dict[str, Sampler] = {
    "ddpm": sample_ddpm,
    "ddim": sample_ddim,
    "euler": sample_euler,
    "euler_a": sample_euler_ancestral,
    "heun": sample_heun,
    "dpmpp_2m": sample_dpmpp_2m,
}


def get_sampler(name: str) -> Sampler:
    """The sampler registered as ``name``."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known samplers: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def denoiser_calls(name: str, steps: int) -> int:
    """Network evaluations that sampler ``name`` makes for a ``steps``-step schedule ending in 0."""
    get_sampler(name)
    if steps <= 0:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return 2 * steps - 1 if name == "heun" else steps
