"""Licences of the sfx recipe's sources: Debian DEP-5 copyright files and the minetest READMEs."""

from __future__ import annotations

import fnmatch
import re


def parse_dep5(text: str) -> list[tuple[tuple[str, ...], str]]:
    """``(file patterns, licence name)`` of every ``Files:`` stanza of a DEP-5 copyright file."""
    stanzas = []
    for block in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields and "license" in fields:
            licence = fields["license"].splitlines()[0].strip()
            stanzas.append((tuple(fields["files"].split()), licence))
    return stanzas


def dep5_licence(stanzas: list[tuple[tuple[str, ...], str]], path: str) -> tuple[str, str] | None:
    """``(licence, pattern)`` of the last stanza whose pattern matches ``path``, or ``None``.

    Patterns are upstream source paths (``mtg/mods/doors/sounds/*``, ``etc/samples/x.flac``),
    matched against the tail of the installed path. The pattern's top folder (the upstream
    tree's, which the install renames: ``mtg/`` is ``games/minetest_game/``) may be dropped
    when a folder and a name remain (``mods/doors/sounds/*``, ``samples/x.flac``).
    """
    found = None
    for patterns, licence in stanzas:
        for pattern in patterns:
            if _dep5_match(pattern, path):
                found = (licence, pattern)
    return found


def _dep5_match(pattern: str, path: str) -> bool:
    parts = pattern.split("/")
    tails = [pattern, "/".join(parts[1:])] if len(parts) >= 3 else [pattern]
    return any(fnmatch.fnmatchcase(path, t) or fnmatch.fnmatchcase(path, "*/" + t) for t in tails)


# (file name pattern, licence, author, where stated): the mods' READMEs, where they are finer
# than the Debian copyright file (which files all of them under CC-BY-SA-3.0 or their mod).
_MT = "/usr/share/games/minetest/games/minetest_game/mods/{}/README.txt"
MINETEST_LICENCES = (
    (r"default_break_glass", "CC-BY-3.0", "cmusounddesign, Tomlija, lsprice", "default"),
    (r"default_(dig_metal)", "CC-BY-3.0", "yadronoff", "default"),
    (r"default_dug_metal", "CC0-1.0", "Iwan Gabovitch (qubodup)", "default"),
    (r"default_metal_footstep", "CC0-1.0", "mypantsfelldown", "default"),
    (r"default_place_node_metal", "CC0-1.0", "Ogrebane", "default"),
    (r"default_tool_breaks", "CC-BY-3.0", "HerbertBoland", "default"),
    (r"default_water_footstep", "CC-BY-3.0", "AGFX", "default"),
    (r"default_dig_snappy", "CC0-1.0", "blukotek", "default"),
    (r"default_chest_", "CC-BY-3.0", "sofar, from Sevin7, Percy Duke, kingsamas, bulbastre, "
     "Yoyodaman234", "default"),
    (r"default_snow_footstep", "CC0-1.0", "Ryding", "default"),
    (r"default_item_smoke", "CC0-1.0", "Ferk", "default"),
    (r"player_damage", "CC-BY-3.0", "sonictechtonic", "default"),
    (r"default_dig_choppy", "CC0-1.0", "Sheyvan", "default"),
    (r"default_gravel_du?g", "CC0-1.0", "lolamadeus", "default"),
    (r"default_dig_cracky", "CC-BY-3.0", "Benboncan", "default"),
    (r"default_hard_footstep", "CC-BY-3.0", "Erdie", "default"),
    (r"default_sand_footstep", "CC0-1.0", "worthahep88", "default"),
    (r"default_ice_dig", "CC-BY-3.0", "dheming", "default"),
    (r"default_ice_footstep", "CC-BY-3.0", "InspectorJ", "default"),
    (r"default_ice_dug", "CC-BY-3.0", "Angel_Perez_Grandi", "default"),
    (r"default_furnace_active", "CC0-1.0", "iankath", "default"),
    (r"default_", "CC-BY-SA-3.0", "Mito551, celeron55 and others", "default"),
    (r"doors_door_open", "CC-BY-3.0", "CGEffex, modified by BlockMen", "doors"),
    (r"doors_door_close", "CC-BY-3.0", "bennstir", "doors"),
    (r"doors_fencegate_open", "CC0-1.0", "mhtaylor67", "doors"),
    (r"doors_fencegate_close", "CC-BY-3.0", "BarkersPinhead, rivernile7", "doors"),
    (r"doors_steel_door", "CC-BY-3.0", "HazMatt", "doors"),
    (r"doors_glass_door", "CC0-1.0", "SkeetMasterFunk69", "doors"),
    (r"env_sounds_water", "CC0-1.0", "Yuval", "env_sounds"),
    (r"env_sounds_lava", "CC0-1.0", "Halion", "env_sounds"),
    (r"fire_small", "CC-BY-3.0", "dobroide", "fire"),
    (r"fire_(large|fire)", "CC-BY-3.0", "Dynamicell", "fire"),
    (r"fire_flint_and_steel", "CC-BY-3.0", "Benboncan", "fire"),
    (r"fire_", "CC-BY-SA-3.0", "Perttu Ahola (celeron55)", "fire"),
    (r"tnt_explode", "CC0-1.0", "TumeniNodes, from steveygos93", "tnt"),
    (r"tnt_ignite", "CC0-1.0", "theneedle.tv", "tnt"),
    (r"tnt_gunpowder_burning", "CC0-1.0", "frankelmedico", "tnt"),
    (r"xpanes_steel_bar_door", "CC-BY-SA-3.0", "TumeniNodes", "xpanes"),
)


def minetest_licence(filename: str) -> tuple[str, str, str] | None:
    """``(licence, author, where stated)`` of a minetest_game sound from its mod's README."""
    for pattern, licence, author, mod in MINETEST_LICENCES:
        if re.match(pattern, filename):
            return licence, author, _MT.format(mod)
    return None


