"""Training data from a cache: a dataset of mel tensors and a resumable, shardable Lightning module.

The training order is a permutation of ``(seed, epoch)`` sharded over ranks by torch's
:class:`~torch.utils.data.DistributedSampler`. Since :class:`EpochSampler` is one, Lightning
keeps it (it only replaces samplers that are not), whatever ``use_distributed_sampler`` says.
:class:`ResumableLoader` follows Lightning's stateful-dataloader protocol: a checkpoint stores how
many batches of the epoch were consumed and a resumed run skips exactly those.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import lightning
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from audiodiff.conditioning import ConditionerConfig, prompt_pitches
from audiodiff.data.cache import prepare
from audiodiff.data.cache_format import Cache, open_cache
from audiodiff.data.durations import DurationBatchSampler, canvas_frames, fit_to_canvas
from audiodiff.data.layouts import SPLITS, scan
from audiodiff.spectrogram import MelConfig

DEFAULT_MEL = MelConfig()


class MelDataset(Dataset[dict[str, Tensor]]):
    """The clips of one split of a cache.

    Item ``i`` is a dict with ``mel`` float32 ``[n_mels, frames]`` (normalised log-mel),
    ``seconds`` float32 (the canvas it stands for), ``index`` int64 (the cache row), ``label``
    int64 (-1: none) and ``caption_index`` int64 (a row of ``cache.captions``: one of the clip's
    captions, drawn by a generator seeded from ``(seed, epoch, i)``, see :meth:`set_epoch`). Key
    ``(i, seconds)`` fits item ``i`` to a canvas of ``seconds`` (:func:`fit_to_canvas`: ``frames``
    is then :func:`canvas_frames` of it). Text caches add ``pooled`` float32 ``[dim]``,
    ``tokens`` float32 ``[max_tokens, dim]``, ``token_mask`` bool ``[max_tokens]`` and
    ``pitch`` float32 (the MIDI note the caption names, NaN when it names none).

    ``repeat`` maps a source-path prefix (``"sfx/"``: the clips under that folder of the dataset)
    to how many times its clips appear per epoch (:func:`repeated_rows`); each appearance draws its
    own caption.
    """

    def __init__(self, cache: Cache, split: Literal["train", "val"], *, seed: int = 0,
                 repeat: Mapping[str, int] | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.cache, self.split, self.seed, self.epoch = cache, split, seed, 0
        self.rows = repeated_rows(cache, split, repeat or {})
        self.caption_pitch = prompt_pitches(cache.captions) if cache.text_pooled is not None else None

    def set_epoch(self, epoch: int) -> None:
        """Choose the captions of ``epoch`` (each epoch may pair a clip with another phrasing)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def caption_index(self, i: int) -> int:
        """The caption row for item ``i`` in the current epoch."""
        choices = self.cache.items[self.rows[i]].captions
        if len(choices) == 1:
            return choices[0]
        high, low = np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(2)
        generator = torch.Generator().manual_seed(int(high) << 32 | int(low))
        return choices[int(torch.randint(len(choices), (1,), generator=generator))]

    def __getitem__(self, key: int | tuple[int, float]) -> dict[str, Tensor]:
        i, seconds = key if isinstance(key, tuple) else (key, None)
        row = self.rows[i]
        caption = self.caption_index(i)
        mel = torch.from_numpy(np.array(self.cache.mels[row], dtype=np.float32))
        if seconds is None:
            seconds = self.cache.seconds
        else:
            sound = self.cache.items[row].seconds
            config, frames = self.cache.mel_config, self.cache.frames
            mel = fit_to_canvas(mel, self.cache.seconds if sound is None else sound, seconds,
                                canvas_frames(config, seconds, frames), config)
        item = {
            "mel": mel,
            "seconds": torch.tensor(seconds, dtype=torch.float32),
            "index": torch.tensor(row, dtype=torch.int64),
            "label": torch.tensor(self.cache.items[row].label, dtype=torch.int64),
            "caption_index": torch.tensor(caption, dtype=torch.int64),
        }
        if self.cache.text_pooled is not None:
            tokens = torch.from_numpy(np.array(self.cache.text_tokens[caption], dtype=np.float32))
            item["pooled"] = torch.from_numpy(
                np.array(self.cache.text_pooled[caption], dtype=np.float32))
            item["tokens"] = tokens
            item["token_mask"] = torch.arange(tokens.shape[0]) < int(
                self.cache.text_lengths[caption])
            item["pitch"] = self.caption_pitch[caption]
        return item


