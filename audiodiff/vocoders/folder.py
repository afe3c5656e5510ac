"""A neural vocoder's folder: ``config.json`` (format 2) and ``model.safetensors``.

Format 2 keeps the two configs apart::

    {"format_version": 2, "kind": "vocos", "audiodiff_version": "...",
     "network": {VocosConfig}, "synthesis": {SynthesisConfig}}

Format 1 folders (one flat config, and a head that also predicted a phase) are read through
:func:`upgrade_v1`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from audiodiff.fileio import atomic_path, write_json
from audiodiff.formats import ModelFormatError, read_versioned_json
from audiodiff.vocoders.network import VocosConfig
from audiodiff.vocoders.synthesis import SynthesisConfig
from audiodiff.weights import read_safetensors

FORMAT_VERSION = 2
KIND = "vocos"
CONFIG = "config.json"
WEIGHTS = "model.safetensors"

# Format 1's fields that format 2 keeps, each with the value its reader gave a file written before
# the field existed (prior_nnls_steps: files from before the NNLS prior used the clamped
# pseudo-inverse, 0 steps).
V1_DEFAULTS: dict[str, Any] = {
    "dim": 256, "intermediate_dim": 768, "num_layers": 8, "kernel_size": 7, "max_magnitude": 100.0,
    "magnitude_prior": True, "prior_nnls_steps": 0, "spectral_layers": 0, "spectral_channels": 16,
    "refine_iterations": 0, "refine_fit_steps": 3, "refine_anchor": 0.0,
}
V1_NETWORK = ("mel", "dim", "intermediate_dim", "num_layers", "kernel_size", "max_magnitude", "magnitude_prior",
              "prior_nnls_steps", "spectral_layers", "spectral_channels")
V1_SYNTHESIS = ("refine_iterations", "refine_fit_steps", "refine_anchor")
# Format 1 fields that format 2 has no place for: the network's phase and how it was played.
V1_DROPPED = ("absolute_phase", "phase_source", "frequency_estimate")


def upgrade_v1(config: dict[str, Any], state: dict[str, Tensor]) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """A format-1 ``config.json`` and its weights -> the format-2 config and weights.

    The flat fields split into ``network`` and ``synthesis``; fields the file lacked take the value
    format 1's reader gave them (:data:`V1_DEFAULTS`). The phase settings go
    (:data:`V1_DROPPED`): format 2 always plays the phase integrated from the magnitude at the
    mel-fitted frequency. The head's output was ``[log magnitude; phase]``, chunked in two along
    its output rows: only the log-magnitude rows of ``network.head`` stay.

    Raises:
        ValueError: for fields format 1 never had, or a config without ``mel``.
    """
    fields = {k: v for k, v in config.items() if k not in ("format_version", "kind", "audiodiff_version")}
    unknown = sorted(set(fields) - {*V1_NETWORK, *V1_SYNTHESIS, *V1_DROPPED})
    if unknown or "mel" not in fields:
        raise ValueError(f"not a format-1 vocoder config (unknown fields {unknown}, or no mel)")
    fields = {**V1_DEFAULTS, **fields}
    upgraded = {
        "format_version": FORMAT_VERSION, "kind": KIND, "audiodiff_version": config.get("audiodiff_version"),
        "network": {k: fields[k] for k in V1_NETWORK}, "synthesis": {k: fields[k] for k in V1_SYNTHESIS},
    }
    head = {k: v.chunk(2, dim=0)[0] for k, v in state.items() if k.startswith("network.head.")}
    return upgraded, {**state, **head}


def read_folder(path: Path) -> tuple[VocosConfig, SynthesisConfig, dict[str, Tensor]]:
    """The network config, synthesis config and float32 weights in the vocoder folder ``path``
    (format 1 upgraded).

    Raises:
        ModelFormatError: (a ``ValueError``) when files are missing, corrupt, of another kind or
            from a newer format.
    """
    data = read_versioned_json(path / CONFIG, reads_up_to=FORMAT_VERSION, kind=KIND)
    state = read_safetensors(path / WEIGHTS, lambda why: fail(path, why))
    try:
        if data["format_version"] == 1:
            data, state = upgrade_v1(data, state)
        return VocosConfig.from_dict(data["network"]), SynthesisConfig.from_dict(data["synthesis"]), state
    except (KeyError, TypeError, ValueError) as err:
        raise fail(path, f"{CONFIG} is invalid ({err})") from err


def write_folder(
    path: str | Path, network: VocosConfig, synthesis: SynthesisConfig, state: dict[str, Tensor], *,
    overwrite: bool, dtype: torch.dtype,
) -> Path:
    """Write ``config.json`` (format 2) and ``state`` (in ``dtype``) as ``model.safetensors`` into the
    folder ``path``, next to it first and renamed into place, so it is never half-written."""
    from audiodiff import __version__

    config = {"format_version": FORMAT_VERSION, "kind": KIND, "audiodiff_version": __version__,
              "network": network.to_dict(), "synthesis": synthesis.to_dict()}
    weights = {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}
    with atomic_path(path, overwrite=overwrite, directory=True) as tmp:
        save_file(weights, tmp / WEIGHTS, metadata={"format": "audiodiff-vocoder"})
        write_json(tmp / CONFIG, config)
    return Path(path)


def fail(path: Path, why: str) -> ModelFormatError:
    """The error for a vocoder folder ``path`` that cannot be used because of ``why``."""
    return ModelFormatError(f"{path} is not a usable neural vocoder folder: {why}")
