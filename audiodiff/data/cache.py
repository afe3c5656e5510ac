"""The training cache: normalised log-mels and caption embeddings computed once, memory-mapped.

A cache folder holds

- ``mels.npy``: float16 ``[N, n_mels, frames]`` normalised log-mels (:func:`normalize`), one row
  per clip;
- for text conditioning, one row per distinct caption: ``text_pooled.npy`` float16 ``[C, dim]``,
  ``text_tokens.npy`` float16 ``[C, max_tokens, dim]`` (zero after each caption's tokens) and
  ``text_lengths.npy`` int32 ``[C]`` (token counts);
- ``manifest.json``: the format version, the settings (MelConfig, frames, encoder), the labels
  and captions, the files skipped and why, and per clip its source file (with size and mtime),
  window, label index (-1: none), split and caption indices.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from audiodiff.audio import AudioError
from audiodiff.conditioning import TEXT_ENCODERS, ConditionerConfig, TextConditioner
from audiodiff.data.clips import clip_samples, load_clips, training_frames
from audiodiff.data.layouts import DatasetIndex, Entry, scan
from audiodiff.fileio import NpyRowReader, NpyRowWriter, atomic_path, write_json
from audiodiff.formats import ModelFormatError, read_versioned_json
from audiodiff.spectrogram import (
    MelConfig,
    MelConfigMismatch,
    MelSpectrogram,
    check_mel_config,
    normalize,
)

FORMAT = "audiodiff-mel-cache"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MELS = "mels.npy"
TEXT_ARRAYS = ("text_pooled.npy", "text_tokens.npy", "text_lengths.npy")
_EXAMPLES = 5  # skipped paths listed per reason in a report
_CAPTION_CHUNK = 256  # captions embedded and written per step


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


@dataclass
class PrepareReport:
    """What :func:`prepare` did: files decoded, reused from the cache and dropped, and skips."""

    items: int = 0
    processed: int = 0
    reused: int = 0
    removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for a terminal."""
        skips = ", ".join(
            f"{n} {reason} (e.g. {', '.join(self.skipped_examples[reason])})"
            for reason, n in sorted(self.skipped.items())
        )
        return (
            f"{self.items} clips: {self.processed} files processed, {self.reused} reused, "
            f"{self.removed} removed; skipped: {skips or 'none'}"
        )


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
    encoder, c = cache.manifest["encoder"], len(cache.captions)
    expected = [(MELS, cache.mels, (len(cache.items), cache.mel_config.n_mels, cache.frames))]
    if encoder is not None:
        dim, tokens = encoder["dim"], encoder["max_tokens"]
        arrays = (cache.text_pooled, cache.text_tokens, cache.text_lengths)
        expected += zip(TEXT_ARRAYS, arrays, [(c, dim), (c, tokens, dim), (c,)], strict=True)
    for name, array, shape in expected:
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, the manifest says {shape}")


