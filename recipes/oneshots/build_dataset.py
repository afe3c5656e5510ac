"""Build the captioned one-shot dataset of the bundled default model from Debian-packaged sounds.

Sources: the recorded Hydrogen drum kits of ``hydrogen-drumkits`` and the FluidR3 General MIDI
SoundFont (``fluid-soundfont-gm``) rendered note by note with the ``fluidsynth`` CLI. Output
(the "metadata" dataset layout): ``OUT/audio/*.wav`` (mono 16-bit clips that start at the onset,
at most 4 s), ``OUT/metadata.jsonl`` (one clip per line) and ``OUT/report.json``.

    python recipes/oneshots/build_dataset.py --out data/oneshots [--jobs 2] [--limit N]

``--melodic-only`` makes only the melodic notes of ``--soundfont`` (no drum kits), e.g. from
another SoundFont, for clips of a source that no training used.

Re-running skips clips whose file exists. What each clip is called and how it is split lives in
``oneshot_labels.py``; this file finds the sources, makes the audio and writes the outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import soundfile
import torch
from torch import Tensor

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]

from oneshot_labels import (  # noqa: E402
    DRUM_KITS,
    MELODIC,
    Clip,
    Program,
    drum_clip,
    drum_label,
    gm_drum_notes,
    melodic_clip,
    melodic_pitches,
)

from audiodiff.audio import AudioError, find_onset, load, save  # noqa: E402
from audiodiff.fileio import write_text  # noqa: E402

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PACKAGES = {"hydrogen": "hydrogen-drumkits", "soundfont": "fluid-soundfont-gm"}
VELOCITIES = (40, 80, 120)
SLOT_MS = 5000  # one rendered note per slot: note-on, hold, release tail, silence
LEAD_MS = 100  # silence before the first note-on
HOLD_MS = {"melodic": 1000, "drums": 3000}  # drums are held longer so cymbals ring out
MAX_SECONDS = 4.0
PRE_ROLL_S = 0.002  # kept before the detected onset so the attack is whole
TAIL_DB = -60.0  # the clip ends where it last comes within this of its peak
FADE_S = 0.01
SILENT_PEAK = 1e-4  # -80 dBFS: quieter clips are skipped as silent
TARGET_PEAK = 0.9  # each unit (an instrument's layers, a preset's notes) peaks here
# Fast offline rendering, no MIDI input, quiet, dry, 32-bit float output.
FLUIDSYNTH = ("fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-O", "float")
MIDI_TICKS_PER_QUARTER = 1000
MIDI_TEMPO_US = 1_000_000  # one quarter per second, so one tick is one millisecond


@dataclass(frozen=True)
class DrumLayer:
    """One sample file of a Hydrogen instrument; ``velocity`` is ``None`` for one-layer ones."""

    instrument: str
    file: Path
    velocity: int | None


@dataclass(frozen=True)
class Unit:
    """Clips made together and peak-normalised as a group (their loudness order is kept).

    A Hydrogen instrument has one sample ``file`` per clip. FluidR3 units have one
    ``(program, pitch, velocity)`` note per clip; each program's notes are rendered in one MIDI
    file, ``SLOT_MS`` apart, on MIDI ``channel`` (9 is General MIDI's drum channel).
    """

    name: str
    clips: tuple[Clip, ...]
    files: tuple[Path, ...] = ()
    notes: tuple[tuple[int, int, int], ...] = ()
    channel: int = 0
    hold_ms: int = 0


@dataclass(frozen=True)
class Build:
    """Where and how clips are made: output folder, rate, SoundFont and the clips wanted."""

    out: Path
    sample_rate: int
    soundfont: Path
    wanted: frozenset[str]


def parse_drumkit(xml_path: Path) -> tuple[str, list[DrumLayer]]:
    """Read a Hydrogen ``drumkit.xml``: ``(licence, layers)``, one layer per distinct file.

    Handles both schemas: ``<layer>`` elements with a ``<min>``/``<max>`` velocity range
    (the layer's velocity is the MIDI value of the range's middle) and the older single
    ``<filename>`` per instrument. A file used by several instruments keeps the first.
    """
    root = ET.parse(xml_path).getroot()
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]  # drop the xmlns namespace
    layers: dict[str, DrumLayer] = {}
    for instrument in root.iter("instrument"):
        name = (instrument.findtext("name") or "").strip()
        ranges = [
            (layer.findtext("filename"), layer.findtext("min"), layer.findtext("max"))
            for layer in instrument.iter("layer")
        ]
        if not ranges and instrument.findtext("filename"):
            ranges = [(instrument.findtext("filename"), "0", "1")]
        for filename, low, high in ranges:
            velocity = round(63.5 * (float(low) + float(high))) if len(ranges) > 1 else None
            if filename and filename not in layers:
                layers[filename] = DrumLayer(name, xml_path.parent / filename, velocity)
    return (root.findtext("license") or "unknown").strip(), list(layers.values())


def midi_file(
    notes: Sequence[tuple[int, int]], *, channel: int, program: int, hold_ms: int
) -> bytes:
    """A format-0 standard MIDI file (1 tick = 1 ms) playing ``(pitch, velocity)`` notes.

    Note ``i`` starts at ``LEAD_MS + i * SLOT_MS`` and is held ``hold_ms``; the track ends one
    slot after the last note-on so its release tail is rendered.
    """
    events = [
        (0, b"\xff\x51\x03" + MIDI_TEMPO_US.to_bytes(3, "big")),
        (0, bytes([0xC0 | channel, program])),
    ]
    for index, (pitch, velocity) in enumerate(notes):
        start = LEAD_MS + index * SLOT_MS
        events.append((start, bytes([0x90 | channel, pitch, velocity])))
        events.append((start + hold_ms, bytes([0x80 | channel, pitch, 0])))
    events.append((LEAD_MS + len(notes) * SLOT_MS, b"\xff\x2f\x00"))
    track, now = bytearray(), 0
    for tick, data in sorted(events, key=lambda event: event[0]):
        track += _variable_length(tick - now) + data
        now = tick
    header = struct.pack(">4sIHHH", b"MThd", 6, 0, 1, MIDI_TICKS_PER_QUARTER)
    return header + struct.pack(">4sI", b"MTrk", len(track)) + bytes(track)


def _variable_length(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def plan(hydrogen_dir: Path, *, melodic_only: bool = False) -> tuple[list[Unit], list[dict[str, str]]]:
    """Every unit to make, and the sources skipped before any audio is read (with reasons).

    ``melodic_only``: only the SoundFont's melodic programs, no Hydrogen or GM drum kits.
    """
    if melodic_only:
        return [_melodic_unit(program) for program in MELODIC], []
    units: list[Unit] = []
    skipped: list[dict[str, str]] = []
    for xml_path in sorted(hydrogen_dir.glob("*/drumkit.xml")):
        kit = xml_path.parent.name
        groups: dict[str, list[tuple[Clip, Path]]] = {}
        for layer in parse_drumkit(xml_path)[1]:
            where = f"hydrogen:{kit}/{layer.file.name}"
            label = drum_label(layer.instrument)
            if label is None:
                reason = f"no label: instrument {layer.instrument!r} names no one-shot drum"
                skipped.append({"source": where, "reason": reason})
            elif not layer.file.is_file():
                skipped.append({"source": where, "reason": "missing: file not in the kit"})
            else:
                clip = drum_clip(kit, layer.instrument, label, layer.file.stem, layer.velocity)
                groups.setdefault(layer.instrument, []).append((clip, layer.file))
        for instrument, pairs in groups.items():
            clips, files = zip(*pairs, strict=True)
            units.append(Unit(f"hydrogen:{kit}/{instrument}", clips, files=files))
    units += [_melodic_unit(program) for program in MELODIC]
    units.append(_drum_kits_unit())
    return units, skipped


def _melodic_unit(program: Program) -> Unit:
    """The FluidR3 unit of one melodic GM program over its pitch grid and ``VELOCITIES``."""
    pitches = melodic_pitches(program.low, program.high)
    notes = tuple((program.number, pitch, v) for pitch in pitches for v in VELOCITIES)
    clips = tuple(melodic_clip(program, pitch, velocity) for _, pitch, velocity in notes)
    return Unit(f"fluidr3:{program.name}", clips, notes=notes, hold_ms=HOLD_MS["melodic"])


def _drum_kits_unit() -> Unit:
    """One FluidR3 unit for all GM drum kits, so sounds that kits share are found and dropped.

    Every kit plays the same notes in the same order, so a sample that two kits share renders
    to identical audio in both; :func:`make_unit` keeps the first (``DRUM_KITS`` order).
    """
    notes, clips = [], []
    for program, kit in DRUM_KITS:
        for note, name in gm_drum_notes(program).items():
            label = drum_label(name) or "percussion"
            for v in VELOCITIES:
                notes.append((program, note, v))
                clips.append(drum_clip(kit, name, label, f"n{note:02d}_v{v:03d}", v, fluidr3=True))
    return Unit(
        "fluidr3:drum kits", tuple(clips), notes=tuple(notes), channel=9, hold_ms=HOLD_MS["drums"]
    )


def select_evenly(paths: Sequence[str], limit: int | None) -> frozenset[str]:
    """``limit`` paths spread evenly over ``paths`` (so every source shows up), or all of them."""
    if limit is None or limit >= len(paths):
        return frozenset(paths)
    return frozenset(paths[index * len(paths) // limit] for index in range(limit))


def trim_clip(audio: Tensor, sample_rate: int) -> Tensor:
    """``[1, samples]`` -> ``[1, n]``: from the onset, at most ``MAX_SECONDS``, silent tail cut.

    The start keeps ``PRE_ROLL_S`` before the onset; the end is the last sample within
    ``TAIL_DB`` of the peak; the last ``FADE_S`` fade out linearly so a cut never clicks.
    """
    start = max(0, find_onset(audio, sample_rate) - round(PRE_ROLL_S * sample_rate))
    clip = audio[:, start : start + round(MAX_SECONDS * sample_rate)]
    loud = clip.abs().amax(dim=0) >= clip.abs().max() * 10.0 ** (TAIL_DB / 20.0)
    end = int(loud.nonzero().max()) + 1
    clip = clip[:, :end].clone()
    fade = min(end, round(FADE_S * sample_rate))
    clip[:, end - fade :] *= torch.linspace(1.0, 0.0, fade, dtype=clip.dtype)
    return clip


def make_unit(unit: Unit, build: Build) -> list[tuple[str, str]]:
    """Make the unit's wanted, missing clips; ``(path, "written" | "exists" | skip reason)``."""
    torch.set_num_threads(1)
    try:
        sources = _render(unit, build) if unit.notes else _load(unit, build.sample_rate)
    except (OSError, subprocess.CalledProcessError) as error:
        sources = [f"render failed: {error}"] * len(unit.clips)
    sources = _mark_duplicates(unit.clips, sources)
    peaks = [float(audio.abs().max()) for audio in sources if isinstance(audio, Tensor)]
    gain = TARGET_PEAK / max(peaks) if peaks and max(peaks) >= SILENT_PEAK else 1.0
    outcomes = []
    for clip, audio in zip(unit.clips, sources, strict=True):
        path = build.out / clip.path
        if clip.path not in build.wanted:
            continue
        if path.exists():
            outcomes.append((clip.path, "exists"))
        elif isinstance(audio, str):
            outcomes.append((clip.path, audio))
        elif float(audio.abs().max()) < SILENT_PEAK:
            outcomes.append((clip.path, "silent"))
        else:
            save(path, trim_clip(audio * gain, build.sample_rate), build.sample_rate)
            outcomes.append((clip.path, "written"))
    return outcomes


def _mark_duplicates(clips: Sequence[Clip], sources: list[Tensor | str]) -> list[Tensor | str]:
    """Replace audio identical to an earlier clip's by the reason it is skipped."""
    first: dict[bytes, str] = {}
    marked: list[Tensor | str] = []
    for clip, audio in zip(clips, sources, strict=True):
        if isinstance(audio, Tensor):
            key = hashlib.blake2b(audio.numpy().tobytes(), digest_size=16).digest()
            original = first.setdefault(key, clip.path)
            if original != clip.path:
                audio = f"duplicate: same audio as {original}"
        marked.append(audio)
    return marked


def _load(unit: Unit, sample_rate: int) -> list[Tensor | str]:
    """Each sample file of a Hydrogen unit as mono ``[1, samples]``, or why it is unreadable."""
    sources: list[Tensor | str] = []
    for file in unit.files:
        try:
            sources.append(load(file, sample_rate)[0])
        except AudioError as error:
            sources.append(f"unreadable: {error}")
    return sources


def _render(unit: Unit, build: Build) -> list[Tensor]:
    """Render a FluidR3 unit's notes with fluidsynth; one mono ``[1, slot]`` tensor per note."""
    rate = build.sample_rate
    sources = []
    for program, group in itertools.groupby(unit.notes, key=lambda note: note[0]):
        notes = [(pitch, velocity) for _, pitch, velocity in group]
        midi = midi_file(notes, channel=unit.channel, program=program, hold_ms=unit.hold_ms)
        audio = _fluidsynth(midi, build)
        for index in range(len(notes)):
            start = (LEAD_MS + index * SLOT_MS) * rate // 1000
            sources.append(audio[:, start : start + SLOT_MS * rate // 1000])
    return sources


def _fluidsynth(midi: bytes, build: Build) -> Tensor:
    """Render a MIDI file with ``build.soundfont``, dry (no reverb or chorus): ``[1, samples]``."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "notes.mid").write_bytes(midi)
        command = [*FLUIDSYNTH, "-r", str(build.sample_rate), "-F", f"{tmp}/notes.wav"]
        command += [str(build.soundfont), f"{tmp}/notes.mid"]
        subprocess.run(command, check=True, capture_output=True)
        return load(Path(tmp) / "notes.wav")[0]


def run_units(units: Sequence[Unit], build: Build, jobs: int) -> list[tuple[str, str]]:
    """Make every unit that still misses a wanted clip, ``jobs`` at a time, printing progress."""
    outcomes: list[tuple[str, str]] = []
    todo = []
    for unit in units:
        paths = [clip.path for clip in unit.clips if clip.path in build.wanted]
        if all((build.out / path).exists() for path in paths):
            outcomes += [(path, "exists") for path in paths]
        else:
            todo.append(unit)
    todo.sort(key=lambda unit: len(unit.clips), reverse=True)  # the longest start first
    print(f"{len(units) - len(todo)} of {len(units)} units already built; making {len(todo)}")
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(make_unit, unit, build): unit for unit in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            made = future.result()
            outcomes += made
            counts = Counter(
                status if status in ("written", "exists") else "skipped" for _, status in made
            )
            print(
                f"[{done}/{len(todo)}] {futures[future].name}: {counts['written']} written, "
                f"{counts['exists']} existing, {counts['skipped']} skipped "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return outcomes


def write_outputs(
    out: Path,
    units: Iterable[Unit],
    outcomes: Sequence[tuple[str, str]],
    skipped: list[dict[str, str]],
    seconds: float,
) -> dict[str, object]:
    """Write ``metadata.jsonl`` (clips whose file exists) and ``report.json``; return the report."""
    status = dict(outcomes)
    clips = sorted(
        (
            clip
            for unit in units
            for clip in unit.clips
            if status.get(clip.path) in ("written", "exists")
        ),
        key=lambda clip: clip.path,
    )
    lines = [json.dumps(clip.record(), ensure_ascii=False) for clip in clips]
    write_text(out / "metadata.jsonl", "".join(line + "\n" for line in lines), overwrite=True)
    skipped = skipped + [
        {"source": path, "reason": reason}
        for path, reason in outcomes
        if reason not in ("written", "exists")
    ]
    report = {
        "clips": len(clips),
        "audio_seconds": round(sum(soundfile.info(out / c.path).duration for c in clips), 1),
        "build_seconds": round(seconds, 1),
        "written_now": sum(reason == "written" for _, reason in outcomes),
        "per_split": dict(Counter(clip.split for clip in clips)),
        "per_family": dict(Counter(clip.family for clip in clips).most_common()),
        "per_label": dict(Counter(clip.label for clip in clips).most_common()),
        "per_source": dict(Counter(clip.source for clip in clips).most_common()),
        "skipped_reasons": dict(
            Counter(entry["reason"].partition(":")[0] for entry in skipped).most_common()
        ),
        "skipped": skipped,
    }
    write_text(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n", overwrite=True)
    return report


def missing_sources(hydrogen_dir: Path, soundfont: Path, *, melodic_only: bool = False) -> list[str]:
    """The Debian packages whose files are missing (empty when everything is installed)."""
    missing = []
    if not melodic_only and not any(hydrogen_dir.glob("*/drumkit.xml")):
        missing.append(PACKAGES["hydrogen"])
    if not soundfont.is_file():
        missing.append(PACKAGES["soundfont"])
    if shutil.which("fluidsynth") is None:
        missing.append("fluidsynth")
    return missing


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--limit", type=int, default=None, help="make only N clips (a spread)")
    parser.add_argument("--hydrogen-dir", type=Path, default=HYDROGEN_DIR)
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT)
    parser.add_argument("--melodic-only", action="store_true",
                        help="only the SoundFont's melodic notes (no drum kits)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the dataset; 0 on success, 2 when the Debian packages are missing."""
    args = parse_args(argv)
    missing = missing_sources(args.hydrogen_dir, args.soundfont, melodic_only=args.melodic_only)
    if missing:
        install = f"sudo apt-get install -y {' '.join(missing)}"
        print(f"missing sound sources; install them with:\n  {install}", file=sys.stderr)
        return 2
    started = time.monotonic()
    units, skipped = plan(args.hydrogen_dir, melodic_only=args.melodic_only)
    wanted = select_evenly([clip.path for unit in units for clip in unit.clips], args.limit)
    build = Build(args.out, args.sample_rate, args.soundfont, wanted)
    (args.out / "audio").mkdir(parents=True, exist_ok=True)
    outcomes = run_units(units, build, max(1, args.jobs))
    report = write_outputs(args.out, units, outcomes, skipped, time.monotonic() - started)
    print(
        f"{report['clips']} clips ({report['audio_seconds']} s of audio) in {args.out}; "
        f"splits {report['per_split']}; {len(report['skipped'])} skipped "
        f"{report['skipped_reasons']}; {report['build_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
