"""The sound-effects taxonomy, captions, licence families and splits of the sfx recipe.

Pure functions of the names and metadata; no audio is touched here. What each source's files are
called (their phrases) lives in ``sfx_names.py``; this file turns a phrase into a category label,
several captions and a split.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The taxonomy: (label, the noun captions use, keyword rule over a clip's phrase). One table:
# a curated name in ``sfx_names.py`` may name its label; every other phrase gets the label of
# the first rule that matches it, in this order (so "a splash cymbal" is percussion, "footsteps
# in shallow water" footsteps, "a glass door closing" a door and "a blast of water" water).
TAXONOMY: tuple[tuple[str, str, str], ...] = (
    ("retro game", "retro game", r"\bretro\b|\b8-bit\b|\bchiptune\b"),
    ("cartoon", "cartoon", r"\bcartoon|\bslide whistle|\bboing|\bboink|\bsqueak(y|ing) toy|rubber duck"),
    ("percussion", "percussion",
     r"\bdrums?\b|\bkick\b|\bsnare|\bcymbal|\bhi-hat|\btom\b|\btabla|\bcowbell|\bshaker|\bhand clap"),
    ("footsteps", "footsteps", r"\bfoot ?steps?\b|\bwalking\b|\brunning on\b|\bhoo(ves|f)"),
    ("door", "door", r"\bdoors?\b|\bgates?\b|\bchest (lid|opening|closing|creak)"),
    ("interface", "user interface",
     r"\b(notification|alert|chime|prompt|interface|button|login|logout|busy tone|ringback|"
     r"ui|menu|checkbox|slider)\b"),
    ("glass", "glass", r"\bglass|\bshatter|\bbottles?\b|\bwine glass"),
    ("water", "water",
     r"\bwater|\bsplash|\bbubbl|\briver|\bstream\b|\bwaves?\b|\bwaterfall|\bdrip|\bflush|\bliquid"),
    ("weather", "weather", r"\brain\b|\bthunder|\blightning|\bwind\b|\bwindstorm|\bsnowstorm|\bgust"),
    ("explosion", "explosion", r"\bexplo|\bblast\b|\bboom\b|\bfireworks?\b"),
    ("fire", "fire", r"\bfire\b|\bflames?\b|\bburn|\bfuse\b|\blava\b|\bcampfire|\bfurnace|\bsizzl"),
    ("whoosh", "whoosh", r"\bwhoosh|\bswoosh|\bswish|\bthrough the air|\bwhizz"),
    ("weapon", "weapon",
     r"\bswords?\b|\bbow\b|\barrow\b|\bcrossbow|\bspear|\bpike\b|\bjavelin|\bsling\b|\bdagger|"
     r"\bknife|\bgun|\bmusket|\bballista|\bcatapult|\bbattle axe|\bflail|\bmace\b|\bclub\b"),
    ("vehicle", "vehicle",
     r"\bcar\b|\bbus\b|\btruck|\btrain|\blocomotive|\bplane|\bjet|\bhelicopter|\bship|\bferry|"
     r"\bboat|\bcart\b|\bsiren|\btyres?\b|\bmetro\b|\bengine starting|\brailway"),
    ("animal", "animal",
     r"\banimal|\bbirds?\b|\bcow|\bsheep|\bhorse|\bpig\b|\bdog\b|\bwolf|\blion|\bmonkey|\bcat\b|"
     r"\bsnake|\bbat\b|\binsect|\bcrow\b|\belephant|\bcamel|\bgoat|\bchicken|\bhen\b"),
    ("creature", "creature", r"\bmonster|\bcreature|\bbeast|\bzombie|\bghost|\bundead|\bbones rattling"),
    ("human", "human voice",
     r"\bman\b|\bwoman|\bperson|\bcrowd|\baudience|\bapplau|\blaugh|\bburp|\bgrunt|\bscream|\bgroan"),
    ("tool", "tool",
     r"\bhammer|\bsaw\b|\bsawing|\bpickaxe|\baxe\b|\bchopping|\bshovel|\bdigging|\bhoe\b|\bchisel|"
     r"\bscissors|\banvil|\bsmithy"),
    ("machine", "machine",
     r"\bmachine|\bengine|\bmotor|\bjackhammer|\bchainsaw|\bsawmill|\bcircular saw|\bprinter|"
     r"\bsteam|\bwhistle|\bcash register|\belectric sparks|\bvacuum|\bwhirr"),
    ("household", "household", r"\bkettle|\btoilet|\bcoins?\b|\bcamera|\bpaper|\bclock|\bkitchen"),
    ("impact", "impact",
     r"\bimpact|\bhit(s|ting)?\b|\bthud|\bcrash|\bcollaps|\bclank|\bknock|\bpunch|\bsplat|"
     r"\bsmash|\bthump|\bcrunch|\bsnap|\brumble|\bbreak"),
    ("electronic", "electronic", r"\belectronic|\bsynth|\bbeep|\bblip|\bglitch|\brobot|\bmorse"),
    ("music", "musical", r"\bmusic|\bguitar|\bpiano|\bbass note|\bloop\b|\bfanfare|\bjingle|\bchord"),
    ("ambience", "ambience", r"\bambien|\bdrone\b|\bhum\b|\batmosphere"),
)
LABELS: tuple[str, ...] = tuple(label for label, _, _ in TAXONOMY)
NOUNS: dict[str, str] = {label: noun for label, noun, _ in TAXONOMY}
RULES = tuple((re.compile(rule), label) for label, _, rule in TAXONOMY)

# SPDX-style licence ids the sources use -> the family a user filters on (``--licences``).
LICENCE_FAMILIES: dict[str, str] = {
    "CC0-1.0": "cc0",
    "CC-BY-3.0": "cc-by",
    "CC-BY-4.0": "cc-by",
    "CC-BY-SA-3.0": "cc-by-sa",
    "CC-BY-SA-4.0": "cc-by-sa",
    "GPL-2.0-only": "gpl",
    "GPL-2.0-or-later": "gpl",
    "GPL-3.0-only": "gpl",
    "GPL-3.0-or-later": "gpl",
    "LGPL-3.0-or-later": "lgpl",
    "MIT": "mit",
}
COPYLEFT_FAMILIES = frozenset({"cc-by-sa", "gpl", "lgpl"})
# Licence names as the packages write them (Debian copyright files, opensfx.cat) -> SPDX id.
_LICENCE_NAMES = (
    (r"cc0|creative commons zero|public domain dedication", "CC0-1.0"),
    (r"(cc[- ]by[- ]sa|attribution[- ]share ?alike)[- ]*4", "CC-BY-SA-4.0"),
    (r"cc[- ]by[- ]sa|attribution[- ]share ?alike", "CC-BY-SA-3.0"),
    (r"(cc[- ]by|attribution)[- ]*4", "CC-BY-4.0"),
    (r"cc[- ]by|creative commons attribution", "CC-BY-3.0"),
    (r"\blgpl-?3", "LGPL-3.0-or-later"),
    (r"\bgpl-?2(\.0)?\+|\bgpl-?2(\.0)?-or-later", "GPL-2.0-or-later"),
    (r"\bgpl-?2\b", "GPL-2.0-only"),
    (r"\bgpl-?3(\.0)?\+|\bgpl-?3(\.0)?-or-later", "GPL-3.0-or-later"),
    (r"\bgpl-?3\b", "GPL-3.0-only"),
    (r"\b(mit|expat)\b", "MIT"),
)

VAL_FRACTION = 0.12  # of each label's clips, in whole groups (source files or their variants)
HOLDOUT_SPLIT = "holdout"  # the split of the packages held out whole (``--holdout-package``)


def label_for(phrase: str) -> str | None:
    """The taxonomy label of a phrase (first rule that matches), or ``None``."""
    text = phrase.lower()
    return next((label for pattern, label in RULES if pattern.search(text)), None)


Entry = tuple[str, tuple[str, ...], str | None]  # (pattern, phrase templates, label or None)


@dataclass(frozen=True)
class Naming:
    """A clip's phrases (the first is the main one) and its taxonomy label."""

    phrases: tuple[str, ...]
    label: str


