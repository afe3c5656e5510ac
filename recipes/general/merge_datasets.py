"""Merge dataset folders (each with a ``metadata.jsonl``) into one, for one model over all of them.

Usage: python recipes/general/merge_datasets.py --out data/general data/oneshots data/sfx

The output folder holds one ``metadata.jsonl`` and, per source folder, a link named after it to
that folder, so no audio is copied; each row keeps every field of its source row (captions,
label, split, licence...), with ``path`` prefixed by the link's name and a ``dataset`` field.
Re-running replaces the output's metadata and links.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def merge(out: Path, sources: list[Path]) -> int:
    """Write ``out/metadata.jsonl`` over ``sources``; return the number of rows."""
    names = [source.resolve().name for source in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"source folders need distinct names, got {names}")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for source, name in zip(sources, names, strict=True):
        metadata = source / "metadata.jsonl"
        if not metadata.is_file():
            raise ValueError(f"{source} has no metadata.jsonl; build that dataset first")
        link = out / name
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise ValueError(f"{link} exists and is not a link; choose another --out")
        link.symlink_to(os.path.relpath(source.resolve(), out.resolve()), target_is_directory=True)
        for line in metadata.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append({**row, "path": f"{name}/{row['path']}", "dataset": name})
    tmp = out / "metadata.jsonl.tmp"
    with tmp.open("w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(out / "metadata.jsonl")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the merged dataset folder")
    parser.add_argument("sources", type=Path, nargs="+", help="dataset folders with a metadata.jsonl")
    args = parser.parse_args()
    try:
        count = merge(args.out, args.sources)
    except ValueError as err:
        sys.exit(f"merge_datasets: {err}")
    print(f"{count} clips from {len(args.sources)} datasets in {args.out}/metadata.jsonl")


if __name__ == "__main__":
    main()
