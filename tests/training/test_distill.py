"""Guidance distillation on a tiny text model: the student starts as the teacher's conditional model,
learns the teacher's guided estimate, exports as a one-pass model and refuses what it cannot do."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from audiodiff.conditioning import ConditionerConfig
from audiodiff.conditioning_types import Conditioning
from audiodiff.config import SamplingDefaults
from audiodiff.data.cache import prepare
from audiodiff.data.datamodule import AudioDataModule
from audiodiff.data.toy import make_toy_dataset
from audiodiff.denoiser import guided
from audiodiff.pipeline import Pipeline
from audiodiff.training.distill import GuidanceDistillModule
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
