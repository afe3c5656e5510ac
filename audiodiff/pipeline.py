"""``Pipeline``: prompt or label -> audio, and the model folder format (config.json + safetensors)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from audiodiff.conditioning import Conditioner, build_conditioner
from audiodiff.config import PipelineConfig
from audiodiff.denoiser import Denoiser
from audiodiff.fileio import atomic_path, file_hash, write_json
from audiodiff.formats import ModelFormatError
from audiodiff.models.config import build_unet
from audiodiff.models.lowrank import merge_factors
from audiodiff.spectrogram import check_mel_config
from audiodiff.vocoders import Vocoder, load_vocoder
from audiodiff.weights import read_safetensors

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
PRETRAINED = Path(__file__).parent / "pretrained"
# The bundled models by name: ``fast`` (the default: a few-step adapter of ``full``) and ``full``
# (the 25-step guided model it was distilled from).
BUNDLED_MODELS = {"fast": PRETRAINED / "fast", "full": PRETRAINED / "default"}
DEFAULT_MODEL = BUNDLED_MODELS["fast"]
MAX_DURATION = 600.0  # seconds one call may generate (windowed past the training length)
MAX_SEED = 2**63 - 1  # seeds are 0..MAX_SEED: int64-safe, and torch.Generator maps them one-to-one
PER_ROW_CONDITIONS = ("prompt", "label")  # settings that may hold one value per row

ProgressFn = Callable[[int, int], None]


@dataclass
class Generation:
    """What a pipeline call returns.

    Attributes:
        audio: ``[num, samples]`` float waveforms in ``[-1, 1]``.
        sample_rate: samples per second of ``audio``.
        seeds: the seed of each row (row ``i`` is reproduced alone with ``seed=seeds[i]``).
        mel: ``[num, n_mels, frames]`` the generated normalised log-mels.
        settings: what produced it, as the JSON sidecar records it: the resolved sampler, steps,
            guidance, duration, conditions and vocoder settings (and, for an operation, its inputs).
    """

    audio: Tensor
    sample_rate: int
    seeds: list[int]
    mel: Tensor
    settings: dict[str, Any] = field(default_factory=dict)

    def row_settings(self, i: int) -> dict[str, Any]:
        """The settings of row ``i`` alone, with its ``seed``: a per-row prompt or label list is
        resolved to row ``i``'s value, and ``seed`` follows the conditions."""
        row: dict[str, Any] = {}
        for key, value in self.settings.items():
            if key in PER_ROW_CONDITIONS and isinstance(value, (list, tuple)):
                value = value[i] if len(value) > 1 else value[0]
            row[key] = value
            if key == "label":
                row["seed"] = self.seeds[i]
        row.setdefault("seed", self.seeds[i])
        return row


def _fail(path: Path, why: str) -> ModelFormatError:
    return ModelFormatError(f"{path} is not a usable audiodiff model: {why}")


