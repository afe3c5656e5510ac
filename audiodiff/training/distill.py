"""Distillation: a student that does in fewer network passes what its teacher does in more.

- :class:`GuidanceDistillModule`: the first stage of Meng et al., "On Distillation of Guided
  Diffusion Models" (CVPR 2023). The student is the teacher's network with a
  :class:`~audiodiff.conditioning.GuidanceEmbedding` added to its conditioning (zero at the start,
  so training starts from exactly the teacher's conditional model) and is trained, at noise levels
  and guidance scales drawn at random, to match the teacher's classifier-free-guided estimate
  ``u + w (c - u)``. Sampling then costs one network call per step instead of two; any sampler
  and step count work as before.
- :class:`ProgressiveDistillModule`: progressive distillation (Salimans and Ho, ICLR 2022; Meng et
  al.'s second stage for guided models). The student learns to take in one deterministic step
  what its teacher takes in two, on one fixed schedule, so that it samples in half the steps;
  repeated, 25 steps become 13, 7 and 4 (:func:`teacher_steps`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor

from audiodiff import schedules
from audiodiff.conditioning import ConditionerConfig
from audiodiff.conditioning_types import Conditioning
from audiodiff.denoiser import DiffusionConfig
from audiodiff.pipeline import Pipeline
from audiodiff.samplers import randn_rows
from audiodiff.spectrogram import MelConfig
from audiodiff.training.module import DiffusionModule


def load_teacher(path: str, diffusion: DiffusionConfig, *, accepts_distilled: bool) -> Pipeline:
    """The frozen teacher model folder ``path`` (Griffin-Lim vocoder: only its denoiser is used).

    Raises:
        ValueError: its noise process is not ``diffusion``, or it is guidance-distilled and
            ``accepts_distilled`` is False.
    """
    pipe = Pipeline.from_pretrained(path, vocoder="griffinlim")
    if pipe.config.conditioner.guidance and not accepts_distilled:
        raise ValueError(f"the teacher {path} is itself guidance-distilled; distil the model it was distilled from")
    if pipe.config.diffusion != diffusion:
        raise ValueError(f"the teacher {path} has another noise process ({pipe.config.diffusion}); use its "
                         "diffusion settings in the recipe")
    pipe.denoiser.requires_grad_(False)
    pipe.conditioner.requires_grad_(False)
    return pipe


def guided_teacher(pipe: Pipeline, batch: dict[str, Tensor], keep: Tensor,
                   scale: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    """The teacher's guided ``x0`` estimate, ``(x [n, n_mels, frames], sigma [n]) -> [n, n_mels, frames]``,
    for a cached batch's conditions (rows where ``keep`` is False: unconditional) at ``scale [n]``:
    classifier-free guidance (two passes), or one pass of a guidance-distilled teacher."""
    teach = pipe.conditioner
    cond = teach.add_pitch(Conditioning(batch["pooled"], batch["tokens"], batch["token_mask"]), batch["pitch"])
    cond = teach.add_duration(teach.drop(cond, keep), batch["seconds"])
    if pipe.config.conditioner.guidance:
        cond = teach.add_guidance(cond, scale)

        def one_pass(x: Tensor, sigma: Tensor) -> Tensor:
            with torch.no_grad():
                return pipe.denoiser(x, sigma, cond)

        return one_pass
    uncond = teach.add_duration(teach.null(len(cond)).to(cond.pooled.device, cond.pooled.dtype), batch["seconds"])
    both = Conditioning.cat([cond, uncond])

    def two_passes(x: Tensor, sigma: Tensor) -> Tensor:
        with torch.no_grad():
            c, u = pipe.denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), both).chunk(2)
        return u + (c - u) * schedules.expand_to(scale, x)

    return two_passes


class GuidanceDistillModule(DiffusionModule):
    """:class:`~audiodiff.training.module.DiffusionModule` whose target is a frozen teacher's guided
    estimate instead of the data.

    Args:
        teacher: the model folder to distil (``audiodiff export`` output, e.g. the bundled model).
            The student starts from its weights unless ``init_from`` names another folder
            (:attr:`init_source`), and must have its network shape (the recipe's ``unet``).
        guidance_range: guidance scales ``w`` are drawn uniformly from ``[low, high]`` per example;
            the student is right for the scales it was trained on.
        Other arguments: as :class:`~audiodiff.training.module.DiffusionModule` (``cond_dropout``
            also trains the student's unconditional rows, whose target is the teacher's ``u``).
    """

    ACCEPTS_DISTILLED_TEACHER = False

    def __init__(self, *args, teacher: str, guidance_range: tuple[float, float] = (1.0, 6.0), **kwargs) -> None:
        low, high = guidance_range
        if not 0 <= low <= high:
            raise ValueError(f"guidance_range must be [low, high] with 0 <= low <= high, got {list(guidance_range)}")
        super().__init__(*args, **kwargs)
        self.save_hyperparameters("teacher", "guidance_range")
        self._teacher: tuple[Pipeline] | None = None  # a tuple, so the frozen teacher is no submodule

    @property
    def init_source(self) -> str:
        """The folder the student starts from: ``init_from``, else the teacher."""
        return self.hparams.init_from or self.hparams.teacher

    def configure_from_data(self, mel: MelConfig, conditioner: ConditionerConfig) -> None:
        super().configure_from_data(mel, dataclasses.replace(conditioner, guidance=True))

    @property
    def teacher(self) -> Pipeline:
        """The frozen teacher on this module's device (loaded on first use)."""
        if self._teacher is None:
            self._teacher = (load_teacher(self.hparams.teacher, self.diffusion_config,
                                          accepts_distilled=self.ACCEPTS_DISTILLED_TEACHER),)
        pipe = self._teacher[0]
        if pipe.device != self.device:
            self._teacher = (pipe.to(self.device),)
        return self._teacher[0]

    def teacher_denoiser(self, batch: dict[str, Tensor], keep: Tensor,
                         scale: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """:func:`guided_teacher` of this module's teacher."""
        return guided_teacher(self.teacher, batch, keep, scale)

    def guided_target(self, batch: dict[str, Tensor], keep: Tensor, x: Tensor, sigma: Tensor,
                      scale: Tensor) -> Tensor:
        """The teacher's guided estimate ``[n, n_mels, frames]`` of ``x`` at ``sigma [n]`` and ``scale [n]``."""
        return self.teacher_denoiser(batch, keep, scale)(x, sigma)

    def draw(self, batch: dict[str, Tensor], generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Per row of the batch: whether its condition is kept (``[n]`` bool), its guidance scale
        ``[n]`` and unit noise ``[n, n_mels, frames]``."""
        if self.pipeline_config.conditioner.kind != "text":
            raise ValueError("distillation reads cached text conditioning; this data has class labels")
        x0 = batch["mel"]
        n = x0.shape[0]
        keep = torch.rand(n, generator=generator, device=self.device) >= self.hparams.cond_dropout
        low, high = self.hparams.guidance_range
        scale = low + (high - low) * torch.rand(n, generator=generator, device=self.device)
        return keep, scale, randn_rows(x0.shape, generator, device=x0.device, dtype=x0.dtype)

    def student_conditioning(self, batch: dict[str, Tensor], keep: Tensor, scale: Tensor) -> Conditioning:
        """The student's condition for the batch: its own (rows where ``keep`` is False: null),
        with the duration and the guidance scale ``scale [n]`` embedded."""
        student = self.conditioner
        cond = self.batch_conditioning(batch)
        return student.add_guidance(student.add_duration(student.drop(cond, keep), batch["seconds"]), scale)

    def student_loss(self, batch: dict[str, Tensor], keep: Tensor, scale: Tensor, x: Tensor, sigma: Tensor,
                     target_x0: Tensor, network: torch.nn.Module) -> Tensor:
        """Mean squared error, in the network's prediction target, between the student's estimate
        of ``x`` at ``sigma`` (with ``scale`` embedded) and ``target_x0``."""
        target = schedules.training_target(self.diffusion_config.prediction, target_x0,
                                           (x - target_x0) / schedules.expand_to(sigma, x), sigma)
        cond = self.student_conditioning(batch, keep, scale)
        out = network(x * schedules.expand_to(schedules.c_in(sigma), x), schedules.c_noise(sigma), cond)
        return (out.float() - target.float()).pow(2).mean()

    def model_step(self, batch: dict[str, Tensor], generator: torch.Generator, network: torch.nn.Module) -> Tensor:
        """The student at a random noise level and guidance scale against the teacher's guided
        estimate at the same noisy input."""
        keep, scale, eps = self.draw(batch, generator)
        x0, config = batch["mel"], self.diffusion_config
        sigma = schedules.training_sigmas(len(x0), generator=generator, sigma_min=config.sigma_min,
                                          sigma_max=config.sigma_max, device=self.device).to(x0.dtype)
        x = x0 + eps * schedules.expand_to(sigma, x0)
        target_x0 = self.guided_target(batch, keep, x, sigma, scale)
        return self.student_loss(batch, keep, scale, x, sigma, target_x0, network)


HALVING_SCHEDULES = ("karras", "cosine")  # schedules whose 2 M - 1 levels hold their M levels


def teacher_steps(steps: int) -> int:
    """The teacher's step count for a student of ``steps`` steps: ``2 steps - 1``, whose schedule's
    every other sigma is the student's (the schedules of :data:`HALVING_SCHEDULES` space their
    ``steps`` non-zero sigmas evenly in some transform of sigma, from ``sigma_max`` to
    ``sigma_min``), so 25 -> 13 -> 7 -> 4."""
    if steps < 2:
        raise ValueError(f"a progressively distilled student takes at least 2 steps, got {steps}")
    return 2 * steps - 1


def euler_step(x: Tensor, x0: Tensor, sigma: Tensor, sigma_next: Tensor) -> Tensor:
    """The deterministic step (DDIM, an Euler step of the probability-flow ODE in sigma) from ``x``
    at ``sigma [n]`` to ``sigma_next [n]`` with the estimate ``x0``: ``x0 + (sigma_next / sigma) (x - x0)``."""
    return x0 + schedules.expand_to(sigma_next / sigma, x) * (x - x0)


def two_step_target(teacher: Callable[[Tensor, Tensor], Tensor], x: Tensor, sigma: Tensor, middle: Tensor,
                    sigma_next: Tensor) -> Tensor:
    """The ``x0`` estimate ``[n, n_mels, frames]`` whose :func:`euler_step` from ``sigma`` to
    ``sigma_next`` lands where two of ``teacher``'s (``sigma -> middle -> sigma_next``) land.

    Rows with ``sigma_next = 0`` (the last step, ``middle = 0`` too) take the teacher's estimate
    at ``sigma``, which is where its last step lands. ``x [n, ...]``, sigmas ``[n]``, ``sigma > middle >= sigma_next``.
    """
    first = teacher(x, sigma)
    last = sigma_next == 0
    halfway = euler_step(x, first, sigma, middle)
    second = teacher(halfway, torch.where(last, sigma, middle))
    landed = euler_step(halfway, second, torch.where(last, sigma, middle), sigma_next)
    ratio = schedules.expand_to(sigma_next / sigma, x)
    target = (landed - ratio * x) / (1 - ratio)
    return torch.where(schedules.expand_to(last, x), first, target)


class ProgressiveDistillModule(GuidanceDistillModule):
    """Progressive distillation of a (guided) teacher into a student of ``steps`` deterministic steps.

    At step ``i`` of the student's schedule (the model's schedule with ``steps`` steps, drawn
    uniformly), the data is noised to ``sigma_i`` and the student learns the ``x0`` estimate whose
    DDIM step to ``sigma_(i+1)`` lands where the teacher's two DDIM steps on the schedule of
    :func:`teacher_steps` land (:func:`two_step_target`), with the teacher guided at a scale drawn
    from ``guidance_range``. The student is guidance-distilled (one pass per step); its teacher may
    be guided the classifier-free way or be guidance-distilled itself (the previous round). The
    exported model samples with ``ddim`` at ``steps`` steps by default; other step counts and
    samplers run, off the schedule it was trained for.

    Args:
        teacher: the model folder to distil; the student starts from its weights.
        steps: the student's steps (the teacher is right at ``2 steps - 1``).
        Other arguments: as :class:`GuidanceDistillModule`.
    """

    ACCEPTS_DISTILLED_TEACHER = True

    def __init__(self, *args, steps: int, **kwargs) -> None:
        teacher_steps(steps)
        super().__init__(*args, **kwargs)
        self.save_hyperparameters("steps")
        self.sampling = dataclasses.replace(self.sampling, steps=steps, sampler="ddim")

    def schedules(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """The student's ``[steps + 1]`` and the teacher's ``[2 steps]`` sigmas (float64)."""
        config, steps = self.diffusion_config, self.hparams.steps
        if config.schedule not in HALVING_SCHEDULES:
            raise ValueError(f"progressive distillation halves the {' or '.join(HALVING_SCHEDULES)} schedule, not "
                             f"{config.schedule!r} (its levels do not nest); set diffusion.schedule")
        student = schedules.get_sigmas(config.schedule, steps, config.sigma_min, config.sigma_max)
        teacher = schedules.get_sigmas(config.schedule, teacher_steps(steps), config.sigma_min, config.sigma_max)
        return student.to(device), teacher.to(device)

    def model_step(self, batch: dict[str, Tensor], generator: torch.Generator, network: torch.nn.Module) -> Tensor:
        """The student's one step against the teacher's two, at a random step of the student's schedule."""
        keep, scale, eps = self.draw(batch, generator)
        x0 = batch["mel"]
        student, teacher = self.schedules(x0.device)
        i = torch.randint(0, self.hparams.steps, (len(x0),), generator=generator, device=self.device)
        sigma, middle, sigma_next = (s.to(x0.dtype) for s in (student[i], teacher[2 * i + 1], student[i + 1]))
        x = x0 + eps * schedules.expand_to(sigma, x0)
        target_x0 = two_step_target(self.teacher_denoiser(batch, keep, scale), x, sigma, middle, sigma_next)
        return self.student_loss(batch, keep, scale, x, sigma, target_x0, network)
