"""Sampling speed on this machine: the bundled models end to end, time per denoising step and
real-time factor per sampler.

Usage: python benchmarks/sampling.py [--threads 2] [--steps 25] [--seconds 2.0] [--repeats 2]

``fast`` and ``full`` are the bundled models as ``audiodiff sample`` runs them (model load
excluded; text encoding, sampling and the neural vocoder included): the default few-step model and
the 25-step guided model it was distilled from. The U-Nets at the default sizes (random weights
are fine for timing) are timed per sampler. For comparison, one step of diffusers' UNet2DModel in
the audio-diffusion-256 configuration (the model of the best-known open mel-diffusion pipeline) is
timed on the same machine. Each model runs in its own subprocess so that its peak memory (max
RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

BUNDLED = ("fast", "full")
MODELS = (*BUNDLED, "unet1d", "unet2d", "diffusers-audio-diffusion-256")
PROMPT = "a punchy electronic kick drum"
SAMPLERS = ("ddim", "euler", "euler_a", "heun", "dpmpp_2m")


def build_pipeline(kind: str):
    """A text-conditioned pipeline at the realistic default size with random weights."""
    from audiodiff.conditioning import ConditionerConfig
    from audiodiff.config import PipelineConfig
    from audiodiff.models.config import unet1d_default, unet2d_default
    from audiodiff.pipeline import Pipeline
    from audiodiff.spectrogram import MelConfig

    mel, cond = MelConfig(), ConditionerConfig(kind="text")
    make = unet1d_default if kind == "unet1d" else unet2d_default
    config = PipelineConfig(mel=mel, unet=make(mel.n_mels, cond.dim, cond.token_dim), conditioner=cond)
    pipe = Pipeline.from_config(config)
    with torch.no_grad():  # the output convs start at zero; give them weights so the work is real
        for p in pipe.denoiser.parameters():
            p.normal_(0, 0.02)
    return pipe


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_ours(kind: str, args: argparse.Namespace) -> dict:
    from audiodiff import samplers

    pipe = build_pipeline(kind)
    params = sum(p.numel() for p in pipe.denoiser.parameters())
    frames = pipe.frames_for(round(args.seconds * pipe.config.mel.sample_rate))
    with torch.inference_mode():
        rows = {}
        for name in SAMPLERS:
            pipe(prompt="a punchy electronic kick drum", steps=2, sampler=name, seed=0, duration=args.seconds)
            total = best_of(args.repeats, lambda n=name: pipe(prompt="a punchy electronic kick drum",
                                                              steps=args.steps, sampler=n, seed=0,
                                                              guidance=3.0, duration=args.seconds))
            rows[name] = {"seconds": total, "rtf": total / args.seconds,
                          "calls": samplers.denoiser_calls(name, args.steps)}
        mel = torch.zeros(1, pipe.config.mel.n_mels, frames) - 5
        vocoder = best_of(args.repeats, lambda: pipe.vocoder(mel))
    # time per network call (two rows: conditional + unconditional), from the dpmpp_2m run
    step = (rows["dpmpp_2m"]["seconds"] - vocoder) / rows["dpmpp_2m"]["calls"]
    return {"params": params, "frames": frames, "step": step, "samplers": rows, "vocoder": vocoder}


def bench_bundled(name: str, args: argparse.Namespace) -> dict:
    """The bundled model ``name`` (``fast``: the default; ``full``: its 25-step teacher) as
    ``audiodiff sample`` runs it, at its own default sampler, steps and guidance."""
    from audiodiff.pipeline import BUNDLED_MODELS, Pipeline

    pipe = Pipeline.from_pretrained(BUNDLED_MODELS[name])
    calls: list[int] = []  # rows of each network call of one generation (the warm-up)
    hook = pipe.denoiser.network.register_forward_hook(lambda _m, a, _o: calls.append(a[0].shape[0]))
    with torch.inference_mode():
        pipe(prompt=PROMPT, seed=0, duration=args.seconds)
        hook.remove()
        total = best_of(args.repeats, lambda: pipe(prompt=PROMPT, seed=0, duration=args.seconds))
    d = pipe.config.defaults
    return {"seconds": total, "rtf": total / args.seconds, "sampler": d.sampler, "steps": d.steps,
            "calls": len(calls), "rows": sum(calls),
            "params": sum(p.numel() for p in pipe.denoiser.parameters())}


def bench_diffusers(args: argparse.Namespace) -> dict:
    from diffusers import UNet2DModel

    net = UNet2DModel(
        sample_size=256, in_channels=1, out_channels=1, layers_per_block=2,
        block_out_channels=(128, 128, 256, 256, 512, 512),
        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
    ).eval()
    x, t = torch.randn(1, 1, 256, 256), torch.tensor([500])
    with torch.inference_mode():
        net(x, t)
        net(x, t)
        step = best_of(max(3, args.repeats), lambda: net(x, t))
    return {"params": sum(p.numel() for p in net.parameters()), "step": step}


def child(model: str, args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if model in BUNDLED:
        result = bench_bundled(model, args)
    else:
        result = bench_diffusers(args) if model.startswith("diffusers") else bench_ours(model, args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def table(results: dict, args: argparse.Namespace) -> str:
    machine = platform.processor() or platform.machine()
    lines = [f"machine: {machine}, {args.threads} threads, torch {torch.__version__}",
             f"generation of {args.seconds:g} s at {args.steps} steps, guidance 3 (two rows per network call)", "",
             "| model | params | step (ms) | sampler | calls | generate (s) | RTF | peak RSS (MB) |",
             "|---|---|---|---|---|---|---|---|"]
    for model, r in results.items():
        if "error" in r:
            lines.append(f"| {model} | - | - | - | - | - | - | failed: {r['error']} |")
            continue
        if model in BUNDLED:
            lines.append(f"| bundled {model}, end to end | {r['params'] / 1e6:.1f}M | | {r['sampler']} "
                         f"{r['steps']} steps | {r['calls']} ({r['rows']} rows) | {r['seconds']:.3f} "
                         f"| {r['rtf']:.3f} | {r['peak_rss_mb']:.0f} |")
            continue
        if "samplers" not in r:
            lines.append(f"| {model} (1 row, 256x256) | {r['params'] / 1e6:.1f}M | {r['step'] * 1e3:.0f} "
                         f"| - | - | - | - | {r['peak_rss_mb']:.0f} |")
            continue
        for name, s in r["samplers"].items():
            lines.append(f"| {model} | {r['params'] / 1e6:.1f}M | {r['step'] * 1e3:.0f} | {name} | {s['calls']} "
                         f"| {s['seconds']:.2f} | {s['rtf']:.2f} | {r['peak_rss_mb']:.0f} |")
        lines.append(f"| {model} Griffin-Lim (32 iter) | | | | | {r['vocoder']:.2f} | "
                     f"{r['vocoder'] / args.seconds:.3f} | |")
    lines += ratios(results)
    return "\n".join(lines)


def ratios(results: dict) -> list[str]:
    """How much faster the default path is than the 25-step model and than one diffusers step."""
    fast, full, theirs = (results.get(k, {}) for k in ("fast", "full", "diffusers-audio-diffusion-256"))
    out = [""]
    if "seconds" in fast and "seconds" in full:
        out.append(f"default (fast) vs 25-step full model: {full['seconds'] / fast['seconds']:.1f}x faster")
    if "seconds" in fast and "step" in theirs:
        out.append(f"one audio-diffusion-256 step (1 row) takes {theirs['step'] / fast['seconds']:.1f}x the "
                   "default path's whole 2 s sound")
    return out if len(out) > 1 else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    results = {}
    for model in args.models:
        cmd = [sys.executable, __file__, "--child", model, "--threads", str(args.threads), "--steps",
               str(args.steps), "--seconds", str(args.seconds), "--repeats", str(args.repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        last = done.stdout.strip().splitlines()[-1:] or [""]
        results[model] = json.loads(last[0]) if done.returncode == 0 else {"error": done.stderr.strip()[-200:]}
    print(table(results, args))


if __name__ == "__main__":
    main()
