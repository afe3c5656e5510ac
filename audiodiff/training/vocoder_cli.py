"""Vocoder training entry point: ``python -m audiodiff.training.vocoder_cli fit --config recipes/vocoder.yaml``.

LightningCLI over :class:`VocoderModule` and :class:`WaveformDataModule`; the data's sample rate
is taken from the vocoder's ``MelConfig``. Resume an interrupted run with ``--ckpt_path last``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch.cli import LightningArgumentParser

from audiodiff.training.cli import TrainCLI
from audiodiff.training.vocoder_module import VocoderModule
from audiodiff.training.waveforms import WaveformDataModule


class VocoderCLI(TrainCLI):
    """:class:`TrainCLI` (atomic, weights-only checkpoints) for the vocoder."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("model.network.mel.sample_rate", "data.sample_rate")


def main(args: Sequence[str] | None = None) -> None:
    """Run the CLI on ``args`` (default: the command line)."""
    VocoderCLI(VocoderModule, WaveformDataModule, args=None if args is None else list(args),
               save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
