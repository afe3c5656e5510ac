"""Guidance distillation: a student that makes in one pass what its teacher's two guided passes make.

The first stage of Meng et al., "On Distillation of Guided Diffusion Models" (CVPR 2023): the
student is the teacher's network with a :class:`~audiodiff.conditioning.GuidanceEmbedding` added to
its conditioning (zero at the start, so training starts from exactly the teacher's conditional
model) and is trained, at noise levels and guidance scales drawn at random, to match the teacher's
classifier-free-guided estimate ``u + w (c - u)``. Sampling then costs one network call per step
instead of two; any sampler and step count work as before.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from audiodiff import schedules
from audiodiff.conditioning import ConditionerConfig
from audiodiff.conditioning_types import Conditioning
from audiodiff.pipeline import Pipeline
from audiodiff.samplers import randn_rows
from audiodiff.spectrogram import MelConfig
from audiodiff.training.module import DiffusionModule


class GuidanceDistillModule(DiffusionModule):
    """:class:`~audiodiff.training.module.DiffusionModule` whose target is a frozen teacher's guided
    estimate instead of the data.

    Args:
        teacher: the model folder to distil (``audiodiff export`` output, e.g. the bundled model).
            The student starts from its weights unless ``init_from`` names another folder, and
            must have its network shape (the recipe's ``unet``).
        guidance_range: guidance scales ``w`` are drawn uniformly from ``[low, high]`` per example;
            the student is right for the scales it was trained on.
        Other arguments: as :class:`~audiodiff.training.module.DiffusionModule` (``cond_dropout``
        also trains the student's unconditional rows, whose target is the teacher's ``u``).
    """

    def __init__(self, *args, teacher: str, guidance_range: tuple[float, float] = (1.0, 6.0), **kwargs) -> None:
        low, high = guidance_range
        if not 0 <= low <= high:
            raise ValueError(f"guidance_range must be [low, high] with 0 <= low <= high, got {list(guidance_range)}")
        kwargs.setdefault("init_from", teacher)
        super().__init__(*args, **kwargs)
        self.save_hyperparameters("teacher", "guidance_range")
        self._teacher: tuple[Pipeline] | None = None  # a tuple, so the frozen teacher is no submodule

    def configure_from_data(self, mel: MelConfig, conditioner: ConditionerConfig) -> None:
        super().configure_from_data(mel, dataclasses.replace(conditioner, guidance=True))

    @property
    def teacher(self) -> Pipeline:
        """The frozen teacher on this module's device (loaded on first use)."""
        if self._teacher is None:
            pipe = Pipeline.from_pretrained(self.hparams.teacher, vocoder="griffinlim")
            if pipe.config.conditioner.guidance:
                raise ValueError(f"the teacher {self.hparams.teacher} is itself guidance-distilled; "
                                 "distil the model it was distilled from")
            pipe.denoiser.requires_grad_(False)
            pipe.conditioner.requires_grad_(False)
            self._teacher = (pipe,)
        pipe = self._teacher[0]
        if pipe.device != self.device:
            self._teacher = (pipe.to(self.device),)
        return self._teacher[0]

    def guided_target(self, batch: dict[str, Tensor], keep: Tensor, x: Tensor, sigma: Tensor,
                      scale: Tensor) -> Tensor:
        """The teacher's guided estimate ``[n, n_mels, frames]`` of ``x`` at ``sigma [n]`` and
        ``scale [n]``, for the batch's conditions (rows where ``keep`` is False: unconditional)."""
        pipe = self.teacher
        teach = pipe.conditioner
        cond = teach.add_pitch(Conditioning(batch["pooled"], batch["tokens"], batch["token_mask"]), batch["pitch"])
        cond = teach.add_duration(teach.drop(cond, keep), batch["seconds"])
        uncond = teach.add_duration(teach.null(len(cond)).to(x.device, cond.pooled.dtype), batch["seconds"])
        with torch.no_grad():
            both = pipe.denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), Conditioning.cat([cond, uncond]))
        c, u = both.chunk(2)
        return u + (c - u) * schedules.expand_to(scale, x)

    def model_step(self, batch: dict[str, Tensor], generator: torch.Generator, network: torch.nn.Module) -> Tensor:
        """Mean squared error, in the network's prediction target, between the student at a random
        guidance scale and the teacher's guided estimate at the same noisy input."""
        if self.pipeline_config.conditioner.kind != "text":
            raise ValueError("guidance distillation reads cached text conditioning; this data has class labels")
        x0, config = batch["mel"], self.diffusion_config
        n = x0.shape[0]
        keep = torch.rand(n, generator=generator, device=self.device) >= self.hparams.cond_dropout
        low, high = self.hparams.guidance_range
        scale = low + (high - low) * torch.rand(n, generator=generator, device=self.device)
        sigma = schedules.training_sigmas(n, generator=generator, sigma_min=config.sigma_min,
                                          sigma_max=config.sigma_max, device=self.device).to(x0.dtype)
        eps = randn_rows(x0.shape, generator, device=x0.device, dtype=x0.dtype)
        x = x0 + eps * schedules.expand_to(sigma, x0)
        target_x0 = self.guided_target(batch, keep, x, sigma, scale)
        target = schedules.training_target(config.prediction, target_x0,
                                           (x - target_x0) / schedules.expand_to(sigma, x), sigma)
        student = self.conditioner
        cond = self.batch_conditioning(batch)
        cond = student.add_guidance(student.add_duration(student.drop(cond, keep), batch["seconds"]), scale)
        out = network(x * schedules.expand_to(schedules.c_in(sigma), x), schedules.c_noise(sigma), cond)
        return (out.float() - target.float()).pow(2).mean()
