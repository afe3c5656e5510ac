"""The studio's history: every result kept on disk as a folder, newest first, bounded in size.

An entry is one folder ``<root>/<id>/`` holding ``<stem>.wav``, ``<stem>.flac``, ``<stem>.json``
(the sidecar) and ``spectrogram.png``, written to a hidden temporary folder and renamed into place
(:func:`audiodiff.fileio.atomic_path`), so a crash never leaves half an entry. The page reads the
history back from disk, so it survives a reload and a restart. Names starting with ``.`` (the
temporaries, the web server's upload cache) are not entries.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from audiodiff.audio import save
from audiodiff.fileio import atomic_path, write_json

SPECTROGRAM = "spectrogram.png"
MAX_ENTRIES = 200
MAX_BYTES = 500 * 2**20


@dataclass(frozen=True)
class Entry:
    """One stored result: its folder, files and settings."""

    id: str
    folder: Path
    stem: str
    settings: dict[str, Any]

    @property
    def wav(self) -> Path:
        return self.folder / f"{self.stem}.wav"

    @property
    def flac(self) -> Path:
        return self.folder / f"{self.stem}.flac"

    @property
    def sidecar(self) -> Path:
        return self.folder / f"{self.stem}.json"

    @property
    def spectrogram(self) -> Path:
        return self.folder / SPECTROGRAM

    @property
    def downloads(self) -> list[Path]:
        """What the page offers to download: the sound as WAV and FLAC, and its sidecar."""
        return [self.wav, self.flac, self.sidecar]

    @property
    def created(self) -> str:
        """When the entry was made, ``YYYY-MM-DD HH:MM:SS`` local time (from its id)."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(self.id[:15], "%Y%m%d-%H%M%S"))

    def title(self) -> str:
        """A one-line name for lists: operation, condition, seed, duration."""
        s = self.settings
        what = s.get("prompt") or s.get("prompt_a") or s.get("label") or "unconditional"
        duration = s.get("duration")
        seconds = f", {duration:.2f} s" if isinstance(duration, (int, float)) else ""
        return f"{s.get('operation', 'generate')}: {what} (seed {s.get('seed')}{seconds})"


def slug(text: str, limit: int = 32) -> str:
    """A file-name stem: lower-case words of ``text`` joined by dashes (``"sound"`` when none)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "sound"


class History:
    """Results under ``root``, keeping the newest ``max_entries`` and at most ``max_bytes`` in all."""

    def __init__(self, root: str | Path, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_entries, self.max_bytes = max_entries, max_bytes

    def add(self, stem: str, audio: Tensor, sample_rate: int, settings: dict[str, Any], spectrogram: bytes) -> Entry:
        """Store ``audio [samples]`` with its sidecar ``settings`` and ``spectrogram`` PNG; prune old entries."""
        now = time.time_ns()
        entry_id = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now // 10**9))}-{now % 10**9:09d}-" \
                   f"{uuid.uuid4().hex[:6]}"
        stem = slug(stem, limit=64)
        with atomic_path(self.root / entry_id, directory=True) as tmp:
            save(tmp / f"{stem}.wav", audio, sample_rate)
            save(tmp / f"{stem}.flac", audio, sample_rate)
            write_json(tmp / f"{stem}.json", settings)
            (tmp / SPECTROGRAM).write_bytes(spectrogram)
        self.prune()
        return Entry(entry_id, self.root / entry_id, stem, settings)

    def entries(self) -> list[Entry]:
        """Every complete entry on disk, newest first (ids ``YYYYMMDD-HHMMSS-<ns>-<random>`` sort by creation time)."""
        found = []
        for folder in sorted(self.root.iterdir(), reverse=True):
            entry = self._read(folder)
            if entry is not None:
                found.append(entry)
        return found

    def get(self, entry_id: str) -> Entry | None:
        """The entry ``entry_id`` (``None`` when it is gone or the id names no entry folder)."""
        if not re.fullmatch(r"[0-9a-f-]+", entry_id or ""):
            return None
        return self._read(self.root / entry_id)

    def prune(self) -> None:
        """Delete the oldest entries beyond ``max_entries`` or past ``max_bytes`` (the newest always stays)."""
        total = 0
        for i, entry in enumerate(self.entries()):
            total += sum(p.stat().st_size for p in entry.folder.iterdir())
            if i > 0 and (i >= self.max_entries or total > self.max_bytes):
                shutil.rmtree(entry.folder, ignore_errors=True)

    def _read(self, folder: Path) -> Entry | None:
        """The entry in ``folder``, or ``None`` for a hidden name, a file or an incomplete folder."""
        if folder.name.startswith(".") or not folder.is_dir():
            return None
        sidecars = list(folder.glob("*.json"))
        if len(sidecars) != 1:
            return None
        try:
            settings = json.loads(sidecars[0].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        entry = Entry(folder.name, folder, sidecars[0].stem, settings)
        return entry if all(p.is_file() for p in [*entry.downloads, entry.spectrogram]) else None
