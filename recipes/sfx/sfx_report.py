"""The sfx recipe's outputs: ``metadata.jsonl`` and ``report.json`` (counts a user filters on)."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from sfx_labels import COPYLEFT_FAMILIES, Clip, licence_family

from audiodiff.fileio import write_text

DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 6.0)  # upper edges of the report's histogram


def duration_summary(durations: Sequence[float]) -> dict[str, object]:
    """Min / median / mean / 90th percentile / max and a histogram of clip durations (seconds)."""
    if not durations:
        return {}
    ordered = sorted(durations)
    buckets: dict[str, int] = {}
    low = 0.0
    for high in DURATION_BUCKETS:
        buckets[f"{low:g}-{high:g} s"] = sum(low <= d < high for d in ordered)
        low = high
    buckets[f">= {low:g} s"] = sum(d >= low for d in ordered)
    return {
        "min": round(ordered[0], 3),
        "median": round(statistics.median(ordered), 3),
        "mean": round(statistics.fmean(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
        "histogram": buckets,
    }


def _nested(clips: Sequence[Clip], outer, inner) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = defaultdict(Counter)
    for clip in clips:
        table[outer(clip)][inner(clip)] += 1
    return {key: dict(counts.most_common()) for key, counts in sorted(table.items())}


def write_outputs(
    out: Path,
    clips: Sequence[Clip],
    splits: dict[str, str],
    skipped: list[dict[str, str]],
    entries: Sequence[dict],
    seconds: float,
    options: dict[str, object],
) -> dict[str, object]:
    """Write ``metadata.jsonl`` (sorted by path) and ``report.json``; return the report."""
    clips = sorted(clips, key=lambda clip: clip.path)
    lines = [json.dumps(clip.record(splits[clip.group]), ensure_ascii=False) for clip in clips]
    write_text(out / "metadata.jsonl", "".join(line + "\n" for line in lines), overwrite=True)
    kept = [entry for entry in entries if entry["clips"]]
    families = Counter(licence_family(clip.licence) for clip in clips)

    def seconds_of(key) -> dict[str, float]:
        total: Counter = Counter()
        for clip in clips:
            total[key(clip)] += clip.duration
        return {name: round(value, 1) for name, value in total.most_common()}

    report = {
        "clips": len(clips),
        "source_files": len(kept),
        "audio_seconds": round(sum(clip.duration for clip in clips), 1),
        "build_seconds": round(seconds, 1),
        "options": options,
        "per_split": dict(Counter(splits[clip.group] for clip in clips).most_common()),
        "per_label": dict(Counter(clip.label for clip in clips).most_common()),
        "per_package": dict(Counter(clip.package for clip in clips).most_common()),
        "per_licence": dict(Counter(clip.licence for clip in clips).most_common()),
        "per_licence_family": dict(families.most_common()),
        "permissive_clips": sum(n for family, n in families.items() if family not in COPYLEFT_FAMILIES),
        "copyleft_clips": sum(n for family, n in families.items() if family in COPYLEFT_FAMILIES),
        "seconds_per_label": seconds_of(lambda clip: clip.label),
        "seconds_per_package": seconds_of(lambda clip: clip.package),
        "per_split_label": _nested(clips, lambda c: splits[c.group], lambda c: c.label),
        "per_package_licence": _nested(clips, lambda c: c.package, lambda c: c.licence),
        "per_package_label": _nested(clips, lambda c: c.package, lambda c: c.label),
        "durations": duration_summary([clip.duration for clip in clips]),
        "windowed_source_files": sum(len(entry["clips"]) > 1 for entry in kept),
        "source_sample_rates": dict(Counter(str(e["source_rate"]) for e in kept).most_common()),
        "source_channels": dict(Counter(str(e["channels"]) for e in kept).most_common()),
        "skipped_reasons": dict(
            Counter(entry["reason"].partition(":")[0] for entry in skipped).most_common()
        ),
        "skipped": skipped,
    }
    write_text(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n", overwrite=True)
    return report
