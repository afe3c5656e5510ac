"""The ``audiodiff`` command: thin subcommands that parse arguments and call the library."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from audiodiff.pipeline import Generation

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader exited
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
# Audio formats audiodiff reads (or users expect) but does not write, and the sidecars' suffix: refused
# as --out, not made into folders.
UNWRITABLE_SUFFIXES = (".mp3", ".m4a", ".aac", ".aif", ".aiff", ".aifc", ".opus", ".wma", ".mp4", ".caf", ".au",
                       ".json")
MAX_NUM = 1000  # sounds per call
MAX_STEPS = 1000  # denoising steps
MAX_TOKENS = 512  # the text encoder's longest input


class CliError(Exception):
    """A user mistake reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line too (``audiodiff: error: ...``, exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"audiodiff: error: {message}; see: {self.prog} --help\n")


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "sound"


# --- checks made before any model is loaded or any sound generated ----------------------------


def check_int(flag: str, value: int | None, low: int, high: int, what: str = "") -> None:
    """Refuse ``value`` (unless ``None``: the default) outside ``low..high``, naming ``flag``."""
    if value is not None and not low <= value <= high:
        raise CliError(f"{flag} must be an integer in {low}..{high}{what}, got {value}")


def check_number(flag: str, value: float | None, low: float, high: float = math.inf, *, open_low: bool = False,
                 what: str = "") -> None:
    """Refuse ``value`` (unless ``None``) that is NaN, infinite or outside ``[low, high]`` (``(low, high]``
    with ``open_low``), naming ``flag``."""
    if value is None:
        return
    above = value > low if open_low else value >= low
    if not (math.isfinite(value) and above and value <= high):
        bounds = f">= {low:g}" if high == math.inf else f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise CliError(f"{flag} must be a finite number {bounds}{what}, got {value}")


def check_device(name: str) -> None:
    """Refuse a ``--device`` that torch does not know or this machine does not have."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise CliError(f"--device {name!r} is not a torch device; use cpu, cuda, cuda:N or mps") from err
    fix = "use --device cpu"
    if device.type == "meta":
        raise CliError(f"--device {name} holds no data and cannot make sounds; {fix}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CliError(f"--device {name}: no CUDA GPU is available on this machine; {fix}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CliError(f"--device {name}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise CliError(f"--device {name}: MPS (Apple GPU) is not available on this machine; {fix}")
    elif device.type not in ("cpu", "cuda", "mps"):
        try:
            torch.empty(1, device=device)
        except Exception as err:  # backends fail in their own ways (RuntimeError, AssertionError, ...)
            raise CliError(f"--device {name} is not available on this machine ({_first_line(err)}); {fix}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def output_paths(out: Path, num: int, stem: str, seeds: Sequence[int], fmt: str | None) -> list[Path]:
    """Where ``num`` outputs go: ``out`` is a file (with an audio suffix) or a folder."""
    suffix = out.suffix.lower()
    if suffix in AUDIO_SUFFIXES and not out.is_dir():
        if fmt is not None and suffix != f".{fmt}":
            raise CliError(f"--out {out} has suffix {out.suffix} but --format is {fmt}; make them agree")
        if num == 1:
            return [out]
        return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(num)]
    if suffix in UNWRITABLE_SUFFIXES and not out.is_dir():
        raise CliError(f"--out {out}: audiodiff cannot write {suffix} files; give a .wav, .flac or .ogg file "
                       "or a folder (convert afterwards, e.g. `ffmpeg -i x.wav x.mp3`)")
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file without an audio suffix; give a folder or a .wav/.flac/.ogg file")
    return [out / f"{stem}_{seed}.{fmt or 'wav'}" for seed in seeds]


def sidecar_path(path: Path) -> Path:
    """The JSON sidecar of an output sound: ``x.wav`` -> ``x.json``."""
    return path.with_suffix(".json")


def check_outputs(paths: Sequence[Path], *, overwrite: bool, folder: bool = False, flag: str = "--out") -> None:
    """Refuse, before any work and naming ``flag``, outputs that cannot be written as asked: an existing
    one (without ``overwrite``), a folder where a file goes (a file where a ``folder`` goes), one under
    a file, or one in a folder this user cannot write to."""
    for path in paths:
        if path.exists() and path.is_dir() != folder:
            kind = "a file" if folder else "a folder"
            raise CliError(f"{flag} {path} is {kind}; choose another {flag}")
        if path.exists() and not overwrite:
            raise CliError(f"{path} exists; pass --overwrite to replace it or choose another {flag}")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
        if not parent.is_dir():
            raise CliError(f"{flag} {path}: {parent} is a file, not a folder; choose another {flag}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CliError(f"cannot write to {parent}: permission denied; choose another {flag}")


def check_audio_out(path: Path, *, overwrite: bool, flag: str = "--out") -> None:
    """:func:`check_outputs` for one audio file, whose suffix must be a format audiodiff writes."""
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise CliError(f"{flag} {path}: give a .wav, .flac or .ogg file")
    check_outputs([path], overwrite=overwrite, flag=flag)


# --- writing what a pipeline made ---------------------------------------------------------------

# The sidecar's keys in the order users see them; an operation's own settings follow.
SIDECAR_KEYS = ("prompt", "negative_prompt", "label", "seed", "sampler", "steps", "guidance", "duration",
                "vocoder", "vocoder_settings", "sample_rate", "model", "model_hash", "audiodiff_version")


def sidecar(result: Generation, row: int, model: str | None) -> dict[str, Any]:
    """What row ``row`` of ``result`` records: the pipeline's settings for it, the model and version."""
    from audiodiff import __version__

    values = {**result.row_settings(row), "model": str(model or "default"), "audiodiff_version": __version__}
    first = {key: values[key] for key in SIDECAR_KEYS if key in values}
    return {**first, **{key: value for key, value in values.items() if key not in first}}