def entry(pattern: str, *phrases: str, label: str | None = None) -> Entry:
    """A name-table entry: ``(pattern, phrase templates, label or None)``."""
    return (pattern, phrases, label)


def lookup(table: tuple[Entry, ...], key: str) -> Naming | None:
    """The first entry whose pattern matches ``key`` (``re.search``), its templates expanded."""
    for pattern, phrases, label in table:
        match = re.search(pattern, key)
        if match:
            expanded = tuple(" ".join(match.expand(p).split()) for p in phrases)
            final = label or label_for(" ".join(expanded))
            if final is None:
                raise ValueError(f"no taxonomy rule matches {expanded!r} (from {key!r})")
            return Naming(expanded, final)
    return None


def drop_reason(table: tuple[tuple[str, str], ...], key: str) -> str | None:
    """The reason of the first ``(pattern, reason)`` whose pattern matches ``key``, or ``None``."""
    return next((reason for pattern, reason in table if re.search(pattern, key)), None)


def spdx(licence: str) -> str:
    """A licence as a package writes it -> its SPDX id (``"Creative Commons Zero 1.0"`` -> CC0).

    Raises ``ValueError`` for a licence the table does not know, so nothing is filed under a
    wrong one.
    """
    text = licence.lower()
    for pattern, identifier in _LICENCE_NAMES:
        if re.search(pattern, text):
            return identifier
    raise ValueError(f"unknown licence {licence!r}")


