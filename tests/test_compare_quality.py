"""benchmarks/compare_quality.py: proportions with their spread, one column per run, clear errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_quality.py"
_SPEC = importlib.util.spec_from_file_location("compare_quality", _PATH)
cq = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cq)


def result(hit: float, drum: float, frechet: float) -> dict:
    """A quality.json with only what the table reads."""
    return {
        "model_hash": "abcdef0123456789",
        "pitch": {"generated": {"overall": {"hit_rate": hit, "n": 100}}},
        "category": {"drum": {"real_val": 0.75, "n_val": 100, "generated_audio": drum, "n_generated": 32,
                              "free": {"generated_audio": 0.5, "n_generated": 48},
                              "frechet": {"generated": frechet, "floor": 2.0}}},
        "speed": {"rtf": 0.25, "threads": 2},
    }


def test_proportion_has_the_binomial_standard_error() -> None:
    assert cq.proportion(0.5, 100) == "50% ± 5 (n=100)"       # sqrt(0.25 / 100) = 0.05
    assert cq.proportion(1.0, 10) == "100% ± 0 (n=10)"
    assert cq.proportion(None, 10) == "-" and cq.proportion(0.5, 0) == "-"


def test_table_puts_runs_side_by_side_and_skips_missing_measures(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "quality.json").write_text(json.dumps(result(0.9, 0.875, 3.0)))
    (tmp_path / "b.json").write_text(json.dumps(result(0.6, 0.5, 5.0)))
    text = cq.table([cq.load(tmp_path / "a"), cq.load(tmp_path / "b.json")], ["old", "new"])
    lines = text.splitlines()
    assert lines[0] == "| measure | old | new |"
    assert "| pitch within 50 cents, template prompts | 90% ± 3 (n=100) | 60% ± 5 (n=100) |" in lines
    assert "| drum category, template prompts | 88% ± 6 (n=32) | 50% ± 9 (n=32) |" in lines
    assert "| drum Fréchet distance to real val | 3.00 (floor 2.00, 1.5x) | 5.00 (floor 2.00, 2.5x) |" in lines
    assert not any("effect" in line or "free-phrased | -" in line for line in lines)   # measures no run has
    assert lines[-1] == "| model hash | abcdef012345 | abcdef012345 |"


def test_missing_run_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no quality.json"):
        cq.load(tmp_path / "nothing")
