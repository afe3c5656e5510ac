"""Where the sfx recipe's sounds are: each package's files, how to read them and their licences.

Every scanner takes the filesystem root the packages are installed under (``/``, or a folder a
test fills with fake packages) and returns the package's :class:`SourceFile`\\ s and the files it
passed over with why. Nothing is decoded here.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sfx_labels import spdx
from sfx_licences import dep5_licence, minetest_licence, parse_dep5

AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac", ".mp3")
FORMAT_PREFERENCE = (".wav", ".flac", ".ogg", ".oga", ".mp3")  # for one sound in several formats

Skip = dict[str, str]


@dataclass(frozen=True)
class SourceFile:
    """One sound file of a package (or one entry of an archive or sound catalogue).

    ``file`` is where it is installed (``/usr/share/...``, with ``:member`` inside a zip or
    ``#index`` inside ``opensfx.cat``); ``locator`` says how to read its bytes (see
    :func:`read_bytes`); ``name`` and ``context`` are the words its phrase is made from;
    ``group`` joins files that are variants of one recording (they share a split).
    """

    package: str
    file: str
    locator: tuple[str | int, ...]
    name: str
    context: str
    licence: str
    licence_from: str
    author: str = ""
    description: str = ""
    group: str = ""

    @property
    def key(self) -> str:
        """A unique id: ``package:file``."""
        return f"{self.package}:{self.file}"


def read_bytes(locator: tuple[str | int, ...]) -> bytes:
    """The encoded bytes of a source: ``("file", path)``, ``("zip", archive, member)`` or
    ``("slice", path, offset, size)``."""
    kind = locator[0]
    if kind == "file":
        return Path(str(locator[1])).read_bytes()
    if kind == "zip":
        return _archive(str(locator[1])).read(str(locator[2]))
    if kind == "slice":
        with open(str(locator[1]), "rb") as handle:
            handle.seek(int(locator[2]))
            return handle.read(int(locator[3]))
    raise ValueError(f"unknown locator {locator!r}")


@functools.lru_cache(maxsize=2)
def _archive(path: str) -> zipfile.ZipFile:
    """An open zip, kept for the process: 0 A.D.'s 3 GB archive takes 0.5 s to open."""
    return zipfile.ZipFile(path)


def variant_group(package: str, path: str) -> str:
    """The group of a file: its path without a trailing take letter (``swordhit_10a`` -> ``_10``)."""
    stem = re.sub(r"(?<=\d)[a-c]$", "", re.sub(r"\.[a-z0-9]+$", "", path))
    return f"{package}:{stem}"


def _copyright(root: Path, package: str) -> tuple[list[tuple[tuple[str, ...], str]], str]:
    path = root / "usr/share/doc" / package / "copyright"
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return parse_dep5(text), f"/usr/share/doc/{package}/copyright"


def _audio_files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def _installed(root: Path, path: Path) -> str:
    return "/" + path.relative_to(root).as_posix()


def _dep5_files(
    root: Path, package: str, folder: str, fallback: tuple[str, str] | None = None, pattern: str = "*"
) -> tuple[list[SourceFile], list[Skip]]:
    """Every audio file under ``root/folder`` whose name matches ``pattern``, licensed by the
    package's DEP-5 copyright file.

    ``fallback`` ``(licence, where stated)`` is used when only the catch-all ``*`` stanza (which
    covers the package's code) matches.
    """
    stanzas, where = _copyright(root, package)
    files, skipped = [], []
    for path in _audio_files(root / folder):
        if not fnmatch.fnmatch(path.name, pattern):
            continue
        installed = _installed(root, path)
        if path.is_symlink():
            target = path.resolve().name
            skipped.append({"source": f"{package}:{installed}", "reason": f"alias: a link to {target}"})
            continue
        match = dep5_licence(stanzas, installed.removeprefix("/usr/share/"))
        if match and match[1] == "*" and fallback:
            licence, stated = fallback
        elif match:
            licence, stated = match[0], where
        elif fallback:
            licence, stated = fallback
        else:
            skipped.append({"source": f"{package}:{installed}", "reason": "no licence: not in copyright"})
            continue
        context = path.parent.relative_to(root / folder).as_posix()
        files.append(
            SourceFile(package, installed, ("file", str(path)), path.stem, context, spdx(licence),
                       stated, group=variant_group(package, installed))
        )
    return files, skipped


# ---- openttd-opensfx: the sound catalogue -----------------------------------------------------

OPENSFX = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"


@dataclass(frozen=True)
class CatalogueEntry:
    """One sound of an OpenTTD ``.cat``: its name string and where its RIFF WAVE data lies."""

    index: int
    name: str
    offset: int
    size: int


