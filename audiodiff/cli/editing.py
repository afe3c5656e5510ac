"""Commands that change a sound: ``vary``, ``inpaint`` and ``extend``."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiodiff.cli.checks import CliError, check_number, check_sounds_out, output_paths, slug
from audiodiff.cli.generate import add_request_args, check_request_args, check_seconds, generate, request, resolve_seed

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Input:
    """An input sound at the model's rate: ``audio [samples]``, and what its sidecar records."""

    path: Path
    audio: Tensor
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate

    def record(self) -> dict[str, Any]:
        from audiodiff.fileio import file_hash

        return {"input": str(self.path), "input_sha256": file_hash(self.path, 64),
                "input_duration": self.seconds}


def read_input(args: argparse.Namespace) -> Input:
    """The ``IN`` sound, decoded and resampled to the model's rate before the model is loaded."""
    from audiodiff.audio import load
    from audiodiff.config import PipelineConfig
    from audiodiff.pipeline import CONFIG, MAX_DURATION, model_folder

    folder = model_folder(args.model)
    if not (folder / CONFIG).is_file():
        raise CliError(f"--model {folder} is not a model folder (no {CONFIG}); give a folder made by "
                       "audiodiff export, or leave --model out for the bundled model")
    rate = PipelineConfig.load(folder / CONFIG).mel.sample_rate
    path = Path(args.input)
    if path.is_dir():
        raise CliError(f"{path} is a folder; give one audio file (.wav, .flac, .ogg, .mp3...)")
    audio, _ = load(path, rate)
    sound = Input(path, audio[0], rate)
    if sound.seconds > MAX_DURATION:
        raise CliError(f"{path} lasts {sound.seconds:.1f} s; audiodiff edits sounds up to {MAX_DURATION:g} s "
                       "(cut it first)")
    if not bool(audio.isfinite().all()):
        raise CliError(f"{path} contains NaN or infinite samples")
    return sound


def prepare(args: argparse.Namespace, operation: str) -> tuple[Input, list[Path]]:
    """Check the shared options, read the input and refuse outputs that cannot be written."""
    check_request_args(args)
    sound = read_input(args)
    stem = f"{slug(sound.path.stem)}-{operation}"
    paths = output_paths(Path(args.out), args.num, stem, resolve_seed(args), args.format)
    check_sounds_out(paths, overwrite=args.overwrite)
    return sound, paths


def cmd_vary(args: argparse.Namespace) -> int:
    from audiodiff.operations import vary

    check_number("--strength", args.strength, 0, 1, what=" (0 keeps the input, 1 is a new sound)")
    sound, paths = prepare(args, "vary")
    return generate(args, paths, lambda pipe, progress: vary(
        pipe, sound.audio, strength=args.strength, prompt=args.prompt, label=args.label, loop=args.loop,
        progress=progress, **request(args)), sound.record())


def parse_region(text: str) -> tuple[float, float]:
    """``"START:END"`` in seconds -> ``(start, end)``."""
    parts = text.split(":")
    try:
        start, end = (float(p) for p in parts)
    except ValueError:
        raise CliError(f"--region {text!r} must be START:END in seconds, e.g. --region 0.5:1.2") from None
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise CliError(f"--region {text}: START must be >= 0 and before END (seconds)")
    return start, end


def cmd_inpaint(args: argparse.Namespace) -> int:
    from audiodiff.operations import inpaint

    regions = [parse_region(text) for text in args.region]
    sound, paths = prepare(args, "inpaint")
    for text, (_, end) in zip(args.region, regions, strict=True):
        if end > sound.seconds + 1e-9:
            raise CliError(f"--region {text} ends after {sound.path}, which lasts {sound.seconds:.3f} s")
    return generate(args, paths, lambda pipe, progress: inpaint(
        pipe, sound.audio, regions, prompt=args.prompt, label=args.label, loop=args.loop, progress=progress,
        **request(args)), sound.record())


def cmd_extend(args: argparse.Namespace) -> int:
    from audiodiff.operations import extend

    check_seconds("--seconds", args.seconds)
    sound, paths = prepare(args, "extend")
    return generate(args, paths, lambda pipe, progress: extend(
        pipe, sound.audio, args.seconds, before=args.before, prompt=args.prompt, label=args.label,
        loop=args.loop, progress=progress, **request(args)), sound.record())


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """``vary``, ``inpaint`` and ``extend``."""
    v = sub.add_parser("vary", help="variations of a sound: noise it to --strength and denoise it")
    v.add_argument("input", help="the sound to vary (any format audiodiff reads)")
    v.add_argument("--strength", type=float, required=True,
                   help="0..1: 0 returns the input (resynthesised), 1 a new sound of the same length")
    add_request_args(v)
    v.add_argument("--loop", action="store_true", help="treat the input as a loop; the variation loops too")
    v.set_defaults(func=cmd_vary)

    i = sub.add_parser("inpaint", help="regenerate parts of a sound, keeping the rest sample for sample")
    i.add_argument("input", help="the sound to change")
    i.add_argument("--region", action="append", required=True, metavar="START:END",
                   help="seconds to regenerate, e.g. 0.5:1.2; repeat for several regions")
    add_request_args(i)
    i.add_argument("--loop", action="store_true", help="treat the input as a loop (regions may heal its wrap)")
    i.set_defaults(func=cmd_inpaint)

    e = sub.add_parser("extend", help="continue a sound by --seconds (after it, or --before it)")
    e.add_argument("input", help="the sound to continue; its samples are kept unchanged")
    e.add_argument("--seconds", type=float, required=True, help="seconds to add")
    e.add_argument("--before", action="store_true", help="add them before the sound instead of after")
    add_request_args(e)
    e.add_argument("--loop", action="store_true", help="make the result a seamless loop (the new part "
                   "leads back into the start)")
    e.set_defaults(func=cmd_extend)
