"""The sound-effects data recipe (recipes/sfx): names, taxonomy, captions, licences, catalogue
parsing, windows, splits and a whole tiny build.

No package needs to be installed: every source is a small fake package written to ``tmp_path``
(the builder takes the filesystem root and the arcade folder as options).
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "sfx"))

import build_sfx_dataset as recipe  # noqa: E402
import sfx_audio  # noqa: E402
import sfx_labels as labels  # noqa: E402
import sfx_names  # noqa: E402
import sfx_names_games  # noqa: E402
import sfx_sources as sources  # noqa: E402
from sfx_licences import dep5_licence, parse_dep5  # noqa: E402

RATE = 22050
FANTASY_WORDS = ("orc", "goblin", "lich", "magic", "spell", "troll", "ogre", "drake", "gryphon",
                 "naga", "wose", "dwarf", "elf", "toyland")


def source(package: str, name: str, context: str = "", file: str = "", description: str = ""):
    return sources.SourceFile(package, file or f"/x/{context}/{name}.ogg", ("file", ""), name,
                              context, "CC0-1.0", "test", description=description)


# (package, context, name, expected label or None for dropped, expected phrase or drop reason)
NAMES = [
    ("minetest-data", "", "default_gravel_footstep.2", "footsteps", "footsteps on gravel"),
    ("minetest-data", "", "default_water_footstep.1", "footsteps", "footsteps splashing in shallow water"),
    ("minetest-data", "", "doors_door_close", "door", "a wooden door closing"),
    ("minetest-data", "", "doors_steel_door_open", "door", "a heavy steel door opening"),
    ("minetest-data", "", "default_break_glass.3", "glass", "glass breaking"),
    ("minetest-data", "", "tnt_explode", "explosion", "an explosion"),
    ("minetest-data", "", "env_sounds_lava.1", "fire", "lava bubbling"),
    ("minetest-data", "", "default_dig_choppy.1", "tool", "an axe chopping wood"),
    ("openttd-opensfx", "", "Cow", "animal", "a cow mooing"),
    ("openttd-opensfx", "", "Toyland: Comedy bus start (1)", "cartoon", "a bus starting with a cartoon boing"),
    ("openttd-opensfx", "", "Helicopter", "vehicle", "a helicopter flying"),
    ("openttd-opensfx", "", "Unused/Nothing", None, "placeholder"),
    ("wesnoth-1.16-data", "sounds", "orc-die-1", "creature", "a gruff monster's death cry"),
    ("wesnoth-1.16-data", "sounds", "sword-1", "weapon", "a sword hit"),
    ("wesnoth-1.16-data", "sounds", "mace-miss", "whoosh", "a mace swinging through the air and missing"),
    ("wesnoth-1.16-data", "sounds", "thunderstick", "weapon", "a musket gunshot"),
    ("wesnoth-1.16-data", "sounds", "human-female-die-2", "human", "a woman's death scream"),
    ("wesnoth-1.16-data", "sounds", "lightning", "weather", "a crackling lightning strike"),
    ("wesnoth-1.16-data", "ambient", "campfire", "fire", "a campfire crackling"),
    ("wesnoth-1.16-data", "sounds", "magic-holy-1", None, "fantasy"),
    ("wesnoth-1.16-data", "sounds", "wose-die", None, "unclear"),
    ("0ad-data", "ambient/weather", "rain_11", "weather", "steady rain falling"),
    ("0ad-data", "ambient/water", "river_raging_21", "water", "a raging river flowing"),
    ("0ad-data", "attack/impact", "arrow_wood_03", "impact", "an arrow hitting wood"),
    ("0ad-data", "actor/fauna/animal", "elephant_death1", "animal", "an elephant's dying cry"),
    ("0ad-data", "actor/human/movement/Footsteps", "Foorstep_Sand_Running", "footsteps",
     "running footsteps on sand"),
    ("0ad-data", "actor/gate", "stonegate_close_22", "door", "a heavy stone gate closing"),
    ("0ad-data", "resource/mining", "mine_stone_07", "tool", "a pickaxe striking stone"),
    ("0ad-data", "interface/complete/building", "complete_temple", None, "unclear"),
    ("tuxpaint-stamps-default", "animals/birds", "rooster", "animal", "a rooster crowing"),
    ("tuxpaint-stamps-default", "household", "toilet", "household", "a toilet flushing"),
    ("tuxpaint-stamps-default", "vehicles/emergency", "firetruck", "vehicle", "a fire truck siren wailing"),
    ("sonic-pi-samples", "", "bd_boom", "percussion", "a boom kick drum"),
    ("sonic-pi-samples", "", "drum_splash_hard", "percussion", "a splash cymbal, hit hard"),
    ("sonic-pi-samples", "", "misc_crow", "animal", "a crow cawing"),
    ("sonic-pi-samples", "", "loop_amen", "music", "the amen break drum loop"),
    ("oxygen-sounds", "", "Oxygen-Sys-Trash-Emptied", "interface", "a trash emptied interface sound"),
    ("yaru-theme-sound", "", "dialog-error", "interface", "an error alert"),
    ("sound-theme-freedesktop", "", "audio-channel-front-left", None, "speech"),
    ("arcade", "", "laser3", "retro game", "a retro laser zap"),
]


@pytest.mark.parametrize(("package", "context", "name", "label", "phrase"), NAMES)
def test_names_give_label_and_phrase(package, context, name, label, phrase) -> None:
    file = f"/usr/share/games/wesnoth/1.16/data/core/{context}/{name}.ogg" if "wesnoth" in package else ""
    found = sfx_names.name_sound(source(package, name, context, file))
    if label is None:
        assert isinstance(found, str) and found.startswith(phrase)
    else:
        assert isinstance(found, labels.Naming), found
        assert (found.label, found.phrases[0]) == (label, phrase)
        text = " ".join(labels.captions(found.phrases, found.label, 1.0)).lower()
        assert not any(word in text.split() for word in FANTASY_WORDS)


def test_tuxpaint_description_is_a_second_phrase() -> None:
    found = sfx_names.name_sound(
        source("tuxpaint-stamps-default", "rooster", "animals/birds", description="A colorful rooster.")
    )
    assert found.phrases == ("a rooster crowing", "a colorful rooster sound")


def test_every_table_label_is_in_the_taxonomy() -> None:
    tables = [sfx_names.OPENSFX, sfx_names.MINETEST, sfx_names.SONIC_PI, sfx_names.DESKTOP,
              sfx_names.ARCADE, sfx_names_games.WESNOTH, sfx_names_games.TUXPAINT, sfx_names_games.ZERO_AD]
    for table in tables:
        for _, phrases, label in table:
            assert label is None or label in labels.LABELS
            assert phrases and all(p == p.strip() for p in phrases)


@pytest.mark.parametrize(
    ("phrase", "label"),
    [
        ("a splash cymbal", "percussion"),
        ("a blast of water splashing", "water"),
        ("footsteps in shallow water", "footsteps"),
        ("a glass door closing", "door"),
        ("a sword swinging through the air", "whoosh"),
        ("swords clashing", "weapon"),
        ("a dog barking", "animal"),
        ("a zombie groaning", "creature"),
        ("a man groaning", "human"),
        ("something nobody describes", None),
    ],
)
def test_taxonomy_rules_in_order(phrase: str, label: str | None) -> None:
    assert labels.label_for(phrase) == label


def test_captions_are_several_distinct_phrasings_with_the_length() -> None:
    short = labels.captions(("a cow mooing", "cow moo"), "animal", 0.5)
    assert short[:2] == ("a cow mooing", "cow moo")
    assert "a short sound of a cow mooing" in short and "animal sound effect: a cow mooing" in short
    assert 5 <= len(short) <= 7 and len(set(short)) == len(short)
    assert "a long sound of a cow mooing" in labels.captions(("a cow mooing",), "animal", 5.0)
    assert "a recording of a cow mooing" in labels.captions(("a cow mooing",), "animal", 2.0)


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        ("Creative Commons Zero 1.0", "CC0-1.0"),
        ("Creative Commons Attribution 3.0 Unported", "CC-BY-3.0"),
        ("Creative Commons Attribution-ShareAlike 3.0 Unported", "CC-BY-SA-3.0"),
        ("CC-BY-SA-4.0", "CC-BY-SA-4.0"),
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-3", "GPL-3.0-only"),
        ("LGPL-3.0-or-later", "LGPL-3.0-or-later"),
        ("Expat", "MIT"),
    ],
)
def test_licence_names(text: str, spdx: str) -> None:
    assert labels.spdx(text) == spdx
    assert labels.licence_family(spdx)


def test_licence_filter_and_unknown_licences() -> None:
    assert labels.licence_allowed("CC0-1.0", ["cc0", "cc-by"])
    assert labels.licence_allowed("CC-BY-3.0", ["cc0", "cc-by"])
    assert not labels.licence_allowed("CC-BY-SA-3.0", ["cc0", "cc-by"])
    assert labels.licence_allowed("GPL-2.0-only", ["GPL-2.0-only"])
    assert labels.licence_allowed("GPL-2.0-only", None)
    with pytest.raises(ValueError, match="unknown licence"):
        labels.spdx("all rights reserved")


DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: someone
License: MIT

Files: *.ogg
Copyright: many
License: CC-BY-SA-3.0

Files: mtg/mods/doors/sounds/*
       mtg/mods/tnt/sounds/*
Copyright: others
License: CC0-1.0
 See /usr/share/common-licenses/CC0-1.0.

Files: stereo/bell.oga
Copyright: x
License: CC-BY-3.0
"""


