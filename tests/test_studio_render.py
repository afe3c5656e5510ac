"""Spectrogram pictures: size, a coloured plot, and axes drawn in the margins."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from audiodiff.spectrogram import MelConfig
from audiodiff.studio import render
from tests.conftest import TINY_MEL


def picture(audio: torch.Tensor, config: MelConfig, **size: int) -> np.ndarray:
    png = render.spectrogram_png(audio, config, **size)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.mark.parametrize("config", [TINY_MEL, MelConfig()], ids=["8k", "22k"])
def test_size_plot_and_axes(config: MelConfig) -> None:
    t = torch.arange(config.sample_rate // 2) / config.sample_rate
    image = picture(0.5 * torch.sin(2 * math.pi * 440 * t), config, width=400, height=200)
    assert image.shape == (200, 400, 3)
    plot = image[render.TOP + 2:200 - render.BOTTOM - 2, render.LEFT + 2:400 - render.RIGHT - 2]
    assert plot.std() > 10  # a picture, not a flat fill
    dark = image.sum(axis=2) < 300
    left, bottom = dark[:, : render.LEFT - 2], dark[200 - render.BOTTOM + 2:, render.LEFT:]
    assert left.sum() > 50 and bottom.sum() > 50  # tick labels and axis titles in both margins
    assert not dark[: render.TOP - 2].any()  # nothing above the plot


def test_ticks_name_seconds_and_hertz() -> None:
    assert render._time_ticks(2.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    assert render._time_ticks(0.25) == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25]
    ticks = render._frequency_ticks(MelConfig(), 230)
    hz = [h for h, _ in ticks]
    assert 1000 in hz and max(hz) < 11025
    rows = [row for _, row in ticks]
    assert all(b - a >= render.MIN_TICK_GAP for a, b in zip(rows, rows[1:], strict=False))


def test_silence_and_a_short_sound_render() -> None:
    assert picture(torch.zeros(100), TINY_MEL).shape == (render.HEIGHT, render.WIDTH, 3)
