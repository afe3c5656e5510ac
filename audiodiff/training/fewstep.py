"""Few-step distillation into a low-rank adapter: the model users sample by default.

:class:`FewStepDistillModule` trains, on a teacher's trajectories
(:class:`~audiodiff.training.trajectories.TrajectoryDataModule`), low-rank adapters on the
teacher's network (:mod:`audiodiff.models.lowrank`) plus a guidance-scale embedding, so that
``steps`` deterministic (DDIM) steps on the ``karras_open`` schedule, one network pass each, land
where the teacher's 25 guided ``dpmpp_2m`` steps (50 passes) land. The export is an
:class:`~audiodiff.pipeline.AdaptedPipeline`: a few megabytes next to the teacher it adapts,
which stays usable as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from audiodiff import samplers, schedules
from audiodiff.config import PipelineConfig
from audiodiff.denoiser import Denoiser
from audiodiff.models.config import build_unet
from audiodiff.models.lowrank import adapter_factors, add_adapters, merged_state
from audiodiff.pipeline import AdaptedPipeline
from audiodiff.training.distill import GuidanceDistillModule
from audiodiff.training.trajectories import TrajectoryDataModule
from audiodiff.vocoders import load_vocoder


def landing_target(x: Tensor, x_next: Tensor, sigma: Tensor, sigma_next: Tensor) -> Tensor:
    """The ``x0`` estimate ``[n, ...]`` whose DDIM step from ``x`` at ``sigma [n]`` lands on ``x_next``
    at ``sigma_next [n]``: ``(x_next - r x) / (1 - r)`` with ``r = sigma_next / sigma`` (``x_next``
    itself on a last step, ``sigma_next = 0``)."""
    ratio = schedules.expand_to(sigma_next / sigma, x)
    return (x_next - ratio * x) / (1 - ratio)


class FewStepDistillModule(GuidanceDistillModule):
    """Trajectory distillation of a guided teacher into low-rank adapters of its own network.

    At a random level ``i`` of each trajectory the student sees the teacher's state there and
    learns the estimate whose DDIM step lands on the teacher's state at level ``i + 1``
    (:func:`landing_target`), in the network's prediction target; the guidance scale the
    trajectory was made with is embedded. Only the adapters and the guidance embedding train.

    Args:
        teacher: the model folder distilled (also the data's ``teacher``); the student starts as it.
        guidance_range: the scales the trajectories are guided with (also the data's).
        adapter_rank: the rank of every adapter (:func:`~audiodiff.models.lowrank.add_adapters`).
        Other arguments: as :class:`~audiodiff.training.distill.GuidanceDistillModule`
            (``cond_dropout`` is unused: every trajectory is conditional).
    """

    CONFIG_KEY = "adapter_pipeline_config"  # its checkpoints hold adapters: exported by this class

    def __init__(self, *args, adapter_rank: int = 32, **kwargs) -> None:
        if adapter_rank < 1:
            raise ValueError(f"adapter_rank must be >= 1, got {adapter_rank}")
        super().__init__(*args, **kwargs)
        self.save_hyperparameters("adapter_rank")
        self.sigmas: Tensor | None = None

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        if not isinstance(data, TrajectoryDataModule):
            raise ValueError("few-step distillation trains on teacher trajectories: use TrajectoryDataModule data")
        super().setup(stage)
        self.attach(data.student_sigmas(), data.teacher_config.vocoder)

    def attach(self, sigmas: Tensor, vocoder: str) -> None:
        """Add the adapters (once) and make the exported config sample ``ddim`` on ``sigmas``'s
        schedule and play through ``vocoder`` (the teacher's)."""
        if self.sigmas is not None:
            return
        self.sigmas = sigmas
        add_adapters(self.denoiser.network, self.hparams.adapter_rank)
        add_adapters(self.ema, self.hparams.adapter_rank)
        self.ema.load_state_dict(self.denoiser.network.state_dict())
        self.ema.requires_grad_(False)
        self.conditioner.requires_grad_(False)
        self.conditioner.guidance.requires_grad_(True)
        config = self.pipeline_config
        self.pipeline_config = dataclasses.replace(
            config, vocoder=vocoder,
            diffusion=dataclasses.replace(config.diffusion, schedule="karras_open"),
            defaults=dataclasses.replace(config.defaults, sampler="ddim", steps=len(sigmas) - 1))

    def model_step(self, batch: dict[str, Tensor], generator: torch.Generator, network: torch.nn.Module) -> Tensor:
        """The student's step from a random level of each trajectory against where the teacher went."""
        states = batch["states"]
        n, steps = states.shape[0], states.shape[1] - 1
        i = torch.randint(0, steps, (n,), generator=generator, device=self.device)
        rows = torch.arange(n, device=self.device)
        sigmas = self.sigmas.to(self.device)
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        x, x_next = states[rows, i], states[rows, i + 1]
        target = landing_target(x.double(), x_next.double(), sigma, sigma_next).to(x.dtype)
        keep = torch.ones(n, dtype=torch.bool, device=self.device)
        return self.student_loss(batch, keep, batch["scale"], x, sigma.to(x.dtype), target, network)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """The one-step loss, and ``val/rollout``: the mean squared distance between the student's
        whole ``steps``-step sample and the teacher's from the same noise."""
        super().validation_step(batch, batch_idx)
        states = batch["states"]
        keep = torch.ones(states.shape[0], dtype=torch.bool, device=self.device)
        cond = self.student_conditioning(batch, keep, batch["scale"])
        denoiser = Denoiser(self.ema, self.diffusion_config)
        out = samplers.sample_ddim(lambda x, s: denoiser(x, s, cond), states[:, 0],
                                   self.sigmas.to(self.device, states.dtype))
        self.log("val/rollout", (out - states[:, -1]).pow(2).mean(), prog_bar=True, batch_size=states.shape[0])

    def exportable(self) -> AdaptedPipeline:
        """The EMA student as an adapter of the teacher (a merged copy runs; the factors are saved)."""
        config = self.pipeline_config
        network = build_unet(config.unet)
        network.load_state_dict(merged_state(self.ema))
        return AdaptedPipeline(config, Denoiser(network, config.diffusion), self.conditioner,
                               load_vocoder(config.vocoder, config.mel), base=self.hparams.teacher,
                               factors=adapter_factors(self.ema))

    @classmethod
    def exportable_from_checkpoint(cls, checkpoint: dict[str, Any]) -> AdaptedPipeline:
        config = PipelineConfig.from_dict(checkpoint[cls.CONFIG_KEY])
        hparams = checkpoint["hyper_parameters"]
        module = cls(unet=config.unet, diffusion=dataclasses.replace(config.diffusion, schedule="karras"),
                     teacher=hparams["teacher"], adapter_rank=hparams["adapter_rank"],
                     pitch_conditioning=config.conditioner.pitch, duration_conditioning=config.conditioner.duration,
                     sampling=config.defaults)
        module.configure_from_data(config.mel, config.conditioner)
        module.attach(schedules.karras_open_sigmas(config.defaults.steps, config.diffusion.sigma_min,
                                                   config.diffusion.sigma_max), config.vocoder)
        module.load_state_dict(checkpoint["state_dict"])
        return module.exportable()