def test_dep5_matches_installed_paths_by_their_tail_and_the_last_stanza_wins() -> None:
    stanzas = parse_dep5(DEP5)
    assert stanzas[2] == (("mtg/mods/doors/sounds/*", "mtg/mods/tnt/sounds/*"), "CC0-1.0")
    mods = "games/minetest/games/minetest_game/mods"
    assert dep5_licence(stanzas, f"{mods}/doors/sounds/door_open.ogg")[0] == "CC0-1.0"
    assert dep5_licence(stanzas, f"{mods}/default/sounds/step.ogg")[0] == "CC-BY-SA-3.0"
    assert dep5_licence(stanzas, "sounds/freedesktop/stereo/bell.oga")[0] == "CC-BY-3.0"
    assert dep5_licence(stanzas, "sounds/freedesktop/stereo/other.oga") == ("MIT", "*")
    assert parse_dep5("no stanzas here") == []


def wav_bytes(audio: np.ndarray, rate: int = RATE, fmt: str = "WAV", subtype: str | None = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def tone(seconds: float, freq: float = 440.0, rate: int = RATE, delay: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)).astype(np.float32)
    return np.concatenate([np.zeros(int(delay * rate), np.float32), audio])


def opensfx_catalogue(entries: list[tuple[str, bytes]]) -> bytes:
    """An OpenTTD ``.cat`` in the real format: (offset | 1 << 31, size) table, then entries."""
    table_size = 8 * len(entries)
    table, body = b"", b""
    for name, wav in entries:
        raw = name.encode() + b"\0"
        offset = table_size + len(body)
        table += struct.pack("<II", offset | 0x80000000, len(wav))
        body += bytes([len(raw)]) + raw + wav
    return table + body


