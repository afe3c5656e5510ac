"""Variable-duration training end to end on toy data: a duration-conditioned model trains on random
canvas lengths, resumes exactly, exports, and generates exact durations."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from audiodiff.cli import main
from audiodiff.conditioning import ConditionerConfig
from audiodiff.config import SamplingDefaults
from audiodiff.data.cache import prepare
from audiodiff.data.cache_format import open_cache
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.toy import make_toy_dataset
from audiodiff.pipeline import Pipeline
from audiodiff.training.checkpoint import AtomicCheckpointIO
from audiodiff.training.module import DiffusionModule
from tests.training.test_diffusion_training import MEL, UNET, StopAt

DURATIONS = (0.25, 1.0)


@pytest.fixture(scope="module")
def long_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Toy sounds of 0.5 s in a cache of 1 s clips: each row is half sound, half padding."""
    root = make_toy_dataset(tmp_path_factory.mktemp("toy") / "meta", layout="metadata", per_class=8,
                            sample_rate=8000, seconds=0.5)
    out = tmp_path_factory.mktemp("cache") / "text"
    prepare(root, out, mel_config=MEL, seconds=1.0, progress=False,
            conditioner_config=ConditionerConfig(kind="text", max_tokens=8))
    return out


def fit(cache: Path, root: Path, max_steps: int, *, ckpt_path: str | None = None,
        callbacks: list | None = None) -> tuple[DiffusionModule, L.Trainer]:
    module = DiffusionModule(unet=UNET, lr=2e-3, warmup_steps=5, ema_decay=0.9, seed=3, duration_conditioning=True,
                             sampling=SamplingDefaults(duration=0.5, window=1.0))
    data = AudioDataModule(cache=str(cache), batch_size=4, val_batches=1, durations=DURATIONS)
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=root / "ckpt", save_last=True,
                                                     every_n_train_steps=4, save_top_k=0)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        use_distributed_sampler=False, gradient_clip_val=1.0, default_root_dir=root,
                        callbacks=[checkpoint, *(callbacks or [])], plugins=[AtomicCheckpointIO()])
    torch.manual_seed(0)
    trainer.fit(module, data, ckpt_path=ckpt_path)
    return module, trainer


class Shapes(L.Callback):
    """The (batch, frames) of every training batch and its ``seconds``."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, float]] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        assert bool((batch["seconds"] == batch["seconds"][0]).all())
        self.seen.append((*batch["mel"].shape[::2], float(batch["seconds"][0])))


def test_cache_records_how_much_of_each_row_is_sound(long_cache: Path) -> None:
    cache = open_cache(long_cache)
    assert cache.frames == 128 and cache.manifest["format_version"] == 2
    seconds = [item.seconds for item in cache.items]
    assert all(0.3 < s <= 0.5 for s in seconds), seconds  # 0.5 s files, cut at their onset


def test_batches_vary_in_length_and_the_model_learns_and_resumes_exactly(long_cache: Path, tmp_path: Path) -> None:
    shapes = Shapes()
    straight, _ = fit(long_cache, tmp_path / "a", 12, callbacks=[shapes])
    frames = {f for _, f, _ in shapes.seen}
    assert len(frames) > 1 and all(f % 16 == 0 and 16 <= f <= 128 for f in frames), shapes.seen
    for batch, f, seconds in shapes.seen:
        assert DURATIONS[0] <= seconds <= DURATIONS[1]
        assert batch == min(4 * 128 // f, len(straight.trainer.datamodule.train_set))
    duration = straight.conditioner.duration
    assert duration is not None and float(duration.mlp[-1].weight.abs().sum()) > 0  # it trained

    _, interrupted = fit(long_cache, tmp_path / "b", 12, callbacks=[StopAt(8)])
    resumed, trainer = fit(long_cache, tmp_path / "b", 12, ckpt_path="last")
    assert trainer.global_step == 12
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name

    main(["export", str(tmp_path / "a" / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "model")])
    pipe = Pipeline.from_pretrained(tmp_path / "model")
    assert pipe.config.conditioner.duration and pipe.config.defaults.window == 1.0
    out = pipe("a deep kick drum thump", steps=3, seed=0, duration=0.3)
    assert out.audio.shape == (1, 2400) and torch.isfinite(out.audio).all()
    long = pipe("a deep kick drum thump", steps=3, seed=0, duration=1.0)  # one piece: the whole window
    assert long.mel.shape[-1] == pipe.frames_for(8000) and long.settings["windows"] == 1
