"""``audiodiff train``, ``distill``, ``distill-steps``, ``distill-fast`` and ``train-vocoder``: LightningCLI over the
diffusion trainer (:class:`DiffusionModule`, :class:`AudioDataModule`), guidance and progressive
distillation (:class:`GuidanceDistillModule`, :class:`ProgressiveDistillModule`, same data) and
the vocoder trainer (:class:`VocoderModule`,
:class:`WaveformDataModule`).

Every run writes under ``trainer.default_root_dir``: every logger's ``save_dir`` is linked to it,
checkpoint callbacks without a ``dirpath`` save to ``<default_root_dir>/checkpoints`` (the same
folder on every run, so ``--ckpt_path last`` resumes), and
:class:`~audiodiff.training.callbacks.Export` writes the model there.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.waveforms import WaveformDataModule
from audiodiff.training.base import TrainingModule
from audiodiff.training.checkpoint import AtomicCheckpointIO
from audiodiff.training.distill import GuidanceDistillModule, ProgressiveDistillModule
from audiodiff.training.fewstep import FewStepDistillModule
from audiodiff.training.module import DiffusionModule
from audiodiff.training.trajectories import TrajectoryDataModule
from audiodiff.training.vocoder_module import VocoderModule


class TrainCLI(LightningCLI):
    """LightningCLI whose trainers write everything under ``default_root_dir``, write checkpoints
    atomically, load them weights-only, and pick bf16 mixed precision where the hardware has it
    when the recipe leaves ``precision`` empty."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("trainer.default_root_dir", "trainer.logger.init_args.save_dir",
                              compute_fn=lambda root: root or os.getcwd())

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, AtomicCheckpointIO) for p in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        if config.get("precision") is None:
            config["precision"] = default_precision()
        trainer = super()._instantiate_trainer(config, callbacks)
        checkpoint_under_root(trainer)
        return trainer


class VocoderCLI(TrainCLI):
    """:class:`TrainCLI` whose data is read at the sample rate of the vocoder's mel."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.link_arguments("model.network.mel.sample_rate", "data.sample_rate")


def checkpoint_under_root(trainer: Trainer) -> None:
    """Point checkpoint callbacks that name no ``dirpath`` at ``<default_root_dir>/checkpoints``
    (Lightning would pick the logger's versioned folder, a new one on every run)."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
            callback.dirpath = os.path.realpath(os.path.join(trainer.default_root_dir, "checkpoints"))


def default_precision() -> str:
    """bf16 mixed precision on GPUs that support it, full precision elsewhere (e.g. on CPUs)."""
    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def run_cli(cli: type[TrainCLI], module: type[TrainingModule], data: type[LightningDataModule],
            argv: Sequence[str]) -> None:
    """Run ``cli`` ``fit`` (or the subcommand given first) over ``module`` and ``data`` with ``argv``."""
    args = list(argv)
    if not args or args[0].startswith("-"):
        args = ["fit", *args]
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA copy is eval on purpose
    # sys.argv stays as it is: Lightning's DDP launcher re-runs it for the other ranks
    warnings.filterwarnings("ignore", message=r".*args parameter is intended to run from within Python.*")
    cli(module, data, args=args, save_config_kwargs={"overwrite": True})


def train(argv: Sequence[str]) -> None:
    """``audiodiff train``: fit a diffusion model with a recipe (``recipes/debug.yaml`` ...)."""
    run_cli(TrainCLI, DiffusionModule, AudioDataModule, argv)


def distill(argv: Sequence[str]) -> None:
    """``audiodiff distill``: guidance-distil a model with a recipe (``recipes/distill-guidance.yaml``)."""
    run_cli(TrainCLI, GuidanceDistillModule, AudioDataModule, argv)


def distill_steps(argv: Sequence[str]) -> None:
    """``audiodiff distill-steps``: halve a model's steps by progressive distillation
    (``recipes/distill-steps.yaml``)."""
    run_cli(TrainCLI, ProgressiveDistillModule, AudioDataModule, argv)


class FewStepCLI(TrainCLI):
    """:class:`TrainCLI` whose trajectories come from the model's teacher at its guidance range."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.link_arguments("model.teacher", "data.teacher")
        parser.link_arguments("model.guidance_range", "data.guidance_range")


def distill_fast(argv: Sequence[str]) -> None:
    """``audiodiff distill-fast``: distil a model's guided 25-step sampler into a few-step
    low-rank adapter on its trajectories (``recipes/distill-fast.yaml``)."""
    run_cli(FewStepCLI, FewStepDistillModule, TrajectoryDataModule, argv)


def train_vocoder(argv: Sequence[str]) -> None:
    """``audiodiff train-vocoder``: fit the neural vocoder with a recipe (``recipes/vocoder.yaml`` ...)."""
    run_cli(VocoderCLI, VocoderModule, WaveformDataModule, argv)
