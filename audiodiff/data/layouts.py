"""Dataset layouts: find the audio files of a folder with their captions, labels and splits.

Three layouts, detected by :func:`scan`:

- ``"metadata"``: the folder holds ``metadata.csv`` or ``metadata.jsonl`` with the columns
  ``path`` (relative to the folder) and ``caption`` (or ``label``), and optionally ``label``,
  ``captions`` (alternative phrasings: a JSON list in JSONL, ``|``-separated in CSV) and
  ``split`` (``"train"`` or ``"val"``).
- ``"classes"``: one sub-folder per class; the label is the folder name and the caption is the
  label with ``_`` and ``-`` read as spaces (``snare_drum`` -> ``"snare drum"``).
- ``"files"``: audio files directly in the folder; the caption is the file name without its
  numbering (``Door_Creak_02.wav`` -> ``"door creak"``), and there are no labels.

:func:`scan` can also give every file one caption instead of the layout's.

Every problem is reported as one ``ValueError`` line that names the file and the fix.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"})
METADATA_FILES = ("metadata.csv", "metadata.jsonl")
SPLITS = ("train", "val")
VAL_FRACTION = 0.05
_SHOWN = 5  # how many offending paths an error message lists

Layout = Literal["classes", "metadata", "files"]
Split = Literal["train", "val"]


@dataclass(frozen=True)
class Entry:
    """One audio file of a dataset.

    Attributes:
        source: the file's path relative to the dataset folder (POSIX form); its identity.
        path: the file on disk.
        captions: one or more phrasings; the first is the main caption.
        label: the class name, or ``None`` when the dataset gives none for this file.
        split: ``"train"`` or ``"val"``.
    """

    source: str
    path: Path
    captions: tuple[str, ...]
    label: str | None
    split: Split


class _Row(NamedTuple):
    """A parsed metadata row; ``split`` is ``None`` when the row names none."""

    source: str
    captions: tuple[str, ...]
    label: str | None
    split: Split | None


@dataclass(frozen=True)
class DatasetIndex:
    """The files of a dataset folder; ``labels`` are the sorted distinct labels."""

    root: Path
    layout: Layout
    entries: tuple[Entry, ...]
    labels: tuple[str, ...]


def is_audio(path: Path) -> bool:
    """Whether ``path`` is a visible file with an audio suffix."""
    visible = not path.name.startswith(".")
    return visible and path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()


def scan(root: str | Path, caption: str | None = None) -> DatasetIndex:
    """Index the dataset folder ``root``: a metadata file if present, else class sub-folders, else
    the audio files in it. ``caption`` (when given) replaces every file's captions.

    Files without a split from the metadata are split by :func:`hash_split` (only when no file
    has one: a metadata file that names splits puts files without one into ``"train"``).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"dataset folder {root} does not exist or is not a folder; check the path")
    found = [root / name for name in METADATA_FILES if (root / name).is_file()]
    if len(found) > 1:
        raise ValueError(
            f"{root} holds both {METADATA_FILES[0]} and {METADATA_FILES[1]}; keep only one of them"
        )
    loose = sorted(p for p in root.iterdir() if is_audio(p))
    folders = any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir())
    if found:
        layout, entries = "metadata", _read_metadata(found[0])
    elif loose and not folders:
        layout, entries = "files", _scan_files(root, loose, named=caption is None)
    else:
        layout, entries = "classes", _scan_classes(root)
    if caption is not None:
        if not caption.strip():
            raise ValueError("the caption for every file is empty; describe the sounds in a few words")
        entries = [dataclasses.replace(e, captions=(caption.strip(),)) for e in entries]
    labels = tuple(sorted({e.label for e in entries if e.label is not None}))
    return DatasetIndex(root, layout, tuple(entries), labels)


