"""The neural vocoder: a Vocos-style network predicts the STFT magnitude of the waveform a mel stands
for (:mod:`audiodiff.vocoders.network`), and the synthesis plays it (:mod:`audiodiff.vocoders.synthesis`:
the phase integrated from the magnitude, then anchored consistency refinement)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from audiodiff.fileio import file_hash
from audiodiff.spectrogram import MelConfig, check_mel_config
from audiodiff.vocoders.base import Vocoder
from audiodiff.vocoders.folder import CONFIG, WEIGHTS, fail, read_folder, write_folder
from audiodiff.vocoders.network import VocosConfig, VocosNetwork
from audiodiff.vocoders.synthesis import Synthesis, SynthesisConfig

SHIPPED_SYNTHESIS = SynthesisConfig()


class NeuralVocoder(Vocoder):
    """Log-mel -> :class:`VocosNetwork` -> STFT magnitude -> :class:`Synthesis` -> waveform.

    Args:
        network: the network's shape (what the weights are for).
        synthesis: how its magnitude is played; shapes no weights.

    Runs on the device of its weights, in float32 (inputs of other float dtypes are cast).
    """

    name = "neural"

    def __init__(self, network: VocosConfig, synthesis: SynthesisConfig = SHIPPED_SYNTHESIS) -> None:
        super().__init__(network.mel)
        self.network_config = network
        self.synthesis_config = synthesis
        self.network = VocosNetwork(network)
        self.synthesis = Synthesis(network.mel, synthesis)
        self.weights_hash: str | None = None  # of the model.safetensors it was loaded from

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "weights_hash": self.weights_hash, **self.synthesis_config.to_dict()}

    def synthesize(self, log_mel: Tensor, period: int | None = None) -> Tensor:
        """Natural-log mel ``[n, n_mels, frames]`` -> waveform ``[n, (frames - 1) * hop_length]``;
        with ``period``, the integrated phase repeats with it (:class:`Synthesis`)."""
        log_mel = log_mel.to(self.network.head.weight.dtype)
        return self.synthesis(self.network(log_mel), log_mel, period)

    def save_pretrained(
        self, path: str | Path, *, overwrite: bool = False, dtype: torch.dtype = torch.float32
    ) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (weights in ``dtype``) into the folder ``path``."""
        return write_folder(path, self.network_config, self.synthesis_config, self.state_dict(),
                            overwrite=overwrite, dtype=dtype)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, mel_config: MelConfig | None = None, **synthesis: Any
    ) -> NeuralVocoder:
        """Load a folder written by :meth:`save_pretrained` (float32, on the CPU); format-1 folders
        are upgraded (:func:`~audiodiff.vocoders.folder.upgrade_v1`).

        ``synthesis`` fields (of :class:`SynthesisConfig`, e.g. ``refine_iterations=8``) replace
        the saved ones; they change no weights.

        Raises:
            ModelFormatError: (a ``ValueError``) when files are missing, corrupt, of another kind
                or from a newer format.
            MelConfigMismatch: when ``mel_config`` is given and differs from the vocoder's.
            TypeError: for a name that is not a :class:`SynthesisConfig` field.
        """
        path = Path(path)
        network, saved, state = read_folder(path)
        if mel_config is not None:
            check_mel_config(mel_config, network.mel, what=f"the neural vocoder in {path}")
        vocoder = cls(network, dataclasses.replace(saved, **synthesis))
        try:
            vocoder.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise fail(path, f"weights do not match {CONFIG} ({first})") from err
        vocoder.weights_hash = file_hash(path / WEIGHTS)
        return vocoder.eval()
