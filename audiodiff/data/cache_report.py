"""What a :func:`audiodiff.data.cache.prepare` run did, and the tally of the files it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXAMPLES = 5  # skipped paths listed per reason in a report


@dataclass
class PrepareReport:
    """What :func:`prepare` did: files decoded, reused from the cache and dropped, and skips."""

    items: int = 0
    processed: int = 0
    reused: int = 0
    removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for a terminal."""
        skips = ", ".join(
            f"{n} {reason} (e.g. {', '.join(self.skipped_examples[reason])})"
            for reason, n in sorted(self.skipped.items())
        )
        return (
            f"{self.items} clips: {self.processed} files processed, {self.reused} reused, "
            f"{self.removed} removed; skipped: {skips or 'none'}"
        )


def tally_skips(skipped: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Skip records -> (reason -> count, reason -> the first ``EXAMPLES`` sources)."""
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for record in skipped:
        counts[record["reason"]] = counts.get(record["reason"], 0) + record["count"]
        shown = examples.setdefault(record["reason"], [])
        if len(shown) < EXAMPLES:
            shown.append(record["source"])
    return counts, examples
