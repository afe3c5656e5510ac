"""Training end to end on toy data: both layouts learn, exact resume, kill-and-resume, export, DDP on CPU."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from safetensors.torch import save_file

from audiodiff.cli import main
from audiodiff.data.cache import prepare
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.toy import make_toy_dataset
from audiodiff.models.config import UNetConfig
from audiodiff.pipeline import Pipeline
from audiodiff.spectrogram import MelConfig, MelConfigMismatch
from audiodiff.training.checkpoint import AtomicCheckpointIO, load_checkpoint
from audiodiff.training.module import DiffusionModule

REPO = Path(__file__).resolve().parents[2]
MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
UNET = UNetConfig(kind="1d", base_channels=16, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,),
                  num_heads=2, groups=4)


@pytest.fixture(scope="module")
def class_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_toy_dataset(tmp_path_factory.mktemp("toy") / "classes", per_class=12, sample_rate=8000, seconds=0.5)
    out = tmp_path_factory.mktemp("cache") / "classes"
    prepare(root, out, mel_config=MEL, seconds=0.5, progress=False)
    return out


@pytest.fixture(scope="module")
def text_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from audiodiff.conditioning import ConditionerConfig

    root = make_toy_dataset(tmp_path_factory.mktemp("toy") / "meta", layout="metadata", per_class=8,
                            sample_rate=8000, seconds=0.5)
    out = tmp_path_factory.mktemp("cache") / "text"
    prepare(root, out, mel_config=MEL, seconds=0.5, progress=False,
            conditioner_config=ConditionerConfig(kind="text", max_tokens=8))
    return out


class LossRecorder(L.Callback):
    """The loss on a fixed batch with fixed noise (a noise-free measure), at the start and the end."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def measure(self, trainer: L.Trainer, module: DiffusionModule) -> None:
        batch = next(iter(trainer.datamodule.val_dataloader()))
        with torch.no_grad():
            gen = torch.Generator().manual_seed(0)
            losses = [module.model_step(batch, gen, module.denoiser.network) for _ in range(8)]
        self.losses.append(float(torch.stack(losses).mean()))

    on_train_start = measure
    on_train_end = measure


