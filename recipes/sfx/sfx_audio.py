"""Turn one source file into dataset clips: decode, mix to mono, resample, trim, cut windows.

Pure of the recipe's bookkeeping: :func:`decode` reads bytes, :func:`clip_windows` turns a
waveform into the clips that are written. Waveforms are float tensors ``[1, samples]``.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import Tensor

from audiodiff.audio import AudioError, find_onset, load, resample

MAX_SECONDS = 6.0  # longer sounds are cut into windows of this length
MIN_WINDOW_SECONDS = 2.0  # a long sound's last, shorter window is kept only from this length
MAX_WINDOWS = 8  # windows kept per source file, so one long ambience does not swamp a label
MIN_SECONDS = 0.05  # shorter sounds (after trimming) are skipped as "too short"
PRE_ROLL_S = 0.002  # kept before the detected onset so the attack is whole
ONSET_DB = -40.0  # the onset: first frame within this of the loudest (audiodiff.audio.find_onset)
TAIL_DB = -60.0  # a sound ends where it last comes within this of its peak
FADE_IN_S = 0.005  # windows after the first fade in, so a cut never clicks
FADE_S = 0.01  # every clip fades out over its last 10 ms
SILENT_PEAK = 1e-4  # -80 dBFS: quieter files are skipped as silent
QUIET_WINDOW_DB = -30.0  # windows whose RMS is this far below the file's loudest are skipped
TARGET_PEAK = 0.9  # every clip (each window of a long sound on its own) peaks here


@dataclass(frozen=True)
class Decoded:
    """A decoded file: mono ``[1, samples]`` at ``sample_rate``, the source rate and a hash."""

    audio: Tensor
    sample_rate: int
    source_rate: int
    channels: int
    digest: str


def decode(data: bytes, sample_rate: int, suffix: str = ".wav", keep_seconds: float | None = None) -> Decoded:
    """Decode encoded bytes (wav, ogg, flac; anything else through :func:`audiodiff.audio.load`).

    ``digest`` hashes the decoded samples at the source rate, so the same sound packaged twice
    (in one package or two) is found whatever its container; only the first ``keep_seconds``
    are resampled (the windows never reach further). Raises :class:`AudioError`.
    """
    try:
        frames, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        array = frames.T
    except (soundfile.SoundFileError, RuntimeError, TypeError):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"sound{suffix}"
            path.write_bytes(data)
            audio, rate = load(path, mono=False)
        array = audio.numpy()
    if array.size == 0:
        raise AudioError("no audio samples")
    digest = hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).hexdigest()
    mono = torch.from_numpy(np.ascontiguousarray(array)).mean(dim=0, keepdim=True)
    if keep_seconds is not None:
        mono = mono[:, : round(keep_seconds * rate)]
    return Decoded(resample(mono, int(rate), sample_rate), sample_rate, int(rate), array.shape[0], digest)


def trim(audio: Tensor, sample_rate: int) -> Tensor:
    """``[1, n]`` from just before its onset to where it last comes within ``TAIL_DB`` of its peak."""
    start = max(0, find_onset(audio, sample_rate, ONSET_DB) - round(PRE_ROLL_S * sample_rate))
    audio = audio[:, start:]
    loud = audio.abs().amax(dim=0) >= audio.abs().max() * 10.0 ** (TAIL_DB / 20.0)
    end = int(loud.nonzero().max()) + 1 if bool(loud.any()) else audio.shape[-1]
    return audio[:, :end]


def _fade(clip: Tensor, sample_rate: int, fade_in: bool) -> Tensor:
    clip = clip.clone()
    out = min(clip.shape[-1], round(FADE_S * sample_rate))
    clip[:, clip.shape[-1] - out :] *= torch.linspace(1.0, 0.0, out, dtype=clip.dtype)
    if fade_in:
        fade = min(clip.shape[-1], round(FADE_IN_S * sample_rate))
        clip[:, :fade] *= torch.linspace(0.0, 1.0, fade, dtype=clip.dtype)
    return clip


def clip_windows(
    audio: Tensor,
    sample_rate: int,
    *,
    max_seconds: float = MAX_SECONDS,
    max_windows: int = MAX_WINDOWS,
) -> tuple[list[Tensor], str | None]:
    """The clips of one source's mono waveform, or ``([], why it is skipped)``.

    The file is peak-normalised to ``TARGET_PEAK`` and trimmed (:func:`trim`). A sound up to
    ``max_seconds`` is one clip; a longer one is cut into consecutive windows of ``max_seconds``
    (the last kept from ``MIN_WINDOW_SECONDS``, at most ``max_windows``), each peak-normalised on
    its own; windows more than ``QUIET_WINDOW_DB`` below the loudest (the fading end of an
    ambience) are skipped. Every clip fades out over ``FADE_S``; later windows also fade in.
    """
    peak = float(audio.abs().max())
    if peak < SILENT_PEAK:
        return [], "silent: peak below -80 dBFS"
    audio = trim(audio * (TARGET_PEAK / peak), sample_rate)
    if audio.shape[-1] < MIN_SECONDS * sample_rate:
        return [], f"too short: {audio.shape[-1] / sample_rate:.3f} s after trimming"
    size = round(max_seconds * sample_rate)
    if audio.shape[-1] <= size:
        return [_fade(audio, sample_rate, fade_in=False)], None
    windows = []
    for start in range(0, audio.shape[-1], size):
        window = audio[:, start : start + size]
        if window.shape[-1] < MIN_WINDOW_SECONDS * sample_rate or len(windows) == max_windows:
            break
        windows.append((start, window))
    levels = [float(window.square().mean().sqrt()) for _, window in windows]
    floor = max(levels) * 10.0 ** (QUIET_WINDOW_DB / 20.0)
    clips = [
        _fade(window * (TARGET_PEAK / float(window.abs().max())), sample_rate, fade_in=start > 0)
        for (start, window), level in zip(windows, levels, strict=True)
        if level >= floor
    ]
    return clips, None
