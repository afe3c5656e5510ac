"""Neural vocoder in the style of Vocos (Siuzdak, 2023): log-mel -> ConvNeXt -> STFT -> iSTFT.

The network predicts the complex STFT of the waveform at the mel analysis' own resolution
(``n_fft``, ``hop_length``) and one inverse STFT turns it into audio, so there is no upsampling
stack: all layers run at the frame rate and the model is fast on a CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.nn import functional as F

from audiodiff.config import ModelFormatError
from audiodiff.dataclass_dict import checked_fields
from audiodiff.fileio import atomic_path, file_hash, write_json
from audiodiff.spectrogram import MelConfig, check_mel_config, normalize
from audiodiff.vocoders.base import Vocoder
from audiodiff.vocoders.frequency import magnitude_frequency, mel_fitted_frequency
from audiodiff.vocoders.mel_inverse import NNLS_STEPS, MelInverse
from audiodiff.vocoders.phase import gradient_phase
from audiodiff.vocoders.refine import MelConsistencyRefiner, check_anchor, inverse_stft
from audiodiff.weights import read_safetensors

FORMAT_VERSION = 1
KIND = "vocos"
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
PHASE_SOURCES = ("network", "gradient")
FREQUENCY_ESTIMATES = ("slope", "mel")


# Config fields that change how a vocoder plays its network's output, not its weights.
PLAYBACK_SETTINGS = ("refine_iterations", "refine_fit_steps", "refine_anchor", "phase_source", "frequency_estimate")


@dataclass(frozen=True)
class NeuralVocoderConfig:
    """Shape of a :class:`NeuralVocoder`; saved as ``config.json`` next to the weights.

    Args:
        mel: the analysis settings of the mels the vocoder accepts (and of its inverse STFT).
        dim: channels of the ConvNeXt trunk.
        intermediate_dim: hidden width of each block's pointwise MLP (Vocos uses ``3 * dim``).
        num_layers: ConvNeXt blocks.
        kernel_size: width of the depthwise convolutions (odd).
        max_magnitude: predicted STFT magnitudes are clipped to this (``exp`` of the log output).
        magnitude_prior: predict the log magnitude as a correction of the inverse mel
            filterbank's estimate (FreeV, Lv et al., 2024) instead of from scratch.
        prior_nnls_steps: NNLS steps of that estimate (:class:`MelInverse`); 0 is the clamped
            pseudo-inverse, which leaves the quiet bins between harmonics at the log floor.
            Vocoders saved before this setting existed used 0.
        absolute_phase: predict phases relative to a clock shared by all frames (each bin turning
            at its centre frequency) instead of relative to each frame's start. A frame-shift
            equivariant network given a steady mel repeats the same frame, which with frame-relative
            phases can only make sound periodic in one hop (harmonics of ``sample_rate / hop``);
            with absolute phases a steady bin-centred sinusoid is the network's easiest output.
        spectral_layers: dilated convolutions along the frequency axis that correct the log
            magnitude frame by frame (:class:`SpectralRefiner`); 0 leaves the head's output.
        spectral_channels: their width.
        refine_iterations: iterations of mel-constrained fast Griffin-Lim started from the
            network's STFT (:class:`MelConsistencyRefiner`); 0 plays the network's STFT as it is.
        refine_fit_steps: NNLS steps that fit each refinement iteration's magnitude to the mel.
        refine_anchor: weight in ``[0, 1]`` of the network's magnitude in each refinement
            iteration's fine structure (:class:`MelConsistencyRefiner`'s ``anchor``); 0 keeps the
            refined signal's own, as vocoders saved before this setting existed did.
        phase_source: ``"network"`` plays the phase the network predicts; ``"gradient"``
            replaces it with the phase integrated from the predicted magnitude's gradient
            (:func:`gradient_phase`), which keeps partials coherent from frame to frame.
        frequency_estimate: with the gradient phase, where the partials' instantaneous frequency
            comes from: ``"slope"``, the predicted magnitude's slope along frequency
            (:func:`~audiodiff.vocoders.frequency.magnitude_frequency`); ``"mel"``, the same with each
            loud peak below 6 kHz re-fitted to the input mel (:func:`mel_fitted_frequency`).
    """

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 256
    intermediate_dim: int = 768
    num_layers: int = 8
    kernel_size: int = 7
    max_magnitude: float = 100.0
    magnitude_prior: bool = True
    prior_nnls_steps: int = NNLS_STEPS
    absolute_phase: bool = True
    spectral_layers: int = 0
    spectral_channels: int = 16
    refine_iterations: int = 0
    refine_fit_steps: int = 3
    refine_anchor: float = 0.0
    phase_source: str = "network"
    frequency_estimate: str = "slope"

    def __post_init__(self) -> None:
        if min(self.dim, self.intermediate_dim, self.num_layers) < 1:
            raise ValueError("dim, intermediate_dim and num_layers must be positive")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.prior_nnls_steps < 0:
            raise ValueError(f"prior_nnls_steps must be at least 0, got {self.prior_nnls_steps}")
        if self.spectral_layers < 0 or self.spectral_channels < 1:
            raise ValueError("spectral_layers must be at least 0 and spectral_channels positive, got "
                             f"{self.spectral_layers} and {self.spectral_channels}")
        if self.refine_iterations < 0:
            raise ValueError(f"refine_iterations must be at least 0, got {self.refine_iterations}")
        if self.refine_fit_steps < 0:
            raise ValueError(f"refine_fit_steps must be at least 0, got {self.refine_fit_steps}")
        check_anchor(self.refine_anchor, "refine_anchor")
        if self.phase_source not in PHASE_SOURCES:
            raise ValueError(f"phase_source must be one of {', '.join(PHASE_SOURCES)}, got {self.phase_source!r}")
        if self.frequency_estimate not in FREQUENCY_ESTIMATES:
            raise ValueError(f"frequency_estimate must be one of {', '.join(FREQUENCY_ESTIMATES)}, "
                             f"got {self.frequency_estimate!r}")
        if self.max_magnitude <= 0:
            raise ValueError(f"max_magnitude must be positive, got {self.max_magnitude}")

    def with_playback_of(self, other: NeuralVocoderConfig) -> NeuralVocoderConfig:
        """This config with ``other``'s :data:`PLAYBACK_SETTINGS`: equal to ``other`` exactly when
        the two vocoders' weights are interchangeable."""
        return dataclasses.replace(self, **{key: getattr(other, key) for key in PLAYBACK_SETTINGS})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NeuralVocoderConfig:
        values = dict(checked_fields(cls, data))
        if "mel" in values:
            values["mel"] = MelConfig.from_dict(values["mel"])
        return cls(**values)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, plus the input."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        """``[n, dim, frames]`` -> ``[n, dim, frames]``."""
        h = self.norm(self.dwconv(x).transpose(1, 2))
        h = self.pwconv2(self.act(self.pwconv1(h))) * self.gamma
        return x + h.transpose(1, 2)


class SpectralRefiner(nn.Module):
    """A residual correction of a log magnitude along the frequency axis, frame by frame.

    The head maps each frame's features to all bins with one linear layer, which draws harmonic
    combs at arbitrary pitches only coarsely. Here dilated 1-D convolutions slide over the bins of
    each frame (shift-equivariant in frequency, so one peak shape serves every partial), with the
    frame's trunk features added as a bias. The last layer starts at zero: an untrained refiner
    leaves the magnitude as it is.

    Args:
        dim: width of the trunk features.
        channels: convolution channels.
        layers: convolutions (the k-th dilated by ``2 ** k``), at least 1.
        kernel_size: their width in bins (odd).
    """

    def __init__(self, dim: int, channels: int, layers: int, kernel_size: int = 9) -> None:
        super().__init__()
        self.condition = nn.Linear(dim, channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(1 if k == 0 else channels, channels, kernel_size, dilation=2**k,
                      padding=kernel_size // 2 * 2**k)
            for k in range(layers)
        )
        self.out = nn.Conv1d(channels, 1, 1)
        self.act = nn.GELU()

    def forward(self, log_magnitude: Tensor, features: Tensor) -> Tensor:
        """Log magnitude ``[n, bins, frames]`` and trunk features ``[n, frames, dim]`` -> corrected
        log magnitude ``[n, bins, frames]``."""
        # Computed as [n, channels, bins, frames] channels-last 2-D convolutions with (k, 1) kernels:
        # the same weights and result as 1-D convolutions over each frame, 1.5x faster on a CPU.
        # Log magnitudes span about [-12, 5]; the 0.2 brings them near unit scale.
        x = (log_magnitude * 0.2)[:, None].contiguous(memory_format=torch.channels_last)
        h = _along_frequency(self.convs[0], x) + self.condition(features).transpose(1, 2)[:, :, None, :]
        for conv in self.convs[1:]:
            h = h + _along_frequency(conv, self.act(h))
        return log_magnitude + _along_frequency(self.out, self.act(h))[:, 0]


def _along_frequency(conv: nn.Conv1d, x: Tensor) -> Tensor:
    """``conv`` applied along the bins of every frame: ``[n, in, bins, frames]`` -> ``[n, out, bins, frames]``."""
    return F.conv2d(x, conv.weight[..., None], conv.bias, padding=(conv.padding[0], 0),
                    dilation=(conv.dilation[0], 1))


class VocosNetwork(nn.Module):
    """Natural-log mel ``[n, n_mels, frames]`` -> STFT magnitude and phase, each
    ``[n, n_fft // 2 + 1, frames]``."""

    def __init__(self, config: NeuralVocoderConfig) -> None:
        super().__init__()
        mel, dim = config.mel, config.dim
        self.mel_config = mel
        self.magnitude_prior = config.magnitude_prior
        self.absolute_phase = config.absolute_phase
        self.mel_inverse = MelInverse(mel, config.prior_nnls_steps)
        self.max_log_magnitude = float(torch.tensor(config.max_magnitude).log())
        self.embed = nn.Conv1d(mel.n_mels, dim, config.kernel_size, padding=config.kernel_size // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, config.intermediate_dim, config.kernel_size, 1.0 / config.num_layers)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, 2 * (mel.n_fft // 2 + 1))
        self.spectral = (
            SpectralRefiner(dim, config.spectral_channels, config.spectral_layers) if config.spectral_layers else None
        )
        self.apply(_init_weights)
        if self.spectral is not None:
            nn.init.zeros_(self.spectral.out.weight)

    def forward(self, log_mel: Tensor) -> tuple[Tensor, Tensor]:
        h = self.norm(self.embed(normalize(log_mel, self.mel_config)).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        features = self.final_norm(h.transpose(1, 2))
        log_magnitude, phase = self.head(features).transpose(1, 2).chunk(2, 1)
        if self.magnitude_prior:
            prior = self.mel_inverse(log_mel.exp()).clamp_min(self.mel_config.log_floor)
            log_magnitude = log_magnitude + prior.log()
        if self.spectral is not None:
            log_magnitude = self.spectral(log_magnitude, features)
        if self.absolute_phase:
            phase = phase + self.phase_clock(phase.shape[-1]).to(phase)
        return log_magnitude.clamp(max=self.max_log_magnitude).exp(), phase

    def phase_clock(self, frames: int) -> Tensor:
        """``[n_fft // 2 + 1, frames]``: frame-relative phase of bin-centred sinusoids, ``2 pi k hop t / n_fft``."""
        n_fft, hop = self.mel_config.n_fft, self.mel_config.hop_length
        device = self.head.weight.device
        bins = torch.arange(n_fft // 2 + 1, device=device)
        steps = torch.arange(frames, device=device)
        return (bins[:, None] * steps[None, :] * hop % n_fft) * (2 * math.pi / n_fft)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


class NeuralVocoder(Vocoder):
    """Vocos-style vocoder: a ConvNeXt network predicts the STFT, ``torch.istft`` inverts it
    (after ``config.refine_iterations`` of :class:`MelConsistencyRefiner`).

    Runs on the device of its weights, in float32 (inputs of other float dtypes are cast).
    """

    name = "neural"

    def __init__(self, config: NeuralVocoderConfig) -> None:
        super().__init__(config.mel)
        self.config = config
        self.network = VocosNetwork(config)
        self.refiner = MelConsistencyRefiner(config.mel, config.refine_iterations, config.refine_fit_steps,
                                             anchor=config.refine_anchor)
        self.register_buffer("window", torch.hann_window(config.mel.win_length), persistent=False)
        self.weights_hash: str | None = None  # of the model.safetensors it was loaded from

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "weights_hash": self.weights_hash,
                **{key: getattr(self.config, key) for key in PLAYBACK_SETTINGS}}

    def synthesize(self, log_mel: Tensor) -> Tensor:
        """Natural-log mel ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``."""
        log_mel = log_mel.to(self.window.dtype)
        return self.render(*self.network(log_mel), log_mel)

    def render(self, magnitude: Tensor, phase: Tensor, log_mel: Tensor) -> Tensor:
        """The network's magnitude and phase ``[n, n_fft // 2 + 1, frames]`` and their log-mel
        ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``: the phase replaced
        as ``config.phase_source`` says, then refined."""
        return self.refiner(magnitude, self.starting_phase(magnitude, phase, log_mel), log_mel)

    def starting_phase(self, magnitude: Tensor, phase: Tensor, log_mel: Tensor) -> Tensor:
        """The phase the refinement starts from, ``[n, n_fft // 2 + 1, frames]``: the network's
        ``phase``, or with ``phase_source="gradient"`` the one integrated from ``magnitude`` at the
        instantaneous frequency ``config.frequency_estimate`` names (from ``log_mel`` for ``"mel"``)."""
        if self.config.phase_source != "gradient":
            return phase
        # The slope estimate is gradient_phase's own default; only the mel fit is passed in.
        fitted = self.config.frequency_estimate == "mel"
        frequency = self.instantaneous_frequency(magnitude, log_mel) if fitted else None
        return gradient_phase(magnitude, self.mel_config, frequency=frequency)

    def instantaneous_frequency(self, magnitude: Tensor, log_mel: Tensor) -> Tensor:
        """The frequency the gradient phase integrates, in cycles per sample, ``[n, n_fft // 2 + 1,
        frames]``, as ``config.frequency_estimate`` says: from ``magnitude``'s slope, or that with
        the loud peaks re-fitted to ``log_mel`` ``[n, n_mels, frames]``."""
        if self.config.frequency_estimate == "mel":
            return mel_fitted_frequency(magnitude, log_mel, self.mel_config)
        return magnitude_frequency(magnitude, self.mel_config)

    def inverse_stft(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        """Magnitude and phase ``[n, n_fft // 2 + 1, frames]`` -> ``[n, (frames - 1) * hop_length]``,
        without refinement."""
        return inverse_stft(torch.polar(magnitude, phase), self.mel_config, self.window)

    def save_pretrained(
        self, path: str | Path, *, overwrite: bool = False, dtype: torch.dtype = torch.float32
    ) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (weights in ``dtype``) into the folder ``path``.

        The folder is written next to ``path`` and renamed into place, so it is never half-written.
        """
        state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in self.state_dict().items()}
        with atomic_path(path, overwrite=overwrite, directory=True) as tmp:
            save_file(state, tmp / WEIGHTS, metadata={"format": "audiodiff-vocoder"})
            write_json(tmp / CONFIG, self.config_json())
        return Path(path)

    def config_json(self) -> dict[str, Any]:
        """What ``config.json`` holds: format version, kind and the :class:`NeuralVocoderConfig`."""
        from audiodiff import __version__

        return {"format_version": FORMAT_VERSION, "kind": KIND, "audiodiff_version": __version__,
                **self.config.to_dict()}

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        mel_config: MelConfig | None = None,
        **playback: Any,
    ) -> NeuralVocoder:
        """Load a folder written by :meth:`save_pretrained` (float32, on the CPU).

        ``playback`` settings (any of :data:`PLAYBACK_SETTINGS`: the refinement, the phase
        source and the frequency estimate) replace the saved config's; they change no weights.
        ``None`` keeps the saved one.

        Raises:
            ModelFormatError: (a ``ValueError``) when files are missing, corrupt or from a newer
                format.
            MelConfigMismatch: when ``mel_config`` is given and differs from the vocoder's.
            TypeError: for a setting that is not a playback setting.
        """
        unknown = set(playback) - set(PLAYBACK_SETTINGS)
        if unknown:
            raise TypeError(f"not playback settings: {', '.join(sorted(unknown))}")
        path = Path(path)
        config = _read_config(path)
        config = dataclasses.replace(config, **{k: v for k, v in playback.items() if v is not None})
        if mel_config is not None:
            check_mel_config(mel_config, config.mel, what=f"the neural vocoder in {path}")
        state = read_safetensors(path / WEIGHTS, lambda why: _fail(path, why))
        vocoder = cls(config)
        try:
            vocoder.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise _fail(path, f"weights do not match {CONFIG} ({first})") from err
        vocoder.weights_hash = file_hash(path / WEIGHTS)
        return vocoder.eval()


def _fail(path: Path, why: str) -> ModelFormatError:
    return ModelFormatError(f"{path} is not a usable neural vocoder folder: {why}")


def _read_config(path: Path) -> NeuralVocoderConfig:
    """Parse and check ``path/config.json``."""
    if not (path / CONFIG).is_file():
        raise _fail(path, f"{CONFIG} is missing")
    try:
        data = json.loads((path / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _fail(path, f"{CONFIG} is not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("format_version"), int):
        raise _fail(path, f"{CONFIG} has no format_version; it was not written by audiodiff")
    if data["format_version"] > FORMAT_VERSION:
        raise _fail(
            path,
            f"it uses format {data['format_version']} but this audiodiff reads up to "
            f"{FORMAT_VERSION}; upgrade with: pip install -U audiodiff",
        )
    if data.get("kind") != KIND:
        raise _fail(path, f"{CONFIG} is for a {data.get('kind')!r} model, not a {KIND!r} vocoder")
    fields = {k: v for k, v in data.items() if k not in ("format_version", "kind", "audiodiff_version")}
    fields.setdefault("prior_nnls_steps", 0)  # written before NNLS priors: the clamped pseudo-inverse
    try:
        return NeuralVocoderConfig.from_dict(fields)
    except (TypeError, ValueError) as err:
        raise _fail(path, f"{CONFIG} is invalid ({err})") from err
