"""The vocoder on the shared training stack: the diffusion trainer's dataset layouts, exact resume
(the EMA update is in every checkpoint), ``audiodiff train-vocoder`` under
``--trainer.default_root_dir`` and ``audiodiff export`` of its checkpoints."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from audiodiff.cli import main
from audiodiff.data.toy import make_toy_dataset
from audiodiff.data.waveforms import WaveformDataModule
from audiodiff.training.checkpoint import AtomicCheckpointIO, load_checkpoint
from audiodiff.training.vocoder_module import VocoderModule
from audiodiff.vocoders import SynthesisConfig, VocosConfig
from tests.conftest import TINY_MEL

REPO = Path(__file__).resolve().parents[2]
NETWORK = VocosConfig(mel=TINY_MEL, dim=16, intermediate_dim=32, num_layers=2, spectral_layers=0)


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Class folders, the layout ``audiodiff train`` reads (kick/, hat/, tone/ at 8 kHz)."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy") / "classes", per_class=4, sample_rate=8000, seconds=0.5)


class StopAt(L.Callback):
    """Interrupts a run after ``step`` optimizer steps (the schedule still targets max_steps)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        trainer.should_stop = trainer.global_step >= self.step


def fit(data: Path, root: Path, max_steps: int, *, stop_at: int | None = None,
        ckpt_path: str | None = None) -> VocoderModule:
    torch.manual_seed(0)
    module = VocoderModule(NETWORK, SynthesisConfig(refine_iterations=0), magnitude_weight=1.0, lr=3e-3,
                           warmup_steps=2, ema_decay=0.9)
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=root, save_last=True, every_n_train_steps=4,
                                                     save_top_k=0)
    trainer = L.Trainer(accelerator="cpu", max_steps=max_steps, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        reload_dataloaders_every_n_epochs=1, gradient_clip_val=1.0, default_root_dir=root,
                        callbacks=[checkpoint, *([StopAt(stop_at)] if stop_at else [])],
                        plugins=[AtomicCheckpointIO()])
    trainer.fit(module, WaveformDataModule(str(data), sample_rate=8000, segment_samples=1024, batch_size=4,
                                           train_segments=16, val_segments=4), ckpt_path=ckpt_path)
    return module


def test_the_vocoder_reads_class_folders_and_splits_them_like_the_diffusion_trainer(classes: Path) -> None:
    data = WaveformDataModule(str(classes), sample_rate=8000, segment_samples=512, batch_size=2,
                              train_segments=4, val_segments=2)
    data.setup("fit")
    assert (len(data.sounds["train"]), len(data.sounds["val"]), data.skipped) == (11, 1, 0)
    assert [b.shape for b in data.train_dataloader()] == [(2, 512), (2, 512)]


def test_resume_is_exact(classes: Path, tmp_path: Path) -> None:
    """8 steps straight equal 4 steps + resume to 8 (weights, EMA, optimizer, segments)."""
    straight = fit(classes, tmp_path / "a", 8)
    fit(classes, tmp_path / "b", 8, stop_at=4)
    assert load_checkpoint(tmp_path / "b" / "last.ckpt")["global_step"] == 4
    resumed = fit(classes, tmp_path / "b", 8, ckpt_path="last")
    assert not torch.equal(straight.ema.network.head.weight, straight.vocoder.network.head.weight)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return [row for row in csv.DictReader(f) if row.get("train/loss")]


def test_train_vocoder_writes_under_default_root_dir_and_resumes_from_last(
    classes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["train-vocoder", "--config", str(REPO / "recipes" / "vocoder-debug.yaml"), "--data.root", str(classes),
            "--trainer.default_root_dir", "x", "--data.train_segments", "8"]
    assert main([*args, "--trainer.max_steps", "4"]) == 0
    written = {p.relative_to(work / "x").as_posix() for p in (work / "x").rglob("*") if p.is_file()}
    assert {"checkpoints/last.ckpt", "logs/version_0/metrics.csv", "logs/version_0/config.yaml",
            "vocoder/config.json", "vocoder/model.safetensors"} <= written
    assert [p.name for p in work.iterdir()] == ["x"]  # no ./runs
    assert {v.dtype for v in load_file(work / "x/vocoder/model.safetensors").values()} == {torch.float16}

    assert main([*args, "--trainer.max_steps", "6", "--ckpt_path", "last"]) == 0
    assert load_checkpoint(work / "x/checkpoints/last.ckpt")["global_step"] == 6
    assert len(metrics(work / "x/logs/version_1/metrics.csv")) == 2  # steps 4 and 5 only

    assert main(["export", "x/checkpoints/last.ckpt", "--out", "again", "--fp16"]) == 0
    exported, again = load_file(work / "x/vocoder/model.safetensors"), load_file(work / "again/model.safetensors")
    assert exported.keys() == again.keys() and all(torch.equal(exported[k], again[k]) for k in exported)
