"""The sound-design commands end to end on a tiny class model: vary, inpaint, extend, interpolate,
and sample's loops and long durations. What the CLI writes is compared with the Python API's
result for the same request, so these tests check the wiring; the operations' own properties are
tests/test_editing.py's."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import load
from audiodiff.cli import main
from audiodiff.operations import extend, inpaint, interpolate, vary
from audiodiff.pipeline import Pipeline
from tests.conftest import TINY_MEL
from tests.test_bad_input import refused

RATE = TINY_MEL.sample_rate


@pytest.fixture(scope="module")
def pipe(class_model_dir: Path) -> Pipeline:
    return Pipeline.from_pretrained(class_model_dir)


@pytest.fixture
def sound(tmp_path: Path) -> Path:
    """0.5 s of a decaying two-partial tone with a little noise, as 16-bit WAV."""
    t = np.arange(round(0.5 * RATE)) / RATE
    rng = np.random.default_rng(0)
    audio = 0.5 * np.exp(-3 * t) * (np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 660 * t))
    path = tmp_path / "in" / "tone.wav"
    path.parent.mkdir()
    sf.write(path, audio + 0.01 * rng.standard_normal(len(t)), RATE, subtype="PCM_16")
    return path


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[Path]:
    """Run ``audiodiff argv`` (expecting success); the paths it printed."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return [Path(line) for line in out.split()]


