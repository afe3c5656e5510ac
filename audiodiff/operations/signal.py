"""Waveform <-> mel for the operations: analysis on a line or a circle, loop-exact vocoding and
band-limited resampling of loops."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from audiodiff.spectrogram import MelConfig, MelSpectrogram, denormalize, normalize

# Frames of wrap on each side of an unrolled loop, in n_fft's: more than the bundled vocoder's
# reach (its ConvNeXt trunk sees 24 frames each way, and each refinement iteration n_fft more).
LOOP_PAD = 6


def analyse(audio: Tensor, frames: int, config: MelConfig) -> Tensor:
    """Waveform ``[samples]`` -> normalised log-mel ``[1, n_mels, frames]`` clamped to ``[-1, 1]``.

    The waveform is zero-padded (or cut) to ``(frames - 1) * hop_length`` samples first, the
    length a vocoder gives back for ``frames`` frames, so the frames line up with the output's.
    """
    audio = F.pad(audio, (0, max(0, config.num_samples(frames) - len(audio))))[: config.num_samples(frames)]
    mel = MelSpectrogram(config).to(audio.device)(audio[None].float())
    return normalize(mel, config).clamp(-1, 1)[..., :frames]


def circle_frames(samples: int, config: MelConfig) -> int:
    """Frames of a loop of ``samples`` samples: ``round(samples / hop_length)`` (at least 2)."""
    return max(2, round(samples / config.hop_length))


def periodic_resample(audio: Tensor, samples: int) -> Tensor:
    """A loop ``[..., length]`` resampled to ``[..., samples]`` as one period of a periodic signal.

    Band-limited (zero-padding or truncating its Fourier series), so the result loops exactly;
    ``samples == length`` returns ``audio`` itself.
    """
    length = audio.shape[-1]
    if samples == length:
        return audio
    spectrum = torch.fft.rfft(audio.double(), dim=-1)
    bins = samples // 2 + 1
    spectrum = spectrum[..., :bins] if spectrum.shape[-1] >= bins else F.pad(spectrum, (0, bins - spectrum.shape[-1]))
    if length % 2 == 0 and samples > length:  # split the old Nyquist bin between +-f
        spectrum[..., length // 2] *= 0.5
    return (torch.fft.irfft(spectrum, n=samples, dim=-1) * (samples / length)).to(audio.dtype)


def analyse_loop(audio: Tensor, frames: int, config: MelConfig) -> Tensor:
    """One period of a loop ``[samples]`` -> the normalised log-mel circle ``[1, n_mels, frames]``.

    The loop is resampled to ``frames * hop_length`` samples (:func:`periodic_resample`) so that
    ``frames`` hops make exactly one period, then analysed with its wrap on both sides, so frame 0
    sees the end of the loop before it as frame ``frames - 1`` sees its start after it.
    """
    hop, half = config.hop_length, config.n_fft // 2
    period = periodic_resample(audio, frames * hop)
    lead = -(-half // hop) * hop
    index = torch.arange(-lead, (frames - 1) * hop + lead + 1) % len(period)
    mel = MelSpectrogram(config).to(audio.device)(period[index][None].float())
    return normalize(mel, config).clamp(-1, 1)[..., lead // hop: lead // hop + frames]


def vocode(vocoder, mel: Tensor, config: MelConfig, period: int | None = None) -> Tensor:
    """Normalised log-mel ``[1, n_mels, frames]`` -> waveform ``[1, (frames - 1) * hop_length]``
    (``period``: the mel is an unrolled loop of that many frames, see ``Vocoder.forward``)."""
    return vocoder(denormalize(mel, config), config, period=period)


def loop_crossfade(audio: Tensor, start: int, period: int, crossfade: int) -> Tensor:
    """One seamless period ``[..., period]`` out of a vocoded stretch of a periodic mel.

    ``audio [..., >= start + period + crossfade]`` plays the loop from sample ``start`` on. The
    period is ``audio[start : start + period]`` except that its first ``crossfade`` samples fade
    (raised cosine) from the stretch's next period, ``audio[start + period + t]``, into its own:
    so sample 0 of the result is ``audio[start + period]``, which is the sample that follows
    ``audio[start + period - 1]``, the result's last one -- the wrap is two neighbouring samples of
    one vocoder output.
    """
    out = audio[..., start:start + period].clone()
    if crossfade > 0:
        t = torch.arange(crossfade, dtype=torch.float64, device=audio.device)
        fade_in = (0.5 - 0.5 * torch.cos(math.pi * t / crossfade)).to(audio.dtype)
        nxt = audio[..., start + period:start + period + crossfade]
        out[..., :crossfade] = fade_in * out[..., :crossfade] + (1 - fade_in) * nxt
    return out


def vocode_loop(vocoder, mel: Tensor, samples: int, config: MelConfig) -> Tensor:
    """The mel circle ``[1, n_mels, frames]`` -> one seamless period ``[1, samples]`` of audio.

    The circle is unrolled with ``pad`` frames of wrap before it and ``pad`` plus a crossfade
    after it and vocoded once, told its period (a vocoder that can, the neural one, then repeats
    with it: its phase turns a whole number of times per period), cut to one period by
    :func:`loop_crossfade` (crossfade ``n_fft`` samples, at most half the period), and resampled
    from ``frames * hop_length`` to ``samples`` with :func:`periodic_resample`. ``pad`` is
    ``LOOP_PAD`` times ``n_fft`` in frames: with the bundled vocoder the two periods of such an
    unrolled output then differ by about 1% of its level at the cut (8 frames of pad: 11%; no
    period: they are unrelated).
    """
    frames, hop = mel.shape[-1], config.hop_length
    period = frames * hop
    crossfade = min(config.n_fft, period // 2)
    pad = LOOP_PAD * -(-config.n_fft // hop)
    index = torch.arange(-pad, frames + -(-crossfade // hop) + pad + 1) % frames
    audio = vocode(vocoder, mel[..., index.to(mel.device)], config, period=frames)
    return periodic_resample(loop_crossfade(audio, pad * hop, period, crossfade), samples)

