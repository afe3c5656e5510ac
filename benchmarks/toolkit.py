"""Measured properties of the sound-design operations (issue 17) on the bundled model.

Usage: python benchmarks/toolkit.py [--model fast] [--threads 1] [--seeds 20] [--first-seed 0] [--inputs 10] [--steps N]
       [--durations 2 10 30 60] [--only inpaint loop extend vary interpolate long]

Inputs are the bundled model's own samples (``samples/*.wav`` with the prompt in their sidecar).
Spectral flux between two frames is the mean absolute difference of their normalised log-mels;
"p95" is the 95th percentile of a sound's own frame-to-frame flux. Where a seam is judged, the
same statistic is also given for a place where nothing was edited (the baseline), because the
largest of a few neighbouring pairs exceeds a sound's p95 often even where there is no seam.

* inpaint: region 0.6-1.0 s of input ``k % inputs`` with seed ``k``. Boundary flux: the mean flux
  over the frame pairs of each border's crossfade (``frame_mask`` strictly between 0 and 1, and
  the pair entering it), the worse border, over the input's p95; baseline: the input's own flux
  over the same pairs. Also the largest single pair there, the worst mel error outside the
  regions, and the waveform step at the splice over the output's p95 step.
* loop: 2 s ``generate_long(loop=True)`` of prompt ``k`` vs plain ``pipe(...)`` with the same seed:
  the flux from the last frame to the first of the output analysed as a loop, over its interior
  p95, and its rank among the interior pairs (a seamless wrap is just another pair: its rank is
  uniform, median ~0.5; a seam ranks near 1); the waveform jump ``|a[0] - a[-1]|`` over the p95
  (and median) of ``|a[t+1] - a[t]|``, and over the p95 of the steps within ``n_fft // 4`` samples
  of the wrap (where the loud part of a loop lies across the wrap, the steps there are larger than
  the loop's p95 step).
* extend: 1 s of input ``k`` continued by 1 s; the flux of the pair across the join (the mask is
  hard there) over the input's p95, baseline the same pair in the sample's real second second,
  and the largest pair within 0.1 s after the join; the input's samples kept bit for bit (checked).
* vary: mean ``|mel - input mel|`` at S = 0, 0.25, 0.5, 0.75, 1 over ``--inputs`` inputs.
* interpolate: 5 prompt pairs, 5 steps each: mean ``|mel_t - mel_A|`` along the path.
* long: peak RSS (own subprocess) and time of ``generate_long`` for each duration, and the flux at
  the frames where windows start or end vs the output's p95.
* RTF of every operation (wall time / seconds of audio produced) beside plain 2 s sampling.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SILENT = 1e-3  # a loop whose peak is below this is silence, whatever its wrap measures
PAIRS = [("a punchy electronic kick drum", "a crash cymbal"), ("violin note a4", "trumpet note c5"),
         ("a warm synth pad chord at c4", "a shaker"), ("acoustic grand piano note c4", "marimba note e4"),
         ("a low tom", "a hand clap")]


def flux(mel: torch.Tensor) -> torch.Tensor:
    """``[n_mels, frames]`` -> ``[frames - 1]`` mean |difference| of neighbouring frames."""
    return (mel[:, 1:] - mel[:, :-1]).abs().mean(0)


def p95(values: torch.Tensor) -> float:
    return float(torch.quantile(values.double(), 0.95))


def crossfade_groups(mask: torch.Tensor) -> list[list[int]]:
    """Indices of flux pairs (j, j+1) in each border's crossfade."""
    zone = ((mask[:-1] < 1) | (mask[1:] < 1)) & ((mask[:-1] > 0) | (mask[1:] > 0))
    groups: list[list[int]] = []
    for j in torch.nonzero(zone).flatten().tolist():
        if groups and j == groups[-1][-1] + 1:
            groups[-1].append(j)
        else:
            groups.append([j])
    return groups


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from audiodiff.pipeline import Pipeline

        self.args = args
        self.pipe = Pipeline.from_pretrained(args.model)
        args.steps = args.steps or self.pipe.config.defaults.steps
        self.config = self.pipe.config.mel
        self.files = sorted((ROOT / "samples").glob("*.wav"))
        self.rtf: dict[str, list[float]] = {}

    def input(self, k: int, seconds: float | None = None) -> tuple[torch.Tensor, str]:
        from audiodiff import audio as audio_io

        path = self.files[k % len(self.files)]
        audio, _ = audio_io.load(path, self.config.sample_rate)
        audio = audio[0] if seconds is None else audio[0, :round(seconds * self.config.sample_rate)]
        return audio, json.loads(path.with_suffix(".json").read_text())["prompt"]

    def timed(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, steps=self.args.steps, **kwargs)
        self.rtf.setdefault(name, []).append((time.perf_counter() - start) / (out.audio.numel() / out.sample_rate))
        return out

    def mel_of(self, audio: torch.Tensor) -> torch.Tensor:
        from audiodiff.operations import signal

        return signal.analyse(audio, self.pipe.frames_for(len(audio)), self.config)[0]

    def seam(self, mel: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> tuple[float, float, float]:
        """(worst border's mean crossfade flux / p95, baseline on ``reference``, worst single pair / p95)."""
        level = p95(flux(reference))
        f, g = flux(mel), flux(reference)
        groups = crossfade_groups(mask)
        return (max(float(f[i].mean()) for i in groups) / level, max(float(g[i].mean()) for i in groups) / level,
                max(float(f[i].max()) for i in groups) / level)

    def inpaint(self) -> list[str]:
        from audiodiff.operations import inpaint
        from audiodiff.operations.inpainting import CROSSFADE
        from audiodiff.operations.regions import frame_mask, generated_samples

        rows, rate = [], self.config.sample_rate
        for k in range(self.args.seeds):
            audio, prompt = self.input(k)
            out = self.timed("inpaint", inpaint, self.pipe, audio, [(0.6, 1.0)], prompt=prompt,
                             seed=k + self.args.first_seed)
            known = self.mel_of(audio)
            generate = generated_samples([(0.6, 1.0)], len(audio), rate)
            mask = frame_mask(generate, known.shape[-1], self.config, crossfade=round(CROSSFADE * rate))
            seam, base, single = self.seam(out.mel[0], known, mask)
            outside = float((out.mel[0] - known)[:, mask == 1].abs().max())
            a = out.audio[0]
            steps = (a[1:] - a[:-1]).abs()
            borders = [round(0.6 * rate), round(1.0 * rate)]
            jump = max(float(steps[b - 1]) for b in borders) / p95(steps)
            assert torch.equal(a[~generate], audio[~generate])
            rows.append((seam, base, single, outside, jump))
        return self.summary("inpaint (region 0.6-1.0 s)", rows, ["crossfade flux/p95", "baseline", "max pair/p95",
                                                                    "outside |err|", "splice step/p95 step"])

    def loop(self) -> list[str]:
        from audiodiff.operations import generate_long

        rows = []
        for k in range(self.args.seeds):
            _, prompt = self.input(k)
            seed = k + self.args.first_seed
            looped = self.timed("loop 2 s", generate_long, self.pipe, 2.0, prompt, seed=seed, loop=True).audio[0]
            plain = self.timed("sample 2 s", self.pipe, prompt, seed=seed, duration=2.0).audio[0]
            level = 20 * torch.log10(looped.pow(2).mean().sqrt().clamp_min(1e-9)
                                     / plain.pow(2).mean().sqrt().clamp_min(1e-9))
            rows.append((*self.wrap(looped), *self.wrap(plain), float(level),
                         float(looped.abs().max() < SILENT)))
        names = ["wrap flux/p95", "wrap flux rank (uniform if seamless)", "jump/p95 step", "jump/median step",
                 "jump/p95 step near the wrap"]
        return self.summary("loop (2 s) vs plain sample", rows, [f"loop {n}" for n in names] +
                            [f"plain {n}" for n in names] + ["loop RMS level - plain's (dB)",
                                                             f"loop silent (peak < {SILENT:g}): 1, else 0"])

    def wrap(self, audio: torch.Tensor) -> tuple[float, float, float, float, float]:
        """(wrap flux / interior p95, its rank among the interior pairs in [0, 1], jump / p95 step,
        jump / median step, jump / p95 of the steps within ``n_fft // 4`` samples of the wrap) of
        ``audio`` played as a loop."""
        from audiodiff.operations import signal

        mel = signal.analyse_loop(audio, signal.circle_frames(len(audio), self.config), self.config)[0]
        interior = flux(mel)
        wrap = float((mel[:, 0] - mel[:, -1]).abs().mean())
        steps = (audio[1:] - audio[:-1]).abs()
        jump = float((audio[0] - audio[-1]).abs())
        rank = float((interior < wrap).double().mean())
        near = self.config.n_fft // 4
        local = torch.cat([steps[-near:], steps[:near]])
        return wrap / p95(interior), rank, jump / p95(steps), jump / float(steps.median()), jump / p95(local)

    def extend(self) -> list[str]:
        from audiodiff.operations import extend
        from audiodiff.operations.inpainting import CROSSFADE
        from audiodiff.operations.regions import frame_mask

        rows, rate = [], self.config.sample_rate
        for k in range(self.args.seeds):
            audio, prompt = self.input(k, 1.0)
            out = self.timed("extend 1 s + 1 s", extend, self.pipe, audio, 1.0, prompt=prompt,
                             seed=k + self.args.first_seed)
            assert torch.equal(out.audio[0, :len(audio)], audio)
            generate = torch.arange(out.audio.shape[-1]) >= len(audio)
            frames = out.mel.shape[-1]
            hard = frame_mask(generate, frames, self.config, crossfade=None)
            join = int(torch.nonzero(hard < 1)[0])  # the first generated frame
            zone = frame_mask(generate, frames, self.config, crossfade=round(CROSSFADE * rate))  # 0.1 s after
            full, _ = self.input(k, 2.0)  # what the input really went on with, as the baseline
            reference = self.mel_of(full)[:, :frames]
            level = p95(flux(reference))
            heard = self.mel_of(out.audio[0])  # the output as heard: the input's samples, then the new part
            seam, base, single = self.seam(out.mel[0], reference, zone)
            heard_seam, _, heard_single = self.seam(heard, reference, zone)
            rows.append((float(flux(out.mel[0])[join - 1]) / level, float(flux(heard)[join - 1]) / level,
                         float(flux(reference)[join - 1]) / level, seam, heard_seam, base, single, heard_single))
        return self.summary("extend (1 s + 1 s; baseline: the sample's own second second)", rows,
                            ["join pair flux/p95 (mel)", "same, output audio's mel", "baseline",
                             "mean flux over 0.1 s after/p95 (mel)", "same, output audio's mel", "baseline",
                             "max pair there/p95 (mel)", "same, output audio's mel"])

    def vary(self) -> list[str]:
        from audiodiff.operations import vary

        strengths = (0.0, 0.25, 0.5, 0.75, 1.0)
        table = torch.zeros(self.args.inputs, len(strengths))
        for k in range(self.args.inputs):
            audio, prompt = self.input(k)
            reference = self.mel_of(audio)
            for j, s in enumerate(strengths):
                out = self.timed(f"vary S={s}", vary, self.pipe, audio, strength=s, prompt=prompt, seed=k)
                table[k, j] = (out.mel[0] - reference).abs().mean()
        monotone = int((table[:, 1:] >= table[:, :-1]).all(1).sum())
        return [f"## vary: mean |mel - input| over {self.args.inputs} inputs ({monotone} monotone in S)", "",
                "| S | " + " | ".join(f"{s:g}" for s in strengths) + " |", "|---" * (len(strengths) + 1) + "|",
                "| distance | " + " | ".join(f"{v:.3f}" for v in table.mean(0).tolist()) + " |", ""]

    def interpolate(self) -> list[str]:
        from audiodiff.operations import interpolate

        table = torch.zeros(len(PAIRS), 5)
        for k, (a, b) in enumerate(PAIRS):
            out = self.timed("interpolate (5)", interpolate, self.pipe, a, b, seed_a=k, seed_b=k + 100, num=5)
            table[k] = (out.mel - out.mel[:1]).abs().mean((1, 2))
        monotone = int((table[:, 1:] >= table[:, :-1]).all(1).sum())
        return [f"## interpolate: mean |mel_t - mel_A| over {len(PAIRS)} prompt pairs ({monotone} monotone)", "",
                "| t | 0 | 0.25 | 0.5 | 0.75 | 1 |", "|---|---|---|---|---|---|",
                "| distance | " + " | ".join(f"{v:.3f}" for v in table.mean(0).tolist()) + " |", ""]

    def summary(self, title: str, rows: list[tuple[float, ...]], names: list[str]) -> list[str]:
        values = torch.tensor(rows, dtype=torch.float64)
        lines = [f"## {title}, {len(rows)} seeds", "", "| measure | median | max | <= 1 |", "|---|---|---|---|"]
        for j, name in enumerate(names):
            col = values[:, j]
            passing = "-" if any(word in name for word in ("err", "rank", "dB", "silent")) else \
                f"{int((col <= 1).sum())}/{len(col)}"
            if "silent" in name:
                passing = f"{int(col.sum())}/{len(col)} silent"
            lines.append(f"| {name} | {col.median():.3g} | {col.max():.3g} | {passing} |")
        return [*lines, ""]

    def rtf_table(self) -> list[str]:
        lines = [f"## speed ({self.args.threads} thread(s), {self.args.steps} steps, neural vocoder)", "",
                 "| operation | RTF (median) |", "|---|---|"]
        return lines + [f"| {name} | {torch.tensor(v).median():.2f} |" for name, v in self.rtf.items()] + [""]


def long_child(duration: float, args: argparse.Namespace) -> None:
    """One ``generate_long`` in this process: time, peak RSS and the window-join flux, as JSON."""
    from audiodiff.operations import generate_long
    from audiodiff.operations.core import canvas
    from audiodiff.pipeline import Pipeline

    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.model)
    pipe("a warm synth pad chord at c4", seed=0, steps=1, duration=0.5)  # load the text encoder, warm up
    start = time.perf_counter()
    out = generate_long(pipe, duration, "a warm synth pad chord at c4", seed=0, steps=args.steps)
    seconds = time.perf_counter() - start
    area = canvas(pipe, pipe.frames_for(round(duration * pipe.config.mel.sample_rate)), False)
    f = flux(out.mel[0])
    edges = sorted({e for s in area.starts() for e in (s - 1, s + area.length - 1) if 0 <= e < len(f)})
    over = sum(float(f[e]) > p95(f) for e in edges)
    print(json.dumps({"duration": duration, "seconds": seconds, "rtf": seconds / duration,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "windows": len(area.starts()), "edges": len(edges), "edges_over_p95": over}))