def prepare(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    mel_config: MelConfig,
    seconds: float,
    conditioner_config: ConditionerConfig | None = None,
    frames: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """Build or update the cache in ``out`` from the dataset folder ``root`` (see :func:`scan`).

    Clips are ``frames`` mel frames long (default: ``seconds`` rounded up to a multiple of 16,
    see :func:`training_frames`). Caption embeddings are stored when ``conditioner_config`` is a
    text config. Silent and unreadable files are skipped and counted in the report.

    Re-running on the same ``out`` decodes only new or changed files (by size and mtime), reuses
    the other rows and embeddings, and drops removed files. A cache made with another MelConfig,
    frames or text encoder is refused (:class:`CacheError` naming both settings): write to a new
    ``out`` folder, or pass ``overwrite=True`` to rebuild it from scratch.

    Memory does not grow with the dataset: each file's mel rows and each chunk of caption
    embeddings is written to a temporary file as soon as it is made. The arrays are renamed into
    place with the manifest last; the manifest is removed while the arrays are swapped, so an
    interrupted update leaves no cache that mixes versions.
    """
    index = scan(root)
    frames = training_frames(mel_config, seconds, frames)
    encoder = _encoder_settings(conditioner_config)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; give a folder for the cache")
    settings = {"mel_config": mel_config.to_dict(), "frames": frames, "encoder": encoder}
    previous = None if overwrite else _previous_cache(out, settings)
    report = PrepareReport()
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        manifest = _write_arrays(out, index, previous, settings, conditioner_config, report, progress)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # the folder this run made, now empty again
        raise
    for name in TEXT_ARRAYS if encoder is None else ():
        (out / name).unlink(missing_ok=True)
    write_json(out / MANIFEST, manifest, overwrite=True)
    report.items = len(manifest["items"])
    return report


def _write_arrays(
    out: Path,
    index: DatasetIndex,
    previous: Cache | None,
    settings: dict[str, Any],
    conditioner_config: ConditionerConfig | None,
    report: PrepareReport,
    progress: bool,
) -> dict[str, Any]:
    """Write ``mels.npy`` (and the text arrays) to temporary files, swap them in with the old
    manifest removed, and return the new manifest (not yet written)."""
    mel_config, frames = MelConfig.from_dict(settings["mel_config"]), settings["frames"]
    with contextlib.ExitStack() as stack:
        mels_tmp = stack.enter_context(atomic_path(out / MELS, overwrite=True))
        mels = stack.enter_context(NpyRowWriter(mels_tmp, (mel_config.n_mels, frames), np.float16))
        rows, skipped = _collect_clips(index.entries, previous, mel_config, frames, report, progress, mels)
        report.skipped, report.skipped_examples = _tally(skipped)
        if not rows:
            raise ValueError(
                f"no usable audio in {index.root}: every file was skipped ({report.summary()}); "
                "check that the files are readable and not silent"
            )
        mels.finish()
        captions = list(dict.fromkeys(c for row in rows for c in row.entry.captions))
        labels = sorted({row.entry.label for row in rows if row.entry.label is not None})
        if settings["encoder"] is not None:
            paths = [stack.enter_context(atomic_path(out / name, overwrite=True)) for name in TEXT_ARRAYS]
            _embed_captions(captions, previous, conditioner_config, progress, paths)
        (out / MANIFEST).unlink(missing_ok=True)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, **settings,
        "seconds": clip_samples(mel_config, frames) / mel_config.sample_rate,
        "root": str(index.root.resolve()), "layout": index.layout, "labels": labels,
        "captions": captions, "items": [asdict(item) for item in _items(rows, captions, labels)],
        "skipped": skipped,
    }


def _encoder_settings(config: ConditionerConfig | None) -> dict[str, Any] | None:
    if config is None or config.kind != "text":
        return None
    return {"name": config.encoder, "max_tokens": config.max_tokens,
            "dim": TEXT_ENCODERS[config.encoder]}


def _previous_cache(out: Path, settings: dict[str, Any]) -> Cache | None:
    """The cache already in ``out`` (``None`` if there is none); refuses other settings."""
    if not (out / MANIFEST).is_file():
        return None
    cache = open_cache(out)
    differences = []
    for key, value in settings.items():
        before = cache.manifest.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            differences += [f"{key}.{k}={v} (cache: {before.get(k)})"
                            for k, v in value.items() if before.get(k) != v]
        elif value != before:
            differences.append(f"{key}={value} (cache: {before})")
    if differences:
        raise CacheError(
            f"{out} holds a cache made with other settings: this run asks for "
            f"{'; '.join(differences)}; write to a new out folder, or pass overwrite=True "
            "(CLI: --overwrite) to rebuild it from scratch"
        )
    return cache


class _Row(NamedTuple):
    """One clip of the new cache (its mel row is already written): its file, fingerprint, window."""

    entry: Entry
    size: int
    mtime_ns: int
    window: int


_Known = dict[tuple[str, int, int], tuple[list[tuple[int, int]], list[dict[str, Any]]]]


def _known_files(previous: Cache | None) -> _Known:
    """``(source, size, mtime_ns)`` -> (``(window, row)`` pairs, skip records) of a cache."""
    known: _Known = {}
    for row, item in enumerate(previous.items if previous else ()):
        known.setdefault((item.source, item.size, item.mtime_ns), ([], []))[0].append(
            (item.window, row))
    for record in previous.manifest["skipped"] if previous else ():
        key = (record["source"], record["size"], record["mtime_ns"])
        known.setdefault(key, ([], []))[1].append(record)
    return known


