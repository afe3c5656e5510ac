"""The learning-rate schedule of both trainers: linear warm-up, then a cosine down to a floor."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, final_ratio: float) -> float:
    """Learning-rate multiplier at optimizer step ``step``: linear warm-up from ``1 / warmup_steps``
    to 1 over ``warmup_steps`` steps, then a cosine down to ``final_ratio`` at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def schedule_length(trainer: L.Trainer) -> int:
    """The optimizer steps the schedule spans: ``trainer.max_steps``, which every run must set."""
    if trainer.max_steps <= 0:
        raise ValueError("the learning rate follows a cosine until trainer.max_steps; set it "
                         f"(e.g. --trainer.max_steps 10000), got {trainer.max_steps}")
    return trainer.max_steps


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, final_ratio: float
) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` entry for :func:`warmup_cosine`, stepped every optimizer step."""
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, warmup_steps, total_steps, final_ratio))
    return {"scheduler": scheduler, "interval": "step"}
