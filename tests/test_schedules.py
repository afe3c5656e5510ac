from __future__ import annotations

import math

import pytest
import torch

from audiodiff.schedules import (
    PREDICTION_TARGETS,
    SCHEDULES,
    alpha_bar_from_sigma,
    c_in,
    c_noise,
    cosine_alpha_bar,
    cosine_sigmas,
    get_sigmas,
    karras_sigmas,
    sigma_from_alpha_bar,
    training_sigmas,
    training_target,
    x0_from_prediction,
)


def cosine_sigma(t: float) -> float:
    return sigma_from_alpha_bar(cosine_alpha_bar(torch.tensor(t, dtype=torch.float64))).item()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_schedule_is_decreasing_from_sigma_max_to_zero(name: str, steps: int) -> None:
    sigmas = get_sigmas(name, steps, 0.01, 50.0)
    assert sigmas.shape == (steps + 1,) and sigmas.dtype == torch.float32
    assert sigmas[0].item() == pytest.approx(50.0, rel=1e-6)
    assert sigmas[-1].item() == 0.0
    assert bool((sigmas[1:] < sigmas[:-1]).all())
    if name == "karras_open":  # stops one Karras level short of sigma_min
        assert sigmas[-2].item() == pytest.approx(karras_sigmas(steps + 1, 0.01, 50.0)[-3].item(), rel=1e-5)
        assert sigmas[-2].item() > 0.01
    elif steps > 1:
        assert sigmas[-2].item() == pytest.approx(0.01, rel=1e-5)


def test_karras_with_rho_1_is_linear() -> None:
    assert torch.allclose(karras_sigmas(5, 1.0, 5.0, rho=1.0), torch.tensor([5.0, 4, 3, 2, 1, 0]))


def test_cosine_sigmas_are_evenly_spaced_in_t() -> None:
    sigmas = cosine_sigmas(6, cosine_sigma(0.2), cosine_sigma(0.8))
    t = torch.linspace(0.8, 0.2, 6, dtype=torch.float64)
    expected = sigma_from_alpha_bar(cosine_alpha_bar(t)).float()
    assert torch.allclose(sigmas[:-1], expected, rtol=1e-5)


def test_cosine_alpha_bar_runs_from_one_to_zero() -> None:
    alpha_bar = cosine_alpha_bar(torch.linspace(0, 1, 101, dtype=torch.float64))
    assert alpha_bar[0].item() == pytest.approx(1.0, abs=1e-12)
    assert alpha_bar[-1].item() < 1e-6
    assert bool((alpha_bar[1:] < alpha_bar[:-1]).all())


def test_alpha_bar_and_sigma_round_trip() -> None:
    sigma = torch.logspace(-3, 2, 50, dtype=torch.float64)
    assert torch.allclose(sigma_from_alpha_bar(alpha_bar_from_sigma(sigma)), sigma, rtol=1e-10)
    assert alpha_bar_from_sigma(torch.tensor(1.0)).item() == pytest.approx(0.5)


def test_training_sigmas_follow_the_cosine_schedule() -> None:
    """The median of ``t ~ U(0, 1)`` is ``t = 0.5``, so the median sigma is ``sigma(t = 0.5)``."""
    sigmas = training_sigmas(20000, generator=torch.Generator().manual_seed(0), sigma_max=80.0)
    assert sigmas.shape == (20000,) and sigmas.dtype == torch.float32
    assert sigmas.min().item() >= 0.002 and sigmas.max().item() <= 80.0
    assert sigmas.median().item() == pytest.approx(cosine_sigma(0.5), rel=0.03)
    again = training_sigmas(20000, generator=torch.Generator().manual_seed(0), sigma_max=80.0)
    assert torch.equal(sigmas, again)
    assert training_sigmas(3, generator=None, device="cpu").shape == (3,)


@pytest.mark.parametrize("target", PREDICTION_TARGETS)
def test_prediction_round_trip_recovers_x0(target: str) -> None:
    gen = torch.Generator().manual_seed(0)
    sigma = torch.logspace(math.log10(0.002), math.log10(80.0), 12, dtype=torch.float64)
    x0 = torch.randn(12, 3, 5, generator=gen, dtype=torch.float64)
    eps = torch.randn(12, 3, 5, generator=gen, dtype=torch.float64)
    x = x0 + sigma[:, None, None] * eps
    prediction = training_target(target, x0, eps, sigma)
    assert prediction.dtype == torch.float64
    assert torch.allclose(x0_from_prediction(target, x, sigma, prediction), x0, atol=1e-5)


def test_v_target_is_alpha_eps_minus_s_x0() -> None:
    x0, eps, sigma = torch.tensor([[2.0]]), torch.tensor([[-1.0]]), torch.tensor([math.sqrt(3)])
    alpha, s = 1 / 2, math.sqrt(3) / 2  # 1 / sqrt(1 + 3), sqrt(3) / sqrt(1 + 3)
    expected = alpha * -1.0 - s * 2.0
    assert training_target("v", x0, eps, sigma).item() == pytest.approx(expected, rel=1e-6)


def test_network_scalings() -> None:
    sigma = torch.tensor([0.0, math.sqrt(3), math.exp(4)])
    assert torch.allclose(c_in(sigma), torch.tensor([1.0, 0.5, (math.exp(8) + 1) ** -0.5]))
    assert c_noise(sigma[2:]).item() == pytest.approx(1.0)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="known schedules: karras, cosine"):
        get_sigmas("linear", 10)
    for steps in (0, -1):
        with pytest.raises(ValueError, match="steps >= 1"):
            get_sigmas("karras", steps)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        cosine_sigmas(10, 5.0, 1.0)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="known targets: eps, v"):
        training_target("x0", x, x, torch.ones(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="known targets"):
        x0_from_prediction("x0", x, torch.ones(2), x)  # type: ignore[arg-type]
