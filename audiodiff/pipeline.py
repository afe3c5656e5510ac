"""``Pipeline``: prompt or label -> audio, and the model folder format (config.json + safetensors)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from audiodiff import samplers, schedules
from audiodiff.conditioning import Conditioner, build_conditioner
from audiodiff.conditioning_types import Conditioning
from audiodiff.config import PipelineConfig
from audiodiff.denoiser import Denoiser, guided
from audiodiff.fileio import atomic_path, file_hash, write_json
from audiodiff.formats import ModelFormatError
from audiodiff.models.config import build_unet
from audiodiff.spectrogram import check_mel_config, denormalize
from audiodiff.vocoders import Vocoder, load_vocoder
from audiodiff.weights import read_safetensors

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
DEFAULT_MODEL = Path(__file__).parent / "pretrained" / "default"
MAX_DURATION = 60.0  # seconds one call may generate
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
        """Load a model folder (``config.json`` + ``model.safetensors``); ``None`` = the bundled model."""
        path = Path(path) if path is not None else DEFAULT_MODEL
        if path is DEFAULT_MODEL and not (path / CONFIG).is_file():
            raise ModelFormatError("no bundled default model is installed; pass a model folder (--model PATH)")
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
            write_json(tmp / CONFIG, self.config.to_dict())
        self.model_hash = file_hash(Path(path) / WEIGHTS)
        return Path(path)

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

    @torch.inference_mode()
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
        progress: ProgressFn | None = None,
    ) -> Generation:
        """Generate ``num`` sounds; row ``i`` uses seed ``seed + i`` and equals that request made alone.

        ``progress(done, total)`` is called after every denoising step of every row.
        """
        d = self.config.defaults
        steps = d.steps if steps is None else steps
        guidance = d.guidance if guidance is None else guidance
        sampler = sampler or d.sampler
        duration = d.duration if duration is None else duration
        sample_fn = samplers.get_sampler(sampler)
        frames, samples = self.frames_for(duration)
        if num < 1:
            raise ValueError(f"num must be at least 1, got {num}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not (math.isfinite(guidance) and guidance >= 0):
            raise ValueError(f"guidance must be a finite number >= 0, got {guidance}")
        check_seed(seed, num)
        if negative_prompt is not None and self.config.conditioner.kind != "text":
            raise ValueError("a negative prompt needs a text-conditioned model")

        as_list = [prompt] if isinstance(prompt, str) else prompt
        labels = [label] if isinstance(label, (str, int)) else label
        cond = self.encode(as_list, labels, num)
        uncond = self.conditioner([negative_prompt] * num) if negative_prompt else self.conditioner.null(num)

        base = secrets.randbelow(2**31) if seed is None else int(seed)
        seeds = [base + i for i in range(num)]
        sigmas = schedules.get_sigmas(self.config.diffusion.schedule, steps,
                                      self.config.diffusion.sigma_min, self.config.diffusion.sigma_max)
        mels, audios = [], []
        for i, row_seed in enumerate(seeds):
            # Rows are generated one at a time so that a row never depends on the batch: CPU kernels
            # round differently for different batch sizes and Griffin-Lim amplifies that.
            report = None if progress is None else (lambda s, t, i=i: progress(i * t + s, num * t))
            mel, audio = self._generate(cond.select(slice(i, i + 1)), uncond.select(slice(i, i + 1)),
                                        guidance, sample_fn, sigmas, frames, row_seed, report)
            mels.append(mel)
            audios.append(audio[:, :samples])
        audio = torch.cat(audios).clamp(-1, 1)
        settings = {"prompt": prompt, "negative_prompt": negative_prompt, "label": label, "sampler": sampler,
                    "steps": steps, "guidance": guidance, "duration": duration, **self.provenance()}
        return Generation(audio, self.config.mel.sample_rate, seeds, torch.cat(mels), settings)

    def provenance(self) -> dict[str, Any]:
        """The vocoder's settings and the model's hash, for every sidecar."""
        return {"vocoder": self.vocoder.name, "vocoder_settings": self.vocoder.settings(),
                "sample_rate": self.config.mel.sample_rate, "model_hash": self.model_hash}

    def _generate(self, cond: Conditioning, uncond: Conditioning, guidance: float, sample_fn: samplers.Sampler,
                  sigmas: Tensor, frames: int, seed: int, progress: ProgressFn | None) -> tuple[Tensor, Tensor]:
        """One sound: (normalised log-mel ``[1, n_mels, frames]``, audio ``[1, samples]``) on the CPU."""
        gen = torch.Generator(device=self.device).manual_seed(seed)
        sigmas = sigmas.to(self.device)
        x = samplers.randn_rows((1, self.config.mel.n_mels, frames), [gen], device=self.device) * sigmas[0]
        callback = None if progress is None else (lambda i, total, *_: progress(i + 1, total))
        fn = guided(self.denoiser, cond.to(self.device), uncond.to(self.device), guidance)
        mel = sample_fn(fn, x, sigmas, generator=[gen], callback=callback).clamp(-1, 1)
        audio = self.vocoder(denormalize(mel, self.config.mel), self.config.mel)
        return mel.cpu(), audio.cpu()

    def frames_for(self, duration: float) -> tuple[int, int]:
        """(mel frames the model generates, audio samples returned) for ``duration`` seconds."""
        if not 0 < duration <= MAX_DURATION:  # also refuses NaN
            raise ValueError(f"duration must be in (0, {MAX_DURATION:g}] seconds, got {duration}")
        samples = round(duration * self.config.mel.sample_rate)
        multiple = self.config.unet.length_multiple
        needed = -(-samples // self.config.mel.hop_length) + 1  # num_samples(frames) >= samples
        frames = -(-needed // multiple) * multiple
        return frames, samples


def check_seed(seed: int | None, num: int = 1) -> None:
    """Refuse a seed whose rows ``seed .. seed + num - 1`` leave ``0 .. MAX_SEED`` (``None``: random)."""
    if seed is not None and not 0 <= seed <= MAX_SEED - (num - 1):
        raise ValueError(f"seed must be in 0..{MAX_SEED - (num - 1)} (row i uses seed + i, for {num} rows), "
                         f"got {seed}")


def read_model(path: Path) -> tuple[PipelineConfig, dict[str, dict[str, Tensor]]]:
    """A model folder's config and its float32 weights split by part: ``"unet"`` and ``"conditioner"``."""
    if not path.is_dir():
        raise _fail(path, "it is a file, not a model folder" if path.exists() else "no such folder")
    config = PipelineConfig.load(path / CONFIG)
    state = read_safetensors(path / WEIGHTS, lambda why: _fail(path, why))
    parts = {name: {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
             for name in ("unet", "conditioner")}
    return config, parts


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
