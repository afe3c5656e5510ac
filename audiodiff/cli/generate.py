"""Commands that make new sounds: ``sample`` (any length, loops) and ``interpolate``; and the
options every generating command shares."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiodiff.cli.checks import (
    MAX_NUM,
    MAX_STEPS,
    CliError,
    check_device,
    check_int,
    check_number,
    check_sounds_out,
    output_paths,
    slug,
)
from audiodiff.cli.outputs import Progress, write_outputs

if TYPE_CHECKING:
    from audiodiff.pipeline import Generation, Pipeline, ProgressFn


def add_request_args(p: argparse.ArgumentParser, *, num: int = 1, conditions: bool = True) -> None:
    """The options of every generating command: conditions, sampling, model, output."""
    if conditions:
        p.add_argument("--prompt", help="text describing the sound (text-conditioned models)")
        p.add_argument("--label", help="class label (class-conditioned models)")
    p.add_argument("--negative-prompt", help="what to steer away from (replaces the unconditional branch)")
    p.add_argument("--num", type=int, default=num, help=f"how many sounds (default {num})")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's, usually 25)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--sampler", help="ddpm, ddim, euler, euler_a, heun or dpmpp_2m")
    p.add_argument("--seed", type=int, help="seed of the first sound; sound i uses seed+i (default: random)")
    p.add_argument("--model", help="model folder, or a bundled model: fast (the default, 4 steps) or full "
                   "(25 guided steps)")
    p.add_argument("--vocoder", help="neural, neural:N (refinement iterations), griffinlim, griffinlim:N "
                   "(iterations) or a vocoder folder (default: the model's own)")
    p.add_argument("--out", default=".", help="output file (.wav/.flac/.ogg; x_0, x_1... for several) or "
                   "folder (default: .)")
    p.add_argument("--format", choices=["wav", "flac", "ogg"], help="file format for folder outputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_request_args(args: argparse.Namespace, *, min_num: int = 1) -> None:
    """Everything about the shared options that can be checked without the model."""
    from audiodiff import samplers
    from audiodiff.pipeline import MAX_SEED

    check_int("--num", args.num, min_num, MAX_NUM)
    check_int("--steps", args.steps, 1, MAX_STEPS, " (denoising steps)")
    check_number("--guidance", args.guidance, 0, what=" (1 = no guidance)")
    check_int("--seed", args.seed, 0, MAX_SEED - (args.num - 1),
              f" (sound i uses seed+i; {args.num} sounds)" if args.num > 1 else "")
    if args.sampler is not None and args.sampler not in samplers.SAMPLERS:
        raise CliError(f"--sampler {args.sampler} is unknown; choose one of {', '.join(samplers.SAMPLERS)}")
    check_device(args.device)


def check_seconds(flag: str, value: float | None) -> None:
    """A length in seconds one call may generate: ``(0, MAX_DURATION]``."""
    from audiodiff.pipeline import MAX_DURATION

    check_number(flag, value, 0, MAX_DURATION, open_low=True, what=" seconds")


def request(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments the shared options give an operation (the seed resolved)."""
    return {"negative_prompt": args.negative_prompt, "num": args.num, "steps": args.steps,
            "guidance": args.guidance, "sampler": args.sampler, "seed": args.seed}


def resolve_seed(args: argparse.Namespace) -> list[int]:
    """Fix a random ``--seed`` now, so the output names and the sidecars agree; the rows' seeds."""
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    return [args.seed + i for i in range(args.num)]


def generate(args: argparse.Namespace, paths: Sequence[Path],
             make: Callable[[Pipeline, ProgressFn], Generation], extra: dict[str, Any] | None = None) -> int:
    """Load the model, run ``make(pipe, progress)`` under a progress bar and write its sounds to ``paths``."""
    from audiodiff.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(args.model, vocoder=args.vocoder, device=args.device)
    with Progress(args.quiet) as progress:
        result = make(pipe, progress)
    write_outputs(paths, result, model=args.model, overwrite=args.overwrite, extra=extra)
    return 0


