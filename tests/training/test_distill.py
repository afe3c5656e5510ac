"""Guidance distillation on a tiny text model: the student starts as the teacher's conditional model,
learns the teacher's guided estimate, exports as a one-pass model and refuses what it cannot do."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from audiodiff import schedules
from audiodiff.conditioning import ConditionerConfig
from audiodiff.conditioning_types import Conditioning
from audiodiff.config import SamplingDefaults
from audiodiff.data.cache import prepare
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.toy import make_toy_dataset
from audiodiff.denoiser import guided
from audiodiff.pipeline import Pipeline
from audiodiff.training.distill import (
    GuidanceDistillModule,
    ProgressiveDistillModule,
    euler_step,
    teacher_steps,
    two_step_target,
)
from audiodiff.training.module import DiffusionModule
from tests.training.test_diffusion_training import MEL, UNET

SAMPLING = SamplingDefaults(duration=0.5, steps=4, guidance=3.0)


def trainer(root: Path, max_steps: int) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                     use_distributed_sampler=False, enable_checkpointing=False, default_root_dir=root)


@pytest.fixture(scope="module")
def text_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_toy_dataset(tmp_path_factory.mktemp("toy") / "meta", layout="metadata", per_class=6,
                            sample_rate=8000, seconds=0.5)
    out = tmp_path_factory.mktemp("cache") / "text"
    prepare(root, out, mel_config=MEL, seconds=0.5, progress=False,
            conditioner_config=ConditionerConfig(kind="text", max_tokens=8))
    return out


@pytest.fixture(scope="module")
def teacher(text_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A briefly trained text-conditioned teacher with pitch conditioning, saved as a model folder."""
    root = tmp_path_factory.mktemp("teacher")
    module = DiffusionModule(unet=UNET, lr=2e-3, warmup_steps=2, seed=1, pitch_conditioning=True, sampling=SAMPLING)
    torch.manual_seed(0)
    trainer(root, 6).fit(module, AudioDataModule(cache=str(text_cache), batch_size=4, val_batches=1))
    with torch.no_grad():  # make the learned null condition differ clearly from the prompts
        module.conditioner.null_pooled.add_(0.5)
    return module.exportable().save_pretrained(root / "model")


def student(teacher: Path, **kwargs) -> GuidanceDistillModule:
    return GuidanceDistillModule(unet=UNET, teacher=str(teacher), lr=2e-3, warmup_steps=2, ema_decay=0.5, seed=2,
                                 pitch_conditioning=True, sampling=SAMPLING, **kwargs)


def initialised(teacher: Path, cache: Path) -> GuidanceDistillModule:
    """The student before training: built for the data and loaded from the teacher."""
    module = student(teacher)
    data = AudioDataModule(cache=str(cache), batch_size=4, val_batches=1)
    data.setup("fit")
    module.configure_from_data(data.mel_config, data.conditioner_config)
    module.init_weights_from(teacher)
    return module


def fitted(teacher: Path, cache: Path, root: Path, steps: int) -> GuidanceDistillModule:
    module = student(teacher)
    torch.manual_seed(0)
    trainer(root, steps).fit(module, AudioDataModule(cache=str(cache), batch_size=4, val_batches=1))
    return module


def a_batch(cache: Path) -> dict[str, torch.Tensor]:
    data = AudioDataModule(cache=str(cache), batch_size=4, val_batches=1)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def test_the_target_is_the_teachers_classifier_free_guidance(teacher: Path, text_cache: Path) -> None:
    module = initialised(teacher, text_cache)
    batch = a_batch(text_cache)
    pipe = Pipeline.from_pretrained(teacher, vocoder="griffinlim")
    x = torch.randn_like(batch["mel"])
    sigma = torch.tensor([0.3, 1.0, 3.0, 10.0])
    scale = torch.tensor([1.0, 2.0, 3.0, 5.0])
    keep = torch.tensor([True, True, False, True])
    target = module.guided_target(batch, keep, x, sigma, scale)
    cond = pipe.conditioner.add_pitch(Conditioning(batch["pooled"], batch["tokens"], batch["token_mask"]),
                                      batch["pitch"])
    cond = pipe.conditioner.drop(cond, keep)
    for i in range(4):
        row = cond.select(slice(i, i + 1))
        fn = guided(pipe.denoiser, row, pipe.conditioner.null(1), float(scale[i]))
        with torch.no_grad():
            expected = fn(x[i : i + 1], sigma[i : i + 1])
        torch.testing.assert_close(target[i : i + 1], expected, atol=1e-5, rtol=1e-4)
    # guidance matters here: the guided target is not the conditional estimate
    with torch.no_grad():
        conditional = pipe.denoiser(x[3:], sigma[3:], cond.select(slice(3, 4)))
    assert (target[3:] - conditional).abs().max() > 1e-3


