"""What each one-shot clip is called: labels, families, captions, splits and file names.

Pure functions of the source metadata (a Hydrogen instrument name and kit, or a General MIDI
program, pitch and velocity); no audio is touched here.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from audiodiff.notes import midi_to_note

VAL_PITCH_CLASS = 3  # every D# of the melodic instruments is held out
VAL_SOURCES = frozenset({"hydrogen:BJA_Pacific", "hydrogen:VariBreaks", "fluidr3:brush drum kit"})
GRID_PITCH_CLASSES = (0, 2, 3, 4, 5, 7, 9, 11)  # the natural notes plus the held-out D#


@dataclass(frozen=True)
class Program:
    """A melodic General MIDI program of FluidR3 and the pitch range it is rendered over."""

    number: int
    name: str
    label: str
    family: str
    low: int
    high: int
    adjective: str


MELODIC: tuple[Program, ...] = tuple(
    Program(*entry)
    for entry in (
        (0, "acoustic grand piano", "piano", "keys", 33, 96, "bright"),
        (1, "bright acoustic piano", "piano", "keys", 36, 96, "crisp"),
        (4, "electric piano", "electric piano", "keys", 36, 88, "mellow"),
        (5, "fm electric piano", "electric piano", "keys", 36, 88, "glassy"),
        (6, "harpsichord", "harpsichord", "keys", 36, 88, "plucky"),
        (7, "clavinet", "clavinet", "keys", 36, 84, "funky"),
        (8, "celesta", "celesta", "mallets", 60, 96, "twinkling"),
        (9, "glockenspiel", "glockenspiel", "mallets", 72, 100, "sparkling"),
        (11, "vibraphone", "vibraphone", "mallets", 53, 89, "shimmering"),
        (12, "marimba", "marimba", "mallets", 45, 96, "woody"),
        (13, "xylophone", "xylophone", "mallets", 65, 100, "bright"),
        (14, "tubular bells", "bells", "mallets", 60, 77, "ringing"),
        (16, "drawbar organ", "organ", "organ", 36, 88, "buzzy"),
        (17, "percussive organ", "organ", "organ", 36, 88, "clicky"),
        (19, "church organ", "organ", "organ", 36, 88, "majestic"),
        (21, "accordion", "accordion", "reed", 53, 89, "reedy"),
        (24, "nylon string guitar", "guitar", "guitar", 40, 79, "warm"),
        (25, "steel string guitar", "guitar", "guitar", 40, 79, "bright"),
        (26, "jazz guitar", "electric guitar", "guitar", 40, 79, "smooth"),
        (27, "clean electric guitar", "electric guitar", "guitar", 40, 79, "clean"),
        (29, "overdriven guitar", "electric guitar", "guitar", 40, 79, "gritty"),
        (30, "distortion guitar", "electric guitar", "guitar", 40, 79, "distorted"),
        (32, "acoustic bass", "bass", "bass", 28, 60, "woody"),
        (33, "fingered electric bass", "bass", "bass", 28, 60, "round"),
        (34, "picked electric bass", "bass", "bass", 28, 60, "punchy"),
        (36, "slap bass", "bass", "bass", 28, 60, "snappy"),
        (38, "synth bass", "synth bass", "bass", 28, 60, "fat"),
        (39, "resonant synth bass", "synth bass", "bass", 28, 60, "squelchy"),
        (40, "violin", "violin", "strings", 55, 96, "singing"),
        (42, "cello", "cello", "strings", 36, 72, "rich"),
        (45, "pizzicato strings", "pizzicato strings", "strings", 36, 84, "plucked"),
        (46, "orchestral harp", "harp", "plucked", 36, 96, "delicate"),
        (48, "string ensemble", "strings", "strings", 36, 96, "lush"),
        (56, "trumpet", "trumpet", "brass", 55, 82, "bold"),
        (57, "trombone", "trombone", "brass", 40, 72, "brassy"),
        (60, "french horn", "french horn", "brass", 41, 77, "round"),
        (61, "brass section", "brass", "brass", 40, 84, "punchy"),
        (65, "alto sax", "saxophone", "reed", 49, 81, "breathy"),
        (66, "tenor sax", "saxophone", "reed", 44, 76, "smoky"),
        (68, "oboe", "oboe", "reed", 58, 91, "nasal"),
        (71, "clarinet", "clarinet", "reed", 50, 91, "hollow"),
        (73, "flute", "flute", "pipe", 60, 96, "airy"),
        (75, "pan flute", "pan flute", "pipe", 60, 96, "breathy"),
        (80, "square lead", "synth lead", "synth lead", 48, 96, "hollow"),
        (81, "sawtooth lead", "synth lead", "synth lead", 48, 96, "buzzy"),
        (88, "new age pad", "synth pad", "synth pad", 48, 84, "dreamy"),
        (89, "warm pad", "synth pad", "synth pad", 48, 84, "warm"),
        (104, "sitar", "sitar", "plucked", 48, 84, "twangy"),
        (105, "banjo", "banjo", "plucked", 48, 84, "twangy"),
        (107, "koto", "koto", "plucked", 48, 84, "delicate"),
        (114, "steel drums", "steel drum", "mallets", 52, 84, "tropical"),
    )
)

# FluidR3 drum kits (bank 128 presets on MIDI channel 10) and the General MIDI drum map.
DRUM_KITS = (
    (0, "standard"),
    (8, "room"),
    (16, "power"),
    (24, "electronic"),
    (25, "tr-808"),
    (32, "jazz"),
    (40, "brush"),
)
# fmt: off
GM_DRUMS = (  # notes 35..81 in order
    "acoustic bass drum", "bass drum", "side stick", "acoustic snare", "hand clap",
    "electric snare", "low floor tom", "closed hi-hat", "high floor tom", "pedal hi-hat",
    "low tom", "open hi-hat", "low-mid tom", "hi-mid tom", "crash cymbal", "high tom",
    "ride cymbal", "chinese cymbal", "ride bell", "tambourine", "splash cymbal", "cowbell",
    "crash cymbal 2", "vibraslap", "ride cymbal 2", "hi bongo", "low bongo", "mute hi conga",
    "open hi conga", "low conga", "high timbale", "low timbale", "high agogo", "low agogo",
    "cabasa", "maracas", "short whistle", "long whistle", "short guiro", "long guiro", "claves",
    "hi wood block", "low wood block", "mute cuica", "open cuica", "mute triangle",
    "open triangle",
)
# fmt: on
GM_DRUM_FIRST = 35
GM_DRUM_SET_LAST = 59  # kits other than "standard" differ only in the drum-set part

# (pattern on the normalised instrument name, label); the first match wins.
DRUM_RULES = tuple(
    (re.compile(pattern), label)
    for pattern, label in (
        (r"\broll\b", ""),  # a roll is not a one-shot
        (r"\b(ride|paiste) (bell|cup)\b", "ride bell"),
        (r"\bcow ?bell", "cowbell"),
        (r"(?=.*\b(hat|hh)\b).*\b(pedal|pd|foot)\b", "pedal hihat"),
        (r"(?=.*\b(hat|hh)\b).*\b(op\w*|semi\w*|swish|free)\b|\bohh\b", "open hihat"),
        (r"\b(hat|hh)\b", "closed hihat"),
        (r"\b(kick|bass ?drum|bd)\b", "kick"),
        (r"\brim ?shot", "rimshot"),
        (r"\b(side ?stick|stick|rim click)\b", "side stick"),
        (r"\b(snare|sn|redo)\b", "snare"),
        (r"\bclap", "clap"),
        (r"\bsnap", "snap"),
        (r"\btom", "tom"),
        (r"\bchin(a|ese)\b", "china"),
        (r"\bsplash", "splash"),
        (r"\bride\b", "ride"),
        (r"\b(crash|cymbal)", "crash"),
        (r"\btamb", "tambourine"),
        (r"\b(maraca|shaker|cabasa)", "shaker"),
        (r"\bconga", "conga"),
        (r"\bbongo", "bongo"),
        (r"\bdjembe", "djembe"),
        (r"\bbell\b", "bell"),
        (r"\b(sangban|dununba|kenkeni|dundun)", "dundun"),
        (r"\bcajon", "cajon"),
        (r"\bwood ?block", "woodblock"),
        (r"\bclave", "clave"),
        (r"\bagogo", "agogo"),
        (r"\btimbale", "timbale"),
        (r"\btriangle", "triangle"),
        (r"\bguiro", "guiro"),
        (r"\bcuica", "cuica"),
        (r"\bvibra ?slap", "vibraslap"),
        (r"\bwhistle", "whistle"),
        (r"\bwater ?glass", "glass"),
        (r"\b(zap|fx)\b", "fx"),
    )
)
# fmt: off
DRUM_SET = frozenset({
    "kick", "snare", "rimshot", "side stick", "clap", "tom", "closed hihat", "open hihat",
    "pedal hihat", "crash", "ride", "ride bell", "china", "splash",
})
DRUM_NOUNS = {
    "kick": "kick drum", "snare": "snare drum", "closed hihat": "closed hi-hat",
    "open hihat": "open hi-hat", "pedal hihat": "pedal hi-hat", "crash": "crash cymbal",
    "ride": "ride cymbal", "china": "china cymbal", "splash": "splash cymbal",
    "clap": "hand clap", "snap": "finger snap", "fx": "sound effect", "glass": "water glass",
    "bell": "hand bell",
}
DRUM_ADJECTIVES = {
    "kick": "punchy", "snare": "snappy", "clap": "sharp", "tom": "resonant",
    "closed hihat": "tight", "open hihat": "sizzling", "crash": "bright", "ride": "shimmering",
    "ride bell": "pinging", "china": "trashy", "splash": "quick", "fx": "synthetic",
}
# fmt: on
TOM_POSITIONS = (("floor", "floor tom"), ("low", "low tom"), ("mid", "mid tom"), ("hi", "high tom"))
LOUDNESS_PLAYED = {
    "soft": "played softly",
    "medium": "played at medium strength",
    "loud": "played hard",
}


@dataclass(frozen=True)
class Clip:
    """One clip of the dataset: its file (relative to the output folder) and its metadata."""

    path: str
    label: str
    family: str
    source: str
    pitch: int | None
    velocity: int | None
    captions: tuple[str, ...]

    @property
    def split(self) -> str:
        """``"train"`` or ``"val"`` (see :func:`split_for`)."""
        return split_for(self.source, self.pitch)

    def record(self) -> dict[str, object]:
        """The clip's ``metadata.jsonl`` object; ``caption`` is one phrasing picked by path."""
        caption = self.captions[zlib.crc32(self.path.encode()) % len(self.captions)]
        return {
            "path": self.path,
            "caption": caption,
            "captions": list(self.captions),
            "label": self.label,
            "family": self.family,
            "source": self.source,
            "pitch": self.pitch,
            "velocity": self.velocity,
            "split": self.split,
        }