def repeated_rows(cache: Cache, split: str, repeat: Mapping[str, int]) -> list[int]:
    """The cache rows of ``split``, each repeated by the count of the longest ``repeat`` prefix of
    its source path (1 when none matches); :class:`ValueError` for a count below 1 or a prefix
    that matches no clip of the split (a misspelt folder would otherwise do nothing)."""
    bad = {prefix: count for prefix, count in repeat.items() if not isinstance(count, int) or count < 1}
    if bad:
        raise ValueError(f"repeat counts must be whole numbers >= 1, got {bad}")
    rows, used = [], set()
    for i, item in enumerate(cache.items):
        if item.split != split:
            continue
        matches = [prefix for prefix in repeat if item.source.startswith(prefix)]
        prefix = max(matches, key=len, default=None)
        used.add(prefix)
        rows += [i] * (repeat[prefix] if prefix is not None else 1)
    unused = sorted(set(repeat) - used)
    if unused:
        raise ValueError(f"repeat prefixes {unused} match no {split} clip of {cache.path} (sources look "
                         f"like {cache.items[0].source!r}); give folder prefixes of the dataset")
    return rows


class EpochSampler(DistributedSampler):
    """A permutation of ``(seed, epoch)``, sharded over ``num_replicas`` ranks, from ``start``.

    Each rank gets ``ceil(len / num_replicas)`` indices (the permutation is padded by repeating
    its head, as torch does), so the ranks' sets are disjoint and cover the data when
    ``num_replicas`` divides its length. :meth:`set_epoch` also sets the dataset's epoch.
    """

    def __init__(self, dataset: MelDataset, *, seed: int, num_replicas: int = 1, rank: int = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start :])


