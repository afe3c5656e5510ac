"""The denoiser wrapper: noise-level scaling around a network, the training loss, and guidance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from audiodiff import schedules
from audiodiff.conditioning_types import Conditioning
from audiodiff.samplers import randn_rows

DenoiseFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class DiffusionConfig:
    """The noise process a model was trained with.

    ``prediction`` is the network's target (``"eps"`` or ``"v"``); sigmas run from ``sigma_max``
    (pure noise) down to ``sigma_min`` for data normalised to about ``[-1, 1]``.
    """

    prediction: schedules.PredictionTarget = "v"
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    schedule: str = "karras"

    def __post_init__(self) -> None:
        if self.prediction not in schedules.PREDICTION_TARGETS:
            raise ValueError(f"prediction must be one of {schedules.PREDICTION_TARGETS}, got {self.prediction!r}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffusionConfig:
        return cls(**data)


class Denoiser(nn.Module):
    """``D(x, sigma, cond) -> x0`` for a network ``F(c_in * x, c_noise(sigma), cond)``.

    ``x`` is ``[n, n_mels, frames]`` noisy data ``x0 + sigma * eps`` and ``sigma`` is ``[n]``.
    """

    def __init__(self, network: nn.Module, config: DiffusionConfig) -> None:
        super().__init__()
        self.network = network
        self.config = config

    def forward(self, x: Tensor, sigma: Tensor, cond: Conditioning) -> Tensor:
        sigma = sigma.to(x.dtype)
        out = self.network(x * schedules.expand_to(schedules.c_in(sigma), x), schedules.c_noise(sigma), cond)
        return schedules.x0_from_prediction(self.config.prediction, x, sigma, out)

    def loss(self, x0: Tensor, cond: Conditioning, generator: torch.Generator | None = None) -> Tensor:
        """Per-example mean squared error ``[n]`` of the prediction target at random noise levels."""
        n = x0.shape[0]
        sigma = schedules.training_sigmas(
            n, generator=generator, sigma_min=self.config.sigma_min,
            sigma_max=self.config.sigma_max, device=x0.device,
        ).to(x0.dtype)
        eps = randn_rows(x0.shape, generator, device=x0.device, dtype=x0.dtype)
        x = x0 + eps * schedules.expand_to(sigma, x0)
        out = self.network(x * schedules.expand_to(schedules.c_in(sigma), x), schedules.c_noise(sigma), cond)
        target = schedules.training_target(self.config.prediction, x0, eps, sigma)
        return (out.float() - target.float()).pow(2).flatten(1).mean(1)


def guided(denoiser: Denoiser, cond: Conditioning, uncond: Conditioning, scale: float) -> DenoiseFn:
    """Classifier-free guidance ``u + scale * (c - u)`` as one batched forward pass.

    Conditional and unconditional rows go through the network together; ``scale == 1`` needs
    only the conditional rows and ``scale == 0`` only the unconditional ones.
    """
    if scale < 0:
        raise ValueError(f"guidance must be >= 0, got {scale}")

    def fn(x: Tensor, sigma: Tensor) -> Tensor:
        if scale == 1:
            return denoiser(x, sigma, cond)
        if scale == 0:
            return denoiser(x, sigma, uncond)
        both = denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), Conditioning.cat([cond, uncond]))
        c, u = both.chunk(2)
        return u + (c - u) * scale

    return fn
