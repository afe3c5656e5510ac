"""Vocoders: natural-log mel ``[n, n_mels, frames]`` -> waveform, chosen by :func:`load_vocoder`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from audiodiff.spectrogram import MelConfig
from audiodiff.vocoders.base import Vocoder
from audiodiff.vocoders.griffinlim import GriffinLimVocoder
from audiodiff.vocoders.network import VocosConfig
from audiodiff.vocoders.neural import NeuralVocoder
from audiodiff.vocoders.synthesis import SynthesisConfig

__all__ = ["VOCODERS", "GriffinLimVocoder", "NeuralVocoder", "SynthesisConfig", "Vocoder", "VocosConfig",
           "load_vocoder"]

BUNDLED_NEURAL = Path(__file__).resolve().parent.parent / "pretrained" / "vocoder"


def _griffinlim(mel_config: MelConfig, option: str | None) -> Vocoder:
    """``griffinlim`` or ``griffinlim:N`` for N iterations."""
    if option is None:
        return GriffinLimVocoder(mel_config)
    if not option.isdecimal() or int(option) < 1:
        raise ValueError(f"griffinlim:N needs a whole number of iterations N >= 1, not {option!r}")
    return GriffinLimVocoder(mel_config, n_iter=int(option))


def _neural(mel_config: MelConfig, option: str | None) -> Vocoder:
    """``neural``: the bundled neural vocoder (``audiodiff/pretrained/vocoder/``); ``neural:N``
    with N consistency-refinement iterations instead of its config's."""
    if option is not None and not option.isdecimal():
        raise ValueError(f"neural:N needs a whole number of refinement iterations N >= 0, not {option!r}")
    if not (BUNDLED_NEURAL / "config.json").is_file():
        raise ValueError(
            f"no bundled neural vocoder is installed ({BUNDLED_NEURAL} is missing); pass the "
            "folder of a trained one, or use --vocoder griffinlim"
        )
    changes = {} if option is None else {"refine_iterations": int(option)}
    return NeuralVocoder.from_pretrained(BUNDLED_NEURAL, mel_config=mel_config, **changes)


# name -> factory(mel_config, text after "name:" or None)
VOCODERS: dict[str, Callable[[MelConfig, str | None], Vocoder]] = {
    "griffinlim": _griffinlim,
    "neural": _neural,
}


def load_vocoder(spec: str, mel_config: MelConfig) -> Vocoder:
    """Build the vocoder named by ``spec`` for mels made with ``mel_config``.

    ``spec`` is a registered name, optionally with an option after a colon (``"griffinlim"``,
    ``"griffinlim:100"``, ``"neural:8"``), or the path of a saved vocoder folder.
    """
    name, _, option = spec.partition(":")
    if name in VOCODERS:
        return VOCODERS[name](mel_config, option or None)
    path = Path(spec)
    if len(path.parts) > 1 or path.exists():
        return _load_folder(path, mel_config)
    raise ValueError(
        f"unknown vocoder {spec!r}; known vocoders: {', '.join(sorted(VOCODERS))} "
        "(or the path of a folder with config.json and model.safetensors)"
    )


def _load_folder(path: Path, mel_config: MelConfig) -> Vocoder:
    """Load a saved vocoder from ``path`` (``config.json`` + ``model.safetensors``)."""
    if not ((path / "config.json").is_file() and (path / "model.safetensors").is_file()):
        raise ValueError(
            f"{path} is not a vocoder folder (needs config.json and model.safetensors)"
        )
    return NeuralVocoder.from_pretrained(path, mel_config=mel_config)