def parse_opensfx_cat(data: bytes) -> list[CatalogueEntry]:
    """Read an OpenTTD sound catalogue (``opensfx.cat``).

    The file starts with a table of ``(offset, size)`` little-endian uint32 pairs; the first
    offset (high bit set in the new format) divided by 8 is the number of entries. At each offset
    lies one byte ``n``, an ``n``-byte NUL-terminated name, then ``size`` bytes of RIFF WAVE.
    """
    first = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    entries = []
    for index in range(first // 8):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        offset &= 0x7FFFFFFF
        length = data[offset]
        name = data[offset + 1 : offset + 1 + length].split(b"\0")[0].decode("utf-8", "replace")
        entries.append(CatalogueEntry(index, name, offset + 1 + length, size))
    return entries


def parse_opensfx_name(name: str) -> dict[str, str]:
    """An opensfx name string -> ``title``, ``licence`` (SPDX), ``author``, ``original``.

    ``'"Cow". Original "Cow - Moan 2.wav" by "Jarred Gib". Edited by "Wuzzy". License:
    Creative Commons Zero 1.0.'`` -> title ``Cow``, licence ``CC0-1.0``, original
    ``Cow - Moan 2.wav``, author ``Original "Cow - Moan 2.wav" by "Jarred Gib". Edited by
    "Wuzzy"`` (the credit, verbatim).
    """
    title = re.match(r'\s*"([^"]*)"', name)
    licence = re.search(r"Licen[cs]e:\s*(.*?)\.?\s*(Original is .*)?$", name)
    original = re.search(r'(?:Original|Orignal)?\s*"([^"]+\.(?:wav|mp3|aif|flac|ogg))"', name)
    credit = name[title.end() if title else 0 : licence.start() if licence else len(name)]
    credit = re.sub(r"^[.\s]+|[.\s]+$", "", credit)  # kept verbatim: it is the attribution
    return {
        "title": title.group(1).strip() if title else name.strip(),
        "licence": spdx(licence.group(1)) if licence else "",
        "original": original.group(1) if original else "",
        "author": credit,
    }


def scan_opensfx(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    path = root / OPENSFX
    files = []
    for entry in parse_opensfx_cat(path.read_bytes()):
        info = parse_opensfx_name(entry.name)
        group = info["original"] or info["title"]
        files.append(
            SourceFile("openttd-opensfx", f"/{OPENSFX}#{entry.index:02d}",
                       ("slice", str(path), entry.offset, entry.size), info["title"], "",
                       info["licence"], "opensfx.cat (the entry's name)", info["author"],
                       group=f"openttd-opensfx:{group}")
        )
    return files, []


# ---- the other packages -----------------------------------------------------------------------

MINETEST = "usr/share/games/minetest/games"


def scan_minetest(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    """minetest_game's mod sounds; per-file licences from the mods' READMEs where they say more."""
    files, skipped = _dep5_files(root, "minetest-data", MINETEST)
    kept = []
    for item in files:
        if "/minetest_game/" not in item.file:
            skipped.append({"source": item.key, "reason": "test sound: devtest game"})
            continue
        known = minetest_licence(Path(item.file).name)
        if known:
            licence, author, stated = known
            item = SourceFile(item.package, item.file, item.locator, item.name, item.context,
                              licence, stated, author, group=item.group)
        kept.append(item)
    return kept, skipped


def scan_sonic_pi(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    readme = ("CC0-1.0", "/usr/share/sonic-pi/samples/README.md")  # "all samples ... CC0"
    return _dep5_files(root, "sonic-pi-samples", "usr/share/sonic-pi/samples", fallback=readme)


def scan_desktop(package: str, folder: str, pattern: str = "*") -> Callable[[Path], tuple]:
    def scan(root: Path) -> tuple[list[SourceFile], list[Skip]]:
        return _dep5_files(root, package, folder, pattern=pattern)

    return scan


def scan_wesnoth(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    """Wesnoth's sounds; its (not machine-readable) copyright puts everything under GPL-2+."""
    base = root / "usr/share/games/wesnoth/1.16"
    where = "/usr/share/doc/wesnoth-1.16-data/copyright"
    files = []
    for path in [*_audio_files(base / "data"), *_audio_files(base / "sounds")]:
        installed = _installed(root, path)
        files.append(
            SourceFile("wesnoth-1.16-data", installed, ("file", str(path)), path.stem,
                       path.parent.name, "GPL-2.0-or-later", where,
                       group=variant_group("wesnoth-1.16-data", installed))
        )
    return files, []


def scan_tuxpaint(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    """Each stamp's sound effect and its English description (first line of ``STAMP.txt``).

    Spoken descriptions (``*_desc*``), spoken letters and numbers (``symbols/``) and localised
    variants (``NAME_xx.ogg``) are speech, not effects.
    """
    base = "usr/share/tuxpaint/stamps"
    files, skipped = _dep5_files(root, "tuxpaint-stamps-default", base)
    kept, spoken = [], 0
    for item in files:
        path = Path(item.file)
        localised = re.search(r"_(desc|[a-z]{2}_[A-Z]{2}|[a-z]{2})$|_desc_", path.stem)
        if localised or "/symbols/alphabets/" in item.file or "/symbols/math/" in item.file:
            spoken += 1
            continue
        text = root / path.relative_to("/").with_suffix(".txt")
        description = ""
        if text.is_file():
            description = text.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip()
        kept.append(
            SourceFile(item.package, item.file, item.locator, item.name, item.context, item.licence,
                       item.licence_from, description=description, group=item.group)
        )
    if spoken:
        reason = f"speech: {spoken} spoken descriptions, letters and numbers (one entry for all)"
        skipped.append({"source": "tuxpaint-stamps-default:*_desc*, symbols/", "reason": reason})
    return kept, skipped


ZERO_AD = "usr/share/games/0ad/mods/public/public.zip"
ZERO_AD_SPEECH = re.compile(r"^audio/voice/(?!global/)")  # civilisation voices: spoken lines


def scan_0ad(root: Path) -> tuple[list[SourceFile], list[Skip]]:
    """0 A.D.'s sound effects inside ``public.zip``; its music and spoken voices are passed over."""
    stanzas, where = _copyright(root, "0ad-data")
    path = root / ZERO_AD
    files, skipped = [], []
    with zipfile.ZipFile(path) as archive:
        members = sorted(n for n in archive.namelist() if n.startswith("audio/") and n.endswith(".ogg"))
    for member in members:
        installed = f"/{ZERO_AD}:{member}"
        if member.startswith("audio/music/"):
            skipped.append({"source": f"0ad-data:{installed}", "reason": "music: a whole track"})
            continue
        if ZERO_AD_SPEECH.match(member):
            skipped.append({"source": f"0ad-data:{installed}", "reason": "speech: spoken voice line"})
            continue
        match = dep5_licence(stanzas, member)
        licence = match[0] if match else "CC-BY-SA-3.0"  # audio/LICENSE.txt inside the archive
        member_path = Path(member)
        files.append(
            SourceFile("0ad-data", installed, ("zip", str(path), member), member_path.stem,
                       member_path.parent.as_posix().removeprefix("audio/"), spdx(licence),
                       where if match else "public.zip:audio/LICENSE.txt",
                       "Wildfire Games", group=variant_group("0ad-data", member))
        )
    return files, skipped


ARCADE_SOUNDS = "resources/assets/sounds"


def find_arcade() -> Path | None:
    """The installed ``arcade`` package's folder (found without importing it), or ``None``."""
    import importlib.util

    spec = importlib.util.find_spec("arcade")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def scan_arcade(arcade_dir: Path) -> tuple[list[SourceFile], list[Skip]]:
    """The Kenney.nl effects shipped with ``arcade`` (its ``sounds/License.txt``: all CC0).

    A sound shipped in several formats is kept once, in the first of ``FORMAT_PREFERENCE``.
    """
    folder = arcade_dir / ARCADE_SOUNDS
    licence_text = (folder / "License.txt").read_text(encoding="utf-8", errors="replace")
    if "CC0" not in licence_text:
        raise ValueError(f"{folder / 'License.txt'} no longer says CC0")
    by_stem: dict[str, list[Path]] = {}
    for path in _audio_files(folder):
        by_stem.setdefault(path.stem, []).append(path)
    files, skipped = [], []
    for stem, paths in sorted(by_stem.items()):
        paths.sort(key=lambda p: FORMAT_PREFERENCE.index(p.suffix.lower()))
        for other in paths[1:]:
            skipped.append({"source": f"arcade:{other.name}", "reason": f"same sound in {paths[0].suffix}"})
        shown = f"arcade/{ARCADE_SOUNDS}/{paths[0].name}"
        files.append(
            SourceFile("arcade", shown, ("file", str(paths[0])), stem, "", "CC0-1.0",
                       f"arcade/{ARCADE_SOUNDS}/License.txt", "Kenney (kenney.nl)",
                       group=variant_group("arcade", shown))
        )
    return files, skipped


@dataclass(frozen=True)
class Package:
    """A source package: how to tell it is installed (``probe`` under the root) and scan it."""

    name: str
    probe: str
    scan: Callable[[Path], tuple[list[SourceFile], list[Skip]]]
    installer: str = "apt"


PACKAGES: tuple[Package, ...] = (
    Package("openttd-opensfx", OPENSFX, scan_opensfx),
    Package("minetest-data", f"{MINETEST}/minetest_game", scan_minetest),
    Package("sonic-pi-samples", "usr/share/sonic-pi/samples", scan_sonic_pi),
    Package("sound-theme-freedesktop", "usr/share/sounds/freedesktop",
            scan_desktop("sound-theme-freedesktop", "usr/share/sounds/freedesktop")),
    Package("oxygen-sounds", "usr/share/doc/oxygen-sounds/copyright",
            scan_desktop("oxygen-sounds", "usr/share/sounds", "Oxygen-*")),
    Package("yaru-theme-sound", "usr/share/sounds/Yaru",
            scan_desktop("yaru-theme-sound", "usr/share/sounds/Yaru")),
    Package("deepin-sound-theme", "usr/share/sounds/deepin",
            scan_desktop("deepin-sound-theme", "usr/share/sounds/deepin")),
    Package("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data/core/sounds", scan_wesnoth),
    Package("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", scan_tuxpaint),
    Package("0ad-data", ZERO_AD, scan_0ad),
    Package("arcade", ARCADE_SOUNDS, scan_arcade, installer="pip"),
)
PACKAGE_NAMES = tuple(package.name for package in PACKAGES)
