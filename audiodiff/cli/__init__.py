"""The ``audiodiff`` command: thin subcommands that parse arguments and call the library.

``generate`` makes new sounds (sample, interpolate), ``editing`` changes one (vary, inpaint,
extend), ``finetune`` adapts a model to a folder of sounds, ``tools`` handles models and data
(info, prepare, export, resynth); ``studio`` serves them all in the browser
(:mod:`audiodiff.studio`); ``train`` and ``train-vocoder`` hand their arguments to LightningCLI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from audiodiff.cli import editing, finetune, generate, tools
from audiodiff.cli.checks import EXIT_USAGE, CliError, Parser, first_line
from audiodiff.cli.outputs import SIDECAR_KEYS, sidecar, write_outputs
from audiodiff.studio.command import add_parser as add_studio_parser

__all__ = ["SIDECAR_KEYS", "CliError", "build_parser", "main", "sidecar", "write_outputs"]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader exited


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="audiodiff", description="Audio diffusion on mel spectrograms, for sound design.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    generate.add_parsers(sub)
    editing.add_parsers(sub)
    sub.add_parser("train", help="train with a recipe (LightningCLI; see recipes/)", add_help=False)
    sub.add_parser("distill", help="guidance-distil a model with a recipe (recipes/distill-guidance.yaml)",
                   add_help=False)
    sub.add_parser("distill-steps", help="halve a model's sampling steps by progressive distillation with a "
                   "recipe (recipes/distill-steps.yaml)", add_help=False)
    sub.add_parser("distill-fast", help="distil a model's 25 guided steps into a few-step adapter with a "
                   "recipe (recipes/distill-fast.yaml)", add_help=False)
    sub.add_parser("train-vocoder", help="train the neural vocoder with a recipe (recipes/vocoder.yaml)",
                   add_help=False)
    finetune.add_parsers(sub)
    add_studio_parser(sub)
    tools.add_parsers(sub)
    return parser


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
        print(f"audiodiff: error: {first_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audiodiff: interrupted", file=sys.stderr)
        return 130


TRAINERS = {"train": "train", "distill": "distill", "distill-steps": "distill_steps",
            "distill-fast": "distill_fast", "train-vocoder": "train_vocoder"}


def _trainer(command: str, argv: Sequence[str]) -> int:
    """Run the LightningCLI trainer of ``command`` (a key of :data:`TRAINERS`) with ``argv``."""
    from audiodiff.training import cli

    getattr(cli, TRAINERS[command])(argv)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in TRAINERS:
        return run(lambda _: _trainer(argv[0], argv[1:]), argparse.Namespace())
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
