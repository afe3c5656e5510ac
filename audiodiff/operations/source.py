"""An input sound placed on a canvas: its mel, and the way back from a mel to its audio."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from audiodiff.operations import looppoint, signal
from audiodiff.operations.checks import waveform
from audiodiff.operations.core import canvas
from audiodiff.operations.windows import Canvas
from audiodiff.pipeline import Pipeline
from audiodiff.spectrogram import silence_level


@dataclass(frozen=True)
class Source:
    """A sound on a canvas.

    Attributes:
        mel: ``[1, n_mels, area.frames]`` its normalised log-mel.
        area: the canvas (a line, or a circle for a loop).
        samples: the audio samples it stands for (the output length).
        frames: the frames of ``mel`` that are the sound's (the rest pads a line to the U-Net's multiple).
        audio: ``[samples]`` its waveform, when it came as one.
    """

    mel: Tensor
    area: Canvas
    samples: int
    frames: int
    audio: Tensor | None = None


def from_audio(pipe: Pipeline, audio: Tensor, *, loop: bool, name: str = "audio") -> Source:
    """A waveform ``[samples]`` (at the model's rate): a line of ``pipe.frames_for`` frames, or a loop."""
    config = pipe.config.mel
    audio = waveform(name, audio, min_samples=config.n_fft // 2 + 1).to(pipe.device)
    samples = len(audio)
    if loop:
        frames = signal.circle_frames(samples, config)
        return Source(signal.analyse_loop(audio, frames, config), canvas(pipe, frames, True), samples, frames, audio)
    frames = pipe.frames_for(samples)
    return Source(signal.analyse(audio, frames, config), canvas(pipe, frames, False, samples), samples, frames,
                  audio)


def from_mel(pipe: Pipeline, mel: Tensor, *, loop: bool, name: str = "mel") -> Source:
    """A normalised log-mel ``[n_mels, frames]`` or ``[1, n_mels, frames]``; a line is padded with
    silence to a multiple of the U-Net's ``length_multiple``."""
    config = pipe.config.mel
    if mel.dim() == 2:
        mel = mel[None]
    if mel.dim() != 3 or mel.shape[:2] != (1, config.n_mels) or mel.shape[-1] < 2:
        raise ValueError(f"{name} must be a log-mel [{config.n_mels}, frames] with frames >= 2, got {tuple(mel.shape)}")
    if not mel.is_floating_point() or not torch.isfinite(mel).all():
        raise ValueError(f"{name} must be a finite float log-mel")
    mel, frames = mel.to(pipe.device), mel.shape[-1]
    if loop:
        return Source(mel, canvas(pipe, frames, True), frames * config.hop_length, frames)
    padded = pipe.frames_for(config.num_samples(frames))
    full = F.pad(mel, (0, padded - frames), value=silence_level(config))
    samples = config.num_samples(frames)
    return Source(full, canvas(pipe, padded, False, samples), samples, frames)


def from_input(pipe: Pipeline, sound: Tensor, *, loop: bool) -> Source:
    """A waveform (``[samples]`` or ``[1, samples]``) or a log-mel (``[n_mels, frames]`` or
    ``[1, n_mels, frames]``, told apart by the ``n_mels`` axis)."""
    if isinstance(sound, Tensor) and sound.dim() >= 2 and sound.shape[-2] == pipe.config.mel.n_mels:
        return from_mel(pipe, sound, loop=loop, name="input mel")
    return from_audio(pipe, sound, loop=loop, name="input audio")


def to_audio(pipe: Pipeline, mel: Tensor, area: Canvas, samples: int) -> Tensor:
    """Mel ``[1, n_mels, area.frames]`` -> audio ``[1, samples]`` in ``[-1, 1]`` on the CPU (a
    seamless period when the canvas is a circle)."""
    config, mel = pipe.config.mel, mel.to(pipe.device)
    if area.loop:
        audio = signal.vocode_loop(pipe.vocoder, mel, samples, config)
    else:
        audio = signal.vocode(pipe.vocoder, mel, config)[:, :samples]
    return audio.clamp(-1, 1).cpu()


def to_new_audio(pipe: Pipeline, mel: Tensor, area: Canvas, samples: int) -> tuple[Tensor, Tensor, list[int] | None]:
    """A sound made from noise alone: mel ``[1, n_mels, area.frames]`` -> (mel, audio ``[1, samples]``,
    turn). On a line that is :func:`to_audio` (turn ``None``). A loop is turned to start at its
    steadiest pair as heard (of the vocoded period analysed as a circle, :func:`signal.analyse_loop`),
    mel by ``r`` frames and audio to match, then onto the quietest sample within half a hop
    (:mod:`~audiodiff.operations.looppoint`); turn ``[r, samples turned]``. The audio's sample 0
    lies within half a hop of the turned mel's frame 0.
    """
    audio = to_audio(pipe, mel, area, samples)
    if not area.loop:
        return mel, audio, None
    config, frames = pipe.config.mel, mel.shape[-1]
    turn = looppoint.steadiest_turn(signal.analyse_loop(audio[0], frames, config))
    coarse = round(turn * samples / frames)
    audio = audio.roll(-coarse, -1)
    fine = looppoint.quietest_sample(audio, config.hop_length // 2)
    return mel.roll(-turn, -1), audio.roll(-fine, -1), [turn, coarse + fine]