def sample_duration(args: argparse.Namespace) -> float | None:
    """``--duration``, or the exact length of ``--loop-bars`` bars at ``--bpm`` (``None``: the model's)."""
    check_seconds("--duration", args.duration)
    if args.loop_bars is None:
        if args.bpm is not None:
            raise CliError("--bpm needs --loop-bars (how many bars the loop lasts)")
        return args.duration
    if args.duration is not None:
        raise CliError("give --duration or --loop-bars with --bpm, not both")
    if args.bpm is None:
        raise CliError("--loop-bars needs --bpm (the tempo in beats per minute)")
    check_number("--loop-bars", args.loop_bars, 0, open_low=True, what=" bars")
    check_number("--bpm", args.bpm, 0, open_low=True, what=" beats per minute")
    check_number("--beats-per-bar", args.beats_per_bar, 0, open_low=True)
    from audiodiff.operations import bars_to_seconds

    seconds = bars_to_seconds(args.loop_bars, args.bpm, args.beats_per_bar)
    check_seconds(f"--loop-bars {args.loop_bars:g} at --bpm {args.bpm:g} ({seconds:.4g} s):", seconds)
    return seconds


def cmd_sample(args: argparse.Namespace) -> int:
    check_request_args(args)
    duration = sample_duration(args)
    loop = args.loop or args.loop_bars is not None
    stem = slug(args.prompt or args.label or "unconditional") + ("-loop" if loop else "")
    paths = output_paths(Path(args.out), args.num, stem, resolve_seed(args), args.format)
    check_sounds_out(paths, overwrite=args.overwrite)
    return generate(args, paths, lambda pipe, progress: pipe(
        args.prompt, label=args.label, duration=duration, loop=loop, progress=progress, **request(args)))


def cmd_interpolate(args: argparse.Namespace) -> int:
    from audiodiff.operations import interpolate
    from audiodiff.pipeline import MAX_SEED

    check_request_args(args, min_num=2)
    check_int("--to-seed", args.to_seed, 0, MAX_SEED)
    check_seconds("--duration", args.duration)
    if args.to_prompt is None and args.to_label is None and args.to_seed is None:
        raise CliError("nothing to interpolate towards: give --to-prompt, --to-label or --to-seed")
    resolve_seed(args)
    a = slug(args.prompt or args.label or "unconditional", 20)
    b = slug(args.to_prompt or args.to_label or "", 20)
    stem = f"{a}-to-{b}" if b not in ("sound", a) else f"{a}-seeds"
    paths = output_paths(Path(args.out), args.num, stem, [f"{i:02d}" for i in range(args.num)], args.format)
    check_sounds_out(paths, overwrite=args.overwrite)
    return generate(args, paths, lambda pipe, progress: interpolate(
        pipe, args.prompt, args.to_prompt, label_a=args.label, label_b=args.to_label, seed_a=args.seed,
        seed_b=args.to_seed, num=args.num, duration=args.duration, negative_prompt=args.negative_prompt,
        steps=args.steps, guidance=args.guidance, sampler=args.sampler, loop=args.loop, progress=progress))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """``sample`` and ``interpolate``."""
    s = sub.add_parser("sample", help="generate sounds from a prompt or label, of any length, or as loops")
    add_request_args(s)
    s.add_argument("--duration", type=float, help="seconds of audio (default: the model's); longer than the "
                   "model's own length is generated in overlapping windows, up to 600")
    s.add_argument("--loop", action="store_true", help="make a seamless loop of exactly --duration seconds")
    s.add_argument("--loop-bars", type=float, help="a loop of this many bars at --bpm (implies --loop)")
    s.add_argument("--bpm", type=float, help="tempo for --loop-bars, beats per minute")
    s.add_argument("--beats-per-bar", type=float, default=4, help="beats in a bar for --loop-bars (default 4)")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("interpolate", help="sounds morphing from one prompt (or seed) to another")
    add_request_args(i, num=5)
    i.add_argument("--to-prompt", help="the prompt the path ends at (default: --prompt)")
    i.add_argument("--to-label", help="the label the path ends at (class models; default: --label)")
    i.add_argument("--to-seed", type=int, help="the seed the path ends at (default: --seed)")
    i.add_argument("--duration", type=float, help="seconds of each sound (default: the model's)")
    i.add_argument("--loop", action="store_true", help="make every sound a seamless loop")
    i.set_defaults(func=cmd_interpolate)
