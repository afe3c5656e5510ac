"""Low-rank adapters: an adapted network starts as the original, its factors merge into a saved
state exactly, and factors that do not fit are refused by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from audiodiff.models.lowrank import adapter_factors, add_adapters, merge_factors, merged_state


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(8, 16, 3, padding=1), nn.SiLU(), nn.Conv1d(16, 8, 1), nn.Flatten(),
                         nn.Linear(8 * 5, 4), nn.Linear(4, 2))


def randomise_up(net: nn.Module) -> None:
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".up"):
                p.normal_(0, 0.1)


def test_an_adapted_network_starts_as_the_original_and_trains_only_its_factors() -> None:
    plain, adapted = network(), network()
    names = add_adapters(adapted, rank=2)
    # the last Linear (4 -> 2) has a side of 2, not above the rank: left alone
    assert names == ["0.weight", "2.weight", "4.weight"]
    x = torch.randn(3, 8, 5)
    assert torch.equal(plain(x), adapted(x))
    trainable = sorted(n for n, p in adapted.named_parameters() if p.requires_grad)
    assert trainable and all(n.endswith((".down", ".up")) for n in trainable)
    factors = adapter_factors(adapted)
    assert factors["0.weight.down"].shape == (2, 8 * 3) and factors["0.weight.up"].shape == (16, 2)


def test_factors_merged_into_the_saved_state_give_the_adapted_network() -> None:
    base, adapted = network(), network()
    add_adapters(adapted, rank=3)
    randomise_up(adapted)
    x = torch.randn(2, 8, 5)
    expected = adapted(x)
    merged = merge_factors(base.state_dict(), adapter_factors(adapted))
    rebuilt = network()
    rebuilt.load_state_dict(merged)
    assert torch.allclose(rebuilt(x), expected, atol=1e-6)
    assert not torch.allclose(base(x), expected, atol=1e-3)
    folded = merged_state(adapted)
    assert set(folded) == set(base.state_dict())
    assert all(torch.allclose(folded[k], merged[k]) for k in folded)
    assert torch.allclose(adapted(x), expected)  # the adapted network is left as it was


def test_factors_that_do_not_fit_are_refused() -> None:
    adapted = network()
    add_adapters(adapted, rank=2)
    factors = adapter_factors(adapted)
    state = network().state_dict()
    with pytest.raises(ValueError, match="without their pair"):
        merge_factors(state, {"0.weight.down": factors["0.weight.down"]})
    with pytest.raises(ValueError, match="lacks"):
        merge_factors({k: v for k, v in state.items() if k != "2.weight"}, factors)
    wrong = dict(factors, **{"0.weight.up": torch.zeros(8, 2)})
    with pytest.raises(ValueError, match="does not fit"):
        merge_factors(state, wrong)
    with pytest.raises(ValueError, match="rank must be >= 1"):
        add_adapters(network(), rank=0)
