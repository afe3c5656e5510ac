"""The pure parts of the one-shot data recipe (recipes/oneshots): names, captions, splits, MIDI.

No Debian package is needed: drum kits are tiny synthetic ones written to ``tmp_path``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "oneshots"))

import build_dataset as recipe  # noqa: E402
import oneshot_labels as labels  # noqa: E402

PIANO = labels.Program(0, "acoustic grand piano", "piano", "keys", 33, 96, "bright")

KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name>
 <license>CC0</license>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max></layer>
  </instrument>
  <instrument><id>1</id><filename>snare.wav</filename><name>Snare Rock</name></instrument>
  <instrument><id>2</id><filename>kick_hard.wav</filename><name>Kick Copy</name></instrument>
  <instrument><id>3</id><filename>beat.wav</filename><name>Sample: beat.flac</name></instrument>
  <instrument><id>4</id><filename>gone.wav</filename><name>Hat Closed</name></instrument>
 </instrumentList>
</drumkit_info>
"""


@pytest.mark.parametrize(
    ("velocity", "word"), [(40, "soft"), (55, "soft"), (56, "medium"), (95, "medium"), (96, "loud")]
)
def test_loudness(velocity: int, word: str) -> None:
    assert labels.loudness(velocity) == word


def test_split_holds_out_every_d_sharp_and_whole_kits() -> None:
    assert labels.split_for("fluidr3:acoustic grand piano", 63) == "val"  # D#4
    assert labels.split_for("fluidr3:acoustic grand piano", 39) == "val"  # D#2
    assert labels.split_for("fluidr3:acoustic grand piano", 64) == "train"
    assert labels.split_for("hydrogen:BJA_Pacific", None) == "val"
    assert labels.split_for("hydrogen:VariBreaks", None) == "val"
    assert labels.split_for("hydrogen:Audiophob", None) == "train"
    assert labels.split_for("fluidr3:brush drum kit", None) == "val"
    assert labels.split_for("fluidr3:standard drum kit", None) == "train"


def test_pitch_grid_is_the_natural_notes_plus_the_held_out_d_sharp() -> None:
    assert labels.melodic_pitches(48, 60) == [48, 50, 51, 52, 53, 55, 57, 59, 60]
    clips = [labels.melodic_clip(PIANO, p, 80) for p in labels.melodic_pitches(48, 71)]
    assert [c.pitch for c in clips if c.split == "val"] == [51, 63]


def test_melodic_captions_and_record() -> None:
    clip = labels.melodic_clip(PIANO, 60, 120)
    assert clip.path == "audio/fr3_000_acoustic-grand-piano_p060_v120.wav"
    assert clip.captions[:3] == (
        "acoustic grand piano, note C4",
        "a loud piano note at C4",
        "C4 on an acoustic grand piano, played hard",
    )
    assert "a bright piano sound in the middle register" in clip.captions
    assert len(set(clip.captions)) == len(clip.captions) == 6
    record = clip.record()
    assert record == clip.record()  # the chosen caption depends on the path only
    assert record["caption"] in clip.captions
    assert {k: v for k, v in record.items() if k not in ("caption", "captions")} == {
        "path": clip.path,
        "label": "piano",
        "family": "keys",
        "source": "fluidr3:acoustic grand piano",
        "pitch": 60,
        "velocity": 120,
        "split": "train",
    }
    soft = labels.melodic_clip(PIANO, 51, 40).captions
    assert (
        "a soft piano note at D#3" in soft
        and "D#3 on an acoustic grand piano, played softly" in soft
    )


def test_drum_captions_name_kit_style_and_loudness() -> None:
    pearl = labels.drum_captions("The Black Pearl 1.0", "Pearl Kick", "kick", 127)
    assert pearl == (
        "kick drum",
        "a punchy kick drum from the Black Pearl kit",
        "acoustic kick drum one-shot",
        "pearl kick from the Black Pearl kit",
        "an acoustic kick drum sample",
        "a loud kick drum hit, played hard",
    )
    electro = labels.drum_captions("HardElectro1", "Kick 1", "kick", None)
    assert "electronic kick drum one-shot" in electro
    assert not any("hit" in caption for caption in electro)  # one layer: loudness unknown
    empire = labels.drum_captions("ElectricEmpireKit", "Hat Op Dirty", "open hihat", None)
    assert "a sizzling open hi-hat from the ElectricEmpireKit" in empire
    tom = labels.drum_captions("ForzeeStereo", 'Tom Low (Tama Superstar 16")', "tom", 64)
    assert "tom low, tama superstar 16 inch from the ForzeeStereo kit" in tom
    assert tom[0] == "low tom"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Kick", "kick"),
        ("BassDrum", "kick"),
        ("c3 - bass drum 1", "kick"),
        ("Snare Jazz", "snare"),
        ("Pearl Snare Rimshot", "rimshot"),
        ("Rim Click (Pearl Free Floating Maple 14x3.5)", "side stick"),
        ("Hand Clap", "clap"),
        ("Hat Closed Dirty", "closed hihat"),
        ("Closed HH 2", "closed hihat"),
        ("HiHat Open", "open hihat"),
        ("Hat Op Phaser", "open hihat"),
        ("Side OHH", "open hihat"),
        ("Sabian Hat Semi-Open", "open hihat"),
        ("Pedal HH", "pedal hihat"),
        ("VariBreaks Hat 1 Pd", "pedal hihat"),
        ("tomhi2", "tom"),
        ('Crash/Ride Bell (Paiste Rude Crash/Ride 18")', "ride bell"),
        ("ride-cup", "ride bell"),
        ("Ride Jazz", "ride"),
        ("crash16inch", "crash"),
        ('China (Paiste Alpha 18")', "china"),
        ("Cowbell", "cowbell"),
        ("Tambourine Pedal (Pearl PTM-10GH)", "tambourine"),
        ("Djembe1 Bass", "djembe"),
        ("Sangban1 Bell Hit", "bell"),
        ("WaterglassHi", "glass"),
        ("Zap 1", "fx"),
        ("Sample: beats_01-10.flac", None),
        ("17", None),
        ("", None),
        ("Snare Roll", None),
    ],
)
def test_drum_label(name: str, label: str | None) -> None:
    assert labels.drum_label(name) == label