def test_the_student_starts_as_the_teachers_conditional_model_and_learns_its_guided_one(
        teacher: Path, text_cache: Path, tmp_path: Path) -> None:
    batch = a_batch(text_cache)
    untrained = initialised(teacher, text_cache)
    pipe = Pipeline.from_pretrained(teacher, vocoder="griffinlim")
    cond = untrained.batch_conditioning(batch)
    x, sigma = torch.randn_like(batch["mel"]), torch.full((4,), 2.0)
    with torch.no_grad():
        for scale in (1.0, 4.0):
            start = untrained.denoiser(x, sigma, untrained.conditioner.add_guidance(cond, scale))
            teach = pipe.denoiser(x, sigma, pipe.conditioner.add_pitch(
                Conditioning(batch["pooled"], batch["tokens"], batch["token_mask"]), batch["pitch"]))
            torch.testing.assert_close(start, teach, atol=1e-5, rtol=1e-4)

    def loss(module: GuidanceDistillModule) -> float:
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(123)
        with torch.no_grad():
            return float(sum(module.model_step(batch, gen, module.denoiser.network) for _ in range(8)) / 8)

    trained = fitted(teacher, text_cache, tmp_path / "fit", 80)
    assert loss(trained) < 0.6 * loss(untrained)  # measured: 0.34x after 80 steps
    assert float(trained.conditioner.guidance.mlp[-1].weight.abs().sum()) > 0


def test_the_exported_student_makes_one_pass_per_step_and_refuses_negative_prompts(
        teacher: Path, text_cache: Path, tmp_path: Path) -> None:
    module = fitted(teacher, text_cache, tmp_path / "fit", 2)
    path = module.exportable().save_pretrained(tmp_path / "student")
    pipe = Pipeline.from_pretrained(path, vocoder="griffinlim")
    assert pipe.config.conditioner.guidance and not Pipeline.from_pretrained(teacher).config.conditioner.guidance
    rows: list[int] = []
    pipe.denoiser.network.register_forward_hook(lambda _m, args, _o: rows.append(args[0].shape[0]))
    out = pipe("a deep kick drum thump", steps=4, sampler="euler", seed=0)
    assert rows == [1] * 4 and torch.isfinite(out.audio).all()  # the teacher: 4 calls of 2 rows
    again = pipe("a deep kick drum thump", steps=4, sampler="euler", seed=0)
    assert torch.equal(out.audio, again.audio)
    other = pipe("a deep kick drum thump", steps=4, sampler="euler", seed=0, guidance=5.0)
    assert not torch.equal(out.mel, other.mel)  # the scale reaches the network
    with pytest.raises(ValueError, match="guidance-distilled"):
        pipe("a deep kick drum thump", steps=2, negative_prompt="noise")


def test_a_distilled_teacher_and_a_bad_range_are_refused(teacher: Path, text_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="guidance_range"):
        student(teacher, guidance_range=(4.0, 1.0))
    path = fitted(teacher, text_cache, tmp_path / "fit", 1).exportable().save_pretrained(tmp_path / "student")
    with pytest.raises(ValueError, match="itself guidance-distilled"):
        fitted(path, text_cache, tmp_path / "again", 1)


# ---------------------------------------------------------------- progressive distillation


