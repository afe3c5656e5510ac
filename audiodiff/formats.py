"""The one check of a saved folder's ``config.json`` (models, vocoders) or manifest (caches).

Every document audiodiff writes carries an integer ``format_version`` and, where several kinds
share a file name, a ``kind``. :func:`read_versioned_json` reads such a file and refuses, in one
line naming the file and the fix, anything that is missing, not JSON, not an object, unversioned,
newer than this audiodiff reads, or of another kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ModelFormatError(ValueError):
    """A model, vocoder or cache folder that is missing, corrupt or from an incompatible format."""


def read_versioned_json(path: Path, *, reads_up_to: int, kind: str | None = None) -> dict[str, Any]:
    """The JSON object in ``path``, checked: ``format_version`` an int ``<= reads_up_to`` and, when
    ``kind`` is given, ``data["kind"] == kind``.

    Raises:
        ModelFormatError: naming ``path`` and what is wrong with it.
    """
    if not path.is_file():
        raise ModelFormatError(f"{path} not found: the folder needs {path.name}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFormatError(f"{path} is not valid JSON ({err}); the folder is corrupt") from err
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} does not hold a JSON object; the folder is corrupt")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFormatError(f"{path} has no format_version; it was not written by audiodiff")
    if version > reads_up_to:
        raise ModelFormatError(
            f"{path} uses format {version} but this audiodiff reads up to {reads_up_to}; "
            "upgrade with: pip install -U audiodiff"
        )
    if kind is not None and data.get("kind") != kind:
        raise ModelFormatError(f"{path} is for a {data.get('kind')!r}, not a {kind!r}")
    return data
