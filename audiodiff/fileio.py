"""Atomic file output: write to a temporary sibling, then rename, so nothing is left half-written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Raise ``FileExistsError`` with a one-line fix when ``path`` exists and ``overwrite`` is off."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (CLI: --overwrite) to replace it")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    Before the rename every written file (and, for a ``directory``, every folder in it) is
    flushed to disk with ``fsync``; after it the parent folder is, so the new name is durable too.
    On any exception the temporary file or folder is removed and ``path`` is left untouched.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod((0o777 if directory else 0o666) & ~umask)  # mkstemp/mkdtemp make private files
    try:
        yield tmp
        for child in sorted(tmp.rglob("*"), reverse=True) if directory else ():  # files before their folders
            child.chmod((0o777 if child.is_dir() else 0o666) & ~umask)  # some writers make private files
            fsync(child)
        fsync(tmp)
        if directory and path.exists():
            backup = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=path.parent))
            os.replace(path, backup / "old")
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(backup / "old", path)  # put the old folder back
                shutil.rmtree(backup, ignore_errors=True)
                raise
            shutil.rmtree(backup)
        else:
            os.replace(tmp, path)
        fsync(path.parent)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def fsync(path: str | os.PathLike[str]) -> None:
    """Flush a file's or folder's data to disk (folders: their entries; skipped where the OS cannot)."""
    is_dir = os.path.isdir(path)
    if is_dir and os.name == "nt":  # Windows cannot open a folder for fsync; NTFS journals renames
        return
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if is_dir else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) atomically: flushed, fsynced and renamed onto ``path``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any, *, overwrite: bool = False) -> Path:
    """Write ``data`` as indented JSON atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n", overwrite=overwrite)


def file_hash(path: str | os.PathLike[str], length: int = 16) -> str:
    """The first ``length`` hex digits of a file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


class NpyRowWriter:
    """An ``.npy`` array written one row (or block of rows) at a time, never whole in memory.

    Rows go to a temporary file next to ``path`` as they come; :meth:`finish` writes ``path``: the
    ``.npy`` header for the final row count, then the rows, copied in blocks. Closing the writer
    removes the temporary file, finished or not. Plain writes, not a memory map, so the rows
    written do not stay resident in this process. Give it a temporary path from
    :func:`atomic_path` to have the finished array renamed into place.
    """

    def __init__(self, path: str | os.PathLike[str], row_shape: tuple[int, ...], dtype: Any) -> None:
        self.path = Path(path)
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".rows", dir=self.path.parent)
        self._raw_path = Path(name)
        self._raw = os.fdopen(fd, "w+b")

    def append(self, rows: np.ndarray) -> None:
        """Append one row ``[*row_shape]`` or a block ``[k, *row_shape]`` (cast to the dtype)."""
        block = np.ascontiguousarray(rows, dtype=self.dtype)
        if block.shape == self.row_shape:
            block = block[None]
        if block.shape[1:] != self.row_shape:
            raise ValueError(f"{self.path.name}: rows of shape {self.row_shape} expected, got {block.shape}")
        self._raw.write(block.tobytes())
        self.rows += len(block)

    def finish(self) -> Path:
        """Write the ``.npy`` with every row appended so far; return its path."""
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, *self.row_shape)}
        self._raw.flush()
        self._raw.seek(0)
        with open(self.path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            shutil.copyfileobj(self._raw, f, 1 << 20)
        return self.path

    def close(self) -> None:
        self._raw.close()
        self._raw_path.unlink(missing_ok=True)

    def __enter__(self) -> NpyRowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NpyRowReader:
    """Rows of a C-ordered ``.npy`` file read one at a time with plain reads: unlike a memory map,
    the rows read do not stay mapped (and counted as resident memory) in this process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            major, _ = np.lib.format.read_magic(self._file)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran_order, self.dtype = read_header(self._file)
        except BaseException:
            self._file.close()
            raise
        if fortran_order:
            self._file.close()
            raise ValueError(f"{path} is stored in Fortran order; rows cannot be read one at a time")
        self.shape = shape
        self._offset = self._file.tell()
        self._size = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self.shape[0]:
            raise IndexError(f"row {i} of {self.shape[0]}")
        self._file.seek(self._offset + i * self._size)
        return np.frombuffer(self._file.read(self._size), self.dtype).reshape(self.shape[1:])

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> NpyRowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
