"""Note names -> MIDI numbers, alone and inside prompts (known answers)."""

from __future__ import annotations

import pytest

from audiodiff.notes import midi_to_note, note_to_midi, prompt_pitch


@pytest.mark.parametrize(("name", "midi"), [("C4", 60), ("A4", 69), ("D#4", 63), ("Eb4", 63), ("C-1", 0),
                                            ("c3", 48), ("B3", 59), ("C6", 84)])
def test_note_to_midi(name: str, midi: int) -> None:
    assert note_to_midi(name) == midi


@pytest.mark.parametrize(
    ("midi", "name"), [(60, "C4"), (54, "F#3"), (63, "D#4"), (21, "A0"), (0, "C-1"), (127, "G9")]
)
def test_midi_to_note_round_trips(midi: int, name: str) -> None:
    assert midi_to_note(midi) == name and note_to_midi(name) == midi == prompt_pitch(f"note {name}")


@pytest.mark.parametrize("bad", ["H4", "C", "4", "C#b4", ""])
def test_note_to_midi_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="not a note name"):
        note_to_midi(bad)


@pytest.mark.parametrize(("prompt", "midi"), [
    ("acoustic grand piano, note C4", 60),
    ("a soft flute note at F#5", 78),
    ("C4 on a marimba, played hard", 60),
    ("woodwind one-shot: flute, G5, loud", 79),
    ("cello, E flat 2", 39),
    ("c sharp 4 on a harp", 61),
    ("C-sharp 4", 61),
    ("Bb3 trumpet", 58),
    ("b3 trumpet", 59),
    ("F♯3 guitar", 54),
    ("a low C-1 sine", 0),
    ("a bell at c#4.", 61),
    ("note G9", 127),
    ("from E2 up to G3", 40),  # the first note named
])
def test_prompt_pitch_finds_the_note(prompt: str, midi: int) -> None:
    assert prompt_pitch(prompt) == midi


@pytest.mark.parametrize("prompt", [
    "a punchy electronic kick drum", "tr-808 kick", "a C64 chip tune blip", "a 4 bar loop",
    "abc3", "x-C4", "E4.5 seconds", "note B9", "", "single loud violin note",
])
def test_prompt_pitch_none_without_a_note(prompt: str) -> None:
    assert prompt_pitch(prompt) is None