def _collect_clips(
    entries: tuple[Entry, ...],
    previous: Cache | None,
    mel_config: MelConfig,
    frames: int,
    report: PrepareReport,
    progress: bool,
    mels: NpyRowWriter,
) -> tuple[list[_Row], list[dict[str, Any]]]:
    """Append the mel rows of every file to ``mels``, copied from ``previous`` when the file is
    unchanged; return the rows' descriptions and the skip records."""
    known = _known_files(previous)
    report.removed = len({source for source, *_ in known} - {e.source for e in entries})
    analysis = MelSpectrogram(mel_config)
    num_samples = clip_samples(mel_config, frames)
    rows: list[_Row] = []
    skipped: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        stored = stack.enter_context(NpyRowReader(previous.path / MELS)) if previous else None
        for entry in tqdm(entries, desc="prepare", unit="file", disable=not progress):
            try:
                stat = entry.path.stat()
                size, mtime_ns = stat.st_size, stat.st_mtime_ns
            except OSError:
                size, mtime_ns = 0, 0  # vanished: reported as unreadable by _decode
            if (entry.source, size, mtime_ns) in known:
                assert stored is not None
                old_rows, old_skips = known[(entry.source, size, mtime_ns)]
                for window, row in old_rows:
                    mels.append(stored[row])
                    rows.append(_Row(entry, size, mtime_ns, window))
                skipped += old_skips
                report.reused += 1
            else:
                new_rows, new_skips = _decode(entry, size, mtime_ns, analysis, num_samples, mels)
                rows += new_rows
                skipped += new_skips
                report.processed += 1
    return rows, skipped


def _decode(
    entry: Entry, size: int, mtime_ns: int, analysis: MelSpectrogram, num_samples: int, mels: NpyRowWriter
) -> tuple[list[_Row], list[dict[str, Any]]]:
    """Append the mel rows of one new or changed file to ``mels``; return them and its skip records."""
    record = {"source": entry.source, "size": size, "mtime_ns": mtime_ns}
    try:
        clips, silent = load_clips(entry.path, analysis.config, num_samples)
    except AudioError:
        return [], [{**record, "reason": "unreadable", "count": 1}]
    skipped = [{**record, "reason": "silent", "count": silent}] if silent else []
    if not clips:
        return [], skipped
    with torch.inference_mode():
        block = analysis(torch.cat([clip.audio for clip in clips]))
        mels.append(normalize(block, analysis.config).to(torch.float16).numpy())
    return [_Row(entry, size, mtime_ns, c.window) for c in clips], skipped


def _items(rows: list[_Row], captions: list[str], labels: list[str]) -> list[CachedItem]:
    caption_index = {c: i for i, c in enumerate(captions)}
    label_index = {name: i for i, name in enumerate(labels)}
    return [
        CachedItem(row.entry.source, row.size, row.mtime_ns, row.window,
                   -1 if row.entry.label is None else label_index[row.entry.label],
                   row.entry.split, tuple(caption_index[c] for c in row.entry.captions))
        for row in rows
    ]


def _embed_captions(
    captions: list[str], previous: Cache | None, config: ConditionerConfig, progress: bool, paths: list[Path]
) -> None:
    """Write the text arrays for ``captions`` to ``paths`` (see :data:`TEXT_ARRAYS`), a chunk at a
    time, copying the rows of ``previous`` for known captions and embedding only the new ones."""
    known = {c: i for i, c in enumerate(previous.captions)} if previous is not None else {}
    dim = TEXT_ENCODERS[config.encoder]
    shapes = [(dim,), (config.max_tokens, dim), ()]
    conditioner = None
    with contextlib.ExitStack() as stack:
        old = [stack.enter_context(NpyRowReader(previous.path / name)) for name in TEXT_ARRAYS] if known else []
        writers = [stack.enter_context(NpyRowWriter(path, shape, dtype))
                   for path, shape, dtype in zip(paths, shapes, (np.float16, np.float16, np.int32), strict=True)]
        chunks = range(0, len(captions), _CAPTION_CHUNK)
        for start in tqdm(chunks, desc="captions", unit=f"x{_CAPTION_CHUNK}", disable=not progress):
            chunk = captions[start : start + _CAPTION_CHUNK]
            new = [c for c in chunk if c not in known]
            if new and conditioner is None:
                conditioner = TextConditioner(config)
            embedded = dict(zip(new, conditioner.embed_many(new), strict=True)) if new else {}
            for caption in chunk:
                if caption in embedded:
                    vector, sequence = embedded[caption]
                    tokens = np.zeros((config.max_tokens, dim), np.float16)
                    tokens[: len(sequence)] = sequence.numpy()
                    row = (vector.numpy(), tokens, np.int32(len(sequence)))
                else:
                    row = tuple(array[known[caption]] for array in old)
                for writer, value in zip(writers, row, strict=True):
                    writer.append(value)
        for writer in writers:
            writer.finish()


def _tally(skipped: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Skip records -> (reason -> count, reason -> the first few sources)."""
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for record in skipped:
        counts[record["reason"]] = counts.get(record["reason"], 0) + record["count"]
        shown = examples.setdefault(record["reason"], [])
        if len(shown) < _EXAMPLES:
            shown.append(record["source"])
    return counts, examples
