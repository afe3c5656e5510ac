"""Pack a compact copy of a clip dataset to carry to a lent GPU machine (``recipes/gpu``).

Usage: python recipes/oneshots/pack_dataset.py --data data/oneshots --out data/vocoder-pack
       [--every 2] [--seconds 0.55] [--val-clips 64] [--overwrite]

The device tool carries at most 64 MiB with the working tree, and the one-shot dataset is 325 MB.
The pack keeps every ``every``-th training clip and ``val_clips`` validation clips spread evenly
over the split (the metadata's order), each cut to its first ``seconds`` (a vocoder trains on
segments of 8192 samples, 0.37 s at 22.05 kHz; the onset is where transients are) and written as
16-bit FLAC, with their ``metadata.jsonl`` lines (the ``path`` changed). The folder is written
atomically: an interrupted run leaves nothing, and an existing pack is replaced only with
``--overwrite``. Prints what it kept and the pack's size.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from audiodiff.audio import load, save
from audiodiff.data.layouts import METADATA_FILES
from audiodiff.fileio import atomic_path

METADATA = METADATA_FILES[1]  # metadata.jsonl, which build_dataset.py writes


def read_metadata(root: Path) -> list[dict[str, Any]]:
    """The entries of ``root/metadata.jsonl``, in file order."""
    path = root / METADATA
    if not path.is_file():
        raise FileNotFoundError(f"no {METADATA} in {root}: pass a dataset folder such as data/oneshots")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def select(entries: list[dict[str, Any]], every: int, val_clips: int) -> list[dict[str, Any]]:
    """Every ``every``-th ``train`` entry and ``val_clips`` ``val`` entries spread evenly, in order."""
    if every < 1 or val_clips < 0:
        raise ValueError(f"every must be at least 1 and val_clips at least 0, got {every} and {val_clips}")
    train = [e for e in entries if e.get("split") == "train"][::every]
    val = [e for e in entries if e.get("split") == "val"]
    step = max(1, len(val) // val_clips) if val_clips else 0
    return train + (val[::step][:val_clips] if val_clips else [])


def pack(
    root: Path, out: Path, every: int, seconds: float, val_clips: int, *, overwrite: bool = False
) -> dict[str, Any]:
    """Write the pack of ``root`` to ``out`` (see the module docstring); return a report."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    chosen = select(read_metadata(root), every, val_clips)
    if not chosen:
        raise ValueError(f"{root / METADATA} has no train or val entries to pack")
    audio_seconds = 0.0
    with atomic_path(out, overwrite=overwrite, directory=True) as tmp:
        lines = []
        (tmp / "audio").mkdir()
        for number, entry in enumerate(chosen):
            audio, rate = load(root / entry["path"])
            audio = audio[:, : round(seconds * rate)]
            name = f"audio/{number:05d}_{Path(entry['path']).stem}.flac"
            save(tmp / name, audio, rate)
            audio_seconds += audio.shape[-1] / rate
            lines.append(json.dumps(entry | {"path": name}))
        (tmp / METADATA).write_text("\n".join(lines) + "\n")
    splits = {split: sum(e.get("split") == split for e in chosen) for split in ("train", "val")}
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"clips": len(chosen), "splits": splits, "audio_seconds": round(audio_seconds, 1), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with metadata.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=2, help="keep every N-th training clip")
    parser.add_argument("--seconds", type=float, default=0.55, help="keep each clip's first N seconds")
    parser.add_argument("--val-clips", type=int, default=64)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing pack")
    args = parser.parse_args()
    try:
        report = pack(args.data, args.out, args.every, args.seconds, args.val_clips, overwrite=args.overwrite)
    except (OSError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(f"{report['clips']} clips {report['splits']}, {report['audio_seconds']} s of audio, "
          f"{report['bytes'] / 2**20:.1f} MiB in {args.out}")


if __name__ == "__main__":
    main()
