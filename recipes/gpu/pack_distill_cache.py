"""A small text-conditioned mel cache for distillation on a lent GPU machine (``distill.sh``).

Usage: python recipes/gpu/pack_distill_cache.py --data data/general --out cache/distill-pack
       [--items 300] [--val 24] [--seconds 5]

Takes ``--items`` training clips of the merged dataset (``recipes/general/``), as evenly over
its labels as they go (round-robin, in file order), and ``--val`` validation clips the same way,
each with its own first caption only (the cache stores one token embedding per caption, which is
most of its size), and prepares them into a cache like ``audiodiff prepare ... --seconds 5
--conditioning text``. The teacher gives the targets, so distillation needs the data only to be
noised: a few hundred clips over every label keep the conditioning varied. 300 clips at 5 s
are about 28 MiB, which, with the tracked tree, fits in what a device call carries.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from audiodiff.conditioning import ConditionerConfig
from audiodiff.data.cache import prepare
from audiodiff.spectrogram import MelConfig


def round_robin(rows: list[dict], count: int) -> list[dict]:
    """Up to ``count`` of ``rows``, one per label in turn (labels in order of first appearance)."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[str(row.get("label"))].append(row)
    queues, picked = list(by_label.values()), []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/general"))
    parser.add_argument("--out", type=Path, default=Path("cache/distill-pack"))
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--val", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    metadata = args.data / "metadata.jsonl"
    if not metadata.is_file():
        print(f"pack_distill_cache: error: {metadata} not found; build the dataset first "
              "(recipes/general-1d.yaml lists the commands)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in metadata.read_text().splitlines() if line.strip()]
    chosen = (round_robin([r for r in rows if r.get("split") != "val"], args.items)
              + round_robin([r for r in rows if r.get("split") == "val"], args.val))
    subset = args.out.with_name(args.out.name + ".data")
    subset.mkdir(parents=True, exist_ok=True)
    for top in sorted({Path(row["path"]).parts[0] for row in chosen}):  # the dataset's folders, linked
        link = subset / top
        if not link.exists():
            link.symlink_to((args.data / top).resolve(), target_is_directory=True)
    lines = [json.dumps({**row, "captions": [row["caption"]]}) for row in chosen]
    (subset / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    report = prepare(subset, args.out, mel_config=MelConfig(), seconds=args.seconds, progress=False,
                     conditioner_config=ConditionerConfig(kind="text"))
    size = sum(f.stat().st_size for f in args.out.iterdir()) / 2**20
    print(f"{len(chosen)} clips ({args.items} train, {args.val} val requested) -> {args.out}: {size:.1f} MiB; "
          f"{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
