"""``audiodiff train``: LightningCLI over :class:`DiffusionModule` and :class:`AudioDataModule`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI

from audiodiff.data.datamodule import AudioDataModule
from audiodiff.training.checkpoint import AtomicCheckpointIO
from audiodiff.training.module import DiffusionModule


class TrainCLI(LightningCLI):
    """LightningCLI whose trainers write checkpoints atomically, load them weights-only, and pick
    bf16 mixed precision where the hardware has it when the recipe leaves ``precision`` empty."""

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, AtomicCheckpointIO) for p in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        if config.get("precision") is None:
            config["precision"] = default_precision()
        return super()._instantiate_trainer(config, callbacks)


def default_precision() -> str:
    """bf16 mixed precision on GPUs that support it, full precision elsewhere (e.g. on CPUs)."""
    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def train(argv: Sequence[str]) -> None:
    """Run LightningCLI ``fit`` (or the subcommand given first) with ``argv``."""
    args = list(argv)
    if not args or args[0].startswith("-"):
        args = ["fit", *args]
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA copy is eval on purpose
    # sys.argv stays as it is: Lightning's DDP launcher re-runs it for the other ranks
    warnings.filterwarnings("ignore", message=r".*args parameter is intended to run from within Python.*")
    TrainCLI(DiffusionModule, AudioDataModule, args=args, save_config_kwargs={"overwrite": True})
