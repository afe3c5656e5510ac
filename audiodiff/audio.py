"""Audio I/O and small waveform helpers; the sample rate always travels with the audio.

Waveforms are float tensors ``[channels, samples]`` in ``[-1, 1]``. Nothing here keeps state.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio
from torch import Tensor

from audiodiff.fileio import atomic_path, refuse_existing

# format -> subtypes it may be written with; the first is the default.
SUPPORTED_WRITE_FORMATS: dict[str, tuple[str, ...]] = {
    "wav": ("PCM_16", "PCM_24", "FLOAT"),
    "flac": ("PCM_16", "PCM_24"),
    "ogg": ("VORBIS",),
}


class AudioError(ValueError):
    """An audio file could not be read or written; the message names the file."""


def load(
    path: str | os.PathLike[str], sample_rate: int | None = None, *, mono: bool = True
) -> tuple[Tensor, int]:
    """Read an audio file as float32 ``[channels, samples]`` (``[1, samples]`` when ``mono``).

    Decodes with libsndfile (wav, flac, ogg, aiff, mp3, ...) and falls back to librosa/audioread
    for anything libsndfile cannot read. ``mono`` averages the channels. When ``sample_rate`` is
    given the audio is resampled to it with :func:`resample`.

    Returns:
        ``(audio, rate)`` where ``rate`` is ``sample_rate`` if given, else the file's rate.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such audio file: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file {path} is empty (0 bytes)")
    data, rate = _decode(path)
    if data.size == 0:
        raise AudioError(f"{path} holds no audio samples")
    audio = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if mono:
        audio = audio.mean(dim=0, keepdim=True)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return audio, rate


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` to ``([channels, samples] array, rate)`` or raise :class:`AudioError`."""
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return data.T, int(rate)
    except soundfile.SoundFileError as error:
        sndfile_error = error
    import librosa  # only needed for formats libsndfile lacks

    try:
        with warnings.catch_warnings():
            # librosa warns that it falls back to audioread (what we want here) and audioread's
            # imports raise deprecation warnings; none of them tells the user anything.
            warnings.simplefilter("ignore")
            data, rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
    except Exception as error:  # audioread raises many unrelated types; report them all alike
        reason = getattr(sndfile_error, "error_string", str(sndfile_error))
        raise AudioError(
            f"cannot decode audio file {path}: {reason} (fallback decoder: "
            f"{str(error) or type(error).__name__}); it may be corrupt or in an unsupported "
            "format: convert it to WAV or FLAC, e.g. `ffmpeg -i INPUT output.wav`"
        ) from error
    return np.atleast_2d(data), int(rate)


def resample(audio: Tensor, orig_sr: int, new_sr: int) -> Tensor:
    """Band-limited resampling of ``audio [..., samples]`` from ``orig_sr`` to ``new_sr`` Hz.

    Windowed-sinc with a Kaiser window (librosa's "kaiser_best" settings). Measured on
    44.1 -> 22.05 kHz sines: flat to 10 kHz, aliases above the new Nyquist at about -150 dB.
    soxr "VHQ" rejects aliases further (-200 dB), but both are far below the float32 and 16-bit
    noise floors, and torchaudio keeps the audio on its device and dtype, batched.

    Returns:
        ``[..., ceil(samples * new_sr / orig_sr)]`` with the dtype and device of ``audio``.
    """
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} and {new_sr}")
    if orig_sr == new_sr:
        return audio
    return torchaudio.functional.resample(
        audio,
        orig_sr,
        new_sr,
        lowpass_filter_width=64,
        rolloff=0.9475937167399596,
        resampling_method="sinc_interp_kaiser",
        beta=14.769656459379492,
    )


def save(
    path: str | os.PathLike[str],
    audio: Tensor,
    sample_rate: int,
    *,
    overwrite: bool = False,
    format: str | None = None,
    subtype: str | None = None,
) -> Path:
    """Write ``audio`` (``[channels, samples]`` or ``[samples]``) atomically; return the path.

    The format comes from the suffix unless ``format`` is given (see
    :data:`SUPPORTED_WRITE_FORMATS`, whose first subtype per format is the default: 16-bit PCM
    for wav/flac). Samples are clipped to ``[-1, 1]``. The file is written to a temporary file in
    the same folder, flushed to disk (``fsync``) and renamed into place (see :func:`atomic_path`),
    so a failed write never leaves a partial file and an existing one survives it.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in SUPPORTED_WRITE_FORMATS:
        raise AudioError(
            f"cannot write {path}: unknown audio format {fmt!r}; supported formats: "
            f"{', '.join(SUPPORTED_WRITE_FORMATS)}"
        )
    subtype = (subtype or SUPPORTED_WRITE_FORMATS[fmt][0]).upper()
    if subtype not in SUPPORTED_WRITE_FORMATS[fmt]:
        raise AudioError(
            f"cannot write {path}: {fmt} supports subtypes {SUPPORTED_WRITE_FORMATS[fmt]}, "
            f"not {subtype!r}"
        )
    refuse_existing(path, overwrite)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    frames = _to_frames(audio)
    with atomic_path(path, overwrite=overwrite) as tmp:
        soundfile.write(tmp, frames, sample_rate, format=fmt.upper(), subtype=subtype)
    return path


def _to_frames(audio: Tensor) -> np.ndarray:
    """``[channels, samples]`` or ``[samples]`` -> clipped float32 array ``[samples, channels]``."""
    if audio.dim() not in (1, 2):
        raise ValueError(
            f"expected audio of shape [channels, samples] or [samples], got {tuple(audio.shape)}"
        )
    if not torch.isfinite(audio).all():
        raise ValueError("audio contains NaN or infinite samples")
    frames = audio.detach().to("cpu", torch.float32).clamp(-1.0, 1.0)
    return np.ascontiguousarray(frames.reshape(-1, frames.shape[-1]).T.numpy())


def peak_normalize(
    audio: Tensor,
    peak: float = 0.95,
    *,
    dim: int | tuple[int, ...] | None = None,
    min_peak: float = 1e-5,
) -> Tensor:
    """Scale ``audio`` so its largest absolute sample is ``peak``.

    The peak is taken over ``dim`` (all samples when ``None``, so the channels of one sound keep
    their balance; ``dim=-1`` scales each row on its own). Parts whose peak is below
    ``min_peak`` (-100 dBFS: silence) are returned unchanged instead of amplifying noise.
    """
    current = audio.abs().amax() if dim is None else audio.abs().amax(dim=dim, keepdim=True)
    scale = torch.where(current >= min_peak, peak / current.clamp_min(min_peak), 1.0)
    return audio * scale.to(audio.dtype)


def fit_length(audio: Tensor, num_samples: int) -> Tensor:
    """Cut ``audio [..., samples]`` to ``num_samples`` or zero-pad it at the end."""
    length = audio.shape[-1]
    if length >= num_samples:
        return audio[..., :num_samples]
    return torch.nn.functional.pad(audio, (0, num_samples - length))


def find_onset(
    audio: Tensor, sample_rate: int, threshold_db: float = -40.0, *, frame_ms: float = 5.0
) -> int:
    """Index of the first sample of the sound's attack in ``audio [..., samples]``.

    Energy based: the channels are mixed to one power signal and cut into frames of ``frame_ms``;
    the first frame whose RMS comes within ``threshold_db`` of the loudest frame's RMS holds the
    onset, which is then placed on the first sample in that frame whose magnitude reaches the
    same level. Silent audio gives 0.
    """
    power = audio.detach().reshape(-1, audio.shape[-1]).double().square().mean(dim=0)
    frame = max(1, round(sample_rate * frame_ms / 1000))
    padded = torch.nn.functional.pad(power, (0, -power.numel() % frame))
    rms = padded.reshape(-1, frame).mean(dim=1).sqrt()
    if rms.numel() == 0 or rms.max() == 0:
        return 0
    level = rms.max() * 10.0 ** (threshold_db / 20.0)
    first = _first_true(rms >= level)
    # The frame's RMS reaches the level, so (up to rounding) one of its samples does too.
    within = power[first * frame : (first + 1) * frame].sqrt()
    return first * frame + _first_true(within >= level)


def _first_true(flags: Tensor) -> int:
    """Index of the first ``True`` in the 1-d bool ``flags`` (0 when there is none)."""
    return int(torch.argmax(flags.int()))