COW = '"Cow". Original "Cow - Moan 2.wav" by "Jarred Gib". Edited by "Wuzzy". License: Creative Commons Zero 1.0.'
BOOM = '"Explosion". By Janis Lukss. License: Creative Commons Attribution 3.0 Unported.'


def test_opensfx_catalogue_parser_and_name_strings() -> None:
    cow, boom = wav_bytes(tone(0.3)), wav_bytes(tone(0.5, 110.0), subtype="PCM_U8")
    data = opensfx_catalogue([(COW, cow), (BOOM, boom)])
    entries = sources.parse_opensfx_cat(data)
    assert [e.name for e in entries] == [COW, BOOM]
    assert data[entries[1].offset : entries[1].offset + entries[1].size] == boom
    assert sources.parse_opensfx_name(COW) == {
        "title": "Cow", "licence": "CC0-1.0", "original": "Cow - Moan 2.wav",
        "author": 'Original "Cow - Moan 2.wav" by "Jarred Gib". Edited by "Wuzzy"',
    }
    parsed = sources.parse_opensfx_name(BOOM)
    assert (parsed["title"], parsed["licence"], parsed["author"]) == ("Explosion", "CC-BY-3.0", "By Janis Lukss")


def test_a_long_ambience_becomes_windows_that_share_one_split() -> None:
    rng = np.random.default_rng(0)
    rain = torch.from_numpy(np.concatenate([np.zeros(RATE // 2), rng.normal(0, 0.1, 20 * RATE)]))
    windows, reason = sfx_audio.clip_windows(rain[None].float(), RATE, max_seconds=6.0)
    assert reason is None
    assert [round(w.shape[-1] / RATE, 1) for w in windows] == [6.0, 6.0, 6.0, 2.0]
    assert float(windows[0][0, :100].abs().max()) > 0.05  # starts 2 ms before the onset
    assert all(float(w.abs().max()) == pytest.approx(0.9, abs=1e-3) for w in windows)
    capped, _ = sfx_audio.clip_windows(rain[None].float(), RATE, max_seconds=6.0, max_windows=2)
    assert len(capped) == 2
    fading = rain.clone()
    fading[int(12.5 * RATE) :] *= 0.01  # the last 8 s are 40 dB quieter: those windows are skipped
    assert len(sfx_audio.clip_windows(fading[None].float(), RATE, max_seconds=6.0)[0]) == 2

    def clip(group: str, label: str, index: int = 0) -> labels.Clip:
        return labels.Clip(f"audio/{group}_{index}.wav", label, ("x",), group.split(":")[0], group,
                           group, "CC0-1.0", "", "", 6.0, index, 1)

    clips = [clip("0ad:rain", "weather", i) for i in range(4)]
    clips += [clip(f"0ad:wind{i}", "weather") for i in range(12)]
    splits = labels.assign_splits(clips, val_fraction=0.3)
    assert {splits[c.group] for c in clips if c.group == "0ad:rain"} <= {"train", "val"}
    assert len({splits[c.group] for c in clips if c.group == "0ad:rain"}) == 1
    assert "val" in splits.values() and "train" in splits.values()


def test_splits_hold_out_whole_files_and_whole_packages() -> None:
    def clip(package: str, group: str, label: str) -> labels.Clip:
        return labels.Clip(f"audio/{group}.wav", label, ("x",), package, group, group, "CC0-1.0",
                           "", "", 1.0, 0, 1)

    clips = [clip("a", f"a:door{i}", "door") for i in range(20)]
    clips += [clip("a", "a:only-explosion", "explosion")]
    clips += [clip("b", f"b:step{i}", "footsteps") for i in range(5)]
    splits = labels.assign_splits(clips, val_fraction=0.2, holdout_packages=["b"])
    doors = [splits[f"a:door{i}"] for i in range(20)]
    assert doors.count("val") == 4 and doors.count("train") == 16
    assert splits["a:only-explosion"] == "train"  # a label's only file stays in train
    assert {splits[f"b:step{i}"] for i in range(5)} == {labels.HOLDOUT_SPLIT}
    assert labels.assign_splits(clips, val_fraction=0.2, holdout_packages=["b"]) == splits


def test_short_and_silent_sounds() -> None:
    hit = torch.from_numpy(tone(0.3, delay=0.2))[None]
    clips, reason = sfx_audio.clip_windows(hit, RATE)
    assert reason is None and len(clips) == 1
    assert clips[0].shape[-1] < 0.35 * RATE and float(clips[0].abs().max()) == pytest.approx(0.9, abs=0.01)
    assert sfx_audio.clip_windows(torch.zeros(1, RATE), RATE) == ([], "silent: peak below -80 dBFS")


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def ogg(audio: np.ndarray, rate: int = 44100) -> bytes:
    return wav_bytes(audio, rate, fmt="OGG", subtype="VORBIS")


def fake_packages(root: Path) -> Path:
    """A filesystem root with tiny fake installs of five packages, and an arcade folder."""
    write(root / sources.OPENSFX, opensfx_catalogue([(COW, wav_bytes(tone(0.4))),
                                                      (BOOM, wav_bytes(tone(0.6, 90.0)))]))
    mods = root / sources.MINETEST / "minetest_game/mods"
    step = ogg(tone(0.2, 300.0, 44100))
    write(mods / "default/sounds/default_gravel_footstep.1.ogg", step)
    write(mods / "default/sounds/default_gravel_footstep.2.ogg", step)  # the same audio again
    write(mods / "doors/sounds/doors_door_open.ogg", ogg(tone(0.7, 200.0, 44100)))
    write(mods / "default/sounds/default_place_node.1.ogg", ogg(np.zeros(4410, np.float32)))  # silent
    write(root / "usr/share/doc/minetest-data/copyright", DEP5)
    stereo = root / "usr/share/sounds/freedesktop/stereo"
    write(stereo / "bell.oga", ogg(np.stack([tone(0.5, 880.0, 48000)] * 2, axis=1), 48000))
    write(stereo / "audio-channel-front-left.oga", ogg(tone(0.5, 500.0, 48000), 48000))
    write(root / "usr/share/doc/sound-theme-freedesktop/copyright", DEP5)
    stamps = root / "usr/share/tuxpaint/stamps/animals/birds"
    write(stamps / "rooster.ogg", ogg(tone(1.0, 600.0, 44100)))
    write(stamps / "rooster_desc.ogg", ogg(tone(1.0, 650.0, 44100)))
    write(stamps / "rooster.txt", "A colorful rooster.\nfr.utf8=Un coq.\n")
    write(root / "usr/share/doc/tuxpaint-stamps-default/copyright",
          "Files: *\nCopyright: x\nLicense: GPL-2\n")
    zip_path = write(root / sources.ZERO_AD, b"")
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("audio/ambient/weather/rain_11.ogg", ogg(rng.normal(0, 0.1, 14 * 44100)))
        archive.writestr("audio/voice/greek/civ/civ_male_attack_1.ogg", ogg(tone(0.5)))
        archive.writestr("audio/music/Some_Track.ogg", ogg(tone(0.5)))
        archive.writestr("audio/LICENSE.txt", "Creative Commons Attribution-Share Alike 3.0")
    write(root / "usr/share/doc/0ad-data/copyright", "Files: *\nCopyright: WFG\nLicense: CC-BY-SA-3.0\n")
    arcade = root / "site-packages/arcade"
    sounds = arcade / sources.ARCADE_SOUNDS
    write(sounds / "coin1.wav", wav_bytes(tone(0.3, 1200.0, 44100), 44100))
    write(sounds / "coin1.ogg", ogg(tone(0.3, 1200.0, 44100)))
    write(sounds / "License.txt", "Everything in this package is licensed CC0 (see below).")
    return arcade


PACKAGES = "openttd-opensfx,minetest-data,sound-theme-freedesktop,tuxpaint-stamps-default,0ad-data,arcade"


def build(root: Path, arcade: Path, out: Path, *extra: str) -> tuple[list[dict], dict]:
    argv = ["--out", str(out), "--root", str(root), "--arcade-dir", str(arcade), "--jobs", "1",
            "--packages", PACKAGES, *extra]
    assert recipe.main(argv) == 0
    lines = (out / "metadata.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines], json.loads((out / "report.json").read_text())


def test_a_whole_build_from_fake_packages(tmp_path: Path, capsys) -> None:
    arcade = fake_packages(tmp_path / "root")
    out = tmp_path / "sfx"
    records, report = build(tmp_path / "root", arcade, out)
    by_source = {}
    for record in records:
        by_source.setdefault(record["file"].rsplit("/", 1)[-1], []).append(record)
    assert set(by_source) == {"opensfx.cat#00", "opensfx.cat#01", "default_gravel_footstep.1.ogg",
                              "doors_door_open.ogg", "bell.oga", "rooster.ogg", "rain_11.ogg", "coin1.wav"}
    rain = by_source["rain_11.ogg"]
    assert [r["window"] for r in rain] == [0, 1, 2] and len({r["split"] for r in rain}) == 1
    assert [round(r["duration"]) for r in rain] == [6, 6, 2]
    cow = by_source["opensfx.cat#00"][0]
    assert (cow["label"], cow["captions"][0], cow["licence"]) == ("animal", "a cow mooing", "CC0-1.0")
    assert cow["author"].startswith('Original "Cow - Moan 2.wav" by "Jarred Gib"')
    assert by_source["rooster.ogg"][0]["captions"][:2] == ["a rooster crowing", "a colorful rooster sound"]
    assert by_source["doors_door_open.ogg"][0]["licence"] == "CC-BY-3.0"  # the mod README, not DEP-5
    for record in records:
        info = soundfile.info(out / record["path"])
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
        assert info.duration == pytest.approx(record["duration"], abs=1e-3) and info.duration <= 6.0
        assert record["caption"] in record["captions"] and record["package"] and record["licence_from"]
    reasons = report["skipped_reasons"]
    for reason in ("duplicate", "silent", "speech", "music", "same sound in .wav"):
        assert reasons.get(reason), reason
    assert report["clips"] == len(records) == 10
    assert sum(report["per_licence"].values()) == len(records)
    assert report["per_licence_family"]["cc-by-sa"] == 4 and report["copyleft_clips"] == 5
    assert report["source_sample_rates"] == {"44100": 5, "22050": 2, "48000": 1}
    capsys.readouterr()

    again, _ = build(tmp_path / "root", arcade, out)  # resumed: nothing is decoded again
    assert "10 of 10 source files already built; making 0" in capsys.readouterr().out
    assert again == records

    permissive, report = build(tmp_path / "root", arcade, tmp_path / "cc0", "--licences", "cc0,cc-by")
    assert {r["licence_family"] for r in permissive} == {"cc0", "cc-by"}
    assert report["skipped_reasons"]["licence"] == 5
    held, report = build(tmp_path / "root", arcade, out, "--holdout-package", "0ad-data")
    assert {r["split"] for r in held if r["package"] == "0ad-data"} == {"holdout"}
    assert report["per_split"]["holdout"] == 3


def test_missing_packages_exit_2_with_the_install_lines(tmp_path: Path, capsys) -> None:
    argv = ["--out", str(tmp_path / "out"), "--root", str(tmp_path), "--arcade-dir", str(tmp_path),
            "--packages", "minetest-data,0ad-data,arcade"]
    assert recipe.main(argv) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y minetest-data 0ad-data" in err and "pip install --no-deps arcade" in err
    assert not (tmp_path / "out").exists()


def test_journal_entries_are_reused_only_under_the_same_file_names() -> None:
    entry = {"clips": [{"path": "audio/mt_x_w01.wav"}, {"path": "audio/mt_x_w02.wav"}]}
    assert recipe._same_stem(entry, "mt_x")
    assert not recipe._same_stem(entry, "mt_y") and not recipe._same_stem(None, "mt_x")
    assert recipe._same_stem({"clips": []}, "anything")  # a skipped source has no files to rename
