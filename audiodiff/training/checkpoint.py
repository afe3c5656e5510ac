"""Checkpoints: atomic writes, weights-only loading, and export of a checkpoint's EMA model to a folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file and renames it, so a kill never leaves a torn file;
    loads with ``weights_only=True`` so a checkpoint can never run code."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        from audiodiff.fileio import atomic_path  # written, flushed and fsynced, then renamed

        with atomic_path(path, overwrite=True) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location=map_location)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a training checkpoint safely (tensors and plain Python values only).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: one line naming ``path`` when torch's weights-only unpickler refuses it (objects
            that could run code: nothing ran), it is empty or cut short, or it is no checkpoint at all.
    """
    path = Path(path)
    fix = "give a .ckpt file written by audiodiff train"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; give the path of a .ckpt file written by audiodiff train")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except EOFError as err:
        raise ValueError(f"{path} is empty or cut short; {fix}") from err
    except OSError:  # the file system's own one line, naming the file
        raise
    except Exception as err:  # the unpickler fails on arbitrary bytes in many ways (IndexError, ...)
        if type(err).__name__ == "UnpicklingError":  # what the weights-only unpickler refuses
            raise ValueError(f"{path} is not a checkpoint audiodiff can load safely: it holds objects other than "
                             f"tensors and plain values (which could run code when loaded), or is no checkpoint; "
                             f"{fix}") from err
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0]
        raise ValueError(f"{path} is not an audiodiff training checkpoint ({type(err).__name__}: {reason}); {fix}"
                         ) from err


def export_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False,
                      dtype: torch.dtype = torch.float32) -> Path:
    """Write a training checkpoint's EMA model to the folder ``out``: a Pipeline folder for a
    diffusion checkpoint (an adapter folder for a few-step distillation one), a vocoder folder
    for a vocoder one."""
    from audiodiff.training.fewstep import FewStepDistillModule
    from audiodiff.training.module import DiffusionModule
    from audiodiff.training.vocoder_module import VocoderModule

    ckpt = load_checkpoint(ckpt_path)
    kinds = (FewStepDistillModule, DiffusionModule, VocoderModule)
    kind = next((k for k in kinds if k.CONFIG_KEY in ckpt), None)
    if kind is None:
        raise ValueError(f"{ckpt_path} is not an audiodiff training checkpoint (it has none of "
                         f"{', '.join(k.CONFIG_KEY for k in kinds)})")
    try:
        exportable = kind.exportable_from_checkpoint(ckpt)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # a torn or foreign checkpoint's content
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{ckpt_path} is not an audiodiff training checkpoint ({type(err).__name__}: {reason}); "
                         "give a .ckpt file written by audiodiff train") from err
    return exportable.save_pretrained(out, overwrite=overwrite, dtype=dtype)
