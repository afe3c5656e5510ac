"""The ``audiodiff`` command end to end on tiny saved pipelines, including every bad-input path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from audiodiff.cli import SIDECAR_KEYS, main
from tests.conftest import TINY_MEL


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sample_writes_audio_sidecars_and_prints_paths(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run(["sample", "--model", str(class_model_dir), "--label", "kick", "--num", "2",
                        "--seed", "5", "--steps", "3", "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 0
    paths = [Path(line) for line in out.split()]
    assert [p.name for p in paths] == ["kick_5.wav", "kick_6.wav"]
    for path, seed in zip(paths, (5, 6), strict=True):
        audio, rate = sf.read(path)
        assert rate == TINY_MEL.sample_rate and audio.shape == (round(0.25 * rate),)
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["seed"] == seed and meta["label"] == "kick" and meta["steps"] == 3
        assert meta["sampler"] == "dpmpp_2m" and meta["guidance"] == 2.0
        assert len(meta["model_hash"]) == 16 and meta["audiodiff_version"]
        assert meta["vocoder_settings"] == {"name": "griffinlim", "iterations": 32, "momentum": 0.99}


def test_sidecar_has_the_keys_users_see_in_order(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    assert run(["sample", "--model", str(class_model_dir), "--label", "snare", "--seed", "2", "--quiet",
                "--out", str(tmp_path / "s.wav")], capsys)[0] == 0
    meta = json.loads((tmp_path / "s.json").read_text())
    assert tuple(meta) == (*SIDECAR_KEYS, "operation", "loop", "window_frames", "windows")
    assert (meta["operation"], meta["loop"], meta["windows"]) == ("generate", False, 1)
    assert meta["model"] == str(class_model_dir) and meta["duration"] == 0.25 and meta["steps"] == 4
    assert meta["prompt"] is None and meta["negative_prompt"] is None and meta["sample_rate"] == 8000


def test_sidecar_records_the_pipelines_settings_not_the_cli_defaults(class_model_dir: Path, tmp_path: Path,
                                                                     capsys, monkeypatch) -> None:
    """Whatever the pipeline resolved (here: not what the CLI asked) is what the sidecar says."""
    from audiodiff.pipeline import Pipeline

    real_call = Pipeline.__call__

    def resolved_otherwise(self, *args, **kwargs):
        result = real_call(self, *args, **kwargs)
        result.settings.update(sampler="heun", steps=7, guidance=1.5, duration=0.125, operation="vary")
        return result

    monkeypatch.setattr(Pipeline, "__call__", resolved_otherwise)
    assert run(["sample", "--model", str(class_model_dir), "--label", "hat", "--seed", "9", "--quiet",
                "--out", str(tmp_path / "h.wav")], capsys)[0] == 0
    meta = json.loads((tmp_path / "h.json").read_text())
    assert (meta["sampler"], meta["steps"], meta["guidance"], meta["duration"]) == ("heun", 7, 1.5, 0.125)
    assert meta["seed"] == 9 and meta["label"] == "hat"
    assert tuple(meta)[:len(SIDECAR_KEYS)] == SIDECAR_KEYS  # an operation's own settings follow the usual keys
    assert meta["operation"] == "vary"


def test_write_outputs_saves_any_generation_with_per_row_settings(tmp_path: Path, capsys) -> None:
    """What sound-design commands will call: rows with their own prompt and seed."""
    import torch

    from audiodiff.cli import write_outputs
    from audiodiff.pipeline import Generation

    settings = {"prompt": ["a", "b"], "negative_prompt": None, "label": None, "sampler": "ddim", "steps": 3,
                "guidance": 2.0, "duration": 0.01, "vocoder": "griffinlim", "vocoder_settings": {},
                "sample_rate": 8000, "model_hash": "abc", "strength": 0.5}
    result = Generation(torch.zeros(2, 80), 8000, [4, 5], torch.zeros(2, 16, 4), settings)
    paths = [tmp_path / "new" / "a.wav", tmp_path / "new" / "b.flac"]
    write_outputs(paths, result, model=None, overwrite=False)
    assert capsys.readouterr().out.split() == [str(p) for p in paths]
    for path, prompt, seed in zip(paths, "ab", (4, 5), strict=True):
        assert sf.info(path).frames == 80
        meta = json.loads(path.with_suffix(".json").read_text())
        assert (meta["prompt"], meta["seed"], meta["model"], meta["strength"]) == (prompt, seed, "default", 0.5)


def test_same_command_gives_identical_files(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    args = ["sample", "--model", str(class_model_dir), "--label", "hat", "--seed", "1", "--quiet",
            "--sampler", "euler_a", "--guidance", "3"]
    assert run([*args, "--out", str(tmp_path / "a.flac")], capsys)[0] == 0
    assert run([*args, "--out", str(tmp_path / "b.flac")], capsys)[0] == 0
    assert (sf.read(tmp_path / "a.flac")[0] == sf.read(tmp_path / "b.flac")[0]).all()


def test_text_model_with_negative_prompt_and_duration(text_model_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run(["sample", "--model", str(text_model_dir), "--prompt", "a punchy electronic kick drum",
                        "--negative-prompt", "hiss", "--duration", "0.5", "--out", str(tmp_path / "k.wav"),
                        "--quiet", "--steps", "2"], capsys)
    assert code == 0 and out.strip() == str(tmp_path / "k.wav")
    assert sf.info(tmp_path / "k.wav").frames == 4000
    assert json.loads((tmp_path / "k.json").read_text())["negative_prompt"] == "hiss"


def test_info_prints_config_and_size(class_model_dir: Path, capsys) -> None:
    code, out, _ = run(["info", str(class_model_dir)], capsys)
    info = json.loads(out)
    assert code == 0
    assert info["config"]["conditioner"]["labels"] == ["kick", "snare", "hat"]
    assert info["parameters"]["unet"] > 0
    assert info["weights_bytes"] == (class_model_dir / "model.safetensors").stat().st_size
    assert info["vocoder_settings"]["name"] == info["vocoder"] == "griffinlim"


def test_a_reader_that_goes_away_ends_the_command_quietly(class_model_dir: Path, capsys, monkeypatch) -> None:
    """``audiodiff info | head -1``: no traceback and no error line, exit status 141 (SIGPIPE)."""
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        code = main(["info", str(class_model_dir)])
        assert code == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sampler", "nope"], "--sampler nope is unknown"),
        (["--steps", "0"], "--steps must be an integer in 1..1000"),
        (["--guidance", "-2"], "--guidance must be a finite number >= 0"),
        (["--label", "cowbell"], "unknown label 'cowbell'"),
        (["--prompt", "a kick"], "class-conditioned"),
        (["--out", "x.mp3"], "cannot write .mp3 files"),
    ],
)
def test_bad_sample_arguments(class_model_dir: Path, tmp_path: Path, capsys, extra, message) -> None:
    os.chdir(tmp_path)
    if "x.mp3" in extra:
        (tmp_path / "x.mp3").write_text("")
    base = ["sample", "--model", str(class_model_dir), "--quiet"]
    if "--label" not in extra and "--prompt" not in extra:
        base += ["--label", "kick"]
    code, out, err = run([*base, *extra], capsys)
    assert code == 2 and out == ""
    assert err.startswith("audiodiff: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".wav", ".json")) == []
    assert not (tmp_path / "x.mp3").is_dir()


def test_bad_model_folders(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(["sample", "--model", str(tmp_path / "missing"), "--label", "kick"], capsys)
    assert code == 2 and "no such folder" in err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("[1, 2")
    code, _, err = run(["info", str(corrupt)], capsys)
    assert code == 2 and "not valid JSON" in err and err.count("\n") == 1


def test_existing_output_is_kept_unless_overwrite(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "k.wav"
    target.write_bytes(b"precious")
    args = ["sample", "--model", str(class_model_dir), "--label", "kick", "--out", str(target), "--quiet"]
    code, _, err = run(args, capsys)
    assert code == 2 and "exists; pass --overwrite" in err
    assert target.read_bytes() == b"precious" and not (tmp_path / "k.json").exists()
    assert run([*args, "--overwrite"], capsys)[0] == 0
    assert sf.info(target).frames > 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_folder(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(["sample", "--model", str(class_model_dir), "--label", "kick",
                        "--out", str(locked / "x.wav")], capsys)
    assert code == 2 and "permission denied" in err


def test_console_script_runs_without_traceback(class_model_dir: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("audiodiff")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "audiodiff.cli"]
    ok = subprocess.run([*command, "sample", "--model", str(class_model_dir), "--label", "snare",
                         "--out", str(tmp_path / "s.ogg"), "--steps", "2"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(tmp_path / "s.ogg") and "denoising" in ok.stderr
    bad = subprocess.run([*command, "sample", "--model", str(class_model_dir), "--label", "snare",
                          "--steps", "-3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_output_below_a_file_is_one_clear_error(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = run(["sample", "--model", str(class_model_dir), "--label", "kick", "--quiet",
                        "--out", str(tmp_path / "file" / "x.wav")], capsys)
    assert code == 2 and err.startswith("audiodiff: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "no audio"),
        (lambda root: (root / "metadata.csv").write_text("file,text\na.wav,x\n"), "metadata.csv"),
        (lambda root: (root / "metadata.jsonl").write_text('{"path": "gone.wav", "caption": "x"}\n'), "gone.wav"),
    ],
)
def test_prepare_bad_datasets(tmp_path: Path, capsys, setup, message) -> None:
    root = tmp_path / "data"
    root.mkdir()
    setup(root)
    code, out, err = run(["prepare", str(root), "--out", str(tmp_path / "cache"), "--quiet"], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "cache").exists()


def test_prepare_and_resynth_end_to_end(tmp_path: Path, capsys) -> None:
    from audiodiff.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path / "toy", per_class=2, seconds=0.5)
    code, out, _ = run(["prepare", str(root), "--out", str(tmp_path / "cache"), "--seconds", "0.5", "--quiet"], capsys)
    assert code == 0 and "6 clips: 6 files processed" in out
    code, out, _ = run(["resynth", str(root / "kick" / "kick_000.wav"), "--vocoder", "griffinlim:8",
                        "--out", str(tmp_path / "re.wav")], capsys)
    assert code == 0 and sf.info(tmp_path / "re.wav").frames == sf.info(root / "kick" / "kick_000.wav").frames