def test_every_general_midi_drum_has_a_label() -> None:
    notes = labels.gm_drum_notes(0)
    assert len(notes) == 47 and notes[35] == "acoustic bass drum" and notes[81] == "open triangle"
    assert {
        note: labels.drum_label(name) for note, name in notes.items() if note in (36, 42, 46)
    } == {
        36: "kick",
        42: "closed hihat",
        46: "open hihat",
    }
    assert all(labels.drum_label(name) for name in notes.values())
    assert list(labels.gm_drum_notes(25)) == list(range(35, 60))


def test_kit_names() -> None:
    assert labels.kit_display("Millo-Drums_v.1") == "Millo Drums"
    assert labels.kit_display("circAfrique v4") == "circAfrique"
    assert labels.kit_display("The Black Pearl 1.0") == "The Black Pearl"
    assert labels.kit_style("VariBreaks") == labels.kit_style("tr-808") == "electronic"
    assert labels.kit_style("ForzeeStereo") == "acoustic"


def write_kit(root: Path) -> Path:
    """A Hydrogen kit folder with ``drumkit.xml`` and short WAVs; returns the kits folder."""
    kit = root / "drumkits" / "Test Kit"
    kit.mkdir(parents=True)
    (kit / "drumkit.xml").write_text(KIT_XML, encoding="utf-8")
    rate, tone = 44100, torch.sin(torch.arange(4410) * 2 * math.pi * 220 / 44100)
    silence = torch.zeros(441)  # 10 ms before the hit
    for name, amplitude in (("kick_soft.wav", 0.2), ("kick_hard.wav", 0.4), ("snare.wav", 0.1)):
        audio = torch.cat([silence, amplitude * tone])
        soundfile.write(kit / name, torch.stack([audio, audio], 1).numpy(), rate)
    (kit / "beat.wav").write_bytes(b"")
    return root / "drumkits"


def test_parse_drumkit_reads_both_schemas(tmp_path: Path) -> None:
    kits = write_kit(tmp_path)
    licence, layers = recipe.parse_drumkit(kits / "Test Kit" / "drumkit.xml")
    folder = kits / "Test Kit"
    assert licence == "CC0"
    assert layers == [
        recipe.DrumLayer("Kick", folder / "kick_soft.wav", 32),  # middle of [0, 0.5] * 127
        recipe.DrumLayer("Kick", folder / "kick_hard.wav", 95),
        recipe.DrumLayer("Snare Rock", folder / "snare.wav", None),  # one layer: no velocity
        recipe.DrumLayer("Sample: beat.flac", folder / "beat.wav", None),
        recipe.DrumLayer("Hat Closed", folder / "gone.wav", None),
    ]


def test_plan_groups_instruments_and_reports_skips(tmp_path: Path) -> None:
    units, skipped = recipe.plan(write_kit(tmp_path))
    kit_units = [unit for unit in units if unit.name.startswith("hydrogen:")]
    assert [(unit.name, [c.label for c in unit.clips]) for unit in kit_units] == [
        ("hydrogen:Test Kit/Kick", ["kick", "kick"]),
        ("hydrogen:Test Kit/Snare Rock", ["snare"]),
    ]
    assert [(entry["source"], entry["reason"].partition(":")[0]) for entry in skipped] == [
        ("hydrogen:Test Kit/beat.wav", "no label"),
        ("hydrogen:Test Kit/gone.wav", "missing"),
    ]
    fluid = [unit for unit in units if unit.name.startswith("fluidr3:")]
    assert len(fluid) == len(labels.MELODIC) + 1  # one unit per program, one for the drum kits
    paths = [clip.path for unit in units for clip in unit.clips]
    assert len(paths) == len(set(paths))