def licence_family(identifier: str) -> str:
    """``"CC-BY-SA-3.0"`` -> ``"cc-by-sa"`` (see ``LICENCE_FAMILIES``)."""
    return LICENCE_FAMILIES[identifier]


def licence_allowed(identifier: str, wanted: Iterable[str] | None) -> bool:
    """Whether a clip under ``identifier`` is kept by ``--licences`` (families or SPDX ids)."""
    if wanted is None:
        return True
    wanted = {item.strip().lower() for item in wanted}
    return identifier.lower() in wanted or licence_family(identifier) in wanted


def article(phrase: str) -> str:
    """``"an"`` before a vowel sound, else ``"a"`` (by first letter; enough for our words)."""
    return "an" if phrase[:1].lower() in "aeio" else "a"


def length_word(seconds: float) -> str:
    """How a caption says a duration: very short (< 0.3 s), short (< 1 s), long (> 3 s) or ``""``."""
    if seconds < 0.3:
        return "very short"
    if seconds < 1.0:
        return "short"
    return "long" if seconds > 3.0 else ""


def bare(phrase: str) -> str:
    """A phrase without its leading article: ``"a cow mooing"`` -> ``"cow mooing"``."""
    return re.sub(r"^(a|an|the)\s+", "", phrase)


def captions(phrases: Sequence[str], label: str, seconds: float) -> tuple[str, ...]:
    """5-7 phrasings of one clip from its phrases (the first is the main one), label and length.

    The source's own phrasings come first, then templates on the main phrase: "the sound of ...",
    the category ("animal sound effect: a cow mooing") and the length ("a short sound of ...").
    """
    main = phrases[0]
    length = length_word(seconds)
    out = [*phrases, f"the sound of {main}", f"{NOUNS[label]} sound effect: {main}"]
    out.append(f"{article(length)} {length} sound of {main}" if length else f"a recording of {main}")
    out.append(f"{bare(main)}, {NOUNS[label]} sound")
    return tuple(dict.fromkeys(text.strip() for text in out))


def slug(text: str) -> str:
    """Lower-case letters, digits and single hyphens: ``"Hi-Hat Open 2"`` -> ``"hi-hat-open-2"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Clip:
    """One clip of the dataset (a whole sound, or one window of a long one) and its metadata."""

    path: str
    label: str
    captions: tuple[str, ...]
    package: str
    file: str
    group: str
    licence: str
    licence_from: str
    author: str
    duration: float
    window: int
    windows: int

    def record(self, split: str) -> dict[str, object]:
        """The clip's ``metadata.jsonl`` object; ``caption`` is one phrasing picked by path."""
        caption = self.captions[zlib.crc32(self.path.encode()) % len(self.captions)]
        return {
            "path": self.path,
            "caption": caption,
            "captions": list(self.captions),
            "label": self.label,
            "split": split,
            "duration": round(self.duration, 3),
            "source": f"{self.package}:{self.file}",
            "package": self.package,
            "file": self.file,
            "window": self.window,
            "windows": self.windows,
            "licence": self.licence,
            "licence_family": licence_family(self.licence),
            "licence_from": self.licence_from,
            "author": self.author,
        }


def assign_splits(
    clips: Sequence[Clip],
    *,
    val_fraction: float = VAL_FRACTION,
    holdout_packages: Iterable[str] = (),
) -> dict[str, str]:
    """``{group: split}``: whole groups go to ``val``, whole held-out packages to ``holdout``.

    A group is a source file and the files that are variants of the same recording, so every
    window of a long ambience and every take of one footstep land in one split. Per label,
    groups are taken in the order of a hash of their name (stable from build to build) until
    ``val_fraction`` of that label's clips are in ``val``; a label with one group keeps it in
    ``train``. Packages in ``holdout_packages`` go to ``holdout`` whole (the "unseen source").
    """
    held = set(holdout_packages)
    splits: dict[str, str] = {}
    sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for clip in clips:
        if clip.package in held:
            splits[clip.group] = HOLDOUT_SPLIT
        else:
            sizes[clip.label][clip.group] += 1
    for groups in sizes.values():
        target = val_fraction * sum(groups.values())
        taken = 0
        ordered = sorted(groups, key=lambda group: (zlib.crc32(group.encode()), group))
        for group in ordered:
            if group in splits:
                continue
            if len(groups) > 1 and taken < target and taken + groups[group] <= max(target * 2, 1):
                splits[group] = "val"
                taken += groups[group]
            else:
                splits[group] = "train"
    return splits
