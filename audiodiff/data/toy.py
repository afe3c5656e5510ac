"""A toy dataset of synthetic one-shots (kick, hat, tone) for the debug recipe and smoke tests.

Each class has a distinct, easily recognised spectrum, so a model trained for a minute on it
visibly separates the classes. Files are written in either dataset layout; in the metadata
layout a tone's caption also names its note ("a soft sine tone note, note A3").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from audiodiff.audio import save
from audiodiff.notes import midi_to_hz, midi_to_note

TOY_CLASSES = {
    "kick": "a deep kick drum thump",
    "hat": "a bright closed hi-hat tick",
    "tone": "a soft sine tone note",
}


def toy_sound(label: str, sample_rate: int, seconds: float, generator: torch.Generator) -> tuple[Tensor, int | None]:
    """One synthetic one-shot ``[1, samples]`` of class ``label`` with a little random variation,
    and its MIDI note (tones: A3 to A4; ``None`` for the unpitched classes)."""
    n = round(seconds * sample_rate)
    t = torch.arange(n) / sample_rate
    jitter = float(torch.rand((), generator=generator))
    midi = None
    if label == "kick":
        freq = 45 + 20 * jitter + 120 * torch.exp(-t * 30)
        phase = 2 * math.pi * torch.cumsum(freq, 0) / sample_rate
        audio = torch.sin(phase) * torch.exp(-t * (6 + 4 * jitter))
    elif label == "hat":
        noise = torch.randn(n, generator=generator)
        audio = (noise - torch.roll(noise, 1)) * 0.4 * torch.exp(-t * (35 + 20 * jitter))
    elif label == "tone":
        midi = 57 + round(12 * jitter)
        f0 = midi_to_hz(midi)
        audio = sum(torch.sin(2 * math.pi * f0 * k * t) / k for k in (1, 2, 3)) * torch.exp(-t * 2.5) * 0.4
    else:
        raise ValueError(f"unknown toy class {label!r}; known: {', '.join(TOY_CLASSES)}")
    onset = int(0.02 * sample_rate * float(torch.rand((), generator=generator)))  # some leading silence
    return torch.nn.functional.pad(audio, (onset, 0))[:n].unsqueeze(0).clamp(-1, 1), midi


def make_toy_dataset(root: str | Path, *, layout: Literal["classes", "metadata"] = "classes", per_class: int = 16,
                     sample_rate: int = 22050, seconds: float = 1.0, seed: int = 0) -> Path:
    """Write ``per_class`` clips of every toy class under ``root`` in the given layout."""
    root = Path(root)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for label, caption in TOY_CLASSES.items():
        for i in range(per_class):
            rel = Path(label if layout == "classes" else "audio") / f"{label}_{i:03d}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            audio, midi = toy_sound(label, sample_rate, seconds, gen)
            save(root / rel, audio, sample_rate, overwrite=True)
            named = caption if midi is None else f"{caption}, note {midi_to_note(midi)}"
            rows.append({"path": rel.as_posix(), "caption": named, "label": label})
    if layout == "metadata":
        (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write the toy dataset (kick, hat, tone one-shots)")
    parser.add_argument("root", help="output folder")
    parser.add_argument("--layout", choices=["classes", "metadata"], default="classes")
    parser.add_argument("--per-class", type=int, default=24)
    args = parser.parse_args()
    print(make_toy_dataset(args.root, layout=args.layout, per_class=args.per_class))
