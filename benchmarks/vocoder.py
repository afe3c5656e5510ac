"""Vocoder quality and speed on held-out real clips: Griffin-Lim (32 and 100 iterations) vs neural.

Usage: python benchmarks/vocoder.py --data data/oneshots --vocoder audiodiff/pretrained/vocoder
       [--vocoder ANOTHER_FOLDER ...] [--play SETTING=VALUE[,SETTING=VALUE...] ...] [--clips 64]
       [--split val|train|all] [--threads 2] [--decompose]

For each clip the log-mel is vocoded back to audio and compared with the clip:
- multi-resolution STFT distance (spectral convergence + log magnitude, FFT sizes 512/1024/2048)
  between the output and the clip;
- log-mel L1: mean |log-mel of the clip - log-mel of the re-analysed output|;
- real-time factor: synthesis time / audio duration, on this CPU with ``--threads`` threads.
Distances are averaged over clips; the RTF is total time over total duration (one untimed warm-up
call per vocoder first; the vocoders take turns clip by clip, in a random order drawn per clip
with a fixed seed). The clips are spread evenly over the split's sorted file list (``--split all``:
every file, for a folder that no training used).
``--play SETTINGS`` adds each neural vocoder again with those synthesis settings
(``SynthesisConfig`` fields, which shape no weights: ``refine_iterations``, ``refine_fit_steps``,
``refine_anchor``) in place of its config's, e.g. ``--play refine_anchor=0,refine_fit_steps=3``.

``--decompose`` also tells a neural vocoder's magnitude and phase apart (its phase as the
refinement starts from it: integrated from the network's magnitude at the mel-fitted frequency):
each is combined with the clip's own STFT phase or magnitude (and Griffin-Lim's least-squares
magnitude with the true phase, for reference), and the same two distances are printed, with the
mean log-magnitude error of each magnitude estimate against the clip's. Five rows go through the
vocoder's refinement: its own output; the network's magnitude with the phase integrated at the
slope-only frequency estimate (the magnitude's slope, without the mel fit); and with the phase
integrated from the clip's instantaneous frequency (measured from the clip's STFT phase) in place
of the vocoder's own estimate: everywhere, only at the loud peaks of the network's magnitude (what
a better estimate of the partials' frequency could at most win), and everywhere but there. The
last row is that estimate's error at the clip's loud spectral peaks, in bins, beside the error of
the slope of the clip's own magnitude.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from audiodiff.data.clips import load_sounds
from audiodiff.data.layouts import scan
from audiodiff.spectrogram import MelConfig, MelSpectrogram
from audiodiff.stft import bin_frequencies, check_spectrogram, istft, stft
from audiodiff.vocoders import GriffinLimVocoder, NeuralVocoder, SynthesisConfig, Vocoder
from audiodiff.vocoders.differences import local_maxima
from audiodiff.vocoders.frequency import mel_fitted_frequency, slope_frequency
from audiodiff.vocoders.losses import MultiResolutionSTFTLoss
from audiodiff.vocoders.mel_inverse import MelInverse
from audiodiff.vocoders.phase import gradient_phase

# (magnitude [n, bins, frames], log-mel [n, n_mels, frames], mel config) -> frequency [n, bins, frames]
FrequencyEstimate = Callable[[Tensor, Tensor, MelConfig], Tensor]


def synthesis_settings(text: str) -> dict[str, int | float]:
    """``"refine_anchor=0,refine_fit_steps=3"`` -> ``{"refine_anchor": 0.0, "refine_fit_steps": 3}``,
    each value of its :class:`SynthesisConfig` field's type."""
    defaults = SynthesisConfig().to_dict()
    settings: dict[str, int | float] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in defaults or not value:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not SETTING=VALUE with SETTING one of {', '.join(defaults)}")
        settings[key] = type(defaults[key])(value)
    return settings


