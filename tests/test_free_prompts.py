"""The held-out free-phrased prompt set of benchmarks/quality.py (benchmarks/free_prompts.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from audiodiff.notes import note_to_midi, prompt_pitch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


fp = load("free_prompts")


def test_the_set_covers_ten_families_five_notes_c3_to_c6_and_every_drum() -> None:
    prompts = fp.pitch_prompts()
    assert len(fp.FREE_PITCH) >= 10 and len(prompts) == len(fp.FREE_PITCH) * len(fp.FREE_NOTES)
    midis = sorted(note_to_midi(n) for n in fp.FREE_NOTES)
    assert len(midis) == 5 and midis[0] == note_to_midi("C3") and midis[-1] == note_to_midi("C6")
    for _, note, prompt in prompts:  # the note each prompt names is the one it is scored against
        assert prompt_pitch(prompt) == note_to_midi(note), prompt
    assert set(fp.FREE_DRUMS) == {"kick", "snare", "closed hihat", "open hihat", "tom", "crash", "ride", "clap"}
    assert len(set(fp.all_prompts())) == len(fp.all_prompts())


def test_leaked_ignores_case_and_punctuation(tmp_path: Path) -> None:
    rows = [{"caption": "A Trumpet, note C5!", "captions": ["a crisp   snare hit"]}, {"caption": "a kick"}]
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    captions = fp.dataset_captions(tmp_path)
    assert fp.leaked(["a trumpet note c5", "a crisp snare hit", "a cello bowing C3"], captions) == [
        "a trumpet note c5", "a crisp snare hit"]
