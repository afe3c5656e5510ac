"""Training callbacks: audio samples to the logger, and export of the EMA model at the end of fit."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from audiodiff.denoiser import Denoiser
from audiodiff.pipeline import Pipeline
from audiodiff.vocoders import load_vocoder


def ema_pipeline(module: L.LightningModule, vocoder: str = "griffinlim") -> Pipeline:
    """A Pipeline that shares the module's EMA network and conditioner (no copies)."""
    config = module.pipeline_config
    return Pipeline(config, Denoiser(module.ema, config.diffusion), module.conditioner,
                    load_vocoder(vocoder, config.mel))


def spectrogram_image(mel: Tensor) -> Tensor:
    """Normalised log-mel ``[n_mels, frames]`` -> image ``[1, n_mels, frames]`` in [0, 1], low bins at the bottom."""
    return ((mel.clamp(-1, 1) + 1) / 2).flip(0).unsqueeze(0)


class AudioSamples(L.Callback):
    """Every ``every_n_steps`` optimizer steps, log clips and spectrogram images for fixed conditions.

    ``conditions`` are prompts (text models) or labels (class models); each uses seed ``seed + i``.
    """

    def __init__(self, conditions: list[str] | None = None, every_n_steps: int = 1000, steps: int = 25,
                 guidance: float = 3.0, seed: int = 0) -> None:
        self.conditions = conditions or []
        self.every_n_steps, self.steps, self.guidance, self.seed = every_n_steps, steps, guidance, seed

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: object) -> None:
        step = trainer.global_step
        if not self.conditions or step == 0 or step % self.every_n_steps or not trainer.is_global_zero:
            return
        logger = getattr(trainer.logger, "experiment", None)
        if logger is None or not hasattr(logger, "add_audio"):
            return
        pipe = ema_pipeline(module)
        text = module.pipeline_config.conditioner.kind == "text"
        for i, condition in enumerate(self.conditions):
            out = pipe(prompt=condition if text else None, label=None if text else condition,
                       steps=self.steps, guidance=self.guidance, seed=self.seed + i)
            logger.add_audio(f"samples/{i}", out.audio[0:1], step, sample_rate=out.sample_rate)
            logger.add_image(f"spectrograms/{i}", spectrogram_image(out.mel[0]), step)


class ExportPipeline(L.Callback):
    """At the end of fit, write the EMA model as a Pipeline folder to ``out`` (default: ``<log dir>/pipeline``)."""

    def __init__(self, out: str | None = None, overwrite: bool = True) -> None:
        self.out, self.overwrite = out, overwrite

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        out = Path(self.out) if self.out else Path(trainer.log_dir or trainer.default_root_dir) / "pipeline"
        with torch.no_grad():
            path = ema_pipeline(module).save_pretrained(out, overwrite=self.overwrite)
        print(f"exported the EMA model to {path}")
