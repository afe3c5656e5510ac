"""The studio's history: complete entries on disk, newest first, bounded, read back after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile
import torch

from audiodiff.studio import history as history_module
from audiodiff.studio.history import History

RATE = 8000


def add(history: History, name: str, seconds: float = 0.1) -> history_module.Entry:
    audio = torch.sin(torch.arange(int(RATE * seconds)) * 0.05) * 0.5
    return history.add(name, audio, RATE, {"operation": "generate", "prompt": name, "seed": 1,
                                           "duration": seconds}, b"\x89PNG fake")


def test_entries_hold_every_file_and_survive_a_restart(tmp_path: Path) -> None:
    first = add(History(tmp_path), "a Kick drum!")
    second = add(History(tmp_path), "snare")
    again = History(tmp_path).entries()  # a new History, as after a page reload or a restart: read from disk
    assert [e.id for e in again] == [second.id, first.id]
    entry = again[1]
    assert entry.stem == "a-kick-drum" and entry.settings["prompt"] == "a Kick drum!"
    assert [p.name for p in entry.downloads] == ["a-kick-drum.wav", "a-kick-drum.flac", "a-kick-drum.json"]
    assert json.loads(entry.sidecar.read_text())["seed"] == 1
    assert soundfile.info(entry.wav).frames == soundfile.info(entry.flac).frames == 800
    assert entry.spectrogram.read_bytes() == b"\x89PNG fake"
    assert History(tmp_path).get(first.id) == entry and History(tmp_path).get("../etc") is None
    assert entry.title() == "generate: a Kick drum! (seed 1, 0.10 s)"


def test_bounded_by_count_and_bytes(tmp_path: Path) -> None:
    history = History(tmp_path, max_entries=3)
    made = [add(history, f"s{i}") for i in range(5)]
    assert [e.id for e in history.entries()] == [e.id for e in made[:1:-1]]
    one = sum(p.stat().st_size for p in made[-1].folder.iterdir())
    small = History(tmp_path, max_bytes=int(2.5 * one))
    newest = add(small, "big")
    assert [e.id for e in small.entries()] == [newest.id, made[-1].id]
    tiny = History(tmp_path, max_bytes=1)
    last = add(tiny, "only")
    assert [e.id for e in tiny.entries()] == [last.id]  # the newest stays even when it alone is over


def test_incomplete_hidden_and_foreign_folders_are_not_entries(tmp_path: Path) -> None:
    good = add(History(tmp_path), "good")
    (tmp_path / ".gradio" / "upload").mkdir(parents=True)
    (tmp_path / "20990101-000000-x").mkdir()  # a folder without files
    (tmp_path / "notes.txt").write_text("hi")
    broken = add(History(tmp_path), "broken")
    broken.flac.unlink()
    assert [e.id for e in History(tmp_path).entries()] == [good.id]


def test_a_failed_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(history_module, "write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        add(History(tmp_path), "x")
    assert History(tmp_path).entries() == [] and list(tmp_path.iterdir()) == []
