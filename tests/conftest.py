"""Shared fixtures: tiny CPU pipelines (text and class) saved to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from audiodiff.conditioning import ConditionerConfig
from audiodiff.config import PipelineConfig, SamplingDefaults
from audiodiff.models.config import UNetConfig
from audiodiff.pipeline import Pipeline
from audiodiff.spectrogram import MelConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
LABELS = ("kick", "snare", "hat")


def tiny_config(kind: str = "1d", conditioning: str = "class") -> PipelineConfig:
    """A pipeline config small enough to sample in well under a second on a CPU."""
    cond = (ConditionerConfig(kind="class", labels=LABELS, dim=16) if conditioning == "class"
            else ConditionerConfig(kind="text", max_tokens=8))
    unet = UNetConfig(kind=kind, n_mels=TINY_MEL.n_mels, base_channels=8, channel_mults=(1, 2),
                      num_res_blocks=1, attention_levels=(1,), num_heads=2, cond_dim=cond.dim,
                      token_dim=cond.token_dim, groups=4)
    return PipelineConfig(mel=TINY_MEL, unet=unet, conditioner=cond,
                          defaults=SamplingDefaults(steps=4, guidance=2.0, duration=0.25))


def perturbed(pipe: Pipeline, seed: int = 0) -> Pipeline:
    """Give every weight a random value so outputs depend on inputs (zero-initialised layers otherwise hide it)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in [*pipe.denoiser.parameters(), *pipe.conditioner.parameters()]:
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return pipe


def save_tiny(factory: pytest.TempPathFactory, name: str, kind: str, conditioning: str, seed: int) -> Path:
    """A perturbed tiny pipeline saved to a fresh temporary folder."""
    path = factory.mktemp("models") / name
    perturbed(Pipeline.from_config(tiny_config(kind, conditioning)), seed=seed).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def class_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory, "class-1d", "1d", "class", 0)


@pytest.fixture(scope="session")
def text_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory, "text-2d", "2d", "text", 1)


@pytest.fixture(scope="session")
def text_1d_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory, "text-1d", "1d", "text", 3)
