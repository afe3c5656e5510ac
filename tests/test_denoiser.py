"""Denoiser wrapper (scaling, loss) and classifier-free guidance as one batched forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from audiodiff import schedules
from audiodiff.conditioning_types import Conditioning
from audiodiff.denoiser import Denoiser, DiffusionConfig, guided


class ZeroDataOracle(nn.Module):
    """Knows that the data is all zeros, so ``x = sigma * eps`` and the exact target is computable."""

    def __init__(self, prediction: str) -> None:
        super().__init__()
        self.prediction = prediction
        self.calls: list[int] = []

    def forward(self, x_in: Tensor, c_noise: Tensor, cond: Conditioning) -> Tensor:
        self.calls.append(x_in.shape[0])
        sigma = torch.exp(4 * c_noise)
        x = x_in / schedules.expand_to(schedules.c_in(sigma), x_in)
        eps = x / schedules.expand_to(sigma, x)
        if self.prediction == "eps":
            return eps
        return eps / schedules.expand_to(torch.sqrt(1 + sigma**2), x)  # v = alpha * eps when x0 = 0


class Linear(nn.Module):
    """Output depends on the conditioning: ``x_in * 0 + pooled.sum()`` per row."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x_in: Tensor, c_noise: Tensor, cond: Conditioning) -> Tensor:
        self.calls.append(x_in.shape[0])
        return x_in * 0.5 + cond.pooled.sum(1).view(-1, 1, 1)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_oracle_network_gives_zero_loss_and_exact_x0(prediction: str) -> None:
    den = Denoiser(ZeroDataOracle(prediction), DiffusionConfig(prediction=prediction))
    x0 = torch.zeros(6, 4, 8, dtype=torch.float64)
    cond = Conditioning(torch.zeros(6, 2))
    loss = den.loss(x0, cond, generator=torch.Generator().manual_seed(0))
    assert loss.shape == (6,) and loss.max() < 1e-20
    sigma = torch.tensor([0.01, 0.5, 1.0, 3.0, 20.0, 80.0], dtype=torch.float64)
    x = torch.randn(6, 4, 8, dtype=torch.float64) * sigma.view(-1, 1, 1)
    assert den(x, sigma, cond).abs().max() < 1e-9


def test_loss_is_deterministic_for_a_generator_and_positive_for_a_wrong_network() -> None:
    den = Denoiser(Linear(), DiffusionConfig())
    x0, cond = torch.randn(4, 3, 8), Conditioning(torch.randn(4, 2))
    a = den.loss(x0, cond, generator=torch.Generator().manual_seed(1))
    b = den.loss(x0, cond, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and (a > 0).all()


def test_guidance_is_one_batched_forward_with_the_cfg_formula() -> None:
    net = Linear()
    den = Denoiser(net, DiffusionConfig())
    cond, uncond = Conditioning(torch.ones(3, 2)), Conditioning(torch.zeros(3, 2))
    x, sigma = torch.randn(3, 4, 8), torch.full((3,), 2.0)
    c, u = den(x, sigma, cond), den(x, sigma, uncond)
    net.calls.clear()
    out = guided(den, cond, uncond, 4.0)(x, sigma)
    assert net.calls == [6], "conditional and unconditional rows must share one forward pass"
    torch.testing.assert_close(out, u + 4.0 * (c - u))
    net.calls.clear()
    assert torch.equal(guided(den, cond, uncond, 1.0)(x, sigma), c) and net.calls == [3]
    assert torch.equal(guided(den, cond, uncond, 0.0)(x, sigma), u)


def test_guidance_pads_token_conditionings_of_different_lengths() -> None:
    den = Denoiser(Linear(), DiffusionConfig())
    cond = Conditioning(torch.ones(1, 2), torch.ones(1, 5, 2), torch.ones(1, 5, dtype=torch.bool))
    null = Conditioning(torch.zeros(1, 2), torch.ones(1, 1, 2), torch.ones(1, 1, dtype=torch.bool))
    assert guided(den, cond, null, 2.0)(torch.randn(1, 4, 8), torch.ones(1)).shape == (1, 4, 8)


def test_negative_guidance_and_bad_configs_are_refused() -> None:
    den = Denoiser(Linear(), DiffusionConfig())
    with pytest.raises(ValueError, match="guidance must be >= 0"):
        guided(den, Conditioning(torch.ones(1, 2)), Conditioning(torch.zeros(1, 2)), -1.0)
    with pytest.raises(ValueError, match="prediction must be one of"):
        DiffusionConfig(prediction="x0")
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        DiffusionConfig(sigma_min=5.0, sigma_max=1.0)
    assert DiffusionConfig.from_dict(DiffusionConfig(prediction="eps").to_dict()).prediction == "eps"