def test_make_unit_keeps_layer_loudness_and_starts_at_the_onset(tmp_path: Path) -> None:
    units, _ = recipe.plan(write_kit(tmp_path))
    kick = units[0]
    out = tmp_path / "out"
    (out / "audio").mkdir(parents=True)
    build = recipe.Build(out, 22050, tmp_path / "unused.sf2", frozenset(c.path for c in kick.clips))
    assert recipe.make_unit(kick, build) == [(c.path, "written") for c in kick.clips]
    soft, hard = (soundfile.read(out / clip.path)[0] for clip in kick.clips)
    assert abs(abs(hard).max() - recipe.TARGET_PEAK) < 2e-3  # the unit's loudest layer
    assert abs(abs(soft).max() / abs(hard).max() - 0.5) < 5e-3  # layers keep their ratio
    pre_roll = round(recipe.PRE_ROLL_S * 22050)
    assert abs(soft[: pre_roll - 2]).max() < 1e-3 and abs(soft[pre_roll + 6]) > 0.01
    assert recipe.make_unit(kick, build) == [(c.path, "exists") for c in kick.clips]
    report = recipe.write_outputs(out, [kick], recipe.make_unit(kick, build), [], 1.0)
    lines = (out / "metadata.jsonl").read_text().splitlines()
    assert [json.loads(line)["velocity"] for line in lines] == [95, 32]  # sorted by path
    assert report["clips"] == 2 and report["per_split"] == {"train": 2}


def test_duplicate_renders_are_dropped_after_the_first() -> None:
    clips = [labels.melodic_clip(PIANO, pitch, 80) for pitch in (60, 62, 64)]
    same = torch.ones(1, 10)
    marked = recipe._mark_duplicates(clips, [same, same.clone(), torch.zeros(1, 10)])
    assert marked[1] == f"duplicate: same audio as {clips[0].path}"
    assert torch.equal(marked[0], same) and torch.equal(marked[2], torch.zeros(1, 10))


def test_trim_clip_starts_at_onset_and_cuts_the_silent_tail() -> None:
    rate, onset = 8000, 2000
    t = torch.arange(rate) / rate
    decaying = torch.cos(2 * math.pi * 440 * t) * torch.exp(-t / 0.05)  # -60 dB at 0.345 s
    audio = torch.cat([torch.zeros(onset), decaying, torch.zeros(rate)]).unsqueeze(0)
    clip = recipe.trim_clip(audio, rate)
    pre_roll = round(recipe.PRE_ROLL_S * rate)
    assert torch.all(clip[0, :pre_roll] == 0) and clip[0, pre_roll] == 1.0
    expected = pre_roll + 0.05 * math.log(1000) * rate
    assert abs(clip.shape[1] - expected) < rate / 440 + 1  # within one period of the -60 dB point
    assert clip[0, -1] == 0  # faded out
    long = recipe.trim_clip(torch.full((1, 10 * rate), 0.5), rate)
    assert long.shape == (1, round(recipe.MAX_SECONDS * rate))


def test_midi_file_bytes() -> None:
    assert [recipe._variable_length(v) for v in (0, 127, 128, 1000, 16383, 16384)] == [
        b"\x00",
        b"\x7f",
        b"\x81\x00",
        b"\x87\x68",
        b"\xff\x7f",
        b"\x81\x80\x00",
    ]
    midi = recipe.midi_file([(60, 100)], channel=9, program=25, hold_ms=1000)
    track = (
        b"\x00\xff\x51\x03\x0f\x42\x40"  # tempo: 1 s per quarter
        b"\x00\xc9\x19"  # program 25 on channel 10
        b"\x64\x99\x3c\x64"  # 100 ms: note on C4, velocity 100
        b"\x87\x68\x89\x3c\x00"  # 1000 ms later: note off
        b"\x9f\x20\xff\x2f\x00"  # end of track one slot after the note-on
    )
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x03\xe8"
    assert midi == header + b"MTrk" + len(track).to_bytes(4, "big") + track


def test_select_evenly() -> None:
    paths = [f"p{i}" for i in range(10)]
    assert recipe.select_evenly(paths, None) == frozenset(paths)
    assert recipe.select_evenly(paths, 20) == frozenset(paths)
    assert recipe.select_evenly(paths, 3) == {"p0", "p3", "p6"}


def test_missing_packages_exit_2_with_the_install_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = recipe.main(
        ["--out", str(tmp_path / "out"), "--hydrogen-dir", str(tmp_path),
         "--soundfont", str(tmp_path / "none.sf2")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install -y hydrogen-drumkits fluid-soundfont-gm" in err
    assert not (tmp_path / "out").exists()


def test_melodic_only_plans_the_soundfonts_notes_and_needs_no_drum_kits(tmp_path: Path) -> None:
    units, skipped = recipe.plan(write_kit(tmp_path), melodic_only=True)
    assert [unit.name for unit in units] == [f"fluidr3:{program.name}" for program in labels.MELODIC]
    assert skipped == [] and all(unit.channel == 0 for unit in units)
    no_kits, soundfont = tmp_path / "no kits", tmp_path / "other.sf2"
    soundfont.write_bytes(b"")
    assert "hydrogen-drumkits" in recipe.missing_sources(no_kits, soundfont)
    assert "hydrogen-drumkits" not in recipe.missing_sources(no_kits, soundfont, melodic_only=True)