class StopAt(L.Callback):
    """Interrupts a run after ``step`` optimizer steps (the schedule still targets max_steps)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        trainer.should_stop = trainer.global_step >= self.step


def fit(cache: Path, root: Path, max_steps: int, *, ckpt_path: str | None = None, every: int = 4,
        callbacks: list | None = None, lr: float = 2e-3, unet: UNetConfig = UNET,
        init_from: str | None = None, pitch: bool = False) -> tuple[DiffusionModule, L.Trainer]:
    module = DiffusionModule(unet=unet, lr=lr, warmup_steps=5, ema_decay=0.9, seed=3, init_from=init_from,
                             pitch_conditioning=pitch)
    data = AudioDataModule(cache=str(cache), batch_size=8, val_batches=1)
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=root / "ckpt", save_last=True,
                                                     every_n_train_steps=every, save_top_k=0)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        use_distributed_sampler=False, gradient_clip_val=1.0, default_root_dir=root,
                        callbacks=[checkpoint, *(callbacks or [])], plugins=[AtomicCheckpointIO()])
    torch.manual_seed(0)  # the network is initialised in setup(), inside fit
    trainer.fit(module, data, ckpt_path=ckpt_path)
    return module, trainer


@pytest.mark.parametrize("cache_name", ["class_cache", "text_cache"])
def test_training_reduces_the_loss_and_exports_a_working_pipeline(cache_name, request, tmp_path) -> None:
    cache = request.getfixturevalue(cache_name)
    recorder = LossRecorder()
    module, trainer = fit(cache, tmp_path, 80, callbacks=[recorder], lr=3e-3)
    first, last = recorder.losses
    # measured on this CPU: classes 0.70 -> 0.40, captions 0.71 -> 0.51 (fixed batch, fixed noise)
    assert trainer.global_step == 80 and last < 0.8 * first, (first, last)

    main(["export", str(tmp_path / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "model")])
    pipe = Pipeline.from_pretrained(tmp_path / "model")
    assert pipe.config.mel == MEL and pipe.config.unet.channel_mults == (1, 2)
    for name, p in pipe.denoiser.network.state_dict().items():
        assert torch.equal(p, module.ema.state_dict()[name]), name
    kwargs = {"label": "kick"} if cache_name == "class_cache" else {"prompt": "a deep kick drum thump"}
    out = pipe(**kwargs, steps=4, seed=0, duration=0.5)
    assert out.audio.shape == (1, 4000) and torch.isfinite(out.audio).all()


def test_resume_is_exact(class_cache: Path, tmp_path: Path) -> None:
    """12 steps straight equal 8 steps + resume to 12 (weights, EMA, optimizer, data order, noise)."""
    straight, _ = fit(class_cache, tmp_path / "a", 12)
    _, interrupted = fit(class_cache, tmp_path / "b", 12, callbacks=[StopAt(8)])
    assert interrupted.global_step == 8
    resumed, trainer = fit(class_cache, tmp_path / "b", 12, ckpt_path="last")
    assert trainer.global_step == 12
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_checkpoints_load_weights_only_and_carry_the_pipeline_config(class_cache: Path, tmp_path: Path) -> None:
    fit(class_cache, tmp_path, 4)
    ckpt = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert ckpt["global_step"] == 4 and ckpt["pipeline_config"]["mel"]["n_mels"] == MEL.n_mels
    assert not list((tmp_path / "ckpt").glob(".*tmp")), "no temporary checkpoint files may remain"


class WeightsAtStart(L.Callback):
    """Copies of the network, EMA and conditioner weights when training starts (after setup)."""

    def on_train_start(self, trainer: L.Trainer, module: DiffusionModule) -> None:
        self.state = {k: v.clone() for k, v in module.state_dict().items()}


def test_init_from_starts_fine_tuning_from_a_saved_model(class_cache: Path, tmp_path: Path) -> None:
    fit(class_cache, tmp_path / "a", 4)
    main(["export", str(tmp_path / "a" / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "model")])
    source = Pipeline.from_pretrained(tmp_path / "model").state_dict()
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    (tmp_path / "model" / "config.json").write_text(json.dumps({**config, "vocoder": "griffinlim:7"}))

    start = WeightsAtStart()
    tuned, trainer = fit(class_cache, tmp_path / "b", 2, callbacks=[start], init_from=str(tmp_path / "model"))
    assert trainer.global_step == 2
    assert tuned.pipeline_config.vocoder == "griffinlim:7"  # the fine-tune plays through its base's vocoder
    for name, value in source.items():
        part, key = name.split(".", 1)
        prefixes = ("denoiser.network.", "ema.") if part == "unet" else ("conditioner.",)
        for prefix in prefixes:
            assert torch.equal(start.state[prefix + key], value), prefix + key

    # a folder without some modules (an older model) fills those that exist and names the rest
    pruned = {k: v for k, v in source.items() if not k.startswith("unet.input_skip.")}
    old = tmp_path / "old"
    old.mkdir()
    save_file(pruned, old / "model.safetensors")
    shutil.copy(tmp_path / "model" / "config.json", old / "config.json")
    module = DiffusionModule(unet=UNET)
    module.configure_from_data(MEL, Pipeline.from_pretrained(tmp_path / "model").config.conditioner)
    assert module.init_weights_from(old) == ["unet.input_skip.weight", "unet.input_skip.bias"]
    assert torch.equal(module.ema.stem.weight, source["unet.stem.weight"])


def test_init_from_refuses_another_shape_mel_or_conditioner(class_cache: Path, text_cache: Path,
                                                            tmp_path: Path) -> None:
    fit(class_cache, tmp_path / "a", 2)
    model = tmp_path / "model"
    main(["export", str(tmp_path / "a" / "ckpt" / "last.ckpt"), "--out", str(model)])
    wider = UNetConfig(kind="1d", base_channels=32, channel_mults=(1, 2), num_res_blocks=1,
                       attention_levels=(1,), num_heads=2, groups=4)
    with pytest.raises(ValueError, match="another network shape; use its unet, pitch_conditioning and duration"):
        fit(class_cache, tmp_path / "b", 1, unet=wider, init_from=str(model))
    with pytest.raises(ValueError, match="another conditioner"):
        fit(text_cache, tmp_path / "c", 1, init_from=str(model))
    module = DiffusionModule(unet=UNET)
    other_mel = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=3000.0)
    module.configure_from_data(other_mel, Pipeline.from_pretrained(model).config.conditioner)
    with pytest.raises(MelConfigMismatch, match="fmax=4000.0 .expected 3000.0."):
        module.init_weights_from(model)


def test_pitch_conditioning_fine_tunes_a_model_without_it(class_cache: Path, text_cache: Path,
                                                          tmp_path: Path) -> None:
    fit(text_cache, tmp_path / "a", 2)
    main(["export", str(tmp_path / "a" / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "plain")])
    start = WeightsAtStart()
    module, _ = fit(text_cache, tmp_path / "b", 8, callbacks=[start], init_from=str(tmp_path / "plain"),
                    pitch=True)
    last = "conditioner.pitch.mlp.2.weight"
    assert not start.state[last].any(), "the new pitch embedding starts at zero"
    assert start.state[last].shape == (384, 256)
    assert module.conditioner.pitch.mlp[2].weight.any(), "the toy tones' captions name notes: it learns"

    main(["export", str(tmp_path / "b" / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "pitched")])
    pipe = Pipeline.from_pretrained(tmp_path / "pitched")
    assert pipe.config.conditioner.pitch
    assert torch.equal(pipe.conditioner.pitch.mlp[2].weight, module.conditioner.pitch.mlp[2].weight)
    with pytest.raises(ValueError, match="use its unet, pitch_conditioning and duration_conditioning settings"):
        fit(text_cache, tmp_path / "c", 1, init_from=str(tmp_path / "pitched"))
    with pytest.raises(ValueError, match="pitch_conditioning reads notes from captions"):
        fit(class_cache, tmp_path / "d", 1, pitch=True)


def _train_cmd(cache: Path, root: Path, *extra: str) -> list[str]:
    """The debug recipe, made smaller and pointed at ``root`` (checkpoints every 5 steps)."""
    recipe = yaml.safe_load((REPO / "recipes" / "debug.yaml").read_text())
    for callback in recipe["trainer"]["callbacks"]:
        if callback["class_path"].endswith("ModelCheckpoint"):
            callback["init_args"]["every_n_train_steps"] = 5
    root.mkdir(parents=True, exist_ok=True)
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return [sys.executable, "-m", "audiodiff.cli", "train", "--config", str(root / "recipe.yaml"),
            "--data.cache", str(cache), "--data.batch_size", "8", "--trainer.default_root_dir", str(root),
            "--trainer.enable_progress_bar", "false",
            "--model.unet.base_channels", "16", "--model.unet.channel_mults", "[1, 2]",
            "--model.unet.attention_levels", "[1]", "--trainer.val_check_interval", "1000", *extra]


def test_sigkill_then_resume_loses_at_most_one_checkpoint_interval(class_cache: Path, tmp_path: Path) -> None:
    cmd = _train_cmd(class_cache, tmp_path, "--trainer.max_steps", "10000")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    last = tmp_path / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and not (last.exists() and load_checkpoint(last)["global_step"] >= 15):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.exists(), proc.stderr.read().decode()[-2000:]
    killed_at = load_checkpoint(last)["global_step"]
    assert killed_at >= 15
    done = subprocess.run([*_train_cmd(class_cache, tmp_path, "--trainer.max_steps", str(killed_at + 5)),
                           "--ckpt_path", "last"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_checkpoint(last)["global_step"] == killed_at + 5


def test_ddp_on_cpu_with_two_processes(class_cache: Path, tmp_path: Path) -> None:
    done = subprocess.run([*_train_cmd(class_cache, tmp_path, "--trainer.max_steps", "10"),
                           "--trainer.devices", "2", "--trainer.strategy", "ddp"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 10
    loader_state = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader_state["world_size"] == 2


def test_bad_recipe_field_is_one_clear_error(class_cache: Path, tmp_path: Path) -> None:
    done = subprocess.run([*_train_cmd(class_cache, tmp_path, "--trainer.max_steps", "2"), "--model.unet.bogus", "1"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "bogus" in done.stderr and "Traceback" not in done.stderr


OVERLAYS = {"general-1d-effects.yaml": "general-1d.yaml"}  # recipe -> the recipe it is given on top of


@pytest.mark.parametrize("recipe", sorted(p.name for p in (REPO / "recipes").glob("*.yaml") if "vocoder" not in p.name))
def test_every_recipe_parses(recipe: str, capsys: pytest.CaptureFixture[str]) -> None:
    configs = [name for name in (OVERLAYS.get(recipe), recipe) if name]
    with pytest.raises(SystemExit) as exit_info:
        command = {"distill-guidance.yaml": "distill", "distill-steps.yaml": "distill-steps",
                   "distill-fast.yaml": "distill-fast"}.get(recipe, "train")
        main([command, "fit", *(arg for name in configs for arg in ("--config", str(REPO / "recipes" / name))),
              "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["unet"]["kind"] in ("1d", "2d") and printed["data"]["cache"]


def test_audio_samples_and_spectrograms_reach_tensorboard(class_cache: Path, tmp_path: Path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from audiodiff.training.callbacks import AudioSamples

    module = DiffusionModule(unet=UNET, warmup_steps=1)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=TensorBoardLogger(tmp_path, name="tb"),
                        callbacks=[AudioSamples(conditions=["kick", "hat"], every_n_steps=2, steps=2)],
                        enable_checkpointing=False, enable_progress_bar=False, limit_val_batches=0,
                        enable_model_summary=False, log_every_n_steps=1)
    trainer.fit(module, AudioDataModule(cache=str(class_cache), batch_size=8))
    events = EventAccumulator(str(next((tmp_path / "tb").iterdir())), size_guidance={"audio": 0, "images": 0})
    events.Reload()
    assert sorted(events.Tags()["audio"]) == ["samples/0", "samples/1"]
    assert sorted(events.Tags()["images"]) == ["spectrograms/0", "spectrograms/1"]
    assert events.Audio("samples/0")[0].sample_rate == MEL.sample_rate
    assert "train/loss" in events.Tags()["scalars"]


def test_precision_defaults_to_bf16_only_where_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    from audiodiff.training.cli import default_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_precision() == "32-true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert default_precision() == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert default_precision() == "32-true"
