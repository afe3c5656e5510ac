"""Teacher trajectories for few-step distillation: what the full sampler does from each noise.

The teacher (the bundled model: ``dpmpp_2m``, 25 steps, classifier-free guidance) is run once from
seeded noise for every batch of cached conditions, and its state is kept at the levels of the
student's schedule (:func:`audiodiff.schedules.karras_open_sigmas`, every ``24 / steps``-th level
of the teacher's) and at the end. A student that, from each kept state, lands on the next one
with one deterministic step reproduces the teacher's sound in ``steps`` passes (trajectory
distillation; the data of Luhman and Luhman's "Knowledge Distillation in Iterative Generative
Models", 2021, cut at intermediate levels as in progressive distillation). Generating the
trajectories costs ``2 x 25`` passes per sound, once; training on them costs one.

:class:`TrajectoryDataModule` writes them as one safetensors file per batch under
``trajectories/<split>/`` (each file atomically, so an interrupted run resumes where it stopped)
and serves each file as one batch.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from audiodiff import samplers, schedules
from audiodiff.config import PipelineConfig
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.durations import DurationBatchSampler
from audiodiff.fileio import atomic_path
from audiodiff.pipeline import CONFIG, Pipeline
from audiodiff.training.distill import guided_teacher, load_teacher

TEACHER_STEPS = 25
KEYS = ("pooled", "tokens", "token_mask", "pitch", "seconds")


def student_levels(steps: int, teacher_steps: int = TEACHER_STEPS) -> list[int]:
    """Indices into the teacher's ``[teacher_steps + 1]`` Karras sigmas of the student's ``steps``
    non-zero sigmas (:func:`~audiodiff.schedules.karras_open_sigmas`): ``0, s, 2 s, ...`` with
    ``s = (teacher_steps - 1) / steps``."""
    if steps < 1 or (teacher_steps - 1) % steps:
        raise ValueError(f"a student's steps must divide {teacher_steps - 1} (the teacher's {teacher_steps} "
                         f"levels), got {steps}")
    stride = (teacher_steps - 1) // steps
    return list(range(0, teacher_steps - 1, stride))


def record(denoiser: samplers.Denoiser, noise: Tensor, sigmas: Tensor, levels: list[int]) -> Tensor:
    """``dpmpp_2m`` from ``noise [n, ...]`` (already scaled by ``sigmas[0]``) down ``sigmas
    [steps + 1]``: the states at ``levels`` (indices into ``sigmas``) and the result, ``[n, len(levels) + 1, ...]``."""
    kept = {0: noise} if 0 in levels else {}

    def keep(step: int, total: int, x: Tensor, denoised: Tensor) -> None:
        if step + 1 in levels:
            kept[step + 1] = x.clone()

    final = samplers.sample_dpmpp_2m(denoiser, noise, sigmas, callback=keep)
    return torch.stack([kept[level] for level in levels] + [final], dim=1)


class Chunks(Dataset[dict[str, Tensor]]):
    """The trajectory files of one split, each one batch (read once, kept in memory)."""

    def __init__(self, files: list[Path]) -> None:
        self.batches = [load_file(f) for f in files]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.batches[i]


def rows_in(file: Path) -> int:
    """The number of trajectories a chunk file holds (read from its header)."""
    with safe_open(file, framework="pt") as f:
        return f.get_slice("states").get_shape()[0]


class TrajectoryDataModule(AudioDataModule):
    """Batches of teacher trajectories made from a cache's conditions (see :mod:`audiodiff.training.trajectories`).

    Args:
        teacher: the model folder whose sampler the student learns (its ``dpmpp_2m`` at
            :data:`TEACHER_STEPS` steps, guided).
        trajectories: the folder the trajectories are written to and read from.
        steps: the student's steps (a divisor of 24).
        train_trajectories, val_trajectories: how many to make from each split (whole batches:
            a few more).
        guidance_range: each trajectory's guidance scale is drawn uniformly from ``[low, high]``.
        Other arguments: as :class:`~audiodiff.data.datamodule.AudioDataModule`; ``batch_size``
            and ``durations`` shape the batches as in training.
    """

    def __init__(self, *args, teacher: str, trajectories: str, steps: int = 4, train_trajectories: int = 3000,
                 val_trajectories: int = 96, guidance_range: tuple[float, float] = (2.0, 4.0), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        student_levels(steps)
        low, high = guidance_range
        if not 1 <= low <= high:
            raise ValueError(f"guidance_range must be [low, high] with 1 <= low <= high, got {list(guidance_range)}")
        if min(train_trajectories, val_trajectories) < 1:
            raise ValueError("train_trajectories and val_trajectories must be >= 1")
        self.save_hyperparameters("teacher", "trajectories", "steps", "train_trajectories", "val_trajectories",
                                  "guidance_range")

    @cached_property
    def teacher_config(self) -> PipelineConfig:
        """The teacher's config (read once from its folder; the teacher itself loads when needed)."""
        return PipelineConfig.load(Path(self.hparams.teacher) / CONFIG)

    def student_sigmas(self) -> Tensor:
        """The student's schedule ``[steps + 1]`` (float64), ``karras_open`` on the teacher's sigma range."""
        d = self.teacher_config.diffusion
        return schedules.karras_open_sigmas(self.hparams.steps, d.sigma_min, d.sigma_max).double()

    def prepare_data(self) -> None:
        """Build the cache if a ``root`` is given, then any trajectory files still missing."""
        super().prepare_data()
        self.generate("train", self.hparams.train_trajectories)
        self.generate("val", self.hparams.val_trajectories)

    def plan(self, split: str, epoch: int) -> list[list[tuple[int, float]]]:
        """Epoch ``epoch``'s batches of ``split`` (keys of :class:`~audiodiff.data.datamodule.MelDataset`)."""
        dataset = self.train_set if split == "train" else self.val_set
        low, high = self.hparams.durations or (self.cache.seconds, self.cache.seconds)
        order = DurationBatchSampler(len(dataset), batch_size=self.hparams.batch_size, low=low, high=high,
                                     config=self.cache.mel_config, max_frames=self.cache.frames,
                                     seed=self.hparams.seed + (split == "val"), on_epoch=dataset.set_epoch)
        order.set_epoch(epoch)
        return order.plan()

    def generate(self, split: str, count: int) -> None:
        """Write ``split``'s trajectory files until they hold at least ``count`` trajectories."""
        self.setup()
        folder = Path(self.hparams.trajectories) / split
        folder.mkdir(parents=True, exist_ok=True)
        dataset = self.train_set if split == "train" else self.val_set
        d = self.teacher_config.diffusion
        sigmas = schedules.karras_sigmas(TEACHER_STEPS, d.sigma_min, d.sigma_max)
        levels = student_levels(self.hparams.steps)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        teacher, made, index, epoch = None, 0, 0, 0
        while made < count:
            for keys in self.plan(split, epoch):
                if made >= count:
                    break
                file = folder / f"{index:05d}.safetensors"
                if not file.is_file():
                    teacher = teacher or load_teacher(self.hparams.teacher, d, accepts_distilled=False).to(device)
                    batch = {k: v.to(device) for k, v in next(iter(DataLoader(dataset, batch_sampler=[keys]))).items()}
                    write_chunk(file, trajectories(teacher, batch, sigmas, levels, self.hparams.guidance_range,
                                                   seed=self.hparams.seed * 100_003 + index * 2 + (split == "val")))
                made += rows_in(file)
                index += 1
            epoch += 1

    def files(self, split: str) -> list[Path]:
        files = sorted((Path(self.hparams.trajectories) / split).glob("*.safetensors"))
        if not files:
            raise ValueError(f"no trajectories in {self.hparams.trajectories}/{split}; they are made before "
                             "training (prepare_data)")
        return files

    def train_dataloader(self) -> DataLoader:
        order = torch.Generator().manual_seed(self.hparams.seed)
        return DataLoader(Chunks(self.files("train")), batch_size=None, shuffle=True, generator=order)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(Chunks(self.files("val")), batch_size=None)