class Pipeline:
    """A text- or class-conditioned mel diffusion model with its vocoder."""

    def __init__(
        self, config: PipelineConfig, denoiser: Denoiser, conditioner: Conditioner, vocoder: Vocoder
    ) -> None:
        check_mel_config(config.mel, vocoder.mel_config, what=f"the {vocoder.name} vocoder")
        self.config = config
        self.denoiser = denoiser.eval()
        self.conditioner = conditioner.eval()
        self.vocoder = vocoder.eval()
        self.model_hash: str | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig, vocoder: str | None = None) -> Pipeline:
        """A pipeline with freshly initialised weights."""
        denoiser = Denoiser(build_unet(config.unet), config.diffusion)
        return cls(config, denoiser, build_conditioner(config.conditioner),
                   load_vocoder(vocoder or config.vocoder, config.mel))

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, *, vocoder: str | None = None, device: str | torch.device = "cpu"
    ) -> Pipeline:
        """Load a model folder (``config.json`` + ``model.safetensors``), or a bundled model by
        name (:func:`model_folder`; ``None``: the default)."""
        path = model_folder(path)
        if path in BUNDLED_MODELS.values() and not (path / CONFIG).is_file():
            raise ModelFormatError(f"the bundled model in {path} is not installed; pass a model folder "
                                   "(--model PATH)")
        config, parts = read_model(path)
        pipe = cls.from_config(config, vocoder=_resolve_vocoder(vocoder or config.vocoder, path))
        missing, unexpected = load_parts({"unet": pipe.denoiser.network, "conditioner": pipe.conditioner}, parts,
                                         lambda why: _fail(path, f"weights do not match config.json ({why})"))
        wrong = [f"missing {k}" for k in missing] + [f"unexpected {k}" for k in unexpected]
        if wrong:
            raise _fail(path, f"weights do not match config.json ({', '.join(wrong[:3])}"
                              f"{', ...' if len(wrong) > 3 else ''}); it may come from another audiodiff version")
        pipe.model_hash = file_hash(path / WEIGHTS)
        return pipe.to(device)

    def state_dict(self, dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
        """Flat weights: ``unet.*`` and ``conditioner.*`` (the frozen text encoder is not saved)."""
        state = {f"unet.{k}": v for k, v in self.denoiser.network.state_dict().items()}
        state.update({f"conditioner.{k}": v for k, v in self.conditioner.state_dict().items()})
        return {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}

    def save_pretrained(self, path: str | Path, *, overwrite: bool = False, dtype: torch.dtype = torch.float32) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into the folder ``path`` atomically."""
        with atomic_path(path, overwrite=overwrite, directory=True) as tmp:
            save_file(self.state_dict(dtype), tmp / WEIGHTS, metadata={"format": "audiodiff"})
            write_json(tmp / CONFIG, self.saved_config(Path(path)).to_dict())
        self.model_hash = file_hash(Path(path) / WEIGHTS)
        return Path(path)

    def saved_config(self, path: Path) -> PipelineConfig:
        """The config written into the model folder ``path``: the whole model's, with no ``base``."""
        return dataclasses.replace(self.config, base=None)

    def to(self, device: str | torch.device) -> Pipeline:
        for module in (self.denoiser, self.conditioner, self.vocoder):
            module.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    def encode(self, prompt: Sequence[str] | None, label: Sequence[str | int] | None, num: int):
        """Conditioning for ``num`` rows from prompts or labels (one value is repeated)."""
        kind = self.config.conditioner.kind
        if kind == "class" and prompt is not None:
            raise ValueError("this model is class-conditioned and takes --label, not a text prompt; "
                             f"labels: {', '.join(self.config.conditioner.labels)}")
        if kind == "text" and label is not None:
            raise ValueError("this model is text-conditioned; describe the sound with --prompt instead of --label")
        items = prompt if kind == "text" else label
        if items is None:
            return self.conditioner.null(num)
        items = list(items)
        if len(items) == 1:
            items = items * num
        if len(items) != num:
            raise ValueError(f"got {len(items)} conditions for num={num}; give one or exactly num")
        return self.conditioner(items)

    def __call__(
        self,
        prompt: str | Sequence[str] | None = None,
        *,
        negative_prompt: str | None = None,
        label: str | int | Sequence[str | int] | None = None,
        num: int = 1,
        steps: int | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        seed: int | None = None,
        duration: float | None = None,
        loop: bool = False,
        progress: ProgressFn | None = None,
    ) -> Generation:
        """Generate ``num`` sounds of ``duration`` seconds; row ``i`` uses seed ``seed + i`` and
        equals that request made alone.

        Each row is one sampler run from ``sigma_max`` times seeded noise ``[1, n_mels, frames]``
        through the guided denoiser, then the vocoder. Longer than the model's training duration
        the denoiser sees overlapping windows (memory grows linearly with ``duration``, up to
        ``MAX_DURATION``); ``loop`` makes a seamless loop of exactly ``duration`` seconds. This is
        :func:`audiodiff.operations.generate_long`. ``progress(done, total)`` is called after every
        denoising step of every row.

        Returns ``audio [num, samples]``, ``mel [num, n_mels, frames]`` and the resolved settings.
        """
        from audiodiff.operations.generation import generate_long

        duration = self.config.defaults.duration if duration is None else duration
        return generate_long(self, duration, prompt, label=label, negative_prompt=negative_prompt, num=num,
                             steps=steps, guidance=guidance, sampler=sampler, seed=seed, loop=loop,
                             progress=progress)

    def provenance(self) -> dict[str, Any]:
        """The vocoder's settings and the model's hash, for every sidecar."""
        return {"vocoder": self.vocoder.name, "vocoder_settings": self.vocoder.settings(),
                "sample_rate": self.config.mel.sample_rate, "model_hash": self.model_hash}

    def frames_for(self, samples: int) -> int:
        """Mel frames generated for ``samples`` audio samples: enough that the vocoder's
        ``(frames - 1) * hop_length`` samples cover them, rounded up to the U-Net's multiple."""
        multiple = self.config.unet.length_multiple
        needed = -(-samples // self.config.mel.hop_length) + 1
        return -(-needed // multiple) * multiple


class AdaptedPipeline(Pipeline):
    """A pipeline whose U-Net is a base model's plus low-rank adapters (LoRA), saved as the
    adapters alone: ``model.safetensors`` holds ``unet.<weight>.down`` / ``.up`` factors
    (:func:`~audiodiff.models.lowrank.adapter_factors`) and the conditioner, and ``config.json``
    names the base folder relative to itself (``"base": "../default"``). :func:`read_model` adds
    them back; the denoiser here already holds the merged weights.
    """

    def __init__(self, config: PipelineConfig, denoiser: Denoiser, conditioner: Conditioner, vocoder: Vocoder,
                 *, base: str | Path, factors: dict[str, Tensor]) -> None:
        super().__init__(config, denoiser, conditioner, vocoder)
        self.base, self.factors = Path(base).resolve(), factors

    def state_dict(self, dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
        """The adapter factors as ``unet.*`` and the conditioner as ``conditioner.*``."""
        state = {f"unet.{k}": v for k, v in self.factors.items()}
        state.update({f"conditioner.{k}": v for k, v in self.conditioner.state_dict().items()})
        return {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}

    def saved_config(self, path: Path) -> PipelineConfig:
        return dataclasses.replace(self.config, base=os.path.relpath(self.base, path.resolve()))


def model_folder(spec: str | Path | None) -> Path:
    """The model folder ``spec`` names: ``None`` is the default bundled model, a name of
    :data:`BUNDLED_MODELS` (``fast``, ``full``) that is not a folder here is that bundled model,
    anything else a path."""
    if spec is None:
        return DEFAULT_MODEL
    if str(spec) in BUNDLED_MODELS and not Path(spec).exists():
        return BUNDLED_MODELS[str(spec)]
    return Path(spec)


def check_seed(seed: int | None, num: int = 1) -> None:
    """Refuse a seed whose rows ``seed .. seed + num - 1`` leave ``0 .. MAX_SEED`` (``None``: random)."""
    if seed is not None and not 0 <= seed <= MAX_SEED - (num - 1):
        raise ValueError(f"seed must be in 0..{MAX_SEED - (num - 1)} (row i uses seed + i, for {num} rows), "
                         f"got {seed}")


def read_model(path: Path) -> tuple[PipelineConfig, dict[str, dict[str, Tensor]]]:
    """A model folder's config and its float32 weights split by part: ``"unet"`` and ``"conditioner"``.

    A folder whose config names a ``base`` (a few-step adapter, :class:`AdaptedPipeline`) holds
    low-rank factors of the U-Net's weights and its own conditioner: they are added to the base
    folder's U-Net (:func:`~audiodiff.models.lowrank.merge_factors`), so the result is the whole
    model either way (its config without ``base``).
    """
    if not path.is_dir():
        raise _fail(path, "it is a file, not a model folder" if path.exists() else
                    f"no such folder (bundled models by name: {', '.join(BUNDLED_MODELS)})")
    config = PipelineConfig.load(path / CONFIG)
    state = read_safetensors(path / WEIGHTS, lambda why: _fail(path, why))
    parts = {name: {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
             for name in ("unet", "conditioner")}
    if config.base is None:
        return config, parts
    base = (path / config.base).resolve()
    if not (base / CONFIG).is_file():
        raise _fail(path, f"it adapts the model in {base} (its config's base), which is not there; "
                          "keep the adapter folder next to the model it was made from")
    base_config, base_parts = read_model(base)
    if base_config.unet != config.unet or base_config.mel != config.mel:
        raise _fail(path, f"it adapts a network of another shape or mel than the one in {base}")
    try:
        parts["unet"] = merge_factors(base_parts["unet"], parts["unet"])
    except ValueError as err:
        raise _fail(path, f"its adapter does not fit the model in {base} ({err})") from err
    return dataclasses.replace(config, base=None), parts


def load_parts(modules: dict[str, nn.Module], parts: dict[str, dict[str, Tensor]],
               fail: Callable[[str], Exception]) -> tuple[list[str], list[str]]:
    """Load ``parts[name]`` into ``modules[name]`` (not strictly); return the missing and unexpected
    weight names, as ``name.key``. A tensor of another shape raises ``fail(why)``."""
    missing, unexpected = [], []
    for name, module in modules.items():
        try:
            result = module.load_state_dict(parts[name], strict=False)
        except RuntimeError as err:
            raise fail(str(err).strip().splitlines()[-1].strip()) from err
        missing += [f"{name}.{key}" for key in result.missing_keys]
        unexpected += [f"{name}.{key}" for key in result.unexpected_keys]
    return missing, unexpected


def _resolve_vocoder(spec: str, model_dir: Path) -> str:
    """A vocoder given relative to the model folder (e.g. ``vocoder/``) becomes an absolute path."""
    candidate = model_dir / spec
    return str(candidate) if candidate.is_dir() else spec
