"""``audiodiff train``: LightningCLI over :class:`DiffusionModule` and :class:`AudioDataModule`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI

from audiodiff.data.datamodule import AudioDataModule
from audiodiff.training.checkpoint import AtomicCheckpointIO
from audiodiff.training.module import DiffusionModule


class TrainCLI(LightningCLI):
    """LightningCLI whose trainers always write checkpoints atomically and load them weights-only."""

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, AtomicCheckpointIO) for p in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super()._instantiate_trainer(config, callbacks)


def train(argv: Sequence[str]) -> None:
    """Run LightningCLI ``fit`` (or the subcommand given first) with ``argv``."""
    args = list(argv)
    if not args or args[0].startswith("-"):
        args = ["fit", *args]
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA copy is eval on purpose
    # sys.argv stays as it is: Lightning's DDP launcher re-runs it for the other ranks
    warnings.filterwarnings("ignore", message=r".*args parameter is intended to run from within Python.*")
    TrainCLI(DiffusionModule, AudioDataModule, args=args, save_config_kwargs={"overwrite": True})
