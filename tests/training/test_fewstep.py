"""Few-step distillation on a tiny text model: the teacher's trajectories are its sampler's states,
the student learns to land on them, and the export is an adapter folder that loads onto its base."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from audiodiff import samplers, schedules
from audiodiff.formats import ModelFormatError
from audiodiff.operations import extend, generate_long, inpaint, interpolate, vary
from audiodiff.pipeline import Pipeline
from audiodiff.training.checkpoint import export_checkpoint
from audiodiff.training.distill import euler_step
from audiodiff.training.fewstep import FewStepDistillModule, landing_target
from audiodiff.training.trajectories import TrajectoryDataModule, record, student_levels
from tests.training.test_diffusion_training import UNET
from tests.training.test_distill import SAMPLING, teacher, text_cache  # noqa: F401  (fixtures)


def test_the_students_sigmas_are_every_sixth_level_of_the_teachers_25() -> None:
    teacher_sigmas = schedules.karras_sigmas(25)
    for steps in (1, 2, 3, 4, 6, 8):
        student = schedules.get_sigmas("karras_open", steps)
        levels = student_levels(steps)
        assert len(student) == steps + 1 and student[-1] == 0
        assert torch.allclose(student[:-1], teacher_sigmas[levels], rtol=1e-6)
    assert student_levels(4) == [0, 6, 12, 18]
    with pytest.raises(ValueError, match="must divide 24"):
        student_levels(5)


def toy_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x) / (1 + schedules.expand_to(sigma, x))


def test_a_trajectory_holds_the_samplers_states_at_the_students_levels() -> None:
    sigmas = schedules.karras_sigmas(25)
    noise = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    states = record(toy_denoiser, noise, sigmas, [0, 6, 12, 18])
    assert states.shape == (3, 5, 4, 8)
    assert torch.equal(states[:, 0], noise)
    assert torch.equal(states[:, -1], samplers.sample_dpmpp_2m(toy_denoiser, noise, sigmas))
    assert torch.allclose(states[:, 2], samplers.sample_dpmpp_2m(toy_denoiser, noise, sigmas[:13]))


def test_one_ddim_step_on_the_landing_target_lands_on_the_next_state() -> None:
    gen = torch.Generator().manual_seed(1)
    x, x_next = torch.randn(2, 3, 5, generator=gen) * 10, torch.randn(2, 3, 5, generator=gen)
    sigma, sigma_next = torch.tensor([10.0, 2.0]), torch.tensor([2.0, 0.0])
    target = landing_target(x, x_next, sigma, sigma_next)
    assert torch.allclose(euler_step(x, target, sigma, sigma_next), x_next, atol=1e-5)
    assert torch.equal(target[1], x_next[1])


def data(cache: Path, teacher_dir: Path, folder: Path, **kwargs) -> TrajectoryDataModule:
    return TrajectoryDataModule(cache=str(cache), teacher=str(teacher_dir), trajectories=str(folder), steps=2,
                                train_trajectories=8, val_trajectories=4, batch_size=4, **kwargs)


def student(teacher_dir: Path) -> FewStepDistillModule:
    return FewStepDistillModule(unet=UNET, teacher=str(teacher_dir), adapter_rank=4, lr=5e-3, warmup_steps=2,
                                ema_decay=0.5, seed=2, pitch_conditioning=True, sampling=SAMPLING)


def rollout(module: FewStepDistillModule, batch: dict[str, torch.Tensor]) -> float:
    """Mean squared distance of the student's whole sample from the teacher's, same noise."""
    states = batch["states"]
    cond = module.student_conditioning(batch, torch.ones(len(states), dtype=torch.bool), batch["scale"])
    net = module.denoiser
    with torch.no_grad():
        out = samplers.sample_ddim(lambda x, s: net(x, s, cond), states[:, 0], module.sigmas.float())
    return float((out - states[:, -1]).pow(2).mean())


def test_distillation_learns_the_teachers_trajectories_and_exports_an_adapter(
        teacher: Path, text_cache: Path, tmp_path: Path) -> None:  # noqa: F811
    trajectories = data(text_cache, teacher, tmp_path / "traj")
    trajectories.prepare_data()
    files = trajectories.files("train")
    stamps = [f.stat().st_mtime_ns for f in files]
    data(text_cache, teacher, tmp_path / "traj").prepare_data()  # a second run makes nothing new
    assert [f.stat().st_mtime_ns for f in files] == stamps
    batch = load_file(files[0])
    assert batch["states"].shape[1] == 3 and batch["scale"].min() >= 2.0 and batch["scale"].max() <= 4.0

    module = student(teacher)
    torch.manual_seed(0)
    fit = L.Trainer(accelerator="cpu", devices=1, max_steps=80, logger=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                    use_distributed_sampler=False, enable_checkpointing=False, default_root_dir=tmp_path)
    fit.fit(module, trajectories)
    fit.save_checkpoint(tmp_path / "last.ckpt")
    untrained = student(teacher)
    untrained.configure_from_data(trajectories.mel_config, trajectories.conditioner_config)
    untrained.init_weights_from(teacher)
    untrained.attach(trajectories.student_sigmas(), trajectories.teacher_config.vocoder)
    assert rollout(module, batch) < 0.7 * rollout(untrained, batch)

    out = module.exportable().save_pretrained(tmp_path / "fast")
    config = json.loads((out / "config.json").read_text())
    assert not Path(config["base"]).is_absolute() and (out / config["base"]).resolve() == teacher.resolve()
    assert config["defaults"]["sampler"] == "ddim" and config["defaults"]["steps"] == 2
    assert config["diffusion"]["schedule"] == "karras_open"
    saved = load_file(out / "model.safetensors")
    assert all(k.endswith((".down", ".up")) for k in saved if k.startswith("unet."))
    assert (out / "model.safetensors").stat().st_size < (teacher / "model.safetensors").stat().st_size

    pipe = Pipeline.from_pretrained(out, vocoder="griffinlim")
    assert pipe.config.base is None
    x, sigma = torch.randn(1, 16, 16), torch.tensor([1.5])
    cond = module.student_conditioning(
        {k: v[:1] for k, v in batch.items()}, torch.ones(1, dtype=torch.bool), batch["scale"][:1])
    with torch.no_grad():
        assert torch.allclose(pipe.denoiser(x, sigma, cond), module.exportable().denoiser(x, sigma, cond), atol=1e-5)
    from_checkpoint = Pipeline.from_pretrained(export_checkpoint(tmp_path / "last.ckpt", tmp_path / "from-ckpt"),
                                               vocoder="griffinlim")
    with torch.no_grad():
        assert torch.allclose(from_checkpoint.denoiser(x, sigma, cond), pipe.denoiser(x, sigma, cond), atol=1e-5)
    rows: list[int] = []
    pipe.denoiser.network.register_forward_hook(lambda _m, args, _o, seen=rows: seen.append(args[0].shape[0]))
    sound = pipe("a deep kick drum thump", seed=0)
    assert rows == [1, 1] and torch.isfinite(sound.audio).all()
    audio, prompt = sound.audio[0], "a deep kick drum thump"
    rows.clear()
    varied = vary(pipe, audio, strength=0.5, prompt=prompt, seed=1)
    assert rows == [1] and varied.audio.shape == sound.audio.shape  # the last round(0.5 * 2) = 1 step
    edits = [inpaint(pipe, audio, [(0.1, 0.3)], prompt=prompt, seed=1),
             extend(pipe, audio, 0.25, prompt=prompt, seed=1), generate_long(pipe, 0.5, prompt, seed=1, loop=True),
             interpolate(pipe, prompt, "a snare", seed_a=1, num=3)]
    assert all(torch.isfinite(out.audio).all() and out.settings["steps"] == 2 for out in edits)
    assert Pipeline.from_pretrained(teacher, vocoder="griffinlim").config.defaults.steps == SAMPLING.steps

    moved = tmp_path / "elsewhere" / "fast"
    moved.parent.mkdir()
    out.rename(moved)
    with pytest.raises(ModelFormatError, match="which is not there"):
        Pipeline.from_pretrained(moved, vocoder="griffinlim")


def test_the_trajectory_data_refuses_a_step_count_off_the_teachers_levels(
        teacher: Path, text_cache: Path, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="must divide 24"):
        TrajectoryDataModule(cache=str(text_cache), teacher=str(teacher), trajectories=str(tmp_path), steps=5)
    with pytest.raises(ValueError, match="guidance_range"):
        data(text_cache, teacher, tmp_path, guidance_range=(0.5, 2.0))
