"""Variable-length training batches: canvas sizes, fitting a clip to a canvas, the batch plan."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff.data.durations import FADE_SECONDS, DurationBatchSampler, canvas_frames, fit_to_canvas
from audiodiff.spectrogram import MelConfig, silence_level

MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
FLOOR = silence_level(MEL)


def sampler(items: int = 1000, **kwargs) -> DurationBatchSampler:
    settings = {"batch_size": 4, "low": 0.25, "high": 1.0, "config": MEL, "max_frames": 128, "seed": 0, **kwargs}
    return DurationBatchSampler(items, **settings)


def test_canvas_frames_round_up_to_16_and_stop_at_the_cache() -> None:
    assert canvas_frames(MEL, 0.25, 128) == 32  # 1 + 2000 // 64 = 32 frames
    assert canvas_frames(MEL, 0.26, 128) == 48
    assert canvas_frames(MEL, 5.0, 128) == 128


def test_fit_to_canvas_keeps_a_short_sound_and_silences_past_the_canvas() -> None:
    mel = torch.rand(16, 128) * 2 - 1
    out = fit_to_canvas(mel, 0.2, 0.5, 64, MEL)  # the sound (0.2 s) fits the canvas (0.5 s)
    centres = torch.arange(64) * 64 / 8000
    assert out.shape == (16, 64)
    assert torch.equal(out[:, centres < 0.5], mel[:, :64][:, centres < 0.5])
    assert (out[:, centres >= 0.5] == FLOOR).all()


def test_fit_to_canvas_fades_a_longer_sound_out_before_the_end() -> None:
    mel = torch.full((16, 128), 0.5)
    out = fit_to_canvas(mel, 1.0, 0.5, 64, MEL)
    centres = torch.arange(64) * 64 / 8000
    before = centres < 0.5 - FADE_SECONDS
    assert (out[:, before] == 0.5).all()
    fading = out[0, (centres >= 0.5 - FADE_SECONDS) & (centres < 0.5)]
    assert (fading[1:] < fading[:-1]).all() and float(fading[0]) <= 0.5  # falls monotonically
    gain = (0.5 - float(centres[centres < 0.5][-1])) / FADE_SECONDS  # the last sounding frame's gain
    expected = max(FLOOR, 0.5 + 2 * math.log(gain) / (MEL.norm_max - MEL.norm_min))
    assert float(fading[-1]) == pytest.approx(expected, abs=1e-6)
    assert (out[:, centres >= 0.5] == FLOOR).all()


def test_the_plan_is_a_function_of_seed_and_epoch_and_covers_each_item_once() -> None:
    a, b = sampler(), sampler()
    assert a.plan() == b.plan()
    b.set_epoch(1)
    assert a.plan() != b.plan()
    plan = a.plan()
    items = [i for batch in plan for i, _ in batch]
    assert len(items) == len(set(items)) and len(items) > 900
    for batch in plan:
        seconds = {s for _, s in batch}
        assert len(seconds) == 1 and 0.25 <= seconds.pop() <= 1.0
        assert len(batch) == 4 * 128 // canvas_frames(MEL, batch[0][1], 128)


def test_durations_are_log_uniform() -> None:
    seconds = [batch[0][1] for epoch in range(20) for batch in sampler(items=2000, seed=epoch).plan()]
    below = sum(s < 0.5 for s in seconds) / len(seconds)  # log-uniform on [0.25, 1]: P(< 0.5) = 1/2
    assert 0.4 < below < 0.6, below


def test_ranks_split_the_batches_and_start_skips_them() -> None:
    whole = sampler().plan()
    ranks = [sampler(num_replicas=2, rank=r).plan() for r in (0, 1)]
    assert ranks[0] == whole[0::2] and ranks[1] == whole[1::2]
    resumed = sampler()
    resumed.start = 3
    assert list(resumed) == whole[3:] and len(resumed) == len(whole)


def test_epochs_tell_the_dataset_and_no_batch_is_larger_than_the_data() -> None:
    told = []
    small = sampler(items=10, on_epoch=told.append)
    small.set_epoch(4)
    assert told == [4] and all(len(batch) <= 10 for batch in small.plan()) and small.plan()


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (0.5, 0.25), (0.25, 2.0)])
def test_bad_durations_are_refused(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        sampler(low=low, high=high)
