"""Atomic writes: every writer fsyncs what it wrote and its folder, and a failed write keeps the old file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from audiodiff.audio import save
from audiodiff.fileio import NpyRowReader, NpyRowWriter, atomic_path, write_json
from audiodiff.pipeline import Pipeline
from audiodiff.training.checkpoint import AtomicCheckpointIO
from tests.conftest import tiny_config


def write_model(path: Path) -> None:
    Pipeline.from_config(tiny_config()).save_pretrained(path, overwrite=True)


# name -> (write a new version of ``path``, the function that does the actual writing, the position
# of its path argument, whether ``path`` is a folder)
WRITERS: dict[str, tuple[Callable[[Path], object], str, int, bool]] = {
    "json": (lambda path: write_json(path, {"new": 1}, overwrite=True), "pathlib.Path.write_text", 0, False),
    "audio": (lambda path: save(path, torch.zeros(800), 8000, overwrite=True), "soundfile.write", 0, False),
    "checkpoint": (lambda path: AtomicCheckpointIO().save_checkpoint({"w": torch.ones(3)}, path),
                   "torch.save", 1, False),
    "model folder": (write_model, "audiodiff.pipeline.save_file", 1, True),
}
NAMES = {"json": "x.json", "audio": "x.wav", "checkpoint": "last.ckpt", "model folder": "model"}


def old_version(path: Path, folder: bool) -> dict[str, bytes]:
    if folder:
        path.mkdir()
        (path / "config.json").write_text("old config")
        return {"config.json": b"old config"}
    path.write_bytes(b"old bytes")
    return {path.name: b"old bytes"}


def contents(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    return {path.name: path.read_bytes()}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_writers_fsync_the_file_and_its_folder(kind: str, tmp_path: Path, monkeypatch) -> None:
    write, _, _, folder = WRITERS[kind]
    path = tmp_path / NAMES[kind]
    before = old_version(path, folder)
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write(path)
    files = sorted(path.iterdir()) if folder else [path]
    assert contents(path) != before
    for file in [*files, *([path] if folder else [])]:
        assert file.stat().st_ino in synced, f"{file.name} was renamed into place without fsync"
    # the folder's entry (the rename) is synced last, after what was renamed
    assert synced[-1] == tmp_path.stat().st_ino
    assert synced.index(path.stat().st_ino) < len(synced) - 1


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_failure_mid_write_keeps_the_old_file(kind: str, tmp_path: Path, monkeypatch) -> None:
    write, writer, position, folder = WRITERS[kind]
    path = tmp_path / NAMES[kind]
    before = old_version(path, folder)

    def half_then_fail(*args, **kwargs):
        with open(args[position], "wb") as f:
            f.write(b"half a fi")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write(path)
    assert contents(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "temporary files left behind"


def test_a_failed_fsync_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "x.json"
    path.write_text("old")

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output"):
        write_json(path, {"new": 1}, overwrite=True)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_a_failed_folder_swap_puts_the_old_folder_back(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "model"
    path.mkdir()
    (path / "a").write_text("old")
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == path and Path(src).name.endswith(".tmp"):  # the new folder, not the old put back
            raise OSError(18, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="cross-device"), atomic_path(path, overwrite=True, directory=True) as tmp:
        (tmp / "a").write_text("new")
    assert (path / "a").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_npy_row_writer_writes_what_numpy_saves(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).standard_normal((7, 3, 5)).astype(np.float16)
    np.save(tmp_path / "reference.npy", rows)
    with NpyRowWriter(tmp_path / "streamed.npy", (3, 5), np.float16) as writer:
        writer.append(rows[0])
        writer.append(rows[1:4])
        for row in rows[4:]:
            writer.append(row.astype(np.float32))  # cast to the writer's dtype
        with pytest.raises(ValueError, match=r"rows of shape \(3, 5\)"):
            writer.append(np.zeros((3, 4)))
        writer.finish()
    assert (tmp_path / "streamed.npy").read_bytes() == (tmp_path / "reference.npy").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.npy", "streamed.npy"]
    with NpyRowReader(tmp_path / "streamed.npy") as reader:
        assert len(reader) == 7 and reader.dtype == np.float16
        for i in range(7):
            np.testing.assert_array_equal(reader[i], rows[i])
        with pytest.raises(IndexError):
            reader[7]
    with NpyRowWriter(tmp_path / "scalars.npy", (), np.int32) as writer:
        for n in (4, 5, 3):
            writer.append(np.int32(n))
        writer.finish()
    np.testing.assert_array_equal(np.load(tmp_path / "scalars.npy"), [4, 5, 3])
