"""audiodiff: text- and class-conditioned audio diffusion on mel spectrograms."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("audiodiff")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+local"

from audiodiff.pipeline import Generation, Pipeline  # noqa: E402

__all__ = ["Generation", "Pipeline", "__version__"]
