"""Checks the commands make before any model is loaded or sound generated, and where outputs go."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

EXIT_USAGE = 2
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
# Audio formats audiodiff reads (or users expect) but does not write, and the sidecars' suffix: refused
# as --out, not made into folders.
UNWRITABLE_SUFFIXES = (".mp3", ".m4a", ".aac", ".aif", ".aiff", ".aifc", ".opus", ".wma", ".mp4", ".caf", ".au",
                       ".json")
MAX_NUM = 1000  # sounds per call
MAX_STEPS = 1000  # denoising steps


class CliError(Exception):
    """A user mistake reported as one line on stderr with exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line too (``audiodiff: error: ...``, exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"audiodiff: error: {message}; see: {self.prog} --help\n")


def slug(text: str, limit: int = 40) -> str:
    """A file-name stem made of ``text``: lower-case words joined by dashes."""
    stem = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return stem[:limit].rstrip("-") or "sound"


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_int(flag: str, value: int | None, low: int, high: int, what: str = "") -> None:
    """Refuse ``value`` (unless ``None``: the default) outside ``low..high``, naming ``flag``."""
    if value is not None and not low <= value <= high:
        raise CliError(f"{flag} must be an integer in {low}..{high}{what}, got {value}")


def check_number(flag: str, value: float | None, low: float, high: float = math.inf, *, open_low: bool = False,
                 what: str = "") -> None:
    """Refuse ``value`` (unless ``None``) that is NaN, infinite or outside ``[low, high]`` (``(low, high]``
    with ``open_low``), naming ``flag``."""
    if value is None:
        return
    above = value > low if open_low else value >= low
    if not (math.isfinite(value) and above and value <= high):
        bounds = f">= {low:g}" if high == math.inf else f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise CliError(f"{flag} must be a finite number {bounds}{what}, got {value}")


def check_device(name: str) -> None:
    """Refuse a ``--device`` that torch does not know or this machine does not have."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise CliError(f"--device {name!r} is not a torch device; use cpu, cuda, cuda:N or mps") from err
    fix = "use --device cpu"
    if device.type == "meta":
        raise CliError(f"--device {name} holds no data and cannot make sounds; {fix}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CliError(f"--device {name}: no CUDA GPU is available on this machine; {fix}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CliError(f"--device {name}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise CliError(f"--device {name}: MPS (Apple GPU) is not available on this machine; {fix}")
    elif device.type not in ("cpu", "cuda", "mps"):
        try:
            torch.empty(1, device=device)
        except Exception as err:  # backends fail in their own ways (RuntimeError, AssertionError, ...)
            raise CliError(f"--device {name} is not available on this machine ({first_line(err)}); {fix}") from err


def output_paths(out: Path, num: int, stem: str, tags: Sequence[object], fmt: str | None) -> list[Path]:
    """Where ``num`` outputs go: ``out`` is a file (with an audio suffix; ``x_i`` for several) or a
    folder (``stem_tag`` for each of ``tags``, usually the seeds)."""
    suffix = out.suffix.lower()
    if suffix in AUDIO_SUFFIXES and not out.is_dir():
        if fmt is not None and suffix != f".{fmt}":
            raise CliError(f"--out {out} has suffix {out.suffix} but --format is {fmt}; make them agree")
        if num == 1:
            return [out]
        return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(num)]
    if suffix in UNWRITABLE_SUFFIXES and not out.is_dir():
        raise CliError(f"--out {out}: audiodiff cannot write {suffix} files; give a .wav, .flac or .ogg file "
                       "or a folder (convert afterwards, e.g. `ffmpeg -i x.wav x.mp3`)")
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file without an audio suffix; give a folder or a .wav/.flac/.ogg file")
    return [out / f"{stem}_{tag}.{fmt or 'wav'}" for tag in tags]


def sidecar_path(path: Path) -> Path:
    """The JSON sidecar of an output sound: ``x.wav`` -> ``x.json``."""
    return path.with_suffix(".json")


def check_outputs(paths: Sequence[Path], *, overwrite: bool, folder: bool = False, flag: str = "--out") -> None:
    """Refuse, before any work and naming ``flag``, outputs that cannot be written as asked: an existing
    one (without ``overwrite``), a folder where a file goes (a file where a ``folder`` goes), one under
    a file, or one in a folder this user cannot write to."""
    for path in paths:
        if path.exists() and path.is_dir() != folder:
            kind = "a file" if folder else "a folder"
            raise CliError(f"{flag} {path} is {kind}; choose another {flag}")
        if path.exists() and not overwrite:
            raise CliError(f"{path} exists; pass --overwrite to replace it or choose another {flag}")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
        if not parent.is_dir():
            raise CliError(f"{flag} {path}: {parent} is a file, not a folder; choose another {flag}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CliError(f"cannot write to {parent}: permission denied; choose another {flag}")


def check_sounds_out(paths: Sequence[Path], *, overwrite: bool) -> None:
    """:func:`check_outputs` for sounds and their JSON sidecars."""
    check_outputs([p for path in paths for p in (path, sidecar_path(path))], overwrite=overwrite)


def check_audio_out(path: Path, *, overwrite: bool, flag: str = "--out") -> None:
    """:func:`check_outputs` for one audio file, whose suffix must be a format audiodiff writes."""
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise CliError(f"{flag} {path}: give a .wav, .flac or .ogg file")
    check_outputs([path], overwrite=overwrite, flag=flag)