def write_outputs(paths: Sequence[Path], result: Generation, *, model: str | None, overwrite: bool) -> None:
    """Save each row of ``result`` to its path with a JSON sidecar (both atomically) and print the path."""
    from audiodiff.audio import save
    from audiodiff.fileio import write_json

    if len(paths) != len(result.seeds):
        raise ValueError(f"{len(paths)} output paths for {len(result.seeds)} sounds")
    for row, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path, result.audio[row], result.sample_rate, overwrite=overwrite)
        write_json(sidecar_path(path), sidecar(result, row, model), overwrite=overwrite)
        print(path)


class Progress:
    """A ``progress(done, total)`` callback drawing a bar on stderr from its first call (none when
    ``quiet``), so that an error before the first step prints nothing but its own line."""

    def __init__(self, quiet: bool, desc: str = "denoising") -> None:
        self.quiet, self.desc, self.bar = quiet, desc, None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="step", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


# --- subcommands --------------------------------------------------------------------------------


def check_sample_args(args: argparse.Namespace) -> None:
    """Everything about ``sample``'s arguments that can be checked without the model."""
    from audiodiff import samplers
    from audiodiff.pipeline import MAX_DURATION, MAX_SEED

    check_int("--num", args.num, 1, MAX_NUM)
    check_int("--steps", args.steps, 1, MAX_STEPS, " (denoising steps)")
    check_number("--guidance", args.guidance, 0, what=" (1 = no guidance)")
    check_number("--duration", args.duration, 0, MAX_DURATION, open_low=True, what=" seconds")
    check_int("--seed", args.seed, 0, MAX_SEED - (args.num - 1),
              f" (sound i uses seed+i; {args.num} sounds)" if args.num > 1 else "")
    if args.sampler is not None and args.sampler not in samplers.SAMPLERS:
        raise CliError(f"--sampler {args.sampler} is unknown; choose one of {', '.join(samplers.SAMPLERS)}")
    check_device(args.device)


