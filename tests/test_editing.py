"""Sound-design operations (audiodiff.operations): the structural properties, for every sampler.

Tiny random-weight models from conftest. Tolerances: a known region comes out of the sampler
within ``KNOWN_ATOL`` of the input's mel (the last step's float rounding; dpmpp_2m lands on it
exactly); everything said to be bit for bit is compared with ``torch.equal``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from audiodiff import samplers, schedules
from audiodiff.denoiser import guided
from audiodiff.operations import (
    Canvas,
    bars_to_seconds,
    extend,
    generate_long,
    inpaint,
    interpolate,
    lerp_conditioning,
    looppoint,
    signal,
    slerp,
    splicing,
    strength_tail,
    vary,
)
from audiodiff.operations.core import window_frames
from audiodiff.operations.regions import check_regions, frame_mask, generated_samples, keep_known, loop_cut
from audiodiff.pipeline import Pipeline
from audiodiff.samplers import SAMPLERS, denoiser_calls, get_sampler
from audiodiff.schedules import karras_sigmas
from audiodiff.spectrogram import denormalize
from tests.conftest import TINY_MEL

SAMPLER_NAMES = sorted(SAMPLERS)
ODE_SAMPLERS = ["ddim", "dpmpp_2m", "euler", "heun"]  # no fresh noise per step
KNOWN_ATOL = 1e-5
RATE = TINY_MEL.sample_rate


@pytest.fixture(scope="module")
def pipe(class_model_dir: Path) -> Pipeline:
    return Pipeline.from_pretrained(class_model_dir)


@pytest.fixture(scope="module")
def text_pipe(text_model_dir: Path) -> Pipeline:
    return Pipeline.from_pretrained(text_model_dir)


def tone(seconds: float = 0.25, freq: float = 440.0, seed: int = 0) -> Tensor:
    """A decaying tone with a little noise, ``[samples]`` at the tiny rate."""
    t = torch.arange(round(seconds * RATE)) / RATE
    noise = torch.randn(len(t), generator=torch.Generator().manual_seed(seed)) * 0.02
    return (0.5 * torch.sin(2 * math.pi * freq * t) * torch.exp(-3 * t) + noise).float()


# ---------------------------------------------------------------- variation


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_vary_strength_0_returns_the_input_mel(pipe: Pipeline, sampler: str) -> None:
    audio = tone()
    out = vary(pipe, audio, strength=0.0, label="kick", seed=1, sampler=sampler)
    assert torch.equal(out.mel[0], signal.analyse(audio, pipe.frames_for(len(audio)), TINY_MEL)[0])
    assert out.audio.shape == (1, len(audio))
    mel = torch.rand(TINY_MEL.n_mels, 21) * 2 - 1  # a mel of a length the U-Net cannot take as is
    again = vary(pipe, mel, strength=0.0, seed=1, sampler=sampler)
    assert torch.equal(again.mel[0], mel)
    assert again.settings["operation"] == "vary" and again.settings["steps_run"] == 0


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_vary_strength_1_is_plain_generation(pipe: Pipeline, sampler: str) -> None:
    """Up to the training length ``pipe(...)`` itself; longer, the windowed generation of that length."""
    audio = tone(0.2)
    out = vary(pipe, audio, strength=1.0, label=["kick", "hat"], num=2, seed=5, sampler=sampler)
    plain = pipe(label=["kick", "hat"], num=2, seed=5, sampler=sampler, duration=len(audio) / RATE)
    assert torch.equal(out.mel, plain.mel)
    assert torch.equal(out.audio, plain.audio)
    assert out.seeds == plain.seeds
    longer = vary(pipe, tone(0.6), strength=1.0, label="kick", seed=5, sampler=sampler, steps=2)
    long_plain = generate_long(pipe, 0.6, label="kick", seed=5, sampler=sampler, steps=2)
    assert torch.equal(longer.mel, long_plain.mel) and torch.equal(longer.audio, long_plain.audio)


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_vary_distance_to_the_input_grows_with_strength(pipe: Pipeline, sampler: str) -> None:
    """Mean |mel - input| over 3 seeds at S = 0, 1/4, ... 1 (8 steps) never goes down by more than 2%."""
    audio = tone(0.25, 330.0)
    reference = vary(pipe, audio, strength=0.0, seed=0).mel
    distances = [(vary(pipe, audio, strength=s, label="snare", num=3, seed=11, steps=8, sampler=sampler).mel
                  - reference).abs().mean().item() for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert distances[0] == 0.0
    assert all(b >= a * 0.98 for a, b in zip(distances, distances[1:], strict=False)), distances
    assert distances[-1] > distances[1]


def test_strength_tail_is_the_end_of_the_schedule() -> None:
    sigmas = karras_sigmas(8)
    assert torch.equal(strength_tail(sigmas, 1.0), sigmas)
    assert torch.equal(strength_tail(sigmas, 0.0), sigmas[-1:])
    tail = strength_tail(sigmas, 0.5)
    assert len(tail) == 5 and torch.equal(tail, sigmas[sigmas <= tail[0]])


# ---------------------------------------------------------------- inpainting and continuation


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_inpaint_keeps_everything_outside_the_regions(pipe: Pipeline, sampler: str) -> None:
    audio = tone(0.5)
    regions = [(0.3, 0.4), (0.05, 0.1)]
    out = inpaint(pipe, audio, regions, label="hat", seed=2, sampler=sampler)
    frames = pipe.frames_for(len(audio))
    known = signal.analyse(audio, frames, TINY_MEL)[0]
    generate = generated_samples(check_regions(regions, 0.5), len(audio), RATE)
    mask = frame_mask(generate, frames, TINY_MEL)
    outside = mask == 1
    assert outside.sum() > frames // 2 and (mask == 0).sum() > 4
    torch.testing.assert_close(out.mel[0][:, outside], known[:, outside], atol=KNOWN_ATOL, rtol=0)
    assert (out.mel[0][:, mask == 0] - known[:, mask == 0]).abs().max() > 0.1  # the regions did change
    assert torch.equal(out.audio[0][~generate], audio[~generate])
    assert out.settings["regions"] == [[0.05, 0.1], [0.3, 0.4]]


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_inpainting_everything_is_plain_generation(pipe: Pipeline, sampler: str) -> None:
    audio = tone(0.25)
    out = inpaint(pipe, audio, [(0.0, 0.25)], label="kick", seed=9, sampler=sampler)
    plain = pipe(label="kick", seed=9, sampler=sampler, duration=0.25)
    assert torch.equal(out.mel, plain.mel) and torch.equal(out.audio, plain.audio)


def test_the_known_region_constraint_holds_inside_any_sampler() -> None:
    """keep_known alone, with a denoiser that ignores the known mel: the kept frames land on it."""
    known = torch.rand(1, 4, 12) * 2 - 1
    mask = torch.zeros(12)
    mask[:5] = 1.0
    mask[5] = 0.5
    sigmas = karras_sigmas(6)
    for name in SAMPLER_NAMES:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1, 4, 12, generator=gen) * sigmas[0]
        out = get_sampler(name)(keep_known(lambda x, s: torch.tanh(x), known, mask), x, sigmas, generator=[gen])
        torch.testing.assert_close(out[..., :5], known[..., :5], atol=KNOWN_ATOL, rtol=0)


def test_frame_mask_keeps_untouched_frames_and_fades_inside_the_region() -> None:
    generate = torch.zeros(4000, dtype=torch.bool)
    generate[1600:2400] = True  # frame centres 25 .. 37 at hop 64
    half = TINY_MEL.win_length // 2 // TINY_MEL.hop_length  # frames whose window reaches a border
    for crossfade, zero_from, zero_to in [(0, 25, 37), (256, 29, 33)]:  # 256 samples: 4 frames
        mask = frame_mask(generate, 64, TINY_MEL, crossfade=crossfade)
        assert torch.all(mask[: 25 - half] == 1) and torch.all(mask[38 + half:] == 1)  # windows off the region
        assert torch.all(mask[zero_from: zero_to + 1] == 0)
        assert torch.all(mask[zero_from - 1] > 0) and torch.all(mask[zero_to + 1] > 0)
        falling, rising = mask[: zero_from + 1], mask[zero_to:]
        assert torch.all(falling[1:] <= falling[:-1]) and torch.all(rising[1:] >= rising[:-1])
    hard = frame_mask(generate, 64, TINY_MEL, crossfade=None)  # a continuation: nothing known under the region
    assert set(hard.tolist()) == {0.0, 1.0} and torch.equal(hard == 1, frame_mask(generate, 64, TINY_MEL) == 1)
    short = torch.zeros(4000, dtype=torch.bool)
    short[1600:1792] = True  # 3 frames: the crossfade is capped at a third of the run
    assert (frame_mask(short, 64, TINY_MEL, crossfade=800) == 0).sum() >= 1


@pytest.mark.parametrize("regions, message", [
    ([], "non-empty"),
    ([(0.1, 0.05)], "empty"),
    ([(0.1, 0.1)], "empty"),
    ([(-0.1, 0.05)], "outside the sound"),
    ([(0.1, 0.9)], "outside the sound"),
    ([(float("nan"), 0.1)], "finite"),
    ([(0.1,)], "pair"),
    ("0:1", "non-empty list"),
])
def test_inpaint_rejects_bad_regions(pipe: Pipeline, regions, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        inpaint(pipe, tone(0.5), regions, seed=0)
    assert "regions" in str(err.value)


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
@pytest.mark.parametrize("before", [False, True])
def test_extend_keeps_the_input_bit_for_bit(pipe: Pipeline, sampler: str, before: bool) -> None:
    audio = tone(0.3)
    out = extend(pipe, audio, 0.2, before=before, label="kick", seed=4, sampler=sampler)
    n = len(audio)
    assert out.audio.shape == (1, n + round(0.2 * RATE))
    assert torch.equal(out.audio[0, -n:] if before else out.audio[0, :n], audio)
    assert out.settings["operation"] == "extend" and out.settings["before"] is before


def test_looped_extension_keeps_the_input_and_has_the_exact_length(pipe: Pipeline) -> None:
    audio = tone(0.3)
    out = extend(pipe, audio, 0.217, loop=True, label="snare", seed=4)
    assert out.audio.shape == (1, len(audio) + round(0.217 * RATE))
    assert torch.equal(out.audio[0, :len(audio)], audio)
    assert out.mel.shape[-1] == signal.circle_frames(out.audio.shape[1], TINY_MEL)


def test_prediction_continues_a_sine_and_predicts_silence_from_silence() -> None:
    t = torch.arange(3000, dtype=torch.float64)
    wave = 0.7 * torch.sin(t * 0.3 + 1.0) + 0.2 * torch.sin(t * 0.05)
    ahead = splicing.predict(wave[:2048], 512)
    torch.testing.assert_close(ahead[:64], wave[2048:2112], atol=0.005, rtol=0)
    assert ahead.abs().max() <= wave.abs().max()  # minimum-phase: it does not grow
    assert torch.equal(splicing.predict(torch.zeros(100), 10), torch.zeros(10, dtype=torch.float64))
    assert splicing.predict(wave[:3], 4).shape == (4,)


def test_splice_keeps_the_original_and_continues_it_into_the_generated_signal() -> None:
    """A sine and the same sine half a period out of phase: past the join the splice goes on with
    the original, without a jump, and is the generated signal from ``n_fft // 2`` samples on."""
    t = torch.arange(4000, dtype=torch.float64)
    original, generated = torch.sin(t * 0.3), torch.sin(t * 0.3 + math.pi)
    step = (original[1:] - original[:-1]).abs().max()
    for keep in (t < 2000, t >= 2000):
        out = splicing.splice(original, generated, keep, TINY_MEL)
        assert torch.equal(out[keep], original[keep])
        near = (t - 2000 + 0.5).abs() < 8  # the first generated samples continue the original
        torch.testing.assert_close(out[near & ~keep], original[near & ~keep], atol=0.05, rtol=0)
        far = (t - 2000 + 0.5).abs() > TINY_MEL.n_fft // 2
        assert torch.equal(out[far], torch.where(keep, original, generated)[far])
        assert (out[1:] - out[:-1]).abs().max() <= 1.5 * step  # a hard cut jumps by ~2 (the peak-to-peak)
    looped = splicing.splice(original, generated, (t >= 1000) & (t < 3000), TINY_MEL, loop=True)
    assert (looped[1:] - looped[:-1]).abs().max() <= 1.5 * step and abs(looped[0] - looped[-1]) <= 1.5 * step