def as_written(audio: torch.Tensor) -> np.ndarray:
    """What a 16-bit WAV of ``audio`` (as the CLI writes it) reads back as."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio.numpy(), -1, 1), RATE, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    return sf.read(buffer, dtype="int16")[0]


def pcm(path: Path) -> np.ndarray:
    return sf.read(path, dtype="int16")[0]


def meta(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def audio_of(path: Path) -> torch.Tensor:
    return load(path, RATE)[0][0]


def test_vary_writes_the_apis_variations_and_records_the_input(pipe, class_model_dir, sound, tmp_path, capsys):
    paths = cli(["vary", str(sound), "--model", str(class_model_dir), "--strength", "0.5", "--label", "hat",
                 "--num", "2", "--seed", "4", "--steps", "4", "--out", str(tmp_path / "v"), "--quiet"], capsys)
    assert [p.name for p in paths] == ["tone-vary_4.wav", "tone-vary_5.wav"]
    api = vary(pipe, audio_of(sound), strength=0.5, label="hat", num=2, seed=4, steps=4)
    for row, path in enumerate(paths):
        np.testing.assert_array_equal(pcm(path), as_written(api.audio[row]))
        m = meta(path)
        assert (m["operation"], m["strength"], m["seed"], m["label"]) == ("vary", 0.5, 4 + row, "hat")
        assert m["input"] == str(sound) and m["input_sha256"] == hashlib.sha256(sound.read_bytes()).hexdigest()
        assert m["input_duration"] == 0.5 and m["steps_run"] == 2


def test_vary_at_strength_0_and_1(class_model_dir, sound, tmp_path, capsys):
    """S = 0 is the input's resynthesis; S = 1 is ``sample`` of the input's length with the same seed."""
    zero = cli(["vary", str(sound), "--model", str(class_model_dir), "--strength", "0", "--seed", "1",
                "--vocoder", "griffinlim", "--out", str(tmp_path / "zero.wav"), "--quiet"], capsys)[0]
    assert meta(zero)["steps_run"] == 0 and len(pcm(zero)) == len(pcm(sound))
    one = cli(["vary", str(sound), "--model", str(class_model_dir), "--strength", "1", "--label", "kick",
               "--seed", "7", "--out", str(tmp_path / "one.wav"), "--quiet"], capsys)[0]
    plain = cli(["sample", "--model", str(class_model_dir), "--label", "kick", "--seed", "7", "--duration", "0.5",
                 "--out", str(tmp_path / "plain.wav"), "--quiet"], capsys)[0]
    np.testing.assert_array_equal(pcm(one), pcm(plain))


def test_inpaint_keeps_the_samples_outside_the_regions(pipe, class_model_dir, sound, tmp_path, capsys):
    out = cli(["inpaint", str(sound), "--model", str(class_model_dir), "--region", "0.1:0.2", "--region",
               "0.3:0.35", "--label", "snare", "--seed", "2", "--out", str(tmp_path / "i.wav"), "--quiet"], capsys)[0]
    m = meta(out)
    assert m["operation"] == "inpaint" and m["regions"] == [[0.1, 0.2], [0.3, 0.35]] and m["seed"] == 2
    written, original = pcm(out), pcm(sound)
    keep = np.ones(len(original), dtype=bool)
    for start, end in m["regions"]:
        keep[round(start * RATE):round(end * RATE)] = False
    np.testing.assert_array_equal(written[keep], original[keep])
    assert not np.array_equal(written[~keep], original[~keep])
    api = inpaint(pipe, audio_of(sound), [(0.1, 0.2), (0.3, 0.35)], label="snare", seed=2)
    np.testing.assert_array_equal(written, as_written(api.audio[0]))


@pytest.mark.parametrize("before", [False, True])
def test_extend_keeps_the_input_and_adds_the_seconds(pipe, class_model_dir, sound, tmp_path, capsys, before):
    argv = ["extend", str(sound), "--model", str(class_model_dir), "--seconds", "0.25", "--label", "kick",
            "--seed", "3", "--out", str(tmp_path / "e.wav"), "--quiet"]
    out = cli(argv + (["--before"] if before else []), capsys)[0]
    written, original = pcm(out), pcm(sound)
    assert len(written) == len(original) + round(0.25 * RATE)
    kept = written[-len(original):] if before else written[:len(original)]
    np.testing.assert_array_equal(kept, original)
    m = meta(out)
    assert (m["operation"], m["seconds"], m["before"], m["duration"]) == ("extend", 0.25, before, 0.75)
    api = extend(pipe, audio_of(sound), 0.25, before=before, label="kick", seed=3)
    np.testing.assert_array_equal(written, as_written(api.audio[0]))


def test_interpolate_writes_the_path_with_plain_generations_at_its_ends(pipe, class_model_dir, tmp_path, capsys):
    paths = cli(["interpolate", "--model", str(class_model_dir), "--label", "kick", "--to-label", "hat",
                 "--seed", "3", "--to-seed", "40", "--num", "3", "--out", str(tmp_path / "path"), "--quiet"], capsys)
    assert [p.name for p in paths] == [f"kick-to-hat_{i:02d}.wav" for i in range(3)]
    assert [meta(p)["t"] for p in paths] == [[0.0, 0.5, 1.0]] * 3
    assert [meta(p)["seed"] for p in paths] == [3, 40, 40]
    api = interpolate(pipe, label_a="kick", label_b="hat", seed_a=3, seed_b=40, num=3)
    for row, path in enumerate(paths):
        np.testing.assert_array_equal(pcm(path), as_written(api.audio[row]))
    start = cli(["sample", "--model", str(class_model_dir), "--label", "kick", "--seed", "3", "--out",
                 str(tmp_path / "a.wav"), "--quiet"], capsys)[0]
    np.testing.assert_array_equal(pcm(paths[0]), pcm(start))


def test_sample_loop_bars_give_the_exact_length_and_a_seamless_wrap(class_model_dir, tmp_path, capsys):
    out = cli(["sample", "--model", str(class_model_dir), "--label", "hat", "--loop-bars", "1", "--bpm", "240",
               "--seed", "0", "--out", str(tmp_path / "l.wav"), "--quiet"], capsys)[0]
    audio = sf.read(out)[0]
    assert len(audio) == RATE  # 4 beats at 240 bpm: 1 s
    m = meta(out)
    assert m["loop"] is True and m["duration"] == 1.0 and m["operation"] == "generate"
    steps = np.abs(np.diff(audio))
    assert abs(audio[0] - audio[-1]) <= np.percentile(steps, 99)  # the wrap is one more step of the waveform


def test_sample_longer_than_the_training_length_uses_windows(class_model_dir, tmp_path, capsys):
    out = cli(["sample", "--model", str(class_model_dir), "--label", "kick", "--duration", "1.5", "--seed", "0",
               "--steps", "2", "--out", str(tmp_path / "long.wav"), "--quiet"], capsys)[0]
    assert len(sf.read(out)[0]) == round(1.5 * RATE)
    m = meta(out)
    assert m["windows"] > 1 and m["duration"] == 1.5 and m["loop"] is False


def test_progress_bar_counts_every_step(class_model_dir, sound, tmp_path, capsys):
    code = main(["vary", str(sound), "--model", str(class_model_dir), "--strength", "1", "--num", "2",
                 "--steps", "3", "--seed", "0", "--out", str(tmp_path / "p.wav")])
    err = capsys.readouterr().err
    assert code == 0 and "6/6" in err and "step" in err


@pytest.mark.parametrize("command", ["vary", "inpaint", "extend", "interpolate", "sample", "finetune", "studio"])
def test_help(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    flags = {"vary": "--strength", "inpaint": "--region", "extend": "--before", "interpolate": "--to-prompt",
             "sample": "--loop-bars", "finetune": "--minutes", "studio": "--host"}
    assert flags[command] in text and ("--seed" in text or command in ("finetune", "studio"))


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def loaded(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(Pipeline, "from_pretrained", loaded)


@pytest.mark.parametrize(("argv", "names"), [
    (["vary", "{missing}", "--strength", "0.5"], ["no such audio file"]),
    (["vary", "{sound}", "--strength", "1.5"], ["--strength", "[0, 1]"]),
    (["vary", "{sound}", "--strength", "nan"], ["--strength"]),
    (["vary", "{sound}"], ["--strength"]),
    (["vary", "{folder}", "--strength", "0.5"], ["is a folder"]),
    (["vary", "{garbage}", "--strength", "0.5"], ["garbage.wav"]),
    (["vary", "{sound}", "--strength", "0.5", "--model", "{folder}"], ["--model", "not a model folder"]),
    (["inpaint", "{sound}"], ["--region"]),
    (["inpaint", "{sound}", "--region", "0.3"], ["--region '0.3' must be START:END"]),
    (["inpaint", "{sound}", "--region", "a:b"], ["START:END"]),
    (["inpaint", "{sound}", "--region", "0.3:0.1"], ["--region 0.3:0.1", "before END"]),
    (["inpaint", "{sound}", "--region", "0.1:0.2", "--region", "0.4:0.9"], ["--region 0.4:0.9", "lasts 0.500 s"]),
    (["extend", "{sound}"], ["--seconds"]),
    (["extend", "{sound}", "--seconds", "0"], ["--seconds", "(0, 600]"]),
    (["extend", "{sound}", "--seconds", "601"], ["--seconds"]),
    (["extend", "{sound}", "--seconds", "0.2", "--num", "0"], ["--num"]),
    (["interpolate", "--label", "kick"], ["--to-prompt, --to-label or --to-seed"]),
    (["interpolate", "--label", "kick", "--to-label", "hat", "--num", "1"], ["--num", "2..1000"]),
    (["interpolate", "--seed", "1", "--to-seed", "-1"], ["--to-seed"]),
    (["sample", "--loop-bars", "2"], ["--loop-bars needs --bpm"]),
    (["sample", "--bpm", "120"], ["--bpm needs --loop-bars"]),
    (["sample", "--loop-bars", "2", "--bpm", "0"], ["--bpm"]),
    (["sample", "--loop-bars", "2", "--bpm", "120", "--duration", "2"], ["not both"]),
    (["sample", "--loop-bars", "400", "--bpm", "60"], ["--loop-bars 400 at --bpm 60", "1600"]),
    (["sample", "--duration", "700"], ["--duration", "700"]),
    (["vary", "{sound}", "--strength", "0.5", "--seed", "1", "--out", "{existing}"], ["exists", "--overwrite"]),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, names, sound, tmp_path, capsys, no_model):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file" * 10)
    existing = tmp_path / "existing.wav"
    existing.write_bytes(b"keep me")
    (tmp_path / "folder").mkdir()
    fill = {"sound": str(sound), "missing": str(tmp_path / "missing.wav"), "folder": str(tmp_path / "folder"),
            "garbage": str(garbage), "existing": str(existing)}
    argv = [a.format(**fill) for a in argv] + ["--out", str(tmp_path / "out.wav")] * ("--out" not in argv)
    refused(argv, tmp_path, capsys, *names)
