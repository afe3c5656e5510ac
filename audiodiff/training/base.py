"""What the diffusion and the vocoder trainer share: optimizer and schedule, EMA, fine-tuning, export.

A :class:`TrainingModule` subclass saves the hyperparameters ``lr``, ``betas``, ``weight_decay``,
``warmup_steps``, ``final_lr_ratio``, ``ema_decay`` and ``init_from`` (``save_hyperparameters``
in its own ``__init__``, so that LightningCLI sees its signature) and provides:

- ``ema`` and :attr:`~TrainingModule.ema_source`: the moving average and the network it follows;
- :meth:`~TrainingModule.saved_weights`: a saved folder's weights matched to its own modules;
- :meth:`~TrainingModule.exportable` and :meth:`~TrainingModule.exportable_from_checkpoint`:
  the EMA model as an object with ``save_pretrained``, from the module or from a checkpoint;
- ``CONFIG_KEY``: the checkpoint entry holding that model's config (``on_save_checkpoint``);
- ``EXPORT_NAME``: the folder under ``trainer.default_root_dir`` it is exported to by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from audiodiff.pipeline import load_parts
from audiodiff.training.ema import ema_decay, ema_update
from audiodiff.training.schedule import schedule_length, warmup_cosine_scheduler


class Exportable(Protocol):
    """A model that writes itself as a folder (``config.json`` + ``model.safetensors``)."""

    def save_pretrained(self, path: str | Path, *, overwrite: bool = False,
                        dtype: torch.dtype = torch.float32) -> Path: ...


class SavedWeights(NamedTuple):
    """A saved folder's weights ``parts[name]`` for the module's ``modules[name]``, and ``fix``:
    what to change in the recipe when they do not fit."""

    modules: dict[str, nn.Module]
    parts: dict[str, dict[str, Tensor]]
    fix: str


def load_weights(saved: SavedWeights, source: Path) -> list[str]:
    """Load ``saved.parts`` into ``saved.modules``; return the weights (``name.key``) the folder
    ``source`` lacks, which keep their initialisation.

    Raises:
        ValueError: a tensor of another shape, or weights the modules have no place for, naming
            ``source`` and ``saved.fix``.
    """
    missing, unexpected = load_parts(saved.modules, saved.parts, lambda why: ValueError(
        f"the model in {source} has another network shape; {saved.fix} ({why})"))
    if unexpected:
        raise ValueError(f"the model in {source} has weights this recipe's network lacks "
                         f"({', '.join(unexpected[:3])}); {saved.fix}")
    return missing


def submodule_state(state: dict[str, Tensor], name: str) -> dict[str, Tensor]:
    """The entries of a module's ``state`` under the submodule ``name``, without the prefix."""
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


class TrainingModule(L.LightningModule):
    """AdamW with a warm-up + cosine schedule, an EMA updated after every optimizer step, and
    fine-tuning from a saved folder (``init_from``) for the diffusion and vocoder modules."""

    CONFIG_KEY: ClassVar[str]
    EXPORT_NAME: ClassVar[str]
    ema: nn.Module

    @property
    def ema_source(self) -> nn.Module:
        """The trained network that ``ema`` averages."""
        raise NotImplementedError

    def saved_weights(self, path: Path) -> SavedWeights:
        """The weights of the saved folder ``path`` for this module; raises ``ValueError`` when
        its config cannot start this one."""
        raise NotImplementedError

    def exportable(self) -> Exportable:
        """The EMA model, sharing this module's weights."""
        raise NotImplementedError

    @classmethod
    def exportable_from_checkpoint(cls, checkpoint: dict[str, Any]) -> Exportable:
        """The EMA model of a checkpoint of this module (one that holds ``CONFIG_KEY``)."""
        raise NotImplementedError

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: by default one of every trainable parameter."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    @property
    def init_source(self) -> str | None:
        """The saved folder fitting starts from: ``init_from`` (``None``: the initialisation)."""
        return self.hparams.init_from

    def setup(self, stage: str) -> None:
        """Start from :attr:`init_source` when fitting (a resumed checkpoint's weights replace it later)."""
        if self.init_source is not None and stage == "fit":
            new = self.init_weights_from(Path(self.init_source))
            rank_zero_info(f"initialised from {self.init_source}" +
                           (f"; new, left at their initialisation: {', '.join(new)}" if new else ""))

    def init_weights_from(self, path: Path) -> list[str]:
        """Copy the saved folder ``path``'s weights into the network and its EMA; return the
        names it lacked (:func:`load_weights`)."""
        missing = load_weights(self.saved_weights(path), path)
        self.ema.load_state_dict(self.ema_source.state_dict())
        return missing

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """Step, then update the EMA, so that checkpoints saved after this batch include this update."""
        super().optimizer_step(*args, **kwargs)
        ema_update(self.ema, self.ema_source, ema_decay(self.global_step, self.hparams.ema_decay))

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.parameter_groups(), lr=hp.lr, betas=tuple(hp.betas),
                                      weight_decay=hp.weight_decay)
        scheduler = warmup_cosine_scheduler(optimizer, hp.warmup_steps, schedule_length(self.trainer),
                                            hp.final_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
