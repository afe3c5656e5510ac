"""Training callbacks: audio samples to the logger, and export of the EMA model at the end of fit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from audiodiff.conditioning import ConditionerConfig
from audiodiff.training.base import TrainingModule

DEFAULT_PREVIEWS = 4  # how many of the data's labels or captions are previewed when none are given


def spectrogram_image(mel: Tensor) -> Tensor:
    """Normalised log-mel ``[n_mels, frames]`` -> image ``[1, n_mels, frames]`` in [0, 1], low bins at the bottom."""
    return ((mel.clamp(-1, 1) + 1) / 2).flip(0).unsqueeze(0)


def spread(items: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` of ``items``, evenly spaced from the first."""
    step = max(1, len(items) / count)
    return list(dict.fromkeys(items[int(i * step)] for i in range(min(count, len(items)))))


def preview_conditions(
    wanted: Sequence[str], conditioner: ConditionerConfig, captions: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The conditions to preview for a model of ``conditioner`` trained on ``captions``, and the
    ``wanted`` labels it does not know (dropped).

    A class model keeps the labels it knows; a text model takes every prompt. When none are left,
    a few of the data's own labels (class) or captions (text) are previewed instead.
    """
    if conditioner.kind == "class":
        kept = [c for c in wanted if c in conditioner.labels]
        dropped = [c for c in wanted if c not in conditioner.labels]
        return kept or spread(conditioner.labels, DEFAULT_PREVIEWS), dropped
    return list(wanted) or spread(captions, DEFAULT_PREVIEWS), []


class AudioSamples(L.Callback):
    """Every ``every_n_steps`` optimizer steps, log clips and spectrogram images for fixed conditions.

    ``conditions`` are prompts (text models) or labels (class models); each uses seed ``seed + i``.
    They are checked against the data before the first step (:func:`preview_conditions`).
    """

    def __init__(self, conditions: list[str] | None = None, every_n_steps: int = 1000, steps: int = 25,
                 guidance: float = 3.0, seed: int = 0) -> None:
        self.conditions = conditions or []
        self.every_n_steps, self.steps, self.guidance, self.seed = every_n_steps, steps, guidance, seed

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        captions = trainer.datamodule.cache.captions
        self.conditions, dropped = preview_conditions(self.conditions, module.pipeline_config.conditioner,
                                                      captions)
        if dropped:
            rank_zero_warn(f"AudioSamples: dropped the labels the data lacks ({', '.join(map(repr, dropped))}); "
                           f"previewing {', '.join(self.conditions)}")

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: object) -> None:
        step = trainer.global_step
        if step == 0 or step % self.every_n_steps or not trainer.is_global_zero:
            return
        logger = getattr(trainer.logger, "experiment", None)
        if logger is None or not hasattr(logger, "add_audio"):
            return
        pipe = module.exportable()
        text = module.pipeline_config.conditioner.kind == "text"
        for i, condition in enumerate(self.conditions):
            out = pipe(prompt=condition if text else None, label=None if text else condition,
                       steps=self.steps, guidance=self.guidance, seed=self.seed + i)
            logger.add_audio(f"samples/{i}", out.audio[0:1], step, sample_rate=out.sample_rate)
            logger.add_image(f"spectrograms/{i}", spectrogram_image(out.mel[0]), step)


class Export(L.Callback):
    """At the end of fit, write the module's EMA model (:meth:`TrainingModule.exportable`) to
    ``out``, default ``<trainer.default_root_dir>/<module.EXPORT_NAME>`` (``pipeline`` for the
    diffusion model, ``vocoder`` for the vocoder), with weights in ``dtype``."""

    def __init__(self, out: str | None = None, dtype: Literal["float32", "float16"] = "float32",
                 overwrite: bool = True) -> None:
        self.out, self.dtype, self.overwrite = out, dtype, overwrite

    def destination(self, trainer: L.Trainer, module: TrainingModule) -> Path:
        return Path(self.out) if self.out else Path(trainer.default_root_dir) / module.EXPORT_NAME

    def on_fit_start(self, trainer: L.Trainer, module: TrainingModule) -> None:
        out = self.destination(trainer, module)
        if out.exists() and not self.overwrite:
            raise FileExistsError(f"{out} exists and the export at the end of training may not replace "
                                  "it; choose another out or set overwrite: true")

    def on_fit_end(self, trainer: L.Trainer, module: TrainingModule) -> None:
        if not trainer.is_global_zero:
            return
        with torch.no_grad():
            path = module.exportable().save_pretrained(self.destination(trainer, module),
                                                       overwrite=self.overwrite, dtype=getattr(torch, self.dtype))
        rank_zero_info(f"exported the EMA model to {path}")
