"""Low-rank adapters (LoRA; Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021)
on a network's convolutions and linear layers, as weight parametrizations.

A layer's weight ``W [out, in, *kernel]`` becomes ``W + (up @ down).view_as(W)`` with
``down [rank, in * prod(kernel)]`` and ``up [out, rank]``; ``up`` starts at zero, so an adapted
network starts as the original. Training updates only ``down`` and ``up``; :func:`adapter_factors`
reads them out (a few percent of the weights) and :func:`merge_factors` adds them into a saved
state dict, so a model made of a base and an adapter loads as a plain network with no extra cost
per call. This is how the few-step model is stored next to the model it was distilled from
(LCM-LoRA: Luo et al., "LCM-LoRA: A Universal Stable-Diffusion Acceleration Module", 2023).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

ADAPTED = (nn.Conv1d, nn.Conv2d, nn.Linear)
DOWN, UP = ".down", ".up"


class LowRankDelta(nn.Module):
    """The parametrization ``W -> W + (up @ down).view_as(W)`` of one weight ``W [out, ...]``."""

    def __init__(self, weight: Tensor, rank: int) -> None:
        super().__init__()
        out, fan_in = weight.shape[0], weight[0].numel()
        self.down = nn.Parameter(torch.randn(rank, fan_in, dtype=weight.dtype) / math.sqrt(fan_in))
        self.up = nn.Parameter(torch.zeros(out, rank, dtype=weight.dtype))

    def forward(self, weight: Tensor) -> Tensor:
        return weight + (self.up @ self.down).view_as(weight)


def add_adapters(network: nn.Module, rank: int) -> list[str]:
    """Parametrize the weight of every convolution and linear layer of ``network`` whose smaller
    side exceeds ``rank`` with a :class:`LowRankDelta`; freeze everything else. Returns the adapted
    weights' names (``"stages.0.conv1.weight"``...)."""
    if rank < 1:
        raise ValueError(f"the adapter rank must be >= 1, got {rank}")
    network.requires_grad_(False)
    names = []
    for name, module in network.named_modules():
        if isinstance(module, ADAPTED) and min(module.weight.shape[0], module.weight[0].numel()) > rank:
            parametrize.register_parametrization(module, "weight", LowRankDelta(module.weight, rank))
            names.append(f"{name}.weight")
    return names


def adapter_factors(network: nn.Module) -> dict[str, Tensor]:
    """The adapters of an :func:`add_adapters` network: ``{"<weight name>.down": [rank, fan_in],
    "<weight name>.up": [out, rank]}``."""
    factors = {}
    for name, module in network.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            delta = module.parametrizations.weight[0]
            prefix = f"{name}.weight" if name else "weight"
            factors[prefix + DOWN], factors[prefix + UP] = delta.down.detach(), delta.up.detach()
    return factors


def merge_factors(state: dict[str, Tensor], factors: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state`` (a plain network's weights) with each adapter of ``factors`` added to its weight.

    Raises:
        ValueError: a factor for a weight ``state`` lacks, a lone ``down`` or ``up``, or factors
            whose product has another shape than the weight.
    """
    names = {key[: -len(DOWN)] for key in factors if key.endswith(DOWN)}
    names &= {key[: -len(UP)] for key in factors if key.endswith(UP)}
    others = sorted(k for k in factors if k[: k.rfind(".")] not in names)
    if others:
        raise ValueError(f"adapter entries without their pair: {', '.join(others[:3])}")
    merged = dict(state)
    for name in sorted(names):
        if name not in state:
            raise ValueError(f"the adapter changes {name}, which the base model lacks")
        weight, down, up = state[name], factors[name + DOWN], factors[name + UP]
        if up.shape[1] != down.shape[0] or up.shape[0] * down.shape[1] != weight.numel():
            raise ValueError(f"the adapter of {name} ({list(up.shape)} x {list(down.shape)}) does not fit its "
                             f"weight {list(weight.shape)}")
        merged[name] = weight + (up.to(weight.dtype) @ down.to(weight.dtype)).view_as(weight)
    return merged


def merged_state(network: nn.Module) -> dict[str, Tensor]:
    """The weights of an :func:`add_adapters` network as a plain network's state dict, each adapter
    folded into its weight (``network`` itself is left as it is)."""
    base = {}
    for key, value in network.state_dict().items():
        if ".parametrizations.weight.original" in key:
            base[key.replace(".parametrizations.weight.original", ".weight")] = value
        elif ".parametrizations.weight.0." not in key:
            base[key] = value
    return merge_factors(base, adapter_factors(network))