def split_for(source: str, pitch: int | None) -> str:
    """``"val"`` for the held-out kits and the held-out pitch class, else ``"train"``."""
    held_out = source in VAL_SOURCES or (pitch is not None and pitch % 12 == VAL_PITCH_CLASS)
    return "val" if held_out else "train"


def loudness(velocity: int) -> str:
    """``"soft"`` (velocity up to 55), ``"medium"`` (up to 95) or ``"loud"``."""
    return "soft" if velocity <= 55 else "medium" if velocity <= 95 else "loud"


def article(word: str) -> str:
    """``"an"`` before a vowel sound, else ``"a"`` (by first letter; enough for our words)."""
    return "an" if word[:1].lower() in "aeio" else "a"


def slug(text: str) -> str:
    """Lower-case letters, digits and single hyphens: ``"Hi-Hat Open 2"`` -> ``"hi-hat-open-2"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def melodic_pitches(low: int, high: int) -> list[int]:
    """The MIDI pitches in ``[low, high]`` whose pitch class is in ``GRID_PITCH_CLASSES``."""
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in GRID_PITCH_CLASSES]


def melodic_clip(program: Program, pitch: int, velocity: int) -> Clip:
    """The clip of one FluidR3 note of a melodic program."""
    path = f"audio/fr3_{program.number:03d}_{slug(program.name)}_p{pitch:03d}_v{velocity:03d}.wav"
    return Clip(
        path,
        program.label,
        program.family,
        f"fluidr3:{program.name}",
        pitch,
        velocity,
        melodic_captions(program, pitch, velocity),
    )


def melodic_captions(program: Program, pitch: int, velocity: int) -> tuple[str, ...]:
    """Several phrasings of one melodic note: instrument, note name, loudness, register."""
    name, label, adjective = program.name, program.label, program.adjective
    note, loud = midi_to_note(pitch), loudness(velocity)
    register = "low" if pitch < 48 else "high" if pitch >= 72 else "middle"
    return (
        f"{name}, note {note}",
        f"{article(loud)} {loud} {label} note at {note}",
        f"{note} on {article(name)} {name}, {LOUDNESS_PLAYED[loud]}",
        f"{article(adjective)} {adjective} {label} sound in the {register} register",
        f"{program.family} one-shot: {label}, {note}, {loud}",
        f"single {loud} {name} note",
    )


def normalise_name(name: str) -> str:
    """Instrument name -> lower-case words: ``"BassDrum1"`` -> ``"bass drum 1"``."""
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    name = re.sub(r"([A-Za-z])(\d)|(\d)([A-Za-z])", r"\1\3 \2\4", name)
    return " ".join(re.sub(r"[^a-z0-9#]+", " ", name.lower()).split())


def drum_label(name: str) -> str | None:
    """Canonical label of a drum instrument name, e.g. ``"Hat Op Dirty"`` -> ``"open hihat"``.

    ``None`` when no rule matches (e.g. ``"Sample: beats_01-10.flac"``) or the name is not a
    one-shot (a snare roll).
    """
    words = normalise_name(name)
    for pattern, label in DRUM_RULES:
        if pattern.search(words):
            return label or None
    return None


def drum_family(label: str) -> str:
    """``"drums"`` for drum-set pieces, ``"effects"`` for fx, else ``"percussion"``."""
    return "drums" if label in DRUM_SET else "effects" if label == "fx" else "percussion"


def kit_display(kit: str) -> str:
    """A kit's folder or preset name as words: ``"Millo-Drums_v.1"`` -> ``"Millo Drums"``."""
    words = re.sub(r"[_-]+", " ", kit).strip()
    return re.sub(r"\s+v?\.?\d+(\.\d+)*$", "", words) or words


