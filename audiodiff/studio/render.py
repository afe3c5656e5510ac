"""Spectrogram pictures: a waveform's log-mel as a PNG with time (s) and frequency (Hz) axes.

Drawn with Pillow alone (a Gradio dependency; matplotlib is not), so the axes are drawn here:
the plot area is the log-mel, one pixel column per time slice, rows placed on the mel scale.
"""

from __future__ import annotations

import io
import math

import librosa
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from audiodiff.spectrogram import MelConfig, MelSpectrogram

WIDTH, HEIGHT = 720, 280  # whole picture, pixels
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 10, 40  # margins around the plot, pixels
BACKGROUND, INK = (255, 255, 255), (40, 40, 40)
DYNAMIC_RANGE_DB = 80.0  # colours span the loudest bin down to this many dB below it
# "magma"-like ramp: dark purple -> red -> pale yellow, interpolated in between.
RAMP = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21),
                 (250, 193, 39), (252, 255, 164)], dtype=np.float64)
MIN_TICK_GAP = 16  # pixels between frequency labels
HZ_TICKS = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)


def spectrogram_png(audio: Tensor, config: MelConfig, *, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """PNG bytes of the log-mel of ``audio [samples]`` (or ``[1, samples]``) analysed with ``config``.

    The plot spans ``width - LEFT - RIGHT`` by ``height - TOP - BOTTOM`` pixels, low frequencies
    at the bottom; ticks name seconds on the x axis and Hz (placed on the mel scale) on the y axis.
    """
    log_mel = MelSpectrogram(config)(audio.detach().reshape(-1).float().cpu())  # [n_mels, frames]
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    picture = Image.new("RGB", (width, height), BACKGROUND)
    picture.paste(_plot(log_mel, plot_w, plot_h), (LEFT, TOP))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=12)
    draw.rectangle((LEFT - 1, TOP - 1, LEFT + plot_w, TOP + plot_h), outline=INK)
    seconds = audio.shape[-1] / config.sample_rate
    for t in _time_ticks(seconds):
        x = LEFT + round(t / seconds * (plot_w - 1)) if seconds > 0 else LEFT
        draw.line((x, TOP + plot_h, x, TOP + plot_h + 4), fill=INK)
        draw.text((x, TOP + plot_h + 6), f"{t:g}", fill=INK, font=font, anchor="mt")
    draw.text((LEFT + plot_w // 2, height - 2), "time (s)", fill=INK, font=font, anchor="md")
    for hz, y in _frequency_ticks(config, plot_h):
        draw.line((LEFT - 5, TOP + y, LEFT - 1, TOP + y), fill=INK)
        draw.text((LEFT - 7, TOP + y), f"{hz // 1000}k" if hz >= 1000 else str(hz), fill=INK, font=font, anchor="rm")
    draw.text((4, TOP + plot_h // 2), "Hz", fill=INK, font=font, anchor="lm")
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _plot(log_mel: Tensor, width: int, height: int) -> Image.Image:
    """The coloured plot area: ``log_mel [n_mels, frames]`` (natural log) resized to ``width x height``."""
    db = log_mel.numpy().astype(np.float64) * (20.0 / math.log(10.0))
    level = np.clip((db - (db.max() - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)[::-1]  # high bands on top
    position = level * (len(RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(RAMP) - 2)
    frac = (position - low)[..., None]
    rgb = RAMP[low] * (1 - frac) + RAMP[low + 1] * frac  # [n_mels, frames, 3]
    return Image.fromarray(rgb.round().astype(np.uint8), "RGB").resize((width, height), Image.Resampling.BILINEAR)


def _time_ticks(seconds: float, most: int = 10) -> list[float]:
    """Round tick positions in ``[0, seconds]``: a 1-2-5 step giving at most ``most`` ticks."""
    if seconds <= 0:
        return [0.0]
    step = next(m * 10.0**e for e in range(-3, 5) for m in (1, 2, 5) if seconds / (m * 10.0**e) <= most)
    return [round(i * step, 6) for i in range(int(seconds / step + 1e-9) + 1)]


def _frequency_ticks(config: MelConfig, height: int) -> list[tuple[int, int]]:
    """``(Hz, row)`` of each tick of :data:`HZ_TICKS` inside ``[fmin, fmax]``; row 0 is ``fmax``
    (the Slaney mel scale, as :func:`~audiodiff.spectrogram.mel_filterbank`); ticks closer than
    ``MIN_TICK_GAP`` pixels to a higher one are left out."""
    low, high = librosa.hz_to_mel(max(config.fmin, 1e-3)), librosa.hz_to_mel(config.fmax)
    ticks: list[tuple[int, int]] = []
    for hz in sorted(HZ_TICKS, reverse=True):
        row = round((1.0 - (librosa.hz_to_mel(hz) - low) / (high - low)) * (height - 1))
        if config.fmin < hz < config.fmax and (not ticks or row - ticks[-1][1] >= MIN_TICK_GAP):
            ticks.append((hz, row))
    return ticks
