"""Training data: dataset layouts, clips, the mel/caption cache and the Lightning data module.

``AudioDataModule``, ``MelDataset``, ``EpochSampler`` and ``ResumableLoader`` are imported on
first use, so preparing a cache does not import Lightning.
"""

from __future__ import annotations

from typing import Any

from audiodiff.data.cache import prepare
from audiodiff.data.cache_format import Cache, CachedItem, CacheError, open_cache
from audiodiff.data.cache_report import PrepareReport
from audiodiff.data.clips import clip_samples, training_frames
from audiodiff.data.layouts import AUDIO_SUFFIXES, DatasetIndex, Entry, hash_split, scan

_LAZY = ("AudioDataModule", "EpochSampler", "MelDataset", "ResumableLoader")

__all__ = [
    "AUDIO_SUFFIXES",
    "Cache",
    "CacheError",
    "CachedItem",
    "DatasetIndex",
    "Entry",
    "PrepareReport",
    "clip_samples",
    "hash_split",
    "open_cache",
    "prepare",
    "scan",
    "training_frames",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from audiodiff.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