def long_table(args: argparse.Namespace) -> list[str]:
    lines = [f"## long: generate_long, {args.steps} steps, own process each", "",
             "| duration (s) | windows | time (s) | RTF | peak RSS (MB) | window edges with flux > p95 |",
             "|---|---|---|---|---|---|"]
    for d in args.durations:
        cmd = [sys.executable, __file__, "--long-child", str(d), "--threads", str(args.threads),
               "--steps", str(args.steps), *(["--model", args.model] if args.model else [])]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            lines.append(f"| {d:g} | failed: {done.stderr.strip()[-200:]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        lines.append(f"| {d:g} | {r['windows']} | {r['seconds']:.1f} | {r['rtf']:.2f} | {r['peak_rss_mb']:.0f} "
                     f"| {r['edges_over_p95']}/{r['edges']} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="inpaint, loop and extend use seeds from this one on (input k still gets k)")
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--model", help="model folder or bundled name (default: the bundled default, fast)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: the model's own)")
    parser.add_argument("--durations", type=float, nargs="+", default=[2.0, 10.0, 30.0, 60.0])
    parser.add_argument("--only", nargs="+", default=["inpaint", "loop", "extend", "vary", "interpolate", "long"])
    parser.add_argument("--long-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.long_child:
        long_child(args.long_child, args)
        return
    torch.set_num_threads(args.threads)
    bench = Bench(args)
    with torch.inference_mode():
        for part in args.only:
            if part != "long":
                print("\n".join(getattr(bench, part)()), flush=True)
    if "long" in args.only:
        print("\n".join(long_table(args)), flush=True)
    print("\n".join(bench.rtf_table()))


if __name__ == "__main__":
    main()
