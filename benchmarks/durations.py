"""How a model fits a sound into the duration asked for: level at the end and share of silence.

Usage: python benchmarks/durations.py [--models fast full]
       [--durations 0.25 1 3] [--seed 0] [--threads 1]

For each prompt and duration: the output's length in samples (it must be the duration exactly),
the level of its last 20 ms frame relative to its loudest (a sound cut off by the end of the
canvas ends loud; one that fits ends near silence) and the share of 20 ms frames more than 40 dB
below the loudest (a hi-hat asked for 3 s should be mostly silence, rain on a roof should not).
"""

from __future__ import annotations

import argparse

import torch

from audiodiff.pipeline import Pipeline

PROMPTS = ("a closed hi-hat", "footsteps on gravel", "rain on a roof", "a heavy wooden door closing")


def profile(audio: torch.Tensor, frame: int) -> tuple[float, float]:
    """(last frame's RMS in dB below the loudest, share of frames 40 dB or more below it) of ``audio [samples]``."""
    rms = audio[: len(audio) // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt()
    peak = rms.max()
    return float(20 * torch.log10(rms[-1] / peak + 1e-9)), float((rms < peak * 10 ** (-40 / 20)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fast", "full"])
    parser.add_argument("--durations", type=float, nargs="+", default=[0.25, 1.0, 3.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| model | prompt | " + " | ".join(f"{d:g} s: samples, end dB, quiet" for d in args.durations) + " |")
    print("|---" * (2 + len(args.durations)) + "|")
    for name in args.models:
        pipe = Pipeline.from_pretrained(name)
        frame = round(0.02 * pipe.config.mel.sample_rate)
        for prompt in PROMPTS:
            cells = []
            for d in args.durations:
                audio = pipe(prompt, seed=args.seed, duration=d).audio[0]
                end, quiet = profile(audio, frame)
                cells.append(f"{len(audio)}, {end:.0f}, {quiet:.0%}")
            print(f"| {name} | {prompt} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
