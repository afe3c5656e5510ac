"""Lightning training of :class:`NeuralVocoder` with multi-resolution STFT and mel L1 losses."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from audiodiff.spectrogram import MelSpectrogram
from audiodiff.stft import stft_magnitude
from audiodiff.training.base import SavedWeights, TrainingModule, submodule_state
from audiodiff.training.ema import ema_copy
from audiodiff.vocoders.discriminators import (
    MultiDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from audiodiff.vocoders.losses import MelL1Loss, MultiResolutionSTFTLoss
from audiodiff.vocoders.network import VocosConfig
from audiodiff.vocoders.neural import NeuralVocoder
from audiodiff.vocoders.synthesis import SynthesisConfig

SHIPPED_NETWORK = VocosConfig()
SHIPPED_SYNTHESIS = SynthesisConfig()


class VocoderModule(TrainingModule):
    """Learns log-mel -> waveform on batches of waveform segments ``[n, samples]``
    (:class:`~audiodiff.training.base.TrainingModule`).

    The loss is ``mel_weight * mel L1 + stft_weight * multi-resolution STFT`` between the output
    and the input segment, plus ``magnitude_weight`` times the L1 distance between the network's
    log STFT magnitude and the segment's own, at the mel analysis' resolution: a direct target
    for the magnitude that the waveform losses only give through the synthesis (APNet, Ai & Ling,
    2023). The output the waveform losses see is played as in use (the vocoder's
    :class:`~audiodiff.vocoders.synthesis.Synthesis` with ``synthesis``' settings, gradients
    through the refinement). An exponential moving average of the weights (``ema``, final decay
    ``ema_decay``) is validated and exported. The learning rate warms up linearly for
    ``warmup_steps`` and then follows a cosine down to ``final_lr_ratio * lr`` at
    ``trainer.max_steps``.

    With ``adversarial_weight > 0`` a :class:`MultiDiscriminator` (multi-period and
    multi-resolution, ``discriminator_channels`` wide) joins after ``adversarial_start`` steps and
    ``adversarial_weight * (hinge generator loss + feature matching)`` is added. Vocoder and
    discriminator are two parameter groups of one optimizer updated together from one backward
    pass: the discriminator's loss sees the output detached, and the generator's adversarial terms
    go through a detached copy of the discriminator's weights, so neither loss reaches the other
    network. One training step is then one optimizer step (Lightning counts a step per optimizer
    with two), and each group's gradient norm is clipped to ``gradient_clip_val`` on its own.

    Args:
        network: the network's shape (:class:`VocosConfig`; the default is the bundled vocoder's).
        synthesis: how the network's magnitude is played, in training as in the exported vocoder
            (:class:`SynthesisConfig`; the default is the bundled vocoder's).
        init_from: a saved vocoder folder (e.g. ``audiodiff/pretrained/vocoder``) whose weights
            start the vocoder and its EMA copy: fine-tuning, e.g. with the discriminators switched
            on. Its network config must be ``network`` (but see :meth:`saved_weights`); its
            synthesis settings are not used. Ignored when resuming from a checkpoint (the
            checkpoint's weights replace it).
    """

    CONFIG_KEY = "vocoder_config"
    EXPORT_NAME = "vocoder"

    def __init__(
        self,
        network: VocosConfig = SHIPPED_NETWORK,
        synthesis: SynthesisConfig = SHIPPED_SYNTHESIS,
        mel_weight: float = 1.0,
        stft_weight: float = 1.0,
        magnitude_weight: float = 0.0,
        adversarial_weight: float = 0.0,
        adversarial_start: int = 0,
        discriminator_channels: int = 32,
        lr: float = 5e-4,
        betas: tuple[float, float] = (0.8, 0.99),
        weight_decay: float = 0.01,
        warmup_steps: int = 200,
        final_lr_ratio: float = 0.01,
        ema_decay: float = 0.999,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network", "synthesis"])
        self.network_config = network
        self.vocoder = NeuralVocoder(network, synthesis)
        self.ema = ema_copy(self.vocoder)
        self.analysis = MelSpectrogram(network.mel)
        self.mel_loss = MelL1Loss(network.mel)
        self.stft_loss = MultiResolutionSTFTLoss()
        self.discriminator = (
            MultiDiscriminator(channels=discriminator_channels) if adversarial_weight > 0 else None
        )

    @property
    def ema_source(self) -> nn.Module:
        return self.vocoder

    def saved_weights(self, path: Path) -> SavedWeights:
        """A saved vocoder's weights. Its network config must be ours (synthesis settings shape no
        weights); a vocoder without a :class:`SpectralRefiner` may start one that has it (the
        refiner starts as the identity)."""
        source = NeuralVocoder.from_pretrained(path)
        own, comparable = self.network_config, source.network_config
        if comparable.spectral_layers == 0:
            comparable = dataclasses.replace(comparable, spectral_layers=own.spectral_layers,
                                             spectral_channels=own.spectral_channels)
        if comparable != own:
            raise ValueError(f"the vocoder in {path} has another network ({source.network_config.to_dict()}); "
                             f"fine-tune it with that config as model.network, not {own.to_dict()}")
        return SavedWeights({"vocoder": self.vocoder}, {"vocoder": source.state_dict()},
                            "fine-tune it with its network config as model.network")

    def exportable(self) -> NeuralVocoder:
        return self.ema

    @classmethod
    def exportable_from_checkpoint(cls, checkpoint: dict[str, Any]) -> NeuralVocoder:
        config = checkpoint[cls.CONFIG_KEY]
        vocoder = NeuralVocoder(VocosConfig.from_dict(config["network"]),
                                SynthesisConfig.from_dict(config["synthesis"]))
        vocoder.load_state_dict(submodule_state(checkpoint["state_dict"], "ema"))
        return vocoder

    def model_step(self, audio: Tensor, vocoder: NeuralVocoder) -> dict[str, Tensor]:
        """Waveforms ``[n, samples]`` -> ``{"loss", "mel_l1", "stft", "magnitude"}`` (spectral
        losses) and ``"output"`` and ``"target"`` waveforms ``[n, samples']`` for ``vocoder``."""
        with torch.no_grad():
            log_mel = self.analysis(audio)
        magnitude = vocoder.network(log_mel)
        prediction = vocoder.synthesis(magnitude, log_mel)
        target = audio[:, : prediction.shape[-1]]
        mel = self.mel_loss(prediction, target)
        stft = self.stft_loss(prediction, target)
        log_magnitude = self.magnitude_loss(magnitude, target)
        hp = self.hparams
        loss = hp.mel_weight * mel + hp.stft_weight * stft + hp.magnitude_weight * log_magnitude
        return {"loss": loss, "mel_l1": mel, "stft": stft, "magnitude": log_magnitude,
                "output": prediction, "target": target}

    def adversarial_losses(self, output: Tensor, target: Tensor) -> dict[str, Tensor]:
        """``{"discriminator", "generator", "features"}`` for output and target ``[n, samples]``."""
        assert self.discriminator is not None
        real = self.discriminator(target)
        fake_for_discriminator = self.discriminator(output.detach())
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        fake = torch.func.functional_call(self.discriminator, frozen, (output,))
        return {"discriminator": discriminator_loss(real, fake_for_discriminator),
                "generator": generator_loss(fake), "features": feature_matching_loss(real, fake)}

    def magnitude_loss(self, magnitude: Tensor, target: Tensor) -> Tensor:
        """Mean abs log difference of a predicted magnitude ``[n, n_fft // 2 + 1, frames]`` and the
        STFT magnitude of the target waveforms ``[n, samples]`` at the mel analysis' resolution
        (its first ``frames`` frames; both clamped at the mel's ``log_floor``)."""
        mel = self.network_config.mel
        true = stft_magnitude(target, mel)[..., : magnitude.shape[-1]]
        return (magnitude.clamp_min(mel.log_floor).log() - true.clamp_min(mel.log_floor).log()).abs().mean()

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        losses = self.model_step(batch, self.vocoder)
        output, target = losses.pop("output"), losses.pop("target")
        total = losses["loss"]
        if self.discriminator is not None and self.global_step >= self.hparams.adversarial_start:
            losses.update(self.adversarial_losses(output, target))
            adversarial = losses["generator"] + losses["features"]
            total = total + self.hparams.adversarial_weight * adversarial + losses["discriminator"]
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True)
        return total

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        losses = self.model_step(batch, self.ema)
        del losses["output"], losses["target"]
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, prog_bar=True)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The vocoder's parameters, then the discriminator's (when adversarial)."""
        groups = [{"params": list(self.vocoder.parameters())}]
        if self.discriminator is not None:
            groups.append({"params": list(self.discriminator.parameters())})
        return groups

    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip the vocoder's and the discriminator's gradients apart (one optimizer holds both)."""
        if not gradient_clip_val:
            return
        for group in optimizer.param_groups:
            if gradient_clip_algorithm == "value":
                torch.nn.utils.clip_grad_value_(group["params"], gradient_clip_val)
            else:
                torch.nn.utils.clip_grad_norm_(group["params"], gradient_clip_val)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[self.CONFIG_KEY] = {"network": self.network_config.to_dict(),
                                       "synthesis": self.vocoder.synthesis_config.to_dict()}
