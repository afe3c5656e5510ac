"""Training on a user's own folder with a shipped recipe: previews follow the data's labels and
captions, and ``--trainer.default_root_dir`` holds every output (and resumes from there)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import yaml
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from audiodiff.conditioning import ConditionerConfig
from audiodiff.data.cache import prepare
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.toy import make_toy_dataset
from audiodiff.models.config import UNetConfig
from audiodiff.spectrogram import MelConfig
from audiodiff.training.callbacks import AudioSamples, Export, preview_conditions
from audiodiff.training.checkpoint import load_checkpoint
from audiodiff.training.module import DiffusionModule

REPO = Path(__file__).resolve().parents[2]
MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
UNET = UNetConfig(kind="1d", base_channels=16, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,),
                  num_heads=2, groups=4)


def audio_tags(log_dir: Path) -> dict[str, list[int]]:
    """The steps at which each audio tag of a TensorBoard run was logged."""
    events = EventAccumulator(str(log_dir), size_guidance={"audio": 0})
    events.Reload()
    return {tag: [event.step for event in events.Audio(tag)] for tag in events.Tags()["audio"]}


def low_and_high(root: Path) -> Path:
    """A user's folder of two classes, ``low/`` and ``high/`` (labels the debug recipe does not name)."""
    make_toy_dataset(root, per_class=8, sample_rate=8000, seconds=0.5)
    (root / "kick").rename(root / "low")
    (root / "hat").rename(root / "high")
    shutil.rmtree(root / "tone")
    return root


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``audiodiff train --config recipes/debug.yaml --data.root my_sounds`` for 4 steps (tiny
    model, previews and checkpoints every 2 steps), run in a fresh working folder, outputs in ``x``."""
    work = tmp_path_factory.mktemp("work")
    low_and_high(work / "my_sounds")
    recipe = yaml.safe_load((REPO / "recipes" / "debug.yaml").read_text())
    for callback in recipe["trainer"]["callbacks"]:
        if callback["class_path"].endswith("AudioSamples"):
            callback["init_args"].update(every_n_steps=2, steps=2)
        if callback["class_path"].endswith("ModelCheckpoint"):
            callback["init_args"]["every_n_train_steps"] = 2
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    cmd = [sys.executable, "-m", "audiodiff.cli", "train", "--config", "recipe.yaml", "--data.root", "my_sounds",
           "--data.cache", "cache", "--data.seconds", "0.5", "--data.batch_size", "8",
           "--trainer.default_root_dir", str(work / "x"), "--trainer.enable_progress_bar", "false",
           "--model.unet.base_channels", "16", "--model.unet.channel_mults", "[1, 2]",
           "--model.unet.attention_levels", "[1]", "--model.sampling.duration", "0.5"]
    done = subprocess.run([*cmd, "--trainer.max_steps", "4"], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"work": work, "root": work / "x", "cmd": cmd, "stderr": done.stderr}


def test_previews_of_labels_the_data_lacks_fall_back_to_its_own(own_run: dict) -> None:
    assert "dropped the labels the data lacks ('kick', 'hat', 'tone'); previewing high, low" in own_run["stderr"]
    assert audio_tags(own_run["root"] / "logs" / "version_0") == {"samples/0": [2, 4], "samples/1": [2, 4]}


def test_default_root_dir_holds_every_output_and_last_resumes_from_it(own_run: dict) -> None:
    work, root = own_run["work"], own_run["root"]
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"checkpoints/last.ckpt", "logs/version_0/config.yaml", "logs/version_0/hparams.yaml",
            "pipeline/config.json", "pipeline/model.safetensors"} <= written
    assert sorted(p.name for p in work.iterdir()) == ["cache", "my_sounds", "recipe.yaml", "x"]  # no ./runs

    done = subprocess.run([*own_run["cmd"], "--trainer.max_steps", "6", "--ckpt_path", "last"], cwd=work,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    last = root / "checkpoints" / "last.ckpt"
    assert f"Restoring states from the checkpoint path at {last}" in done.stdout + done.stderr
    assert load_checkpoint(last)["global_step"] == 6
    assert audio_tags(root / "logs" / "version_1") == {"samples/0": [6], "samples/1": [6]}


def test_a_text_model_without_prompts_previews_some_of_its_captions(tmp_path: Path) -> None:
    root = make_toy_dataset(tmp_path / "meta", layout="metadata", per_class=2, sample_rate=8000, seconds=0.5)
    prepare(root, tmp_path / "cache", mel_config=MEL, seconds=0.5, progress=False,
            conditioner_config=ConditionerConfig(kind="text", max_tokens=8))
    data = AudioDataModule(cache=str(tmp_path / "cache"), batch_size=4)
    samples = AudioSamples(every_n_steps=2, steps=2)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=TensorBoardLogger(tmp_path, name="tb"),
                        callbacks=[samples], enable_checkpointing=False, enable_progress_bar=False,
                        limit_val_batches=0, enable_model_summary=False)
    trainer.fit(DiffusionModule(unet=UNET, warmup_steps=1), data)
    captions = data.cache.captions  # a kick's, a hat's and the tones' (which name their notes)
    assert len(captions) == 4 and samples.conditions == captions
    assert audio_tags(tmp_path / "tb" / "version_0") == {f"samples/{i}": [2] for i in range(4)}


def test_preview_conditions() -> None:
    classes = ConditionerConfig(kind="class", labels=("high", "low", "mid"), dim=8)
    assert preview_conditions(["low", "kick"], classes, []) == (["low"], ["kick"])
    assert preview_conditions(["kick"], classes, []) == (["high", "low", "mid"], ["kick"])
    assert preview_conditions([], classes, []) == (["high", "low", "mid"], [])
    text = ConditionerConfig(kind="text")
    assert preview_conditions(["a kick"], text, ["x", "y"]) == (["a kick"], [])
    captions = [f"caption {i}" for i in range(10)]
    assert preview_conditions([], text, captions) == (["caption 0", "caption 2", "caption 5", "caption 7"], [])


def test_an_export_that_may_not_overwrite_fails_before_the_first_step(tmp_path: Path) -> None:
    root = low_and_high(tmp_path / "data")
    prepare(root, tmp_path / "cache", mel_config=MEL, seconds=0.5, progress=False)
    (tmp_path / "taken").mkdir()
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                        callbacks=[Export(out=str(tmp_path / "taken"), overwrite=False)],
                        enable_progress_bar=False, limit_val_batches=0, enable_model_summary=False)
    module = DiffusionModule(unet=UNET, warmup_steps=1)
    with pytest.raises(FileExistsError, match="taken exists and the export at the end of training may not"):
        trainer.fit(module, AudioDataModule(cache=str(tmp_path / "cache"), batch_size=4))
    assert trainer.global_step == 0