def cmd_sample(args: argparse.Namespace) -> int:
    from audiodiff.pipeline import Pipeline

    check_sample_args(args)
    stem = _slug(args.prompt or args.label or "unconditional")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    paths = output_paths(Path(args.out), args.num, stem, [seed + i for i in range(args.num)], args.format)
    check_outputs([p for path in paths for p in (path, sidecar_path(path))], overwrite=args.overwrite)

    pipe = Pipeline.from_pretrained(args.model, vocoder=args.vocoder, device=args.device)
    with Progress(args.quiet) as progress:
        result = pipe(
            prompt=args.prompt, negative_prompt=args.negative_prompt, label=args.label, num=args.num,
            steps=args.steps, guidance=args.guidance, sampler=args.sampler, seed=seed,
            duration=args.duration, progress=progress,
        )
    write_outputs(paths, result, model=args.model, overwrite=args.overwrite)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from audiodiff.pipeline import CONFIG, DEFAULT_MODEL, WEIGHTS, Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    folder = Path(args.model) if args.model else DEFAULT_MODEL
    n_unet = sum(p.numel() for p in pipe.denoiser.network.parameters())
    n_cond = sum(p.numel() for p in pipe.conditioner.parameters())
    info = {
        "path": str(folder) if args.model else f"{folder} (bundled default)",
        "parameters": {"unet": n_unet, "conditioner": n_cond},
        "weights_bytes": (folder / WEIGHTS).stat().st_size,
        "model_hash": pipe.model_hash,
        "vocoder": pipe.vocoder.name,
        "vocoder_settings": pipe.vocoder.settings(),
        "config": json.loads((folder / CONFIG).read_text()),
    }
    print(json.dumps(info, indent=2))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from audiodiff.conditioning import ConditionerConfig
    from audiodiff.data.cache import prepare
    from audiodiff.data.layouts import scan
    from audiodiff.pipeline import MAX_DURATION
    from audiodiff.spectrogram import MelConfig

    check_number("--seconds", args.seconds, 0, MAX_DURATION, open_low=True, what=" (clip length)")
    check_int("--sample-rate", args.sample_rate, 1000, 384_000, " Hz")
    check_int("--n-mels", args.n_mels, 1, MelConfig().n_fft // 2 + 1)
    check_int("--max-tokens", args.max_tokens, 1, MAX_TOKENS)
    check_outputs([Path(args.out)], overwrite=True, folder=True)  # an existing cache is updated
    mel = MelConfig(sample_rate=args.sample_rate, n_mels=args.n_mels, fmax=args.sample_rate / 2)
    kind = args.conditioning
    if kind == "auto":
        kind = "class" if scan(args.data).layout == "classes" else "text"
    cond = ConditionerConfig(kind="text", max_tokens=args.max_tokens) if kind == "text" else None
    report = prepare(args.data, args.out, mel_config=mel, seconds=args.seconds, conditioner_config=cond,
                     overwrite=args.overwrite, progress=not args.quiet)
    print(report.summary())
    print(f"cache written to {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import torch

    from audiodiff.training.checkpoint import export_checkpoint

    ckpt, out = Path(args.ckpt), Path(args.out)
    if not ckpt.is_file():
        raise CliError(f"no checkpoint at {ckpt}; give the path of a .ckpt file written by audiodiff train")
    check_outputs([out], overwrite=args.overwrite, folder=True)
    dtype = torch.float16 if args.fp16 else torch.float32
    print(export_checkpoint(ckpt, out, overwrite=args.overwrite, dtype=dtype))  # bad files: load_checkpoint's line
    return 0


def cmd_resynth(args: argparse.Namespace) -> int:
    import torch

    from audiodiff.audio import load, save
    from audiodiff.config import PipelineConfig
    from audiodiff.spectrogram import MelConfig, MelSpectrogram
    from audiodiff.vocoders import load_vocoder

    out = Path(args.out)
    check_audio_out(out, overwrite=args.overwrite)
    mel_config = PipelineConfig.load(Path(args.model) / "config.json").mel if args.model else MelConfig()
    vocoder = load_vocoder(args.vocoder, mel_config)
    audio, rate = load(args.input, vocoder.mel_config.sample_rate)
    with torch.inference_mode():
        # pad one hop so the vocoder's (frames - 1) * hop samples cover the whole input
        log_mel = MelSpectrogram(vocoder.mel_config)(torch.nn.functional.pad(audio, (0, vocoder.mel_config.hop_length)))
        sound = vocoder(log_mel, vocoder.mel_config)[:, : audio.shape[-1]]
    out.parent.mkdir(parents=True, exist_ok=True)
    print(save(out, sound, rate, overwrite=args.overwrite))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="audiodiff", description="Audio diffusion on mel spectrograms.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    s = sub.add_parser("sample", help="generate sounds from a prompt or label")
    s.add_argument("--prompt", help="text describing the sound (text-conditioned models)")
    s.add_argument("--negative-prompt", help="what to steer away from (replaces the unconditional branch)")
    s.add_argument("--label", help="class label (class-conditioned models)")
    s.add_argument("--num", type=int, default=1, help="how many sounds (default 1)")
    s.add_argument("--steps", type=int, help="denoising steps (default: the model's, usually 25)")
    s.add_argument("--guidance", type=float, help="classifier-free guidance scale (1 = none)")
    s.add_argument("--sampler", help="ddpm, ddim, euler, euler_a, heun or dpmpp_2m")
    s.add_argument("--seed", type=int, help="seed of the first sound; sound i uses seed+i")
    s.add_argument("--duration", type=float, help="seconds of audio (default: the model's)")
    s.add_argument("--model", help="model folder (default: the bundled model)")
    s.add_argument("--vocoder", help="neural, neural:N (refinement iterations), griffinlim, griffinlim:N "
                   "(iterations) or a vocoder folder (default: the model's own)")
    s.add_argument("--out", default=".", help="output file (.wav/.flac/.ogg) or folder (default: .)")
    s.add_argument("--format", choices=["wav", "flac", "ogg"], help="file format for folder outputs")
    s.add_argument("--overwrite", action="store_true", help="replace existing files")
    s.add_argument("--device", default="cpu", help="torch device (default cpu)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("info", help="print a model's config and size")
    i.add_argument("model", nargs="?", help="model folder (default: the bundled model)")
    i.set_defaults(func=cmd_info)
    p = sub.add_parser("prepare", help="cache log-mels and caption embeddings of a dataset folder")
    p.add_argument("data", help="a folder of class sub-folders, or a folder with metadata.csv/.jsonl")
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--seconds", type=float, default=2.0, help="clip length (default 2.0)")
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--n-mels", type=int, default=80)
    p.add_argument("--conditioning", choices=["auto", "text", "class"], default="auto",
                   help="auto: class for class folders, text for metadata files")
    p.add_argument("--max-tokens", type=int, default=32, help="text tokens kept per caption")
    p.add_argument("--overwrite", action="store_true", help="rebuild a cache made with other settings")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_prepare)

    t = sub.add_parser("train", help="train with a recipe (LightningCLI; see recipes/)", add_help=False)
    t.set_defaults(func=None)
    sub.add_parser("train-vocoder", help="train the neural vocoder with a recipe (recipes/vocoder.yaml)",
                   add_help=False)

    e = sub.add_parser("export", help="write a training checkpoint's EMA model as a model folder")
    e.add_argument("ckpt", help="a .ckpt file written by audiodiff train")
    e.add_argument("--out", required=True, help="model folder to create")
    e.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=cmd_export)

    r = sub.add_parser("resynth", help="analyse a sound to a mel and back through a vocoder")
    r.add_argument("input", help="audio file")
    r.add_argument("--vocoder", default="neural", help="neural, neural:N, griffinlim, griffinlim:N or a folder")
    r.add_argument("--model", help="take the mel settings from this model folder (with other mel settings than "
                   "the bundled vocoder's, add --vocoder griffinlim)")
    r.add_argument("--out", required=True, help="output audio file")
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=cmd_resynth)
    return parser


def cmd_train(argv: Sequence[str]) -> int:
    from audiodiff.training.cli import train

    train(argv)
    return 0


def run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand; user errors become one line on stderr and exit code 2."""
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at interpreter exit
        return code
    except BrokenPipeError:
        # the reader went away (e.g. `audiodiff info | head`): stop quietly, like other shell tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (CliError, ValueError, OSError, ImportError) as err:
        print(f"audiodiff: error: {_first_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audiodiff: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return run(lambda _: cmd_train(argv[1:]), argparse.Namespace())
    if argv[:1] == ["train-vocoder"]:
        from audiodiff.training.cli import train_vocoder

        return run(lambda _: train_vocoder(argv[1:]) or 0, argparse.Namespace())
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already printed as one line
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    if args.version:
        from audiodiff import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