def trajectories(teacher: Pipeline, batch: dict[str, Tensor], sigmas: Tensor, levels: list[int],
                 guidance_range: tuple[float, float], *, seed: int) -> dict[str, Tensor]:
    """One chunk, on the CPU: the teacher's trajectories (:func:`record`, ``states [n, len(levels) + 1,
    n_mels, frames]``) for a cached ``batch``'s conditions (on the teacher's device), its guidance
    scales ``scale [n]`` and the conditions themselves."""
    n, generator, device = batch["mel"].shape[0], torch.Generator().manual_seed(seed), batch["mel"].device
    low, high = guidance_range
    scale = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    noise = torch.randn(batch["mel"].shape, generator=generator) * sigmas[0]  # drawn on the CPU: any device agrees
    with torch.inference_mode():
        fn = guided_teacher(teacher, batch, torch.ones(n, dtype=torch.bool, device=device), scale.float().to(device))
        states = record(fn, noise.to(device), sigmas, levels)
    return {"states": states.cpu(), "scale": scale.float(), **{k: batch[k].cpu() for k in KEYS}}


def write_chunk(file: Path, chunk: dict[str, Tensor]) -> None:
    """Write one chunk's tensors atomically (a crash leaves no half-written file)."""
    with atomic_path(file) as tmp:
        save_file({k: v.contiguous() for k, v in chunk.items()}, tmp)