def hash_split(sources: list[str]) -> set[str]:
    """The sources that form the validation split: 5% (at least 1) chosen by a hash of the path.

    Deterministic and independent of any seed, so every run validates on the same files. With a
    single source there is no validation split.
    """
    if len(sources) < 2:
        return set()
    count = max(1, round(VAL_FRACTION * len(sources)))
    ranked = sorted(sources, key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    return set(ranked[:count])


def _scan_classes(root: Path) -> list[Entry]:
    """Entries of a folder with one sub-folder per class (searched recursively)."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {f: sorted(p for p in f.rglob("*") if is_audio(p)) for f in folders}
    loose = sorted(p.name for p in root.iterdir() if is_audio(p))
    if loose:
        raise ValueError(
            f"{root} has audio files outside class folders ({_listing(loose)}) and no "
            f"{METADATA_FILES[0]}; move them into a sub-folder named after their class, "
            f"or describe the dataset in {root / METADATA_FILES[0]}"
        )
    if not any(files.values()):
        raise ValueError(
            f"no audio files found in {root} (looked for {', '.join(sorted(AUDIO_SUFFIXES))}); "
            f"put them in one sub-folder per class (e.g. {root / 'kick'}/*.wav), directly in the folder "
            f"(captioned by their names), or list them in {root / METADATA_FILES[0]}"
        )
    sources = [p.relative_to(root).as_posix() for paths in files.values() for p in paths]
    val = hash_split(sources)
    return [
        Entry(s, root / s, (_caption_of_label(s.split("/")[0]),), s.split("/")[0],
              "val" if s in val else "train")
        for s in sources
    ]


def _scan_files(root: Path, files: list[Path], *, named: bool) -> list[Entry]:
    """Entries of a folder of audio files, captioned by their names when ``named``."""
    sources = [p.name for p in files]
    captions = {s: caption_of_file_name(Path(s).stem) for s in sources} if named else {s: "" for s in sources}
    unnamed = [s for s, c in captions.items() if named and not c]
    if unnamed:
        raise ValueError(
            f"the names of {_listing(unnamed)} in {root} say nothing about the sound, so they give no caption; "
            "rename them (e.g. door_creak_01.wav), give one caption for all, or describe each in "
            f"{root / METADATA_FILES[1]}"
        )
    val = hash_split(sources)
    return [Entry(s, root / s, (captions[s],), None, "val" if s in val else "train") for s in sources]


def caption_of_file_name(stem: str) -> str:
    """A caption from a file name: separators read as spaces, numbering and case dropped
    (``"Door_Creak-02"`` -> ``"door creak"``, ``"0001"`` -> ``""``)."""
    words = re.split(r"[\s_\-.]+|(?<=[a-z])(?=[A-Z])", stem)
    return " ".join(w.lower() for w in words if w and not w.isdigit())


def _caption_of_label(label: str) -> str:
    return " ".join(label.replace("_", " ").replace("-", " ").split())


def _read_metadata(file: Path) -> list[Entry]:
    """Entries listed in ``metadata.csv`` / ``metadata.jsonl``; checks columns, rows and paths."""
    columns, rows = _read_csv(file) if file.suffix == ".csv" else _read_jsonl(file)
    if "path" not in columns or not {"caption", "label"} & columns:
        raise ValueError(
            f"{file} lacks required columns: it has {sorted(columns) or 'none'}, but needs 'path' "
            "and 'caption' (or 'label'); optional: 'label', 'captions', 'split'; fix the header"
        )
    if not rows:
        raise ValueError(f"{file} lists no files; add one row per audio file")
    parsed = [_parse_row(file, line, row) for line, row in rows]
    seen: dict[str, int] = {}
    for (line, _), row in zip(rows, parsed, strict=True):
        if row.source in seen:
            raise ValueError(
                f"{file} line {line}: {row.source} is already listed on line "
                f"{seen[row.source]}; give alternative captions in one row's 'captions' instead"
            )
        seen[row.source] = line
    root = file.parent
    missing = [row.source for row in parsed if not (root / row.source).is_file()]
    if missing:
        raise ValueError(
            f"{file} lists {len(missing)} file(s) that do not exist: {_listing(missing)}; "
            f"paths are relative to {root}: fix them or remove those rows"
        )
    named = any(row.split is not None for row in parsed)
    val = set() if named else hash_split([row.source for row in parsed])
    return [
        Entry(row.source, root / row.source, row.captions, row.label,
              row.split or ("val" if row.source in val else "train"))
        for row in parsed
    ]


def _parse_row(file: Path, line: int, row: dict[str, Any]) -> _Row:
    """One metadata row (a dict of cells); row errors name the file and line."""

    def bad(problem: str) -> ValueError:
        return ValueError(f"{file} line {line}: {problem}; fix or remove that row")

    values = {}
    for key in ("path", "caption", "label", "split"):
        value = row.get(key)
        if value is not None and not isinstance(value, str | int | float):
            raise bad(f"'{key}' must be text, got {value!r}")
        values[key] = "" if value is None else str(value).strip()
    if not values["path"]:
        raise bad("empty 'path'")
    if PurePosixPath(values["path"]).is_absolute() or ".." in PurePosixPath(values["path"]).parts:
        raise bad(f"path {values['path']!r} must be relative to {file.parent} and stay inside it")
    if values["split"] and values["split"] not in SPLITS:
        raise bad(f"'split' must be 'train' or 'val' (or empty), got {values['split']!r}")
    captions = [values["caption"] or values["label"], *_alternatives(row.get("captions"), bad)]
    if not captions[0]:
        raise bad("no caption: give 'caption' or 'label'")
    return _Row(
        PurePosixPath(values["path"]).as_posix(),
        tuple(dict.fromkeys(c for c in captions if c)),
        values["label"] or None,
        values["split"] or None,
    )


def _alternatives(value: Any, bad: Callable[[str], ValueError]) -> list[str]:
    """The optional ``captions`` cell: a list of strings (JSONL) or ``a|b|c`` (CSV)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [c.strip() for c in value.split("|") if c.strip()]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    raise bad(f"'captions' must be a list of strings, got {value!r}")


def _read_csv(file: Path) -> tuple[set[str], list[tuple[int, dict[str, Any]]]]:
    """Columns and ``(line number, row)`` pairs of a CSV file with a header line."""
    rows = []
    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip() for c in reader.fieldnames or [] if c}
        for row in reader:
            if None in row or None in row.values():
                raise ValueError(
                    f"{file} line {reader.line_num}: expected {len(reader.fieldnames or [])} "
                    "comma-separated fields; quote values that contain commas"
                )
            rows.append((reader.line_num, {k.strip(): v for k, v in row.items()}))
    return columns, rows


def _read_jsonl(file: Path) -> tuple[set[str], list[tuple[int, dict[str, Any]]]]:
    """Keys (over all rows) and ``(line number, row)`` pairs of a JSON-lines file."""
    rows = []
    with open(file, encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"{file} line {line}: not valid JSON ({err.msg}); fix or remove "
                                 "that row") from err
            if not isinstance(row, dict):
                raise ValueError(f"{file} line {line}: expected a JSON object like "
                                 '{"path": "a.wav", "caption": "..."}; fix or remove that row')
            rows.append((line, row))
    return {key for _, row in rows for key in row}, rows


def _listing(names: list[str]) -> str:
    """The first few names and how many more there are."""
    shown = ", ".join(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown} and {len(names) - _SHOWN} more"