def magnitude_frequency(magnitude: Tensor, mel_config: MelConfig) -> Tensor:
    """STFT magnitude ``[n, n_fft // 2 + 1, frames]`` -> instantaneous frequency (same shape, cycles
    per sample) from its log slope along frequency alone: the slope-only estimate, without the mel fit."""
    check_spectrogram(magnitude, mel_config)
    return slope_frequency(magnitude.transpose(1, 2).clamp_min(1e-12).log(), mel_config).transpose(1, 2)


def phase_frequency(spectrum: Tensor, mel_config: MelConfig) -> Tensor:
    """Complex STFT ``[n, n_fft // 2 + 1, frames]`` (``torch.stft``'s convention) -> instantaneous
    frequency of the same shape: each bin's phase advance from frame to frame beyond its centre
    frequency's, wrapped to ``(-pi, pi]``, averaged over the two frame steps around each frame (one
    step at the ends). Exact for a steady sinusoid within ``n_fft / (2 * hop_length)`` bins of the bin."""
    check_spectrogram(spectrum, mel_config)
    hop = mel_config.hop_length
    centre = bin_frequencies(mel_config, spectrum.real)[:, None]
    if spectrum.shape[-1] < 2:
        return centre.expand(spectrum.shape).clone()
    advance = spectrum.angle().diff(dim=2) - 2 * math.pi * hop * centre
    step = centre + torch.remainder(advance + math.pi, 2 * math.pi).sub(math.pi) / (2 * math.pi * hop)
    return torch.cat([step[..., :1], (step[..., 1:] + step[..., :-1]) / 2, step[..., -1:]], dim=2)


