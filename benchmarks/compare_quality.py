"""Headline measures of several ``benchmarks/quality.py`` runs side by side.

Usage: python benchmarks/compare_quality.py runs/quality-a runs/quality-b [...] [--names A B ...]

Each argument is a quality.py ``--out`` folder (or its ``quality.json``). Proportions carry their
binomial standard error, ``sqrt(p (1 - p) / n)``: the spread a rerun with other seeds would show, so
two models differ on a measure only where their gap is clearly larger than both spreads. Prints one
Markdown table; the columns are the runs in the order given.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], str]]


def load(path: Path) -> dict[str, Any]:
    """A quality.py result from its folder or its JSON file."""
    file = path / "quality.json" if path.is_dir() else path
    if not file.is_file():
        raise SystemExit(f"compare_quality.py: no quality.json at {path}; run benchmarks/quality.py --out {path}")
    return json.loads(file.read_text())


def proportion(p: float | None, n: int) -> str:
    """``p`` as a percentage with its binomial standard error, e.g. ``72% ± 4 (n=150)``."""
    if p is None or n == 0:
        return "-"
    return f"{100 * p:.0f}% ± {100 * math.sqrt(p * (1 - p) / n):.0f} (n={n})"


def _get(result: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def _pitch(which: str, rate: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        s = _get(r, "pitch", which, "overall")
        return proportion(s[rate], s["n"]) if s else "-"
    return cell


def _category(task: str, which: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        c = _get(r, "category", task)
        if c is None:
            return "-"
        if which == "real":
            return proportion(c["real_val"], c["n_val"])
        c = c.get("free") if which == "free" else c
        return proportion(c["generated_audio"], c["n_generated"]) if c else "-"
    return cell


def _frechet(task: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        d = _get(r, "category", task, "frechet")
        if d is None:
            return "-"
        return f"{d['generated']:.2f} (floor {d['floor']:.2f}, {d['generated'] / d['floor']:.1f}x)"
    return cell


ROWS: list[Row] = [
    ("pitch within 50 cents, template prompts", _pitch("generated", "hit_rate")),
    ("pitch within 50 cents, free-phrased", _pitch("generated_free", "hit_rate")),
    ("voiced, free-phrased", _pitch("generated_free", "voiced_rate")),
    *[(f"{task} category, {label}", _category(task, which))
      for task in ("drum", "family", "effect")
      for which, label in (("template", "template prompts"), ("free", "free-phrased"), ("real", "real val clips"))],
    ("drum Fréchet distance to real val", _frechet("drum")),
    ("effect Fréchet distance to real val", _frechet("effect")),
    ("RTF (2 s, model loaded)", lambda r: f"{r['speed']['rtf']:.2f} (threads: {r['speed']['threads']})"
     if "speed" in r else "-"),
]


def table(results: list[dict[str, Any]], names: list[str]) -> str:
    """The Markdown table: one row per measure of :data:`ROWS` that some run has, one column per run."""
    lines = [f"| measure | {' | '.join(names)} |", f"|---|{'---|' * len(names)}"]
    for label, cell in ROWS:
        cells = [cell(r) for r in results]
        if any(c != "-" for c in cells):
            lines.append(f"| {label} | {' | '.join(cells)} |")
    lines.append(f"| model hash | {' | '.join(str(r.get('model_hash', '-'))[:12] for r in results)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="quality.py --out folders (or quality.json files)")
    parser.add_argument("--names", nargs="+", help="column titles (default: the folder names)")
    args = parser.parse_args(argv)
    names = args.names or [p.name if p.is_dir() else p.parent.name for p in args.runs]
    if len(names) != len(args.runs):
        parser.error(f"--names gives {len(names)} titles for {len(args.runs)} runs")
    print(table([load(p) for p in args.runs], names))


if __name__ == "__main__":
    main()
