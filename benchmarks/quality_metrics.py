"""Pure metric functions for ``benchmarks/quality.py``: cents, f0 from CREPE, mel features.

Everything here is small and deterministic so that ``tests/test_quality_metrics.py`` can check it on
synthetic signals with known answers. ``torchcrepe`` (the ``bench`` extra) is imported only by
:func:`crepe_pitch`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from torch import Tensor

from audiodiff.audio import fit_length, resample
from audiodiff.notes import midi_to_hz
from audiodiff.spectrogram import MelConfig, MelSpectrogram, normalize, silence_level

CREPE_RATE = 16000  # CREPE's networks are trained on 16 kHz audio
CREPE_WINDOW = 1024  # samples at 16 kHz
def cents(f_hz: float, ref_hz: float) -> float:
    """Signed interval from ``ref_hz`` to ``f_hz`` in cents (an octave up is +1200); ``nan`` if either is not > 0."""
    if not (f_hz > 0 and ref_hz > 0):  # also catches nan
        return math.nan
    return 1200.0 * math.log2(f_hz / ref_hz)


def cents_error(f0_hz: float, midi: float) -> float:
    """Signed error of ``f0_hz`` against MIDI note ``midi`` in cents; ``nan`` for an unvoiced (nan) f0."""
    return cents(f0_hz, midi_to_hz(midi))


def is_hit(f0_hz: float, midi: float, tolerance: float = 50.0, *, octave_free: bool = False) -> bool:
    """Whether ``f0_hz`` is within ``tolerance`` cents of note ``midi``; unvoiced (nan) is a miss.

    With ``octave_free`` the error is taken modulo an octave (right pitch class, any octave).
    """
    error = cents_error(f0_hz, midi)
    if math.isnan(error):
        return False
    if octave_free:
        error = (error + 600.0) % 1200.0 - 600.0
    return abs(error) <= tolerance


def hit_rate(hits: Sequence[bool]) -> float:
    """Fraction of ``True`` in ``hits``; ``nan`` for no trials."""
    return float(np.mean(hits)) if len(hits) else math.nan


def frame_rms_db(audio: Tensor, hop: int, window: int = CREPE_WINDOW) -> Tensor:
    """Level in dBFS of centred frames of ``audio [samples]``: ``[1 + samples // hop]`` (CREPE's framing)."""
    padded = torch.nn.functional.pad(audio.reshape(1, 1, -1).double(), (window // 2, window // 2))
    frames = padded.reshape(-1).unfold(0, window, hop)[: 1 + audio.shape[-1] // hop]
    rms = frames.square().mean(dim=-1).sqrt()
    return (20.0 * torch.log10(rms.clamp_min(1e-10))).float()


def median_f0(
    pitch: Tensor,
    periodicity: Tensor,
    level_db: Tensor | None = None,
    *,
    threshold: float = 0.5,
    silence_db: float = -60.0,
    min_voiced: int = 5,
) -> float:
    """Median f0 in Hz over the voiced frames of one CREPE output; ``nan`` when unvoiced.

    Args:
        pitch: ``[frames]`` f0 estimates in Hz.
        periodicity: ``[frames]`` CREPE confidence in ``[0, 1]``.
        level_db: optional ``[frames]`` frame level (:func:`frame_rms_db`); frames below
            ``silence_db`` are unvoiced whatever CREPE says (it normalises every frame, so it can
            hear a "pitch" in near-silence).
        threshold: a frame is voiced when its periodicity is at least this.
        min_voiced: fewer voiced frames than this and the sound counts as unvoiced.
    """
    voiced = (periodicity.reshape(-1) >= threshold) & torch.isfinite(pitch.reshape(-1))
    if level_db is not None:
        voiced &= level_db.reshape(-1) >= silence_db
    if int(voiced.sum()) < max(1, min_voiced):
        return math.nan
    return float(pitch.reshape(-1)[voiced].double().median())


CENTS_PER_BIN = 20.0  # CREPE's 360 pitch bins, 20 cents apart ...
CENTS_OF_BIN0 = 1997.3794084376191  # ... from 31.7 Hz (in cents above 10 Hz)


def local_average_decoder(salience: Tensor, width: int = 4) -> tuple[Tensor, Tensor]:
    """CREPE's decoding: salience-weighted mean pitch of the ``2 * width + 1`` bins around the peak.

    Unlike ``torchcrepe.decode.weighted_argmax`` this adds no random dither (torchcrepe draws it once
    per process, which moves every f0 by up to 20 cents from one run to the next).

    Args:
        salience: ``[batch, 360, frames]`` CREPE activations in ``[0, 1]``; masked bins may be ``-inf``.

    Returns:
        ``(bins, f0)``: the peak bin ``[batch, frames]`` and the f0 in Hz ``[batch, frames]``.
    """
    salience = salience.clamp_min(0.0)
    bins = salience.argmax(dim=1)
    near = bins.unsqueeze(1) + torch.arange(-width, width + 1, device=salience.device).view(1, -1, 1)
    inside = (near >= 0) & (near < salience.shape[1])
    near = near.clamp(0, salience.shape[1] - 1)
    weights = salience.gather(1, near) * inside
    cents = CENTS_PER_BIN * near.to(salience.dtype) + CENTS_OF_BIN0
    mean = (weights * cents).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-12)
    return bins, 10.0 * 2.0 ** (mean / 1200.0)


def crepe_pitch(
    audio: Tensor, sample_rate: int, *, model: str = "tiny", hop_s: float = 0.01, fmin: float = 50.0,
    fmax: float = 2000.0, batch_size: int = 512,
) -> tuple[Tensor, Tensor, Tensor]:
    """CREPE on one sound ``audio [samples]`` (or ``[1, samples]``) after resampling it to 16 kHz.

    Returns:
        ``(pitch, periodicity, level_db)``, each ``[frames]`` with ``frames = 1 + samples_16k // hop``.
    """
    import torchcrepe  # the bench extra; imported here so the rest of this module needs none

    audio = audio.reshape(1, -1).float()
    if sample_rate != CREPE_RATE:
        audio = resample(audio, sample_rate, CREPE_RATE)
    hop = max(1, round(hop_s * CREPE_RATE))
    pitch, periodicity = torchcrepe.predict(
        audio, CREPE_RATE, hop_length=hop, fmin=fmin, fmax=fmax, model=model,
        decoder=local_average_decoder, return_periodicity=True, batch_size=batch_size, device="cpu",
    )
    return pitch[0], periodicity[0], frame_rms_db(audio[0], hop)


def estimate_f0(audio: Tensor, sample_rate: int, *, model: str = "tiny", threshold: float = 0.5) -> float:
    """Median f0 in Hz of one sound ``audio [samples]`` with CREPE; ``nan`` when unvoiced or silent."""
    pitch, periodicity, level = crepe_pitch(audio, sample_rate, model=model)
    return median_f0(pitch, periodicity, level, threshold=threshold)


# ---------------------------------------------------------------------------------------------- features

_SEGMENTS = (0, 4, 8, 16, 32, 64, 112)  # frame boundaries of the coarse time grid (onset is frame 0)
_BAND_GROUPS = 16


def mel_features(mel: np.ndarray | Tensor) -> np.ndarray:
    """Fixed-length features of normalised log-mels ``[n, n_mels, frames]`` -> ``[n, 4 * n_mels + 16 * 7]``.

    Per mel band: mean, std and max over time, and mean absolute frame-to-frame change; plus a coarse
    energy grid (16 band groups x 7 time segments, finer near the onset) for the envelope's shape.
    ``n_mels`` must be divisible by 16 and ``frames`` larger than 112 (the cache clips have 176).
    """
    x = mel.detach().cpu().numpy() if isinstance(mel, Tensor) else np.asarray(mel)
    x = x.astype(np.float32)
    n, n_mels, frames = x.shape
    if n_mels % _BAND_GROUPS or frames <= _SEGMENTS[-1]:
        raise ValueError(f"need n_mels divisible by {_BAND_GROUPS} and > {_SEGMENTS[-1]} frames, got {x.shape}")
    bounds = (*_SEGMENTS, frames)
    groups = x.reshape(n, _BAND_GROUPS, n_mels // _BAND_GROUPS, frames).mean(axis=2)
    grid = np.stack([groups[..., a:b].mean(axis=-1) for a, b in pairwise(bounds)], axis=-1)
    flux = np.abs(np.diff(x, axis=-1)).mean(axis=-1)
    return np.concatenate([x.mean(-1), x.std(-1), x.max(-1), flux, grid.reshape(n, -1)], axis=-1)


def fit_frames(mel: Tensor, frames: int, fill: float) -> Tensor:
    """Crop ``mel [..., frames']`` to ``frames`` or pad it at the end with ``fill`` (e.g. the silence level)."""
    have = mel.shape[-1]
    if have >= frames:
        return mel[..., :frames]
    return torch.nn.functional.pad(mel, (0, frames - have), value=fill)


def reanalyse(audio: Tensor, sample_rate: int, config: MelConfig, frames: int) -> Tensor:
    """Normalised log-mels ``[n, n_mels, frames]`` of waveforms ``audio [n, samples]``, as a cache computes them.

    The audio is resampled to the mel rate and zero-padded or cut to the cache clip length
    (``config.num_samples(frames)`` samples), so the analysis gives exactly ``frames`` frames.
    """
    if sample_rate != config.sample_rate:
        audio = resample(audio, sample_rate, config.sample_rate)
    audio = fit_length(audio.float(), config.num_samples(frames))
    mel = normalize(MelSpectrogram(config)(audio), config)
    return fit_frames(mel, frames, silence_level(config))


# --------------------------------------------------------------------------------------- distributions


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a [n, d]`` and ``b [m, d]``.

    ``tr sqrt(S T)`` is computed as ``tr sqrt(S^1/2 T S^1/2)`` (equal, and symmetric) from
    eigendecompositions, with negative rounding-error eigenvalues clipped to zero.
    """
    mu, nu = a.mean(0), b.mean(0)
    s, t = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(s)
    root_s = (vectors * np.sqrt(values.clip(0))) @ vectors.T
    cross = np.sqrt(np.linalg.eigvalsh(root_s @ t @ root_s).clip(0)).sum()
    return float(((mu - nu) ** 2).sum() + np.trace(s) + np.trace(t) - 2 * cross)


class Projection:
    """The top principal components of a real feature set: FD in few dimensions, from few clips."""

    def __init__(self, real: np.ndarray, components: int = 8) -> None:
        self.mean = real.mean(0)
        _, _, vt = np.linalg.svd(real - self.mean, full_matrices=False)
        self.basis = vt[:components].T

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) @ self.basis
