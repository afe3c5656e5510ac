"""Fine-tuning a saved model on a folder of one's own sounds: the run a ``finetune`` command makes.

A fine-tune run lives in one folder (``run``): the mel cache of the sounds (``cache/``), the
LightningCLI config it trains with (``finetune.yaml``, a complete recipe to rerun or change), the
checkpoints (``checkpoints/last.ckpt``: running again resumes) and the logs. The network starts
from the base model (``init_from``), keeps its architecture, mel and conditioner settings, and
trains for a wall-clock budget (``trainer.max_time``) at a constant learning rate after a short
warm-up; at the end the EMA weights are exported as a model folder.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from audiodiff.config import PipelineConfig
from audiodiff.data.cache import prepare
from audiodiff.data.cache_format import open_cache
from audiodiff.data.durations import SHORTEST
from audiodiff.fileio import write_text

MIN_CLIPS = 4  # training clips a run needs
BATCH_SIZE = 16
LEARNING_RATE = 1e-4
WARMUP_STEPS = 50
EMA_DECAY = 0.995
CHECKPOINT_EVERY = 100  # optimizer steps; a kill loses at most this many
MAX_STEPS = 10**9  # no step limit unless one is asked for: the time budget ends the run


@dataclasses.dataclass(frozen=True)
class FinetuneRun:
    """Where a fine-tune run keeps its files."""

    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def recipe(self) -> Path:
        return self.root / "finetune.yaml"

    @property
    def last_checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.ckpt"


def max_time(minutes: float) -> str:
    """Lightning's ``DD:HH:MM:SS`` for ``minutes`` (rounded up to a whole second)."""
    seconds = math.ceil(minutes * 60)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days:02d}:{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def recipe(base: Path, config: PipelineConfig, run: FinetuneRun, out: Path, *, minutes: float,
           steps: int | None, batch_size: int, overwrite: bool, progress: bool = True) -> dict[str, Any]:
    """The LightningCLI config of a fine-tune of the model folder ``base`` (its ``config``)."""
    unet = {k: v for k, v in dataclasses.asdict(config.unet).items() if k not in ("n_mels", "cond_dim", "token_dim")}
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "auto", "devices": 1, "precision": None,
            "max_steps": steps or MAX_STEPS, "max_epochs": -1, "max_time": max_time(minutes),
            "log_every_n_steps": 10, "val_check_interval": CHECKPOINT_EVERY, "check_val_every_n_epoch": None,
            "num_sanity_val_steps": 0, "gradient_clip_val": 1.0, "use_distributed_sampler": False,
            "default_root_dir": str(run.root), "enable_model_summary": False, "enable_progress_bar": progress,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"name": "logs"}},
            "callbacks": [
                {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                 "init_args": {"save_last": True, "every_n_train_steps": CHECKPOINT_EVERY, "save_top_k": 0}},
                {"class_path": "audiodiff.training.callbacks.Export",
                 "init_args": {"out": str(out), "dtype": "float16", "overwrite": overwrite}},
            ],
        },
        "model": {
            "unet": unet, "diffusion": dataclasses.asdict(config.diffusion), "cond_dropout": 0.1,
            "lr": LEARNING_RATE, "warmup_steps": WARMUP_STEPS, "final_lr_ratio": 1.0, "ema_decay": EMA_DECAY,
            "sampling": dataclasses.asdict(config.defaults), "init_from": str(base),
            "pitch_conditioning": config.conditioner.pitch, "duration_conditioning": config.conditioner.duration,
        },
        "data": {"cache": str(run.cache), "batch_size": batch_size, "val_batches": 1,
                 "durations": [SHORTEST, config.defaults.window_seconds] if config.conditioner.duration else None},
    }


def finetune(folder: str | Path, out: str | Path, *, base: str | Path, minutes: float, run_dir: str | Path,
             caption: str | None = None, steps: int | None = None, overwrite: bool = False,
             progress: bool = True) -> Path:
    """Fine-tune the model folder ``base`` on the sounds in ``folder`` and write the result to ``out``.

    ``folder`` is any dataset layout :func:`audiodiff.data.layouts.scan` reads (a metadata file,
    class sub-folders, or audio files captioned by their names; ``caption`` gives them all one).
    Clips are cut at the base model's duration and mel settings into ``run_dir``'s cache. Training
    runs for ``minutes`` of wall-clock time in all (``steps``: at most that many optimizer steps);
    when ``run_dir`` holds a checkpoint the run resumes from it, so a larger ``minutes`` continues
    a finished run. Returns ``out``.
    """
    from audiodiff.training.cli import train

    base, out, run = Path(base), Path(out), FinetuneRun(Path(run_dir))
    config = PipelineConfig.load(base / "config.json")
    text = config.conditioner if config.conditioner.kind == "text" else None
    text = text and dataclasses.replace(text, pitch=False, duration=False)
    run.root.mkdir(parents=True, exist_ok=True)
    report = prepare(folder, run.cache, mel_config=config.mel, seconds=config.defaults.window_seconds,
                     conditioner_config=text, progress=progress, caption=caption)
    if progress:
        print(report.summary())
    train_clips = sum(item.split == "train" for item in open_cache(run.cache).items)
    if train_clips < MIN_CLIPS:
        raise ValueError(f"{folder} gave {train_clips} training clips; fine-tuning needs at least {MIN_CLIPS} "
                         "(20 to 500 work best)")
    settings = recipe(base, config, run, out, minutes=minutes, steps=steps,
                      batch_size=min(BATCH_SIZE, train_clips), overwrite=overwrite, progress=progress)
    write_text(run.recipe, yaml.safe_dump(settings, sort_keys=False), overwrite=True)
    resume = ["--ckpt_path", str(run.last_checkpoint)] if run.last_checkpoint.is_file() else []
    train(["fit", "--config", str(run.recipe), *resume])
    return out
