"""The training conventions both trainers share (audiodiff/training/base.py, schedule.py): the
learning-rate schedule, the EMA update that checkpoints include, and ``init_from``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader

from audiodiff.training.base import SavedWeights, TrainingModule
from audiodiff.training.checkpoint import AtomicCheckpointIO, load_checkpoint
from audiodiff.training.ema import ema_copy
from audiodiff.training.schedule import schedule_length, warmup_cosine


class Tiny(TrainingModule):
    """A linear network on the shared stack; its saved folder is one safetensors file."""

    CONFIG_KEY = "tiny_config"
    EXPORT_NAME = "tiny"

    def __init__(self, lr: float = 0.1, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
                 warmup_steps: int = 2, final_lr_ratio: float = 0.1, ema_decay: float = 0.9,
                 init_from: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = nn.Linear(3, 2)
        self.ema = ema_copy(self.net)

    @property
    def ema_source(self) -> nn.Module:
        return self.net

    def saved_weights(self, path: Path) -> SavedWeights:
        return SavedWeights({"net": self.net}, {"net": load_file(path / "model.safetensors")}, "fix the recipe")

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return (self.net(batch) - 1).pow(2).mean()


class Record(L.Callback):
    """The learning rate each step ran with, and the EMA weights after each step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.emas: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer: L.Trainer, module: Tiny, *args: object) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_batch_end(self, trainer: L.Trainer, module: Tiny, *args: object) -> None:
        self.emas.append(module.ema.weight.detach().clone())


def test_warmup_cosine_known_values() -> None:
    assert [warmup_cosine(s, 4, 12, 0.1) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warmup_cosine(4, 4, 12, 0.1) == 1.0
    assert warmup_cosine(8, 4, 12, 0.1) == pytest.approx(0.55)  # half way down the cosine
    assert warmup_cosine(12, 4, 12, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(50, 4, 12, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(0, 0, 12, 0.0) == 1.0  # no warm-up
    with pytest.raises(ValueError, match="set it .e.g. --trainer.max_steps"):
        schedule_length(SimpleNamespace(max_steps=-1))


def test_schedule_and_ema_of_a_run_and_its_checkpoints(tmp_path: Path) -> None:
    record = Record()
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=1,
                                                      save_top_k=-1)
    trainer = L.Trainer(accelerator="cpu", max_steps=6, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[record, checkpoints], plugins=[AtomicCheckpointIO()])
    module = Tiny()
    start = module.net.weight.detach().clone()
    trainer.fit(module, DataLoader(torch.randn(12, 3, generator=torch.Generator().manual_seed(1)), batch_size=2))
    assert record.lrs == pytest.approx([0.1 * warmup_cosine(s, 2, 6, 0.1) for s in range(6)])
    assert not torch.equal(record.emas[0], start) and not torch.equal(record.emas[-1], module.net.weight)
    for step, ema in enumerate(record.emas, start=1):  # every checkpoint holds its own step's EMA update
        assert torch.equal(load_checkpoint(tmp_path / f"step={step}.ckpt")["state_dict"]["ema.weight"], ema), step


def test_init_from_fills_the_network_and_its_ema_and_explains_mismatches(tmp_path: Path) -> None:
    saved = {"weight": torch.full((2, 3), 0.5)}
    (tmp_path / "a").mkdir()
    save_file(saved, tmp_path / "a" / "model.safetensors")
    module = Tiny(init_from=str(tmp_path / "a"))
    module.setup("fit")
    assert torch.equal(module.net.weight, saved["weight"]) and torch.equal(module.ema.weight, saved["weight"])
    assert module.init_weights_from(tmp_path / "a") == ["net.bias"]  # left at its initialisation

    (tmp_path / "b").mkdir()
    save_file({"weight": torch.zeros(2, 4)}, tmp_path / "b" / "model.safetensors")
    with pytest.raises(ValueError, match=r"the model in .*b has another network shape; fix the recipe \(.*size"):
        Tiny(init_from=str(tmp_path / "b")).setup("fit")
    (tmp_path / "c").mkdir()
    save_file({**saved, "extra": torch.zeros(1)}, tmp_path / "c" / "model.safetensors")
    with pytest.raises(ValueError, match=r"weights this recipe's network lacks \(net.extra\); fix the recipe"):
        Tiny(init_from=str(tmp_path / "c")).setup("fit")