class ResumableLoader(DataLoader):
    """Training batches (last partial batch dropped) that can resume mid-epoch.

    Fixed-length clips by default; with ``durations=(low, high)`` each batch is one random canvas
    duration (:class:`DurationBatchSampler`). Lightning saves :meth:`state_dict` in every
    checkpoint (``loops.fit_loop.state_dict.combined_loader``) and calls :meth:`load_state_dict`
    on resume; the next epoch iteration then skips the batches already consumed, so training sees
    exactly the remaining ones.
    """

    def __init__(
        self, dataset: MelDataset, *, batch_size: int, seed: int, num_replicas: int = 1,
        rank: int = 0, num_workers: int = 0, durations: tuple[float, float] | None = None,
    ) -> None:
        if durations is None:
            order = EpochSampler(dataset, seed=seed, num_replicas=num_replicas, rank=rank)
            super().__init__(dataset, batch_size=batch_size, sampler=order, drop_last=True,
                             num_workers=num_workers)
        else:
            order = DurationBatchSampler(len(dataset), batch_size=batch_size, low=durations[0], high=durations[1],
                                         config=dataset.cache.mel_config, max_frames=dataset.cache.frames,
                                         seed=seed, num_replicas=num_replicas, rank=rank,
                                         on_epoch=dataset.set_epoch)
            super().__init__(dataset, batch_sampler=order, num_workers=num_workers)
        self.order, self.clips_per_batch = order, batch_size
        self.durations = None if durations is None else list(durations)
        self.consumed = 0
        self._resume: dict[str, int] | None = None

    def __iter__(self) -> Iterator[Any]:
        # A generator: nothing runs until the first batch is asked for, after Lightning has
        # called set_epoch, so the permutation and worker copies see the right epoch.
        resume, self._resume = self._resume, None
        self.consumed = resume["batches"] if resume and resume["epoch"] == self.order.epoch else 0
        self.order.start = self.consumed * (self.clips_per_batch if self.durations is None else 1)
        for batch in super().__iter__():
            self.consumed += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        order = self.order
        return {"epoch": order.epoch, "batches": self.consumed, "seed": order.seed,
                "batch_size": self.clips_per_batch, "world_size": order.num_replicas,
                "items": len(self.dataset), "durations": self.durations}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Skip ``state["batches"]`` batches when epoch ``state["epoch"]`` is iterated next."""
        now = self.state_dict()
        changed = [f"{k}={now[k]} (checkpoint: {state.get(k)})"
                   for k in ("seed", "batch_size", "world_size", "items", "durations")
                   if state.get(k) != now[k]]
        if changed:
            warnings.warn(
                f"cannot resume the data order exactly: {', '.join(changed)}; the interrupted "
                "epoch restarts from its first batch. Resume with the same settings to avoid this",
                stacklevel=2,
            )
            return
        self._resume = {"epoch": state["epoch"], "batches": state["batches"]}


class AudioDataModule(lightning.LightningDataModule):
    """Train and validation batches from a cache made by :func:`audiodiff.data.prepare`.

    Args:
        cache: the cache folder.
        root: optional dataset folder (class sub-folders or a metadata file); when given, the cache
            is built or updated from it before training (only new or changed files are processed).
        seconds, mel, conditioning: settings used to build the cache from ``root``
            (``conditioning="auto"``: class labels for class folders, captions for metadata files).
        batch_size: clips per batch and device.
        num_workers: DataLoader worker processes (0: load in the main process).
        seed: seeds the data order and caption choice (with the epoch).
        val_batches: validation batches (a fixed subset of the val split; 0: all of it).
        durations: ``[low, high]`` seconds: train on canvases of random durations in that range
            (one per batch, log-uniform; ``batch_size`` is then the batch at the cache's full
            length, shorter canvases get proportionally more clips; see
            :mod:`audiodiff.data.durations`) for a duration-conditioned model. ``None``: every clip
            at the cache's length.
        repeat: ``{source prefix: count}``: train clips whose source path (relative to the dataset
            folder) starts with the prefix appear ``count`` times per epoch, to give a small part
            of a merged dataset more weight (``{"sfx/": 3}``). Validation is not repeated.
    """

    def __init__(
        self, cache: str, root: str | None = None, seconds: float = 2.0, mel: MelConfig = DEFAULT_MEL,
        conditioning: Literal["auto", "text", "class"] = "auto", batch_size: int = 16, num_workers: int = 0,
        seed: int = 0, val_batches: int = 2, durations: tuple[float, float] | None = None,
        repeat: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or num_workers < 0 or val_batches < 0 or seed < 0:
            raise ValueError(
                "need batch_size >= 1, num_workers >= 0, val_batches >= 0 and seed >= 0; got "
                f"{batch_size}, {num_workers}, {val_batches}, {seed}"
            )
        self.save_hyperparameters(ignore=["mel"])
        self.mel = mel
        self._cache: Cache | None = None

    def prepare_data(self) -> None:
        """Build or update the cache from ``root`` (Lightning runs this once, on rank 0)."""
        root = self.hparams.root
        if root is None:
            return
        kind = self.hparams.conditioning
        if kind == "auto":
            kind = "class" if scan(root).layout == "classes" else "text"
        text = ConditionerConfig(kind="text") if kind == "text" else None
        print(prepare(root, self.hparams.cache, mel_config=self.mel, seconds=self.hparams.seconds,
                      conditioner_config=text).summary())

    def setup(self, stage: str | None = None) -> None:
        if self._cache is None:
            self._cache = open_cache(self.hparams.cache)
            self.train_set = MelDataset(self._cache, "train", seed=self.hparams.seed,
                                        repeat=self.hparams.repeat)
            self.val_set = MelDataset(self._cache, "val", seed=self.hparams.seed)

    @property
    def cache(self) -> Cache:
        self.setup()
        return self._cache

    @property
    def labels(self) -> list[str]:
        return self.cache.labels

    @property
    def mel_config(self) -> MelConfig:
        return self.cache.mel_config

    @property
    def conditioner_config(self) -> ConditionerConfig:
        config = self.cache.conditioner_config
        if config is None:
            raise ValueError(f"the cache {self.cache.path} has neither captions nor labels to condition on; "
                             "give the clips labels (class folders) or captions (metadata file)")
        return config

    def train_dataloader(self) -> ResumableLoader:
        self.setup()
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        batch_size = self.hparams.batch_size
        if math.ceil(len(self.train_set) / world) < batch_size:
            raise ValueError(
                f"the train split of {self.cache.path} has {len(self.train_set)} clips, fewer "
                f"than batch_size={batch_size} per device on {world} device(s); lower "
                "batch_size or add audio"
            )
        durations = self.hparams.durations
        return ResumableLoader(self.train_set, batch_size=batch_size, seed=self.hparams.seed,
                               num_replicas=world, rank=rank, num_workers=self.hparams.num_workers,
                               durations=None if durations is None else tuple(durations))

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """The first ``val_batches`` batches of the val split, in cache order (none: ``[]``); with
        ``durations``, the first ``val_batches`` batches of its epoch-0 duration plan."""
        self.setup()
        if self.hparams.durations is not None and len(self.val_set):
            low, high = self.hparams.durations
            plan = DurationBatchSampler(len(self.val_set), batch_size=self.hparams.batch_size, low=low, high=high,
                                        config=self.cache.mel_config, max_frames=self.cache.frames,
                                        seed=self.hparams.seed).plan()
            plan = plan[:self.hparams.val_batches or len(plan)]
            return DataLoader(self.val_set, batch_sampler=plan, num_workers=self.hparams.num_workers) if plan else []
        limit = self.hparams.val_batches * self.hparams.batch_size or len(self.val_set)
        subset = Subset(self.val_set, range(min(limit, len(self.val_set))))
        if not len(subset):
            return []
        return DataLoader(subset, batch_size=self.hparams.batch_size,
                          num_workers=self.hparams.num_workers)
