"""Regenerate samples/: run `audiodiff sample` for each prompt and each sound-design command, draw
each spectrogram, write README.md.

Usage: python samples/generate.py [--model PATH] (default: the bundled model). Needs Pillow
(`pip install -e ".[bench]"`). Every clip is reproduced bit for bit by the command listed for it in
samples/README.md (same audiodiff version, model and torch build, on the CPU).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from audiodiff.audio import load
from audiodiff.spectrogram import MelConfig, MelSpectrogram, normalize

HERE = Path(__file__).resolve().parent
# (kind, prompt, seed, duration in seconds or None for the model's default)
PROMPTS = [
    ("drums", "a punchy electronic kick drum", 1, None),
    ("drums", "a deep acoustic kick drum", 2, None),
    ("drums", "a tight snare drum", 3, None),
    ("drums", "a closed hi-hat", 4, None),
    ("drums", "an open hi-hat", 5, None),
    ("drums", "a crash cymbal", 6, None),
    ("drums", "a low tom", 7, None),
    ("drums", "a hand clap", 8, None),
    ("pitched", "acoustic grand piano, note C4", 9, None),
    ("pitched", "acoustic grand piano, note G2", 10, None),
    ("pitched", "violin, note A4", 11, None),
    ("pitched", "trumpet, note C5", 12, None),
    ("pitched", "flute, note G5", 13, None),
    ("pitched", "marimba, note E4", 14, None),
    ("pitched", "a fingered electric bass note at E2", 15, None),
    ("pitched", "a warm synth pad chord at C4", 16, None),
    ("pitched", "drawbar organ, note C3", 17, None),
    ("pitched", "nylon string guitar, note D4", 18, None),
    ("percussion", "a cowbell hit", 19, None),
    ("percussion", "a triangle ding", 20, None),
    ("percussion", "a shaker", 21, None),
    ("percussion", "a tambourine", 22, None),
    ("effects", "footsteps on gravel", 23, 2),
    ("effects", "a heavy wooden door closing", 24, 1.5),
    ("effects", "a creaky door opening", 25, 2),
    ("effects", "glass breaking", 26, 1.5),
    ("effects", "a distant explosion", 27, 3),
    ("effects", "rain on a roof", 28, 4),
    ("effects", "a crackling campfire", 29, 4),
    ("effects", "thunder rumbling in the distance", 30, 4),
    ("effects", "water splashing", 31, 1.5),
    ("effects", "wind howling", 32, 4),
    ("effects", "a dog barking", 33, 1),
    ("effects", "a cow mooing", 34, 2),
    ("effects", "birds chirping", 35, 3),
    ("effects", "a car engine idling", 36, 3),
    ("effects", "a sword hitting a shield", 37, 1),
    ("effects", "a notification chime", 38, 1),
    ("effects", "a mouse click", 39, 0.25),
    ("effects", "an error beep", 40, 0.5),
]

# Sound-design examples: (operation, what it shows, arguments after `audiodiff`).
# Their inputs are the generated samples above.
PAD = "samples/16-a-warm-synth-pad-chord-at-c4.wav"
PIANO = "samples/09-acoustic-grand-piano-note-c4.wav"
TOOLKIT = [
    ("vary", "a variation of the piano note at strength 0.5 (0 keeps it, 1 is a new note)",
     ["vary", PIANO, "--prompt", "acoustic grand piano, note C4", "--strength", "0.5", "--seed", "1",
      "--out", "samples/toolkit/vary-piano.wav"]),
    ("inpaint", "0.8-1.3 s of the pad regenerated as a hand clap; the rest is the pad's own samples",
     ["inpaint", PAD, "--region", "0.8:1.3", "--prompt", "a hand clap", "--seed", "2",
      "--out", "samples/toolkit/inpaint-pad.wav"]),
    ("extend", "the pad continued by 2 s (its first 2 s are the input, bit for bit)",
     ["extend", PAD, "--seconds", "2", "--prompt", "a warm synth pad chord at C4", "--seed", "3",
      "--out", "samples/toolkit/extend-pad.wav"]),
    ("any length", "12 s in one call: overlapping 5 s windows, blended every step",
     ["sample", "--prompt", "a warm synth pad chord at C4", "--duration", "12", "--seed", "4",
      "--out", "samples/toolkit/long-pad.wav"]),
    ("loop", "2 bars at 120 bpm (exactly 4 s) that play in a loop with no seam",
     ["sample", "--prompt", "a shaker", "--loop-bars", "2", "--bpm", "120", "--seed", "5",
      "--out", "samples/toolkit/loop-shaker.wav"]),
    ("interpolate", "five steps from a kick drum to a snare drum (the ends are plain generations)",
     ["interpolate", "--prompt", "a deep acoustic kick drum", "--to-prompt", "a tight snare drum", "--num", "5",
      "--seed", "6", "--out", "samples/toolkit/kick-to-snare"]),
]


def spectrogram_png(wav: Path, png: Path, mel: MelConfig) -> None:
    """Save the normalised log-mel of ``wav`` as an image (low frequencies at the bottom, 3x taller)."""
    audio, _ = load(wav, mel.sample_rate)
    image = normalize(MelSpectrogram(mel)(audio)[0], mel).clamp(-1, 1).flip(0)
    pixels = ((image + 1) * 127.5).round().to(torch.uint8).numpy()
    colour = np.stack([pixels, (pixels.astype(np.float32) ** 1.3 / 255**0.3).astype(np.uint8), 255 - pixels], -1)
    Image.fromarray(colour).resize((pixels.shape[1] * 3, pixels.shape[0] * 3), Image.NEAREST).save(png)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")[:48]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    args = parser.parse_args()
    from audiodiff.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    rows = ["| kind | prompt | audio | spectrogram | command |", "|---|---|---|---|---|"]
    exe = Path(sys.executable).with_name("audiodiff")
    for kind, prompt, seed, duration in PROMPTS:
        name = f"{seed:02d}-{slug(prompt)}"
        cmd = ["audiodiff", "sample", "--prompt", prompt, "--seed", str(seed),
               *(["--duration", f"{duration:g}"] if duration else []), "--out", f"samples/{name}.wav",
               "--overwrite", "--quiet", *(["--model", args.model] if args.model else [])]
        subprocess.run([str(exe), *cmd[1:]], check=True, cwd=HERE.parent)
        spectrogram_png(HERE / f"{name}.wav", HERE / f"{name}.png", pipe.config.mel)
        rows.append(f"| {kind} | {prompt} | [{name}.wav]({name}.wav) | ![]({name}.png) | `{shlex.join(cmd)}` |")
    rows += ["", "## Sound design", "",
             "Each command's input is one of the generated samples above.", "",
             "| operation | what | input | output | command |", "|---|---|---|---|---|"]
    for operation, what, argv in TOOLKIT:
        cmd = ["audiodiff", *argv, "--overwrite", "--quiet", *(["--model", args.model] if args.model else [])]
        printed = subprocess.run([str(exe), *cmd[1:]], check=True, cwd=HERE.parent, capture_output=True, text=True)
        outputs = [Path(line).relative_to("samples/toolkit") for line in printed.stdout.split()]
        source = next((a for a in argv if a.startswith("samples/") and a.endswith(".wav") and "toolkit" not in a), None)
        cells = []
        for out in outputs:
            wav = HERE / "toolkit" / out
            spectrogram_png(wav, wav.with_suffix(".png"), pipe.config.mel)
            cells.append(f"[{Path(out).name}](toolkit/{out})<br>![](toolkit/{Path(out).with_suffix('.png')})")
        given = f"[{Path(source).name}]({Path(source).name})" if source else "-"
        rows.append(f"| {operation} | {what} | {given} | {'<br>'.join(cells)} | `{shlex.join(cmd)}` |")
    (HERE / "README.md").write_text(
        "# Samples\n\nWhat the bundled default model generated, with the exact command for each clip "
        "(run from the repository root; each file also has a JSON sidecar with the model hash). "
        "Regenerate all with `python samples/generate.py`.\n\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
