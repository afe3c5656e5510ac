"""What the page's fields hold, turned into operation arguments; each bad value is a ``ValueError``
that names the field, shown in the page as it is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from audiodiff.audio import load
from audiodiff.fileio import file_hash

MAX_UPLOAD_MB = 50  # the web server refuses larger uploads; sounds read here are held to it too


@dataclass(frozen=True)
class Sound:
    """An uploaded (or reused) sound at the model's rate: ``audio [samples]`` and what its sidecar records."""

    audio: Tensor
    record: dict[str, Any]


def _number(field: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None


def seconds(field: str, value: Any) -> float:
    """A positive, finite number of seconds; an empty field is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{field} is empty: enter a number of seconds, e.g. 2")
    number = _number(field, value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{field} must be a positive number of seconds, got {value}")
    return number


def optional_int(field: str, value: Any) -> int | None:
    """A whole number, or ``None`` for an empty field (the model's default, or a random seed)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(field, value)
    if not number.is_integer():
        raise ValueError(f"{field} must be a whole number, got {value}")
    return int(number)


def optional_float(field: str, value: Any) -> float | None:
    """A finite number, or ``None`` for an empty field (the model's default)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(field, value)
    if not math.isfinite(number):
        raise ValueError(f"{field} must be a finite number, got {value}")
    return number


def text(value: str | None) -> str | None:
    """A text field's value, ``None`` when it is empty."""
    return value.strip() or None if isinstance(value, str) else value


def regions(value: str | None) -> list[tuple[float, float]]:
    """``"0.5:0.8, 1.2:1.4"`` -> ``[(0.5, 0.8), (1.2, 1.4)]`` (start and end in seconds)."""
    spans = []
    for part in (value or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        start, sep, end = part.partition(":")
        try:
            if not sep:
                raise ValueError
            spans.append((float(start), float(end)))
        except ValueError:
            raise ValueError(f"regions: {part.strip()!r} is not START:END in seconds, e.g. 0.5:0.8") from None
    if not spans:
        raise ValueError("regions is empty: enter START:END in seconds, e.g. 0.5:0.8, 1.2:1.4")
    return spans


def sound(path: str | None, sample_rate: int, field: str = "input sound") -> Sound:
    """Read the sound at ``path`` (an upload or a result), mono at ``sample_rate``."""
    if not path:
        raise ValueError(f"{field} is missing: upload a sound or press 'Use as input' on a result")
    file = Path(path)
    if file.is_file() and file.stat().st_size > MAX_UPLOAD_MB * 2**20:
        raise ValueError(f"{field} is larger than {MAX_UPLOAD_MB} MB")
    audio, _ = load(file, sample_rate)
    return Sound(audio[0], {"input": file.name, "input_sha256": file_hash(file, 64),
                            "input_duration": audio.shape[-1] / sample_rate})
