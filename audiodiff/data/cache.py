"""Writing the training cache: :func:`prepare` streams a dataset folder's clips into it.

Each file's normalised log-mel rows (float16 ``[windows, n_mels, frames]``) are written to a
temporary ``mels.npy`` as soon as they are made, and rows of unchanged files are copied from the
previous cache, so memory does not grow with the dataset. The folder layout and the reader are in
:mod:`audiodiff.data.cache_format`, the caption embeddings in
:mod:`audiodiff.data.caption_embeddings`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from audiodiff.audio import AudioError
from audiodiff.conditioning import ConditionerConfig
from audiodiff.data.cache_format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MELS,
    TEXT_ARRAYS,
    Cache,
    CachedItem,
    CacheError,
    open_cache,
)
from audiodiff.data.cache_report import PrepareReport, tally_skips
from audiodiff.data.caption_embeddings import encoder_settings, write_caption_embeddings
from audiodiff.data.clips import clip_samples, load_clips, training_frames
from audiodiff.data.layouts import DatasetIndex, Entry, scan
from audiodiff.fileio import NpyRowReader, NpyRowWriter, atomic_path, write_json
from audiodiff.spectrogram import MelConfig, MelSpectrogram, normalize


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
    caption: str | None = None,
) -> PrepareReport:
    """Build or update the cache in ``out`` from the dataset folder ``root`` (see :func:`scan`;
    ``caption``, when given, is every file's caption).

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
    index = scan(root, caption)
    frames = training_frames(mel_config, seconds, frames)
    encoder = encoder_settings(conditioner_config)
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
        report.skipped, report.skipped_examples = tally_skips(skipped)
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
            write_caption_embeddings(captions, previous, conditioner_config, progress, paths)
        (out / MANIFEST).unlink(missing_ok=True)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, **settings,
        "seconds": clip_samples(mel_config, frames) / mel_config.sample_rate,
        "root": str(index.root.resolve()), "layout": index.layout, "labels": labels,
        "captions": captions, "items": [asdict(item) for item in _items(rows, captions, labels)],
        "skipped": skipped,
    }


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
    seconds: float | None


_Known = dict[tuple[str, int, int], tuple[list[tuple[int, int, float | None]], list[dict[str, Any]]]]


def _known_files(previous: Cache | None) -> _Known:
    """``(source, size, mtime_ns)`` -> (``(window, row, seconds)`` of its rows, skip records) of a cache."""
    known: _Known = {}
    for row, item in enumerate(previous.items if previous else ()):
        known.setdefault((item.source, item.size, item.mtime_ns), ([], []))[0].append(
            (item.window, row, item.seconds))
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
                for window, row, seconds in old_rows:
                    mels.append(stored[row])
                    rows.append(_Row(entry, size, mtime_ns, window, seconds))
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
    return [_Row(entry, size, mtime_ns, c.window, c.seconds) for c in clips], skipped


def _items(rows: list[_Row], captions: list[str], labels: list[str]) -> list[CachedItem]:
    caption_index = {c: i for i, c in enumerate(captions)}
    label_index = {name: i for i, name in enumerate(labels)}
    return [
        CachedItem(row.entry.source, row.size, row.mtime_ns, row.window,
                   -1 if row.entry.label is None else label_index[row.entry.label],
                   row.entry.split, tuple(caption_index[c] for c in row.entry.captions), row.seconds)
        for row in rows
    ]
