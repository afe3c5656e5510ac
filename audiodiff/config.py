"""The pipeline config: the one JSON document that decides a model's shape (``config.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiodiff.conditioning import ConditionerConfig
from audiodiff.denoiser import DiffusionConfig
from audiodiff.models.config import UNetConfig
from audiodiff.spectrogram import MelConfig

FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    """A model folder that is missing, corrupt or from an incompatible format."""


@dataclass(frozen=True)
class SamplingDefaults:
    """What ``Pipeline.__call__`` uses when the caller does not say."""

    sampler: str = "dpmpp_2m"
    steps: int = 25
    guidance: float = 3.0
    duration: float = 2.0


@dataclass(frozen=True)
class PipelineConfig:
    """Everything needed to rebuild a pipeline from its weights."""

    mel: MelConfig
    unet: UNetConfig
    conditioner: ConditionerConfig
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    defaults: SamplingDefaults = field(default_factory=SamplingDefaults)
    vocoder: str = "griffinlim"

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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        version = data.get("format_version")
        if not isinstance(version, int):
            raise ModelFormatError("config.json has no format_version; it was not written by audiodiff")
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
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFormatError(f"config.json is invalid: {err}") from err

    @classmethod
    def load(cls, path: Path) -> PipelineConfig:
        """Read ``config.json``; :class:`ModelFormatError` when absent or unreadable."""
        if not path.is_file():
            raise ModelFormatError(f"{path} not found: a model folder needs config.json and model.safetensors")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFormatError(f"{path} is not valid JSON ({err}); the model folder is corrupt") from err
        if not isinstance(data, dict):
            raise ModelFormatError(f"{path} does not hold a JSON object; the model folder is corrupt")
        return cls.from_dict(data)