# ---------------------------------------------------------------- loops


@pytest.mark.parametrize("frames", [20, 34, 57, 200])
def test_cutting_a_loop_elsewhere_turns_the_estimate_with_it(pipe: Pipeline, frames: int) -> None:
    """Cut at frame k, the real network's blended estimate of x is the estimate of x turned by k
    (cut at 0), turned back."""
    cond, uncond = pipe.conditioner(["kick"]), pipe.conditioner.null(1)
    from audiodiff.operations.core import network

    fn = network(pipe, cond, uncond, 2.0, 1.0)  # no duration conditioning: seconds unused
    x = torch.randn(1, TINY_MEL.n_mels, frames, generator=torch.Generator().manual_seed(0)) * 3
    sigma = torch.tensor([3.0])
    window, multiple = window_frames(pipe), pipe.config.unet.length_multiple
    at_zero = Canvas(frames, window, multiple, loop=True)
    with torch.inference_mode():
        for k in (5, frames - 1, frames // 2):
            cut = Canvas(frames, window, multiple, loop=True, cut=k)
            torch.testing.assert_close(cut.blend(fn, x, sigma), at_zero.blend(fn, x.roll(-k, -1), sigma).roll(k, -1),
                                       atol=1e-6, rtol=0)


@pytest.mark.parametrize("frames", [10, 30, 150])
def test_a_loop_is_a_line_from_the_cut_that_runs_on_past_the_wrap(frames: int) -> None:
    """Windows start at the cut; the line's last positions repeat the frames after the cut, so the
    frames before the wrap are denoised seeing what follows them; the repeats' estimates are dropped."""
    area = Canvas(frames, 32, 2, loop=True, cut=3)
    margin = area.line - frames
    assert margin >= 32 // 8 and area.starts()[0] == 0 and area.indices(0)[0] == 3
    seen: list[Tensor] = []

    def position(x: Tensor, sigma: Tensor) -> Tensor:  # each window's estimate: its own positions
        seen.append(x[:, 0, :].clone())
        return torch.arange(x.shape[-1], dtype=x.dtype).expand_as(x).clone()

    x = torch.arange(frames, dtype=torch.float32).expand(1, 4, frames).clone()
    out = area.blend(position, x, torch.ones(1))
    last = torch.cat(seen)[-1]  # the last window's input: circle frames, from its start on
    tail = [(3 + p) % frames for p in range(area.line - area.length, area.line)]
    assert last.long().tolist() == tail  # it runs past frame 2 (the one before the cut) into 3, 4, ...
    if area.line <= area.length:  # one window: each frame's estimate is its own position, never a repeat's
        assert out[0, 0].long().tolist() == [(j - 3) % frames for j in range(frames)]
    assert torch.all(area.coverage() > 0)


def test_loop_cut_is_the_middle_of_the_longest_known_run() -> None:
    mask = torch.tensor([1, 1, 0, 0, 1, 1, 1, 0.5, 0, 1, 1, 1], dtype=torch.float32)
    assert loop_cut(mask) == 11  # the run 9, 10, 11, 0, 1 (across the wrap) is the longest
    assert loop_cut(torch.tensor([0, 1, 1, 1, 0.0])) == 2
    assert loop_cut(torch.zeros(6)) == 0 and loop_cut(torch.ones(6)) == 0


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_loop_has_the_exact_length_and_a_contiguous_wrap(pipe: Pipeline, sampler: str) -> None:
    seconds = bars_to_seconds(1, 480)  # 0.5 s
    out = generate_long(pipe, seconds, label="hat", seed=3, sampler=sampler, loop=True)
    assert out.audio.shape == (1, 4000) and out.mel.shape[-1] == signal.circle_frames(4000, TINY_MEL)
    assert out.settings["loop"] is True and torch.isfinite(out.audio).all()


@pytest.mark.parametrize("sampler", ["dpmpp_2m", "ddpm"])
def test_looped_variation_at_strength_1_is_a_fresh_loop(pipe: Pipeline, sampler: str) -> None:
    loop = tone(0.6)
    out = vary(pipe, loop, strength=1.0, label="kick", seed=2, steps=2, sampler=sampler, loop=True)
    fresh = generate_long(pipe, len(loop) / RATE, label="kick", seed=2, steps=2, sampler=sampler, loop=True)
    assert torch.equal(out.mel, fresh.mel) and torch.equal(out.audio, fresh.audio)
    same = vary(pipe, loop, strength=0.0, seed=2, loop=True)
    assert same.audio.shape == (1, len(loop))
    torch.testing.assert_close(same.mel[0], signal.analyse_loop(loop, same.mel.shape[-1], TINY_MEL)[0])


def test_loop_crossfade_makes_the_wrap_two_neighbouring_samples() -> None:
    audio = torch.randn(3000, generator=torch.Generator().manual_seed(0))
    out = signal.loop_crossfade(audio, 100, 2000, 256)
    assert out.shape == (2000,)
    assert out[0] == audio[2100] and out[-1] == audio[2099]  # the loop plays 2099 -> 2100
    assert torch.equal(out[256:], audio[356:2100])


def test_steadiest_turn_puts_the_wrap_on_the_pair_of_least_flux() -> None:
    gen = torch.Generator().manual_seed(0)
    mel = torch.randn(1, 6, 40, generator=gen).cumsum(-1) * 0.1
    flux = (mel.roll(-1, -1) - mel).abs().mean(-2)[0]  # pair j -> j + 1, circular
    turn = looppoint.steadiest_turn(mel)
    assert turn == (int(flux.argmin()) + 1) % 40
    turned = mel.roll(-turn, -1)
    assert torch.isclose((turned[..., 0] - turned[..., -1]).abs().mean(), flux.min())
    click = torch.zeros(1, 6, 10)
    click[..., 0] = 1.0  # pairs 9 -> 0 and 0 -> 1 change; of the steady ones the first, 1 -> 2, wins
    assert looppoint.steadiest_turn(click) == 2


def test_quietest_sample_starts_the_loop_at_the_pair_nearest_zero() -> None:
    t = torch.arange(4000, dtype=torch.float64)
    audio = torch.sin(2 * math.pi * t / 400 + 1.0)  # zero crossings every 200 samples
    d = looppoint.quietest_sample(audio, 128)
    assert -128 <= d <= 128
    turned = audio.roll(-d)
    best = min(max(abs(float(audio[(s - 1) % 4000])), abs(float(audio[s % 4000]))) for s in range(-128, 129))
    assert max(abs(float(turned[-1])), abs(float(turned[0]))) == pytest.approx(best)
    assert max(abs(float(turned[-1])), abs(float(turned[0]))) < 2 * math.pi / 400
    assert looppoint.quietest_sample(torch.zeros(100), 10) == 0  # ties: no turn


def test_a_fresh_loop_starts_at_its_steadiest_pair_on_a_quiet_sample(pipe: Pipeline) -> None:
    out = generate_long(pipe, 0.5, label="hat", seed=3, steps=3, loop=True)
    frames, hop = out.mel.shape[-1], TINY_MEL.hop_length
    turn, shift = out.settings["loop_turns"][0]
    audio = out.audio[0]
    unturned = audio.roll(shift)  # the loop as vocoded, before it was turned
    heard = signal.analyse_loop(unturned, frames, TINY_MEL)
    assert turn == looppoint.steadiest_turn(heard)
    assert abs(shift - round(turn * len(audio) / frames)) <= hop // 2
    coarse = unturned.roll(-round(turn * len(audio) / frames))
    pairs = [max(abs(float(coarse[(s - 1) % len(audio)])), abs(float(coarse[s % len(audio)])))
             for s in range(-(hop // 2), hop // 2 + 1)]
    assert max(abs(float(audio[-1])), abs(float(audio[0]))) == min(pairs)
    same = generate_long(pipe, 0.5, label="hat", seed=3, steps=3, loop=True)
    assert torch.equal(same.audio, out.audio) and torch.equal(same.mel, out.mel)


def test_periodic_resample_keeps_a_loop_a_loop() -> None:
    t = torch.arange(1000, dtype=torch.float64)
    loop = torch.sin(2 * math.pi * 7 * t / 1000) + 0.3 * torch.cos(2 * math.pi * 31 * t / 1000)
    longer = signal.periodic_resample(loop, 1031)
    s = torch.arange(1031, dtype=torch.float64)
    expected = torch.sin(2 * math.pi * 7 * s / 1031) + 0.3 * torch.cos(2 * math.pi * 31 * s / 1031)
    torch.testing.assert_close(longer, expected, atol=1e-9, rtol=0)
    torch.testing.assert_close(signal.periodic_resample(longer, 1000), loop, atol=1e-9, rtol=0)
    assert signal.periodic_resample(loop, 1000) is loop


def test_bars_to_seconds() -> None:
    assert bars_to_seconds(2, 120) == 4.0
    assert bars_to_seconds(3, 90, beats_per_bar=3) == 6.0
    for kwargs, name in [({"bars": 0, "bpm": 120}, "bars"), ({"bars": 1, "bpm": -1}, "bpm"),
                         ({"bars": 1, "bpm": float("nan")}, "bpm"), ({"bars": 1, "bpm": 1, "beats_per_bar": 0},
                                                                     "beats_per_bar")]:
        with pytest.raises(ValueError, match=name):
            bars_to_seconds(**kwargs)


# ---------------------------------------------------------------- any length


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("frames", [34, 35, 36, 68, 101, 1000, 7501])
def test_windows_cover_every_frame_and_their_weights_sum_to_one(frames: int, loop: bool) -> None:
    if not loop and frames <= 34 and frames % 2:
        return
    area = Canvas(frames, 34, 2, loop=loop)
    assert area.length <= 34 and (area.length % 2 == 0 or area.length == area.line)
    assert torch.all(area.coverage() > 0)
    constant = torch.full((1, 3, frames), 0.37)
    blended = area.blend(lambda x, s: torch.full_like(x, 0.37), constant, torch.ones(1))
    torch.testing.assert_close(blended, constant, atol=1e-6, rtol=0)
    starts = area.starts()
    assert starts[0] == 0 and starts[-1] + area.length == max(area.line, area.length)
    assert all(b - a <= area.length // 2 for a, b in zip(starts, starts[1:], strict=False))


def count_rows(pipe: Pipeline) -> tuple[list[tuple[int, int]], object]:
    """Record ``(rows, frames)`` of every U-Net call."""
    calls: list[tuple[int, int]] = []
    handle = pipe.denoiser.network.register_forward_hook(lambda m, args, out: calls.append(tuple(args[0].shape[::2])))
    return calls, handle


def test_long_generation_has_the_exact_length_and_linear_cost(pipe: Pipeline) -> None:
    window = window_frames(pipe)
    rows = {}
    for seconds in (2, 10, 30, 60):
        calls, handle = count_rows(pipe)
        try:
            out = generate_long(pipe, seconds, label="kick", seed=0, steps=1, sampler="euler")
        finally:
            handle.remove()
        assert out.audio.shape == (1, seconds * RATE)
        assert out.mel.shape[-1] == pipe.frames_for(seconds * RATE)
        assert max(frames for _, frames in calls) == window  # one window of the training length per row
        rows[seconds] = sum(r for r, _ in calls) / 2  # guidance runs two rows per window
        assert rows[seconds] == out.settings["windows"] * denoiser_calls("euler", 1)
    for seconds in (10, 30, 60):  # windows ~ (frames - window) / (window / 2)
        assert rows[seconds] / rows[2] == pytest.approx(seconds / 2, rel=0.15)


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
@torch.inference_mode()
def test_generation_up_to_the_training_length_is_one_sampler_run(pipe: Pipeline, sampler: str) -> None:
    """Each row: the sampler from seeded noise through the guided denoiser, then the vocoder."""
    out = pipe(label=["kick", "hat"], num=2, seed=8, sampler=sampler, duration=0.2)
    samples = round(0.2 * RATE)
    sigmas = schedules.get_sigmas(pipe.config.diffusion.schedule, pipe.config.defaults.steps,
                                  pipe.config.diffusion.sigma_min, pipe.config.diffusion.sigma_max)
    for row, label in enumerate(["kick", "hat"]):
        gen = torch.Generator().manual_seed(8 + row)
        x = samplers.randn_rows((1, TINY_MEL.n_mels, pipe.frames_for(samples)), [gen]) * sigmas[0]
        fn = guided(pipe.denoiser, pipe.conditioner([label]), pipe.conditioner.null(1), pipe.config.defaults.guidance)
        mel = samplers.get_sampler(sampler)(fn, x, sigmas, generator=[gen]).clamp(-1, 1)
        audio = pipe.vocoder(denormalize(mel, TINY_MEL), TINY_MEL)[:, :samples].clamp(-1, 1)
        assert torch.equal(out.mel[row], mel[0]) and torch.equal(out.audio[row], audio[0])
    assert out.settings["operation"] == "generate" and out.settings["windows"] == 1


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_long_rows_equal_requests_made_alone(pipe: Pipeline, sampler: str) -> None:
    batch = generate_long(pipe, 1.0, label=["kick", "hat"], num=2, seed=8, steps=2, sampler=sampler, loop=True)
    alone = generate_long(pipe, 1.0, label="hat", seed=9, steps=2, sampler=sampler, loop=True)
    assert torch.equal(batch.mel[1], alone.mel[0]) and torch.equal(batch.audio[1], alone.audio[0])


# ---------------------------------------------------------------- interpolation


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_interpolation_endpoints_are_plain_generations(pipe: Pipeline, sampler: str) -> None:
    out = interpolate(pipe, label_a="kick", label_b="hat", seed_a=3, seed_b=40, num=3, sampler=sampler)
    a = pipe(label="kick", seed=3, sampler=sampler)
    b = pipe(label="hat", seed=40, sampler=sampler)
    assert torch.equal(out.mel[0], a.mel[0]) and torch.equal(out.audio[0], a.audio[0])
    assert torch.equal(out.mel[2], b.mel[0]) and torch.equal(out.audio[2], b.audio[0])
    assert not torch.equal(out.mel[1], a.mel[0]) and not torch.equal(out.mel[1], b.mel[0])
    assert out.settings["t"] == [0.0, 0.5, 1.0] and out.seeds == [3, 40, 40]


def test_looped_interpolation_endpoints_are_fresh_loops(pipe: Pipeline) -> None:
    out = interpolate(pipe, label_a="kick", label_b="hat", seed_a=3, seed_b=40, num=3, steps=3, loop=True,
                      duration=0.5)
    for row, label, seed in [(0, "kick", 3), (2, "hat", 40)]:
        alone = generate_long(pipe, 0.5, label=label, seed=seed, steps=3, loop=True)
        assert torch.equal(out.mel[row], alone.mel[0]) and torch.equal(out.audio[row], alone.audio[0])


def test_text_interpolation_endpoints_and_conditioning(text_pipe: Pipeline) -> None:
    out = interpolate(text_pipe, "a deep kick drum", "a bell", seed_a=1, num=3)
    a = text_pipe("a deep kick drum", seed=1)
    b = text_pipe("a bell", seed=1)
    assert torch.equal(out.mel[0], a.mel[0]) and torch.equal(out.mel[2], b.mel[0])
    ca, cb = text_pipe.conditioner(["a deep kick drum"]), text_pipe.conditioner(["a bell"])
    middle = lerp_conditioning(ca, cb, 0.5)
    real = int(middle.mask[0].sum())
    assert real == max(int(ca.mask.sum()), int(cb.mask.sum())) and bool(middle.mask[0, :real].all())
    torch.testing.assert_close(middle.pooled, (ca.pooled + cb.pooled) / 2)
    assert lerp_conditioning(ca, cb, 0.0) is ca and lerp_conditioning(ca, cb, 1.0) is cb


def test_slerp_keeps_unit_variance_and_its_endpoints() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 200_000, generator=gen), torch.randn(1, 200_000, generator=gen)
    assert slerp(a, b, 0.0) is a and slerp(a, b, 1.0) is b
    for t in (0.1, 0.25, 0.5, 0.9):
        assert slerp(a, b, t).var().item() == pytest.approx(1.0, abs=0.02)
    assert torch.lerp(a, b, 0.5).var().item() == pytest.approx(0.5, abs=0.02)  # what slerp avoids
    torch.testing.assert_close(slerp(a, a, 0.3), a)


# ---------------------------------------------------------------- bad input


NAN = float("nan")


@pytest.mark.parametrize("call, name", [
    (lambda p: vary(p, tone(), strength=1.5, seed=0), "strength"),
    (lambda p: vary(p, tone(), strength=-0.1, seed=0), "strength"),
    (lambda p: vary(p, tone(), strength=NAN, seed=0), "strength"),
    (lambda p: vary(p, tone(), strength="0.5", seed=0), "strength"),
    (lambda p: vary(p, torch.full((2000,), NAN), strength=0.5, seed=0), "input audio"),
    (lambda p: vary(p, torch.zeros(2, 2000), strength=0.5, seed=0), "input audio"),
    (lambda p: vary(p, tone(), strength=0.5, seed=0, num=0), "num"),
    (lambda p: vary(p, tone(), strength=0.5, seed=0, steps=0), "steps"),
    (lambda p: vary(p, tone(), strength=0.5, seed=0, guidance=-1), "guidance"),
    (lambda p: vary(p, tone(), strength=0.5, seed=0.5), "seed"),
    (lambda p: vary(p, tone(), strength=0.5, seed=0, sampler="nope"), "sampler"),
    (lambda p: extend(p, tone(), -1.0, seed=0), "seconds"),
    (lambda p: extend(p, tone(), 0.0, seed=0), "seconds"),
    (lambda p: extend(p, tone(), NAN, seed=0), "seconds"),
    (lambda p: extend(p, tone(), math.inf, seed=0), "seconds"),
    (lambda p: extend(p, torch.tensor([]), 1.0, seed=0), "audio"),
    (lambda p: inpaint(p, tone(), [(0.0, 0.1)], seed=0, num=-1), "num"),
    (lambda p: generate_long(p, 0.0, seed=0), "duration"),
    (lambda p: generate_long(p, NAN, seed=0), "duration"),
    (lambda p: generate_long(p, 601.0, seed=0), "duration"),
    (lambda p: generate_long(p, 0.01, seed=0, loop=True), "loop"),
    (lambda p: interpolate(p, label_a="kick", seed_a=0, num=1), "num"),
    (lambda p: interpolate(p, label_a="kick", seed_a=0, duration=-2), "duration"),
])
def test_bad_input_is_refused_naming_the_argument(pipe: Pipeline, call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call(pipe)
