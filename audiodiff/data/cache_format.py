"""The training cache on disk: its folder layout, the manifest's records and the memory-mapped reader.

A cache folder holds

- ``mels.npy``: float16 ``[N, n_mels, frames]`` normalised log-mels (:func:`normalize`), one row
  per clip;
- for text conditioning, one row per distinct caption: ``text_pooled.npy`` float16 ``[C, dim]``,
  ``text_tokens.npy`` float16 ``[C, max_tokens, dim]`` (zero after each caption's tokens) and
  ``text_lengths.npy`` int32 ``[C]`` (token counts);
- ``manifest.json``: the format version, the settings (MelConfig, frames, encoder), the labels
  and captions, the files skipped and why, and per clip its source file (with size and mtime),
  window, label index (-1: none), split, caption indices and ``seconds`` (how much of its row is
  sound before the zero padding; format 1 caches lack it: the whole row).

:func:`audiodiff.data.cache.prepare` writes it; :func:`open_cache` reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiodiff.conditioning import ConditionerConfig
from audiodiff.formats import ModelFormatError, read_versioned_json
from audiodiff.spectrogram import MelConfig, MelConfigMismatch, check_mel_config

FORMAT = "audiodiff-mel-cache"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
MELS = "mels.npy"
TEXT_ARRAYS = ("text_pooled.npy", "text_tokens.npy", "text_lengths.npy")


class CacheError(ModelFormatError):
    """A cache folder that is missing, corrupt, or made with other settings."""


@dataclass(frozen=True)
class CachedItem:
    """One clip of the cache (row ``i`` of ``mels.npy`` is ``items[i]``)."""

    source: str
    size: int
    mtime_ns: int
    window: int
    label: int
    split: str
    captions: tuple[int, ...]
    seconds: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CachedItem:
        return cls(**{**data, "captions": tuple(data["captions"])})


@dataclass(frozen=True, eq=False)
class Cache:
    """An opened cache; the arrays are read-only memory maps (see :func:`open_cache`).

    Pickling re-opens the folder, so worker processes map the files instead of copying them.
    """

    path: Path
    manifest: dict[str, Any]
    items: tuple[CachedItem, ...]
    mels: np.ndarray
    text_pooled: np.ndarray | None = None
    text_tokens: np.ndarray | None = None
    text_lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __reduce__(self) -> tuple[Any, ...]:
        return open_cache, (self.path,)

    @property
    def mel_config(self) -> MelConfig:
        return MelConfig.from_dict(self.manifest["mel_config"])

    @property
    def frames(self) -> int:
        return int(self.manifest["frames"])

    @property
    def seconds(self) -> float:
        """The seconds a row stands for (``frames`` of audio)."""
        return float(self.manifest["seconds"])

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def captions(self) -> list[str]:
        return list(self.manifest["captions"])

    @property
    def conditioner_config(self) -> ConditionerConfig | None:
        """Text config for a text cache; else a class config over the labels (``None``: none)."""
        encoder = self.manifest["encoder"]
        if encoder is not None:
            return ConditionerConfig("text", encoder["name"], encoder["max_tokens"])
        return ConditionerConfig("class", labels=tuple(self.labels)) if self.labels else None


def open_cache(path: str | os.PathLike[str], mel_config: MelConfig | None = None) -> Cache:
    """Memory-map the cache in ``path`` after checking its manifest and array shapes.

    Raises:
        CacheError: no cache there, a newer or corrupt one.
        MelConfigMismatch: ``mel_config`` is given and differs from the cache's (names both).
    """
    path = Path(path)
    manifest = _read_manifest(path)
    try:
        items = tuple(CachedItem.from_dict(item) for item in manifest["items"])
        arrays = [np.load(path / MELS, mmap_mode="r")]
        if manifest["encoder"] is not None:
            arrays += [np.load(path / name, mmap_mode="r") for name in TEXT_ARRAYS]
        cache = Cache(path, manifest, items, *arrays)
        _check_shapes(cache)
        got = cache.mel_config
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise CacheError(
            f"cache {path} is incomplete or corrupt ({type(err).__name__}: {err}); rebuild it "
            "with prepare(..., overwrite=True) (CLI: --overwrite)"
        ) from err
    if mel_config is not None:
        try:
            check_mel_config(mel_config, got, what=f"cache {path}")
        except MelConfigMismatch as err:
            raise MelConfigMismatch(f"{err}, or prepare a new cache with this MelConfig") from err
    return cache


def _read_manifest(path: Path) -> dict[str, Any]:
    """The checked ``manifest.json`` of the cache in ``path``; :class:`CacheError` if none or not one."""
    file = path / MANIFEST
    if not file.is_file():
        raise CacheError(
            f"no cache in {path} ({MANIFEST} is missing); make one with "
            "audiodiff.data.prepare(dataset_folder, out) first"
        )
    try:
        manifest = read_versioned_json(file, reads_up_to=FORMAT_VERSION)
    except ModelFormatError as err:
        raise CacheError(str(err)) from err
    if manifest.get("format") != FORMAT:
        raise CacheError(f"{file} is not an audiodiff cache manifest; choose another folder")
    return manifest


def _check_shapes(cache: Cache) -> None:
    """Raise ``ValueError`` if an array's shape differs from what the manifest implies."""
    encoder, c = cache.manifest["encoder"], len(cache.captions)
    expected = [(MELS, cache.mels, (len(cache.items), cache.mel_config.n_mels, cache.frames))]
    if encoder is not None:
        dim, tokens = encoder["dim"], encoder["max_tokens"]
        arrays = (cache.text_pooled, cache.text_tokens, cache.text_lengths)
        expected += zip(TEXT_ARRAYS, arrays, [(c, dim), (c, tokens, dim), (c,)], strict=True)
    for name, array, shape in expected:
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, the manifest says {shape}")
