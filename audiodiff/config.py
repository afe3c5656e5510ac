"""The pipeline config: the one JSON document that decides a model's shape (``config.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiodiff.conditioning import ConditionerConfig
from audiodiff.denoiser import DiffusionConfig
from audiodiff.formats import ModelFormatError, read_versioned_json
from audiodiff.models.config import UNetConfig
from audiodiff.spectrogram import MelConfig

FORMAT_VERSION = 1

__all__ = ["FORMAT_VERSION", "ModelFormatError", "PipelineConfig", "SamplingDefaults"]


@dataclass(frozen=True)
class SamplingDefaults:
    """What ``Pipeline.__call__`` uses when the caller does not say, and ``window``: the longest
    sound (seconds) the network makes in one piece, the length it was trained on (``None``: the
    default ``duration``); longer sounds are made in overlapping windows of it."""

    sampler: str = "dpmpp_2m"
    steps: int = 25
    guidance: float = 3.0
    duration: float = 2.0
    window: float | None = None

    @property
    def window_seconds(self) -> float:
        return self.duration if self.window is None else self.window


@dataclass(frozen=True)
class PipelineConfig:
    """Everything needed to rebuild a pipeline from its weights."""

    mel: MelConfig
    unet: UNetConfig
    conditioner: ConditionerConfig
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    defaults: SamplingDefaults = field(default_factory=SamplingDefaults)
    vocoder: str = "griffinlim"
    base: str | None = None

    def __post_init__(self) -> None:
        if self.unet.n_mels != self.mel.n_mels:
            raise ValueError(f"unet.n_mels={self.unet.n_mels} but mel.n_mels={self.mel.n_mels}")
        if self.unet.cond_dim != self.conditioner.dim:
            raise ValueError(f"unet.cond_dim={self.unet.cond_dim} but conditioner.dim={self.conditioner.dim}")
        if self.unet.token_dim != self.conditioner.token_dim:
            raise ValueError(
                f"unet.token_dim={self.unet.token_dim} but the conditioner gives {self.conditioner.token_dim}"
            )

    def to_dict(self) -> dict[str, Any]:
        from audiodiff import __version__

        return {
            "format_version": FORMAT_VERSION,
            "audiodiff_version": __version__,
            "mel": self.mel.to_dict(),
            "unet": self.unet.to_dict(),
            "conditioner": self.conditioner.to_dict(),
            "diffusion": self.diffusion.to_dict(),
            "defaults": vars(self.defaults).copy(),
            "vocoder": self.vocoder,
            **({"base": self.base} if self.base is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        """The config in ``data``: a ``config.json`` read by :meth:`load` (which checks the file's
        format with :func:`read_versioned_json`), or the copy a training checkpoint holds, whose
        version is checked here."""
        version = data.get("format_version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelFormatError("the model config has no format_version; it was not written by audiodiff")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"this model uses format {version} but this audiodiff reads up to {FORMAT_VERSION}; "
                "upgrade with: pip install -U audiodiff"
            )
        try:
            return cls(
                mel=MelConfig.from_dict(data["mel"]),
                unet=UNetConfig.from_dict(data["unet"]),
                conditioner=ConditionerConfig.from_dict(data["conditioner"]),
                diffusion=DiffusionConfig.from_dict(data["diffusion"]),
                defaults=SamplingDefaults(**data.get("defaults", {})),
                vocoder=data.get("vocoder", "griffinlim"),
                base=data.get("base"),
            )
        except (KeyError, TypeError, ValueError) as err:
            why = f"missing {err}" if isinstance(err, KeyError) else str(err)
            raise ModelFormatError(f"the model config is invalid ({why})") from err

    @classmethod
    def load(cls, path: Path) -> PipelineConfig:
        """Read ``config.json``; :class:`ModelFormatError` when absent, unreadable or too new."""
        data = read_versioned_json(path, reads_up_to=FORMAT_VERSION)
        try:
            return cls.from_dict(data)
        except ModelFormatError as err:
            raise ModelFormatError(f"{path}: {err}; the model folder is corrupt or from another version") from err
