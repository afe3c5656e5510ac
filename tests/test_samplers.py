from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from audiodiff.samplers import (
    SAMPLERS,
    denoiser_calls,
    get_sampler,
    sample_ddim,
    sample_ddpm,
    sample_euler,
    sample_euler_ancestral,
)
from audiodiff.schedules import alpha_bar_from_sigma, karras_sigmas

NAMES = sorted(SAMPLERS)

# A 1-D mixture of two Gaussians: weights, means and standard deviations of the components.
WEIGHTS = torch.tensor([0.3, 0.7], dtype=torch.float64)
MEANS = torch.tensor([-2.0, 1.5], dtype=torch.float64)
STDS = torch.tensor([0.5, 0.3], dtype=torch.float64)
MIX_MEAN = float((WEIGHTS * MEANS).sum())
MIX_VAR = float((WEIGHTS * (STDS**2 + MEANS**2)).sum()) - MIX_MEAN**2
MIX_ABOVE_0 = float((WEIGHTS * torch.special.ndtr(MEANS / STDS)).sum())  # ~0.7


def mixture_denoiser(x: Tensor, sigma: Tensor) -> Tensor:
    """The exact ``E[x0 | x0 + sigma * eps = x]`` for the mixture, elementwise on ``[n, ...]``."""
    x64 = x.double().unsqueeze(-1)  # [n, ..., 1] against the components [2]
    var = STDS**2 + sigma.double().reshape(-1, *([1] * x.dim())) ** 2  # marginal variance of x
    log_joint = WEIGHTS.log() - 0.5 * (var.log() + (x64 - MEANS) ** 2 / var)
    responsibility = torch.exp(log_joint - torch.logsumexp(log_joint, dim=-1, keepdim=True))
    component_mean = MEANS + STDS**2 / var * (x64 - MEANS)
    return (responsibility * component_mean).sum(-1).to(x.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_sampler_reaches_the_mixture(name: str) -> None:
    """200 Karras steps (sigma 80 -> 0.002 -> 0) with the exact denoiser on 20000 rows.

    The start is evenly spaced quantiles of ``N(0, 80^2)`` (less Monte Carlo noise). Tolerances:
    mean within 0.05 (the mixture's is 0.45), variance within 5% (of 2.71), and the weight of the
    right component, the fraction of samples above 0, within 0.03 (of 0.70).
    """
    sigmas = karras_sigmas(200, 0.002, 80.0)
    quantiles = (torch.arange(20000, dtype=torch.float64) + 0.5) / 20000
    x = (torch.special.ndtri(quantiles) * 80.0).float().unsqueeze(1)
    out = SAMPLERS[name](mixture_denoiser, x, sigmas, generator=torch.Generator().manual_seed(0))
    assert out.shape == (20000, 1)
    assert out.mean().item() == pytest.approx(MIX_MEAN, abs=0.05)
    assert out.var().item() == pytest.approx(MIX_VAR, rel=0.05)
    assert (out > 0).float().mean().item() == pytest.approx(MIX_ABOVE_0, abs=0.03)


ODE_ORDER = {"euler": 1, "ddim": 1, "heun": 2, "dpmpp_2m": 2}


@pytest.mark.parametrize("name", sorted(ODE_ORDER))
def test_ode_sampler_converges_at_its_order(name: str) -> None:
    """For data ``N(0, s^2)`` the flow maps ``x_T`` to ``x_T * s / sqrt(s^2 + sigma_max^2)``;
    doubling the steps from 80 to 160 must cut the error by at least ``0.8 * 2^order``."""
    s = 0.5

    def gaussian_denoiser(x: Tensor, sigma: Tensor) -> Tensor:
        return x * (s**2 / (s**2 + sigma**2)).reshape(-1, 1)

    x = torch.linspace(-3, 3, 7, dtype=torch.float64).unsqueeze(1) * 80.0
    exact = x * s / math.sqrt(s**2 + 80.0**2)
    errors = [
        (SAMPLERS[name](gaussian_denoiser, x, karras_sigmas(steps).double()) - exact).abs().max()
        for steps in (80, 160)
    ]
    assert errors[0] / errors[1] > 0.8 * 2 ** ODE_ORDER[name]


def one_step_setup() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``x``, ``x0_hat``, a one-step schedule 3.0 -> 1.2 and the noise a seed-0 generator draws."""
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3.0
    x0_hat = mixture_denoiser(x, torch.full((4,), 3.0))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return x, x0_hat, torch.tensor([3.0, 1.2]), z


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_song_et_al(eta: float) -> None:
    """Eq. 12 of Song et al. (2021) on ``x_vp = sqrt(alpha_bar) * x``, mapped back to sigma form."""
    x, x0_hat, sigmas, z = one_step_setup()
    ab, ab_next = alpha_bar_from_sigma(sigmas.double()).tolist()
    eps = (x * math.sqrt(ab) - math.sqrt(ab) * x0_hat) / math.sqrt(1 - ab)
    std = eta * math.sqrt((1 - ab_next) / (1 - ab) * (1 - ab / ab_next))
    x_vp = math.sqrt(ab_next) * x0_hat + math.sqrt(1 - ab_next - std**2) * eps + std * z
    generator = torch.Generator().manual_seed(0)
    out = sample_ddim(mixture_denoiser, x, sigmas, generator=generator, eta=eta)
    assert torch.allclose(out, x_vp / math.sqrt(ab_next), atol=1e-10)


def test_ddpm_step_matches_ho_et_al() -> None:
    """The posterior ``q(x_prev | x_t, x0)`` of Ho et al. (2020, eq. 7), mapped to sigma form."""
    x, x0_hat, sigmas, z = one_step_setup()
    ab, ab_next = alpha_bar_from_sigma(sigmas.double()).tolist()
    beta, x_t = 1 - ab / ab_next, math.sqrt(ab) * x
    mean = math.sqrt(ab_next) * beta / (1 - ab) * x0_hat
    mean = mean + math.sqrt(1 - beta) * (1 - ab_next) / (1 - ab) * x_t
    x_vp = mean + math.sqrt((1 - ab_next) / (1 - ab) * beta) * z
    out = sample_ddpm(mixture_denoiser, x, sigmas, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x_vp / math.sqrt(ab_next), atol=1e-10)


def test_documented_equivalences() -> None:
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0)) * 80.0
    sigmas = karras_sigmas(8)

    def run(fn: Callable[..., Tensor], **options: float) -> Tensor:
        generator = torch.Generator().manual_seed(3)
        return fn(mixture_denoiser, x, sigmas, generator=generator, **options)

    assert torch.equal(run(sample_ddim), run(sample_euler))
    assert torch.equal(run(sample_ddpm), run(sample_euler_ancestral))
    assert not torch.equal(run(sample_euler_ancestral, eta=0.5), run(sample_euler))


def generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def start(seeds: list[int], shape: tuple[int, ...] = (2, 5)) -> Tensor:
    return torch.stack([torch.randn(shape, generator=g) for g in generators(seeds)]) * 80.0


@pytest.mark.parametrize("name", NAMES)
def test_same_generators_give_identical_output(name: str) -> None:
    sigmas = karras_sigmas(6)
    first = SAMPLERS[name](mixture_denoiser, start([1, 2]), sigmas, generator=generators([7, 8]))
    second = SAMPLERS[name](mixture_denoiser, start([1, 2]), sigmas, generator=generators([7, 8]))
    assert torch.equal(first, second)


@pytest.mark.parametrize("name", NAMES)
def test_batch_rows_equal_requests_made_alone(name: str) -> None:
    sigmas, seeds = karras_sigmas(6), [11, 12, 13]
    batch = SAMPLERS[name](mixture_denoiser, start(seeds), sigmas, generator=generators(seeds))
    for i, seed in enumerate(seeds):
        alone = SAMPLERS[name](
            mixture_denoiser, start([seed]), sigmas, generator=generators([seed])
        )
        assert torch.allclose(batch[i : i + 1], alone, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_callback_once_per_step_and_denoiser_call_count(name: str) -> None:
    steps, seen, calls = 5, [], []

    def counting_denoiser(x: Tensor, sigma: Tensor) -> Tensor:
        calls.append(sigma[0].item())
        return mixture_denoiser(x, sigma)

    def callback(step: int, total: int, x: Tensor, denoised: Tensor) -> None:
        seen.append((step, total, x.clone(), denoised.shape))

    out = SAMPLERS[name](counting_denoiser, start([0]), karras_sigmas(steps),
                         generator=generators([0]), callback=callback)
    assert [(step, total) for step, total, _, _ in seen] == [(i, steps) for i in range(steps)]
    assert all(shape == out.shape for _, _, _, shape in seen)
    assert torch.equal(seen[-1][2], out)
    assert len(calls) == denoiser_calls(name, steps)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_shape_and_dtype(name: str, dtype: torch.dtype) -> None:
    x = start([0, 1], shape=(3, 4, 2)).to(dtype)
    out = SAMPLERS[name](mixture_denoiser, x, karras_sigmas(4), generator=torch.Generator())
    assert out.shape == (2, 3, 4, 2) and out.dtype == dtype and out.device == x.device
    assert bool(out.isfinite().all())


@pytest.mark.parametrize("name", NAMES)
def test_follows_the_callers_grad_mode(name: str) -> None:
    x = start([0]).requires_grad_()
    out = SAMPLERS[name](mixture_denoiser, x, karras_sigmas(3), generator=generators([0]))
    out.sum().backward()
    assert x.grad is not None and bool(x.grad.isfinite().all())
    with torch.inference_mode():
        out = SAMPLERS[name](mixture_denoiser, start([0]), karras_sigmas(3), generator=None)
    assert out.is_inference()


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="known samplers: ddpm, ddim, euler, euler_a, heun, dpmpp"):
        get_sampler("plms")
    with pytest.raises(ValueError, match="known samplers"):
        denoiser_calls("plms", 10)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        denoiser_calls("heun", 0)
    three_rows, two_generators = start([0, 1, 2]), generators([5, 6])
    with pytest.raises(ValueError, match="2 generators for a batch of 3 rows"):
        sample_ddpm(mixture_denoiser, three_rows, karras_sigmas(3), generator=two_generators)
    with pytest.raises(ValueError, match="1-D"):
        sample_euler(mixture_denoiser, start([0]), torch.tensor([80.0]))
