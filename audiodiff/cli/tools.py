"""The model and data commands: ``info``, ``prepare``, ``export`` and ``resynth``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audiodiff.cli.checks import CliError, check_audio_out, check_int, check_number, check_outputs

MAX_CLIP_SECONDS = 60.0  # a training clip
MAX_TOKENS = 512  # the text encoder's longest input


def cmd_info(args: argparse.Namespace) -> int:
    from audiodiff.pipeline import BUNDLED_MODELS, CONFIG, WEIGHTS, Pipeline, model_folder

    pipe = Pipeline.from_pretrained(args.model)
    folder = model_folder(args.model)
    n_unet = sum(p.numel() for p in pipe.denoiser.network.parameters())
    n_cond = sum(p.numel() for p in pipe.conditioner.parameters())
    info = {
        "path": str(folder) + next((f" (bundled {name})" for name, bundled in BUNDLED_MODELS.items()
                                    if folder == bundled), ""),
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
    from audiodiff.spectrogram import MelConfig

    check_number("--seconds", args.seconds, 0, MAX_CLIP_SECONDS, open_low=True, what=" (clip length)")
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """``info``, ``prepare``, ``export`` and ``resynth``."""
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
