"""``audiodiff finetune``: a folder of sounds -> a fine-tuned model folder, resumable; and the
file-name captions of the "files" dataset layout it reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from safetensors.torch import load_file

from audiodiff.cli import main
from audiodiff.config import PipelineConfig
from audiodiff.data.cache_format import open_cache
from audiodiff.data.layouts import caption_of_file_name, scan
from audiodiff.pipeline import Pipeline
from tests.conftest import TINY_MEL
from tests.test_bad_input import refused

RATE = TINY_MEL.sample_rate


def write_sounds(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(RATE // 2) / RATE
    for i, name in enumerate(names):
        tone = 0.5 * np.exp(-6 * t) * np.sin(2 * np.pi * (200 + 40 * i) * t)
        sf.write(folder / name, tone + 0.01 * rng.standard_normal(len(t)), RATE)
    return folder


@pytest.fixture
def base(text_1d_model_dir: Path) -> Path:
    return text_1d_model_dir


@pytest.mark.parametrize(("stem", "caption"), [
    ("Door_Creak-02", "door creak"), ("kick_01", "kick"), ("FootstepsGravel", "footsteps gravel"),
    ("glass.break.2", "glass break"), ("piano C4", "piano c4"), ("0001", ""), ("__", ""),
])
def test_captions_of_file_names(stem: str, caption: str) -> None:
    assert caption_of_file_name(stem) == caption


def test_a_folder_of_files_is_captioned_by_their_names(tmp_path: Path) -> None:
    folder = write_sounds(tmp_path / "fx", [f"wooden_door_{i}.wav" for i in range(3)] + ["GlassBreak.wav"])
    index = scan(folder)
    assert index.layout == "files" and index.labels == ()
    assert sorted({e.captions for e in index.entries}) == [("glass break",), ("wooden door",)]
    assert {e.split for e in index.entries} <= {"train", "val"}
    one = scan(folder, caption="  a creaky door ")
    assert {e.captions for e in one.entries} == {("a creaky door",)} and one.layout == "files"


def test_names_that_say_nothing_ask_for_a_caption(tmp_path: Path) -> None:
    folder = write_sounds(tmp_path / "fx", ["0001.wav", "0002.wav", "rain.wav"])
    with pytest.raises(ValueError, match=r"0001.wav, 0002.wav .*say nothing about the sound.*one caption for all"):
        scan(folder)
    assert {e.captions for e in scan(folder, caption="rain").entries} == {("rain",)}


def test_finetune_writes_a_model_of_the_base_kind_and_resumes(base: Path, tmp_path: Path, capsys) -> None:
    sounds = write_sounds(tmp_path / "sounds", [f"metal_clang_{i:02d}.wav" for i in range(8)])
    out, run = tmp_path / "mine", tmp_path / "mine.run"
    argv = ["finetune", str(sounds), "--base", str(base), "--out", str(out), "--minutes", "5", "--quiet"]
    assert main([*argv, "--steps", "4"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)

    mine, original = PipelineConfig.load(out / "config.json"), PipelineConfig.load(base / "config.json")
    assert (mine.mel, mine.unet, mine.conditioner, mine.diffusion) == (
        original.mel, original.unet, original.conditioner, original.diffusion)
    trained, start = load_file(out / "model.safetensors"), load_file(base / "model.safetensors")
    assert trained.keys() == start.keys()
    assert all(v.dtype == torch.float16 for v in trained.values())
    changed = [k for k in trained if not torch.equal(trained[k].float(), start[k].half().float())]
    assert changed, "training moved no weight"
    sound = Pipeline.from_pretrained(out)("metal clang", seed=0, steps=2)
    assert sound.audio.shape == (1, round(original.defaults.duration * RATE)) and sound.audio.isfinite().all()

    recipe = yaml.safe_load((run / "finetune.yaml").read_text())
    assert recipe["model"]["init_from"] == str(base) and recipe["trainer"]["max_time"] == "00:00:05:00"
    cache = open_cache(run / "cache")
    assert set(cache.captions) == {"metal clang"}
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4

    # the same command with more steps continues the run (and may replace OUT only with --overwrite)
    refused([*argv, "--steps", "6"], tmp_path, capsys, f"{out} exists", "--overwrite")
    assert main([*argv, "--steps", "6", "--overwrite"]) == 0
    capsys.readouterr()
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6
    unet = json.loads((base / "config.json").read_text())["unet"]
    assert json.loads((out / "config.json").read_text())["unet"] == unet


def test_one_caption_for_all(base: Path, tmp_path: Path, capsys) -> None:
    sounds = write_sounds(tmp_path / "sounds", [f"{i:04d}.wav" for i in range(6)])
    assert main(["finetune", str(sounds), "--base", str(base), "--out", str(tmp_path / "m"), "--steps", "1",
                 "--caption", "a bright metal clang", "--quiet"]) == 0
    capsys.readouterr()
    assert open_cache(tmp_path / "m.run" / "cache").captions == ["a bright metal clang"]


@pytest.mark.parametrize(("extra", "names"), [
    (["--minutes", "0"], ["--minutes", "(0, 10080]"]),
    (["--minutes", "nan"], ["--minutes"]),
    (["--steps", "0"], ["--steps"]),
    (["--caption", " "], ["--caption is empty"]),
    (["--base", "{sounds}"], ["--base", "not a model folder"]),
    (["--out", "{file}"], ["--out", "is a file"]),
])
def test_bad_finetune_arguments(extra: list[str], names: list[str], base: Path, tmp_path: Path, capsys,
                                monkeypatch) -> None:
    from audiodiff.training import finetune

    monkeypatch.setattr(finetune, "finetune", lambda *a, **k: pytest.fail("training started"))
    sounds = write_sounds(tmp_path / "sounds", ["a_kick.wav", "b_kick.wav"])
    (tmp_path / "file").write_text("x")
    fill = {"sounds": str(sounds), "file": str(tmp_path / "file")}
    argv = ["finetune", str(sounds), "--base", str(base), "--out", str(tmp_path / "m")]
    refused([*argv, *(a.format(**fill) for a in extra)], tmp_path, capsys, *names)


def test_missing_folder_and_too_few_clips(base: Path, tmp_path: Path, capsys) -> None:
    refused(["finetune", str(tmp_path / "nothing"), "--out", str(tmp_path / "m")], tmp_path, capsys,
            "is not a folder")
    sounds = write_sounds(tmp_path / "few", ["one_kick.wav"])
    code = main(["finetune", str(sounds), "--base", str(base), "--out", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "fine-tuning needs at least 4" in err and err.count("\n") == 1
    assert not (tmp_path / "m").exists()
