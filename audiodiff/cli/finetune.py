"""``audiodiff finetune``: the bundled (or any) model fine-tuned on a folder of one's own sounds."""

from __future__ import annotations

import argparse
from pathlib import Path

from audiodiff.cli.checks import CliError, check_int, check_number, check_outputs

MAX_MINUTES = 7 * 24 * 60.0


def run_folder(out: Path, run_dir: str | None) -> Path:
    """Where the run keeps its cache, checkpoints and logs: ``--run-dir``, or ``OUT.run`` beside ``OUT``."""
    return Path(run_dir) if run_dir else out.with_name(out.name + ".run")


def cmd_finetune(args: argparse.Namespace) -> int:
    from audiodiff.pipeline import CONFIG, model_folder
    from audiodiff.training.finetune import MAX_STEPS, finetune

    folder, out = Path(args.folder), Path(args.out)
    base = model_folder(args.base or "full")
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder; give the folder that holds your sounds")
    if not (base / CONFIG).is_file():
        raise CliError(f"--base {base} is not a model folder (no {CONFIG}); leave --base out for the bundled model")
    check_number("--minutes", args.minutes, 0, MAX_MINUTES, open_low=True, what=" (wall-clock training time)")
    check_int("--steps", args.steps, 1, MAX_STEPS)
    if args.caption is not None and not args.caption.strip():
        raise CliError("--caption is empty; describe the sounds in a few words, e.g. --caption \"a wooden door creak\"")
    check_outputs([out], overwrite=args.overwrite, folder=True)
    run = run_folder(out, args.run_dir)
    check_outputs([run], overwrite=True, folder=True, flag="--run-dir")  # an existing run is resumed
    finetune(folder, out, base=base, minutes=args.minutes, run_dir=run, caption=args.caption, steps=args.steps,
             overwrite=args.overwrite, progress=not args.quiet)
    print(out)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """``finetune``."""
    f = sub.add_parser("finetune", help="fine-tune the bundled model on a folder of your own sounds",
                       description="Fine-tune a model on your sounds and write a model folder for "
                       "`audiodiff sample --model OUT`. The folder holds audio files captioned by their names "
                       "(door_creak_01.wav: 'door creak'), class sub-folders, or a metadata.jsonl/.csv with "
                       "captions. The run (cache, checkpoints, logs, its recipe) lives in OUT.run/; running "
                       "the same command again resumes it, and a larger --minutes trains it further.")
    f.add_argument("folder", help="your sounds (20 to 500 clips work best)")
    f.add_argument("--out", required=True, help="model folder to write")
    f.add_argument("--minutes", type=float, default=10.0, help="wall-clock training time in all (default 10)")
    f.add_argument("--caption", help="one caption for every sound (instead of their names or metadata)")
    f.add_argument("--base", help="model folder to start from (default: the bundled 25-step model, full)")
    f.add_argument("--run-dir", help="where the run keeps its files (default: OUT.run beside OUT)")
    f.add_argument("--steps", type=int, help="stop after this many optimizer steps (default: when time is up)")
    f.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    f.set_defaults(func=cmd_finetune)