@pytest.mark.parametrize("schedule", sorted(set(schedules.SCHEDULES) - {"karras_open"}))
@pytest.mark.parametrize("steps", [2, 4, 7, 13])
def test_every_other_sigma_of_the_teachers_schedule_is_the_students(schedule: str, steps: int) -> None:
    student = schedules.get_sigmas(schedule, steps)
    teacher = schedules.get_sigmas(schedule, teacher_steps(steps))
    assert len(teacher) == 2 * steps and teacher[-1] == 0
    torch.testing.assert_close(teacher[::2], student[:-1], atol=0, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2 steps"):
        teacher_steps(1)


def test_one_step_on_the_two_step_target_lands_where_two_teacher_steps_land() -> None:
    """For a nonlinear teacher, one Euler (DDIM) step with the target estimate from sigma to
    sigma_next equals the teacher's two steps through the middle; on the last step (to 0) the
    target is the teacher's estimate at sigma."""
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(6, 6, generator=gen) * 0.5

    def teacher(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.einsum("ij,njt->nit", weight, x)) / (1 + sigma[:, None, None])

    x = torch.randn(3, 6, 10, generator=gen, dtype=torch.float64) * 5
    teacher64 = lambda x, s: teacher(x.float(), s.float()).double()  # noqa: E731
    sigma, middle, sigma_next = (torch.tensor(v, dtype=torch.float64) for v in
                                 ([5.0, 1.0, 0.002], [2.0, 0.4, 0.0], [0.8, 0.1, 0.0]))
    target = two_step_target(teacher64, x, sigma, middle, sigma_next)
    one = euler_step(x, target, sigma, sigma_next)
    halfway = euler_step(x, teacher64(x, sigma), sigma, middle)
    two = euler_step(halfway[:2], teacher64(halfway[:2], middle[:2]), middle[:2], sigma_next[:2])
    torch.testing.assert_close(one[:2], two, atol=1e-9, rtol=0)
    torch.testing.assert_close(target[2:], teacher64(x[2:], sigma[2:]), atol=1e-6, rtol=0)
    with pytest.raises(AssertionError):  # a single teacher step is not the same place
        torch.testing.assert_close(one[:2], euler_step(x[:2], teacher64(x[:2], sigma[:2]), sigma[:2],
                                                       sigma_next[:2]), atol=1e-3, rtol=0)


def progressive(teacher: Path, steps: int, **kwargs) -> ProgressiveDistillModule:
    return ProgressiveDistillModule(unet=UNET, teacher=str(teacher), steps=steps, lr=2e-3, warmup_steps=2,
                                    ema_decay=0.5, seed=2, pitch_conditioning=True, sampling=SAMPLING, **kwargs)


def test_progressive_students_halve_the_steps_round_after_round(teacher: Path, text_cache: Path,
                                                               tmp_path: Path) -> None:
    """A guided teacher, then the round's own export as the next teacher: each student learns its
    two-step target (the loss falls), exports as a one-pass ddim model of its steps, and samples."""
    batch = a_batch(text_cache)

    def loss(module: ProgressiveDistillModule) -> float:
        gen = torch.Generator().manual_seed(123)
        with torch.no_grad():
            return float(sum(module.model_step(batch, gen, module.denoiser.network) for _ in range(8)) / 8)

    source = teacher
    for steps in (4, 2):
        untrained = progressive(source, steps)
        data = AudioDataModule(cache=str(text_cache), batch_size=4, val_batches=1)
        data.setup("fit")
        untrained.configure_from_data(data.mel_config, data.conditioner_config)
        untrained.init_weights_from(source)
        module = progressive(source, steps)
        torch.manual_seed(0)
        trainer(tmp_path / f"fit{steps}", 60).fit(module, AudioDataModule(cache=str(text_cache), batch_size=4,
                                                                         val_batches=1))
        assert loss(module) < 0.7 * loss(untrained)
        source = module.exportable().save_pretrained(tmp_path / f"student{steps}")
        pipe = Pipeline.from_pretrained(source, vocoder="griffinlim")
        assert pipe.config.defaults.steps == steps and pipe.config.defaults.sampler == "ddim"
        assert pipe.config.conditioner.guidance
        rows: list[int] = []
        pipe.denoiser.network.register_forward_hook(lambda _m, args, _o, seen=rows: seen.append(args[0].shape[0]))
        out = pipe("a deep kick drum thump", seed=0)
        assert rows == [1] * steps and torch.isfinite(out.audio).all()


def test_progressive_distillation_refuses_another_noise_process(teacher: Path, text_cache: Path,
                                                                tmp_path: Path) -> None:
    from audiodiff.denoiser import DiffusionConfig

    module = progressive(teacher, 2, diffusion=DiffusionConfig(sigma_max=40.0))
    with pytest.raises(ValueError, match="another noise process"):
        trainer(tmp_path / "fit", 1).fit(module, AudioDataModule(cache=str(text_cache), batch_size=4, val_batches=1))


@pytest.mark.parametrize("kind", [GuidanceDistillModule, ProgressiveDistillModule])
def test_the_student_starts_from_its_teacher_when_init_from_is_passed_as_none(kind: type, teacher: Path) -> None:
    """LightningCLI passes every default explicitly, ``init_from=None`` among them, and sets the
    hyperparameters from its parsed config after construction."""
    extra = {"steps": 4} if kind is ProgressiveDistillModule else {}
    module = kind(unet=UNET, teacher=str(teacher), init_from=None, pitch_conditioning=True, **extra)
    assert module.init_source == str(teacher)
    module.hparams.init_from = None  # as LightningCLI leaves it
    assert module.init_source == str(teacher)
    other = kind(unet=UNET, teacher=str(teacher), init_from="elsewhere", pitch_conditioning=True, **extra)
    assert other.init_source == "elsewhere"