def kit_style(kit: str) -> str:
    """``"electronic"`` for kits whose names say so (electro, 808, breaks), else ``"acoustic"``."""
    return "electronic" if re.search(r"electr|808|breaks", kit, re.IGNORECASE) else "acoustic"


def drum_noun(label: str, name: str) -> str:
    """What a caption calls the drum: ``"kick drum"``, ``"low tom"``, ``"cowbell"``, ..."""
    if label == "tom":
        words = normalise_name(name).replace("tomhi", "tom hi").split()
        return next(
            (noun for key, noun in TOM_POSITIONS if any(w.startswith(key) for w in words)), "tom"
        )
    return DRUM_NOUNS.get(label, label)


def spoken_name(name: str) -> str:
    """A kit's instrument name as caption words.

    ``'c3 - Tom1 (Tama 16")'`` -> ``'tom 1, tama 16 inch'``.
    """
    name = re.sub(r"^[a-g]#?\d\s*-\s*", "", name.strip(), flags=re.IGNORECASE)  # "c#3 - "
    name = re.sub(r"([a-z])([A-Z])|([a-zA-Z])(\d)", r"\1\3 \2\4", name)
    return re.sub(r"\s*\((.*)\)", r", \1", name).replace('"', " inch").lower()


def drum_captions(kit: str, name: str, label: str, velocity: int | None) -> tuple[str, ...]:
    """Several phrasings of one drum hit: its kind, kit, style, own name and loudness."""
    noun, style, adjective = drum_noun(label, name), kit_style(kit), DRUM_ADJECTIVES.get(label)
    display = re.sub(r"^the\s+", "", kit_display(kit), flags=re.IGNORECASE)
    kit_phrase = f"the {display}" if display.lower().endswith("kit") else f"the {display} kit"
    adjective = adjective or ("electronic" if style == "electronic" else "recorded")
    captions = [
        noun,
        f"{article(adjective)} {adjective} {noun} from {kit_phrase}",
        f"{style} {noun} one-shot",
        f"{spoken_name(name)} from {kit_phrase}",
        f"{article(style)} {style} {noun} sample",
    ]
    if velocity is not None:
        loud = loudness(velocity)
        captions.append(f"{article(loud)} {loud} {noun} hit, {LOUDNESS_PLAYED[loud]}")
    return tuple(dict.fromkeys(captions))


def drum_clip(
    kit: str, name: str, label: str, stem: str, velocity: int | None, *, fluidr3: bool = False
) -> Clip:
    """The clip of one drum sample: a Hydrogen kit's file ``stem`` or a FluidR3 kit's note."""
    if fluidr3:
        path, source = f"audio/fr3_drums_{slug(kit)}_{slug(stem)}.wav", f"fluidr3:{kit} drum kit"
    else:
        path, source = f"audio/h2_{slug(kit)}_{slug(stem)}.wav", f"hydrogen:{kit}"
    return Clip(
        path,
        label,
        drum_family(label),
        source,
        None,
        velocity,
        drum_captions(kit, name, label, velocity),
    )


def gm_drum_notes(kit_program: int) -> dict[int, str]:
    """The GM drum notes rendered for a FluidR3 kit: all 35-81 for standard, else 35-59."""
    last = GM_DRUM_FIRST + len(GM_DRUMS) - 1 if kit_program == 0 else GM_DRUM_SET_LAST
    return {note: GM_DRUMS[note - GM_DRUM_FIRST] for note in range(GM_DRUM_FIRST, last + 1)}
