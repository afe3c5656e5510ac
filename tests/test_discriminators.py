from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from audiodiff.training.cli import train_vocoder
from audiodiff.training.vocoder_module import VocoderModule
from audiodiff.vocoders.discriminators import (
    MultiDiscriminator,
    PeriodDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from audiodiff.vocoders.neural import NeuralVocoder
from tests.conftest import TINY_MEL
from tests.test_neural_vocoder import RECIPES, TINY, noise, write_dataset

RESOLUTIONS = ((64, 16, 64), (128, 32, 128))


def judgement(value: float, layers: int = 2) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return torch.full((2, 1, 3, 4), value), [torch.full((2, 4, 3, 4), value + i) for i in range(layers)]


def test_hinge_and_feature_matching_known_answers() -> None:
    confident = [judgement(1.0), judgement(2.0)], [judgement(-1.0), judgement(-3.0)]
    assert float(discriminator_loss(*confident)) == 0.0
    undecided = [judgement(0.0)], [judgement(0.0)]
    assert float(discriminator_loss(*undecided)) == pytest.approx(2.0)
    assert float(generator_loss([judgement(0.0), judgement(1.0)])) == pytest.approx(0.5)
    assert float(feature_matching_loss([judgement(0.5)], [judgement(0.5)])) == 0.0
    assert float(feature_matching_loss([judgement(0.5)], [judgement(0.0)])) == pytest.approx(0.5)


@pytest.mark.parametrize("samples", [60, 61, 3])
def test_period_discriminator_folds_any_length(samples: int) -> None:
    torch.manual_seed(0)
    logits, features = PeriodDiscriminator(period=5, channels=2)(torch.randn(2, samples))
    rows = math.ceil(samples / 5)
    assert features[0].shape == (2, 2, math.ceil(rows / 3), 5)
    assert logits.shape[0] == 2 and logits.shape[-1] == 5
    assert len(features) == 5


def test_multi_discriminator_judges_every_period_and_resolution() -> None:
    disc = MultiDiscriminator(periods=(2, 3), resolutions=RESOLUTIONS, channels=4)
    judgements = disc(noise(samples=1024))
    assert len(judgements) == 4
    assert all(logits.shape[0] == 2 and len(features) == 5 for logits, features in judgements)
    with pytest.raises(ValueError, match="at least one period or resolution"):
        MultiDiscriminator(periods=(), resolutions=())


def test_adversarial_losses_reach_only_their_own_network() -> None:
    torch.manual_seed(0)
    module = VocoderModule(TINY, adversarial_weight=1.0, discriminator_channels=4)
    losses = module.model_step(noise(samples=1024), module.vocoder)
    adversarial = module.adversarial_losses(losses["output"], losses["target"])

    def grads(loss: torch.Tensor) -> tuple[bool, bool]:
        """Whether ``loss`` gives (the vocoder, the discriminator) non-zero gradients."""
        module.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        return tuple(
            any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
            for net in (module.vocoder, module.discriminator)
        )

    assert grads(adversarial["discriminator"]) == (False, True)
    assert grads(adversarial["generator"] + adversarial["features"]) == (True, False)


def test_adversarial_debug_run_counts_one_step_per_batch_and_exports(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    train_vocoder(["fit", "--config", str(RECIPES / "vocoder-debug.yaml"), f"--data.root={root}",
                   f"--trainer.default_root_dir={run}", "--trainer.max_steps=6",
                   "--model.adversarial_weight=0.1", "--model.adversarial_start=2",
                   "--model.discriminator_channels=4"])
    ckpt = torch.load(next(run.rglob("last.ckpt")), weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 6  # one step per batch, not one per parameter group
    assert any(k.startswith("discriminator.") for k in ckpt["state_dict"])
    with (run / "logs/version_0/metrics.csv").open() as f:
        rows = [row for row in csv.DictReader(f) if row.get("train/loss")]
    assert [bool(row.get("train/discriminator")) for row in rows] == [False] * 2 + [True] * 4
    exported = load_file(run / "vocoder/model.safetensors")
    assert not any("discriminator" in k for k in exported)
    NeuralVocoder.from_pretrained(run / "vocoder", mel_config=TINY_MEL)  # a plain vocoder folder
