"""Writing what a pipeline made: sounds with their JSON sidecars, and the progress bar."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiodiff.cli.checks import sidecar_path

if TYPE_CHECKING:
    from audiodiff.pipeline import Generation

# The sidecar's keys in the order users see them; an operation's own settings follow.
SIDECAR_KEYS = ("prompt", "negative_prompt", "label", "seed", "sampler", "steps", "guidance", "duration",
                "vocoder", "vocoder_settings", "sample_rate", "model", "model_hash", "audiodiff_version")


def sidecar(result: Generation, row: int, model: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What row ``row`` of ``result`` records: the pipeline's settings for it, the model and version,
    then ``extra`` (e.g. the input file and its hash)."""
    from audiodiff import __version__

    values = {**result.row_settings(row), "model": str(model or "default"), "audiodiff_version": __version__,
              **(extra or {})}
    first = {key: values[key] for key in SIDECAR_KEYS if key in values}
    return {**first, **{key: value for key, value in values.items() if key not in first}}


def write_outputs(paths: Sequence[Path], result: Generation, *, model: str | None, overwrite: bool,
                  extra: dict[str, Any] | None = None) -> None:
    """Save each row of ``result`` to its path with a JSON sidecar (both atomically) and print the path."""
    from audiodiff.audio import save
    from audiodiff.fileio import write_json

    if len(paths) != len(result.seeds):
        raise ValueError(f"{len(paths)} output paths for {len(result.seeds)} sounds")
    for row, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path, result.audio[row], result.sample_rate, overwrite=overwrite)
        write_json(sidecar_path(path), sidecar(result, row, model, extra), overwrite=overwrite)
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
