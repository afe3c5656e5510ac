"""Reading a model folder's safetensors weights with one clear error for a missing or corrupt file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor


def read_safetensors(file: Path, fail: Callable[[str], Exception]) -> dict[str, Tensor]:
    """All tensors of ``file`` as float32; ``fail(why)`` builds the error raised when it is missing or corrupt."""
    if not file.is_file():
        raise fail(f"{file.name} is missing")
    try:
        state = load_file(file)
    except (SafetensorError, OSError) as err:
        raise fail(f"{file.name} is corrupt ({err})") from err
    return {k: v.float() for k, v in state.items()}
