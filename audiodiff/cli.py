"""The ``audiodiff`` command: thin subcommands that parse arguments and call the library."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader exited
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class CliError(Exception):
    """A user mistake reported as one line on stderr with exit code 2."""


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "sound"


def output_paths(out: Path, num: int, stem: str, seeds: Sequence[int], fmt: str | None) -> list[Path]:
    """Where ``num`` outputs go: ``out`` is a file (with an audio suffix) or a folder."""
    if out.suffix.lower() in AUDIO_SUFFIXES:
        if fmt is not None and out.suffix.lower() != f".{fmt}":
            raise CliError(f"--out {out} has suffix {out.suffix} but --format is {fmt}; make them agree")
        if num == 1:
            return [out]
        return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(num)]
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file without an audio suffix; give a folder or a .wav/.flac/.ogg file")
    return [out / f"{stem}_{seed}.{fmt or 'wav'}" for seed in seeds]


def _check_writable(paths: Sequence[Path], overwrite: bool) -> None:
    for path in paths:
        if path.exists() and not overwrite:
            raise CliError(f"{path} exists; pass --overwrite to replace it or choose another --out")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
        if not os.access(parent, os.W_OK):
            raise CliError(f"cannot write to {parent}: permission denied; choose another --out")


def cmd_sample(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from audiodiff import __version__
    from audiodiff.audio import save
    from audiodiff.fileio import write_json
    from audiodiff.pipeline import Pipeline

    if args.steps is not None and args.steps <= 0:
        raise CliError(f"--steps must be a positive number of denoising steps, got {args.steps}")
    if args.guidance is not None and args.guidance < 0:
        raise CliError(f"--guidance must be >= 0 (1 = no guidance), got {args.guidance}")
    if args.num < 1:
        raise CliError(f"--num must be at least 1, got {args.num}")
    pipe = Pipeline.from_pretrained(args.model, vocoder=args.vocoder, device=args.device)
    stem = _slug(args.prompt or args.label or "unconditional")
    seed = args.seed if args.seed is not None else __import__("secrets").randbelow(2**31)
    paths = output_paths(Path(args.out), args.num, stem, [seed + i for i in range(args.num)], args.format)
    _check_writable([p for path in paths for p in (path, path.with_suffix(".json"))], args.overwrite)
    paths[0].parent.mkdir(parents=True, exist_ok=True)

    bar = tqdm(total=args.num * (args.steps or pipe.config.defaults.steps), desc="denoising", unit="step",
               disable=args.quiet, file=sys.stderr)
    result = pipe(
        prompt=args.prompt, negative_prompt=args.negative_prompt, label=args.label, num=args.num,
        steps=args.steps, guidance=args.guidance, sampler=args.sampler, seed=seed,
        duration=args.duration, progress=lambda i, total: bar.update(i - bar.n),
    )
    bar.close()
    d = pipe.config.defaults
    for path, audio, row_seed in zip(paths, result.audio, result.seeds, strict=True):
        save(path, audio, result.sample_rate, overwrite=args.overwrite)
        sidecar = {
            "prompt": args.prompt, "negative_prompt": args.negative_prompt, "label": args.label,
            "seed": row_seed, "sampler": args.sampler or d.sampler, "steps": args.steps or d.steps,
            "guidance": d.guidance if args.guidance is None else args.guidance,
            "duration": d.duration if args.duration is None else args.duration,
            "vocoder": pipe.vocoder.name, "vocoder_settings": pipe.vocoder.settings(),
            "sample_rate": result.sample_rate,
            "model": str(args.model or "default"), "model_hash": pipe.model_hash,
            "audiodiff_version": __version__,
        }
        write_json(path.with_suffix(".json"), sidecar, overwrite=args.overwrite)
        print(path)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from audiodiff.fileio import file_hash
    from audiodiff.pipeline import CONFIG, DEFAULT_MODEL, WEIGHTS, Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    folder = Path(args.model) if args.model else DEFAULT_MODEL
    n_unet = sum(p.numel() for p in pipe.denoiser.network.parameters())
    n_cond = sum(p.numel() for p in pipe.conditioner.parameters())
    weights = folder / WEIGHTS
    info = {
        "path": str(folder) if args.model else f"{folder} (bundled default)",
        "parameters": {"unet": n_unet, "conditioner": n_cond},
        "weights_bytes": weights.stat().st_size,
        "model_hash": file_hash(weights),
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
    from audiodiff.spectrogram import MelConfig

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

    dtype = torch.float16 if args.fp16 else torch.float32
    print(export_checkpoint(args.ckpt, args.out, overwrite=args.overwrite, dtype=dtype))
    return 0


def cmd_resynth(args: argparse.Namespace) -> int:
    import torch

    from audiodiff.audio import load, save
    from audiodiff.config import PipelineConfig
    from audiodiff.spectrogram import MelConfig, MelSpectrogram
    from audiodiff.vocoders import load_vocoder

    mel_config = PipelineConfig.load(Path(args.model) / "config.json").mel if args.model else MelConfig()
    vocoder = load_vocoder(args.vocoder, mel_config)
    audio, rate = load(args.input, vocoder.mel_config.sample_rate)
    with torch.inference_mode():
        # pad one hop so the vocoder's (frames - 1) * hop samples cover the whole input
        log_mel = MelSpectrogram(vocoder.mel_config)(torch.nn.functional.pad(audio, (0, vocoder.mel_config.hop_length)))
        out = vocoder(log_mel, vocoder.mel_config)[:, : audio.shape[-1]]
    print(save(args.out, out, rate, overwrite=args.overwrite))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiodiff", description="Audio diffusion on mel spectrograms.")
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
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"audiodiff: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audiodiff: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return run(lambda _: cmd_train(argv[1:]), argparse.Namespace())
    parser = build_parser()
    args = parser.parse_args(argv)
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
