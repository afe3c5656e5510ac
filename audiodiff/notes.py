"""Note names: scientific pitch notation <-> MIDI numbers, alone or found inside a text prompt; MIDI -> Hz."""

from __future__ import annotations

import re

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
# A letter, an optional accidental (symbol, or the word with optional spaces or a hyphen) and a
# one-digit octave (or -1), standing alone in text: "C4", "d#3", "Eb2", "F sharp 5".
_NOTE = re.compile(
    r"(?<![\w#♯♭-])([A-Ga-g])(?:([#♯b♭])|[\s-]?((?i:sharp|flat))\s?)?(-1|\d)(?![\w#♯♭]|\.\d)"
)


def _match_midi(match: re.Match[str]) -> int:
    letter, symbol, word, octave = match.groups()
    return 12 * (int(octave) + 1) + _PITCH_CLASSES[letter.upper()] + _ACCIDENTALS[(symbol or word or "").lower()]


def note_to_midi(name: str) -> int:
    """MIDI number of a note name in scientific pitch notation: ``"C4"`` -> 60, ``"D#4"``/``"Eb4"`` -> 63."""
    match = _NOTE.fullmatch(name.strip())
    if match is None:
        raise ValueError(f"not a note name: {name!r} (expected e.g. C4, D#4, Eb4)")
    return _match_midi(match)


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency of MIDI note ``midi`` (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def midi_to_note(midi: int) -> str:
    """Scientific pitch name of a MIDI note, with sharps: 60 -> ``"C4"``, 54 -> ``"F#3"``, 0 -> ``"C-1"``."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def prompt_pitch(prompt: str) -> int | None:
    """The MIDI number of the first note named in a prompt, or ``None`` when it names none.

    ``"acoustic grand piano, note C4"`` -> 60, ``"a soft flute note at F#5"`` -> 78,
    ``"cello, E flat 2"`` -> 39, ``"a punchy kick drum"`` -> ``None``. A note must be a letter A-G
    (either case) right before its octave digit (-1 to 9), optionally with ``#``/``b``/``♯``/``♭``
    or the word ``sharp``/``flat`` between; notes outside MIDI's 0-127 count as none.
    """
    for match in _NOTE.finditer(prompt):
        if 0 <= (midi := _match_midi(match)) <= 127:
            return midi
    return None
