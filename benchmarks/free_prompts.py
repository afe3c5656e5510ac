"""Prompts phrased as a user would, held out of every training caption (benchmarks/quality.py).

The template prompts of ``quality.py`` ("INSTRUMENT, note NOTE", "a kick drum") are close to the
captions the one-shot recipe writes; these are not: other word orders, other names for the same
instruments and drums, and sound effects asked for in a user's words. :func:`leaked` checks that
none of them appears in a dataset's captions, so the set stays held out when the recipes' caption
templates change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

FREE_NOTES = ("C3", "G3", "E4", "C5", "C6")
# family -> a phrasing with {note}; the families of the one-shot dataset's melodic instruments
FREE_PITCH = {
    "keys": "a soft piano playing {note}",
    "mallets": "vibraphone hit, pitch {note}",
    "organ": "an organ holding the note {note}",
    "guitar": "{note} plucked on a nylon guitar",
    "bass": "an electric bass, note {note}",
    "strings": "a cello bowing {note}",
    "brass": "a trumpet, note {note}",
    "reed": "a clarinet, note {note}",
    "pipe": "a breathy flute at {note}",
    "synth lead": "a square wave synth lead playing {note}",
}
FREE_DRUMS = {
    "kick": ("a boomy bass drum hit", "808 style kick"),
    "snare": ("a crisp snare hit", "snare with a rattly buzz"),
    "closed hihat": ("hi-hat, closed and short", "a quick tick of a closed hat"),
    "open hihat": ("a hi-hat left open, ringing", "an open hat that hisses"),
    "tom": ("a low tom hit from a fill", "a deep rack tom"),
    "crash": ("a crashing cymbal that rings out", "cymbal crash, loud"),
    "ride": ("ride cymbal ping", "a ride bell-like ping"),
    "clap": ("people clapping once", "a clap sound, dry"),
}
# sound-effect category (recipes/sfx/) -> two phrasings a sound designer might type
FREE_EFFECTS = {
    "ambience": ("background noise of a crowded bazaar", "room tone of a creaky old ship"),
    "animal": ("a goat making noise", "a dog barking twice"),
    "creature": ("a scary monster growl", "an undead moan"),
    "door": ("a heavy wooden door closing", "a creaky gate swinging open"),
    "electronic": ("glitchy digital bleeps", "a short electronic zap"),
    "fire": ("a camp fire popping and crackling", "flames whooshing up"),
    "footsteps": ("walking across loose gravel", "somebody walking on snow"),
    "human": ("a man groaning in pain", "a woman shouting"),
    "impact": ("a heavy thud on wood", "a stone dropped on the ground"),
    "interface": ("a notification chime", "a short UI confirm beep"),
    "retro game": ("an 8-bit jump sound", "a chiptune coin pickup"),
    "tool": ("hammering a nail", "sawing a plank of wood"),
    "vehicle": ("a car honking its horn", "an old cart rolling by"),
    "water": ("a babbling brook", "ocean waves crashing"),
    "weapon": ("a sword being swung", "a gun firing once"),
    "weather": ("rain on a roof", "a strong wind blowing"),
    "whoosh": ("a fast whoosh", "something flying past quickly"),
}


def pitch_prompts() -> list[tuple[str, str, str]]:
    """(family, note, prompt) for every family and note."""
    return [(family, note, template.format(note=note)) for family, template in FREE_PITCH.items()
            for note in FREE_NOTES]


def all_prompts() -> list[str]:
    return [p for _, _, p in pitch_prompts()] + [p for table in (FREE_DRUMS, FREE_EFFECTS)
                                                 for prompts in table.values() for p in prompts]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9#]+", " ", text.lower()).split())


def leaked(prompts: Iterable[str], captions: Iterable[str]) -> list[str]:
    """The prompts that equal a caption, ignoring case and punctuation."""
    seen = {_norm(c) for c in captions}
    return [p for p in prompts if _norm(p) in seen]


def dataset_captions(root: Path) -> list[str]:
    """Every caption and alternative phrasing in ``root/metadata.jsonl``."""
    out = []
    for line in (root / "metadata.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out += [row.get("caption", ""), *row.get("captions", [])]
    return out