def pick_clips(root: Path, split: str, count: int, sample_rate: int) -> list[Tensor]:
    """``count`` non-silent clips ``[samples]`` spread evenly over the split's files (``"all"``: every file)."""
    files = sorted(entry.path for entry in scan(root).entries if split in ("all", entry.split))
    step = max(1, len(files) // count)
    clips, _ = load_sounds(files[::step], sample_rate)
    return clips[:count]


@torch.inference_mode()
def evaluate(vocoders: dict[str, Vocoder], clips: list[Tensor]) -> dict[str, dict[str, float]]:
    """Mean distances and real-time factor of each vocoder over ``clips``.

    The vocoders take turns on each clip, so a change in the machine's load hits them alike, in
    an order drawn at random for each clip (seed 0), so each is timed about equally often right
    after each other: a vocoder run right after a slower one finds its weights out of the cache.
    (Rotating one order would not do that: it keeps who follows whom.)
    """
    mel_config = next(iter(vocoders.values())).mel_config
    analysis = MelSpectrogram(mel_config)
    stft_distance = MultiResolutionSTFTLoss()
    totals = {name: {"stft": 0.0, "mel": 0.0, "seconds": 0.0} for name in vocoders}
    for vocoder in vocoders.values():
        vocoder(analysis(clips[0][None]))  # warm-up
    duration = 0.0
    names = list(vocoders)
    turns = torch.Generator().manual_seed(0)
    for clip in clips:
        log_mel = analysis(clip[None])
        duration += mel_config.num_samples(log_mel.shape[-1]) / mel_config.sample_rate
        for name in (names[j] for j in torch.randperm(len(names), generator=turns).tolist()):
            vocoder = vocoders[name]
            start = time.perf_counter()
            out = vocoder(log_mel, mel_config)
            totals[name]["seconds"] += time.perf_counter() - start
            totals[name]["stft"] += float(stft_distance(out, clip[None, : out.shape[-1]]))
            totals[name]["mel"] += float((analysis(out) - log_mel).abs().mean())
    return {
        name: {"stft": t["stft"] / len(clips), "mel": t["mel"] / len(clips),
               "rtf": t["seconds"] / duration}
        for name, t in totals.items()
    }


def loud_peaks(magnitude: Tensor) -> Tensor:
    """Boolean mask ``[n, bins, frames]``: bins louder than both neighbours along frequency and
    within 30 dB of their frame's loudest bin."""
    return local_maxima(magnitude, 1) & (magnitude > 10 ** (-30 / 20) * magnitude.amax(dim=1, keepdim=True))


def mixes(magnitude: Tensor, own_frequency: Tensor, log_mel: Tensor, true: Tensor,
          config: MelConfig) -> dict[str, tuple[Tensor, Tensor, bool]]:
    """Row name -> (magnitude, phase, whether the vocoder's refinement plays them) for one clip: the
    network's magnitude and the vocoder's frequency estimate ``[1, bins, frames]``, the clip's
    log-mel ``[1, n_mels, frames]`` and its true STFT ``[1, bins, frames]``."""
    phase = gradient_phase(magnitude, own_frequency, config)
    clip_frequency = phase_frequency(true, config)
    # The clip's frequency only at the network magnitude's loud peaks (where a better frequency
    # estimate could come from), and only elsewhere (the noise and quiet bins between them).
    at_peaks = loud_peaks(magnitude)
    clip_frequency_at = {  # row name suffix -> frequency
        "": clip_frequency,
        " at the network's loud peaks only": torch.where(at_peaks, clip_frequency, own_frequency),
        " everywhere but the network's loud peaks": torch.where(at_peaks, own_frequency, clip_frequency),
    }
    slope_phase = gradient_phase(magnitude, magnitude_frequency(magnitude, config), config)
    return {
        "network magnitude + true phase": (magnitude, true.angle(), False),
        "true magnitude + vocoder phase": (true.abs(), phase, False),
        "least-squares magnitude + true phase": (MelInverse(config)(log_mel.exp()), true.angle(), False),
        "network magnitude + vocoder phase, refined (the vocoder's output)": (magnitude, phase, True),
        "network magnitude + gradient phase of its slope-only frequency, refined": (magnitude, slope_phase, True),
        **{f"network magnitude + gradient phase of the clip's frequency{where}, refined":
           (magnitude, gradient_phase(magnitude, frequency, config), True)
           for where, frequency in clip_frequency_at.items()},
    }


@torch.inference_mode()
def decompose(vocoder: NeuralVocoder, clips: list[Tensor],
              estimate: FrequencyEstimate = mel_fitted_frequency) -> dict[str, tuple[float, float]]:
    """Mean (MR-STFT distance, log-mel L1) of the :func:`mixes` of the network's and the clip's
    magnitude and phase, (network, least-squares) mean log-magnitude error against the clip's
    STFT, and the mean error of the instantaneous frequency that the gradient phase integrates
    (the vocoder's ``estimate``, and the slope of the clip's magnitude) at the clip's loud spectral
    peaks, in bins."""
    config = vocoder.mel_config
    analysis, stft_distance = MelSpectrogram(config), MultiResolutionSTFTLoss()
    totals: dict[str, list[float]] = {}

    def add(name: str, a: float, b: float) -> None:
        row = totals.setdefault(name, [0.0, 0.0])
        row[0] += a / len(clips)
        row[1] += b / len(clips)

    for clip in clips:
        log_mel = analysis(clip[None])
        n = config.num_samples(log_mel.shape[-1])
        true = stft(clip[None, :n], config)[..., : log_mel.shape[-1]]
        magnitude = vocoder.network(log_mel)
        own_frequency = estimate(magnitude, log_mel, config)
        rows = mixes(magnitude, own_frequency, log_mel, true, config)
        for name, (m, p, refined) in rows.items():
            out = vocoder.synthesis.refine(m, p, log_mel) if refined else istft(torch.polar(m, p), config)
            add(name, float(stft_distance(out, clip[None, :n])), float((analysis(out) - log_mel).abs().mean()))
        fitted = rows["least-squares magnitude + true phase"][0]
        log_true = true.abs().clamp_min(1e-5).log()
        add("log-magnitude error: network, least-squares",
            float((magnitude.clamp_min(1e-5).log() - log_true).abs().mean()),
            float((fitted.clamp_min(1e-5).log() - log_true).abs().mean()))
        peaks, clip_frequency = loud_peaks(true.abs()), phase_frequency(true, config)
        bins_off = [float((frequency - clip_frequency).abs()[peaks].mean()) * config.n_fft
                    for frequency in (own_frequency, magnitude_frequency(true.abs(), config))]
        add("frequency error at the clip's peaks, bins: the vocoder's estimate, the clip magnitude's slope", *bins_off)
    return {name: (a, b) for name, (a, b) in totals.items()}


def print_results(results: dict[str, dict[str, float]]) -> None:
    """The table of :func:`evaluate`'s results, then each neural vocoder against the bar."""
    print("| vocoder | MR-STFT distance | log-mel L1 | real-time factor |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['stft']:.3f} | {r['mel']:.3f} | {r['rtf']:.4f} |")
    gl100, gl32 = results["griffinlim:100"], results["griffinlim:32"]
    print()
    for name in results:
        if name.startswith("neural"):
            r = results[name]
            better = [1 - r[k] / gl100[k] for k in ("stft", "mel")]
            passed = min(better) >= 0.3 and r["rtf"] < gl32["rtf"]
            print(f"{name}: {better[0]:+.0%} MR-STFT and {better[1]:+.0%} log-mel L1 better than "
                  f"griffinlim:100; {gl32['rtf'] / r['rtf']:.1f}x faster than griffinlim:32 -> "
                  f"{'meets' if passed else 'misses'} the bar (>= 30% better on both, faster "
                  "than griffinlim:32)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset folder (class sub-folders or a metadata file with splits)")
    parser.add_argument("--vocoder", type=Path, action="append", required=True,
                        help="a neural vocoder folder (repeat to compare several)")
    parser.add_argument("--play", type=synthesis_settings, action="append", default=[],
                        help="also run each neural vocoder with these synthesis settings, e.g. "
                             "refine_iterations=4 or refine_anchor=0,refine_fit_steps=3 (repeatable)")
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--split", default="val", choices=("val", "train", "all"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decompose", action="store_true", help="also take each neural vocoder's output apart")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    neural = {str(path): NeuralVocoder.from_pretrained(path) for path in args.vocoder}
    variants = {",".join(f"{k}={v}" for k, v in settings.items()): settings for settings in args.play}
    refined = {f"{path}, {label}": NeuralVocoder.from_pretrained(path, **settings)
               for path in args.vocoder for label, settings in variants.items()}
    mel = next(iter(neural.values())).mel_config
    vocoders: dict[str, Vocoder] = {
        "griffinlim:32": GriffinLimVocoder(mel, n_iter=32),
        "griffinlim:100": GriffinLimVocoder(mel, n_iter=100),
        **{f"neural ({name})": v for name, v in (neural | refined).items()},
    }
    clips = pick_clips(args.data, args.split, args.clips, mel.sample_rate)
    seconds = sum(c.shape[-1] for c in clips) / mel.sample_rate
    print(f"{len(clips)} {args.split} clips ({seconds:.1f} s) from {args.data}; "
          f"{args.threads} threads on {platform.processor() or platform.machine()}\n")
    print_results(evaluate(vocoders, clips))
    if args.decompose:
        for path, vocoder in neural.items():
            print(f"\nneural ({path}) taken apart (the same distances; the last two rows are "
                  "the log-magnitude and frequency errors of two magnitudes):\n")
            print("| mix | MR-STFT distance | log-mel L1 |")
            print("|---|---:|---:|")
            for name, (a, b) in decompose(vocoder.eval(), clips).items():
                print(f"| {name} | {a:.3f} | {b:.3f} |")


if __name__ == "__main__":
    main()
