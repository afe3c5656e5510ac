"""The diffusion LightningModule: it is handed its components' configs and only sees cached tensors.

The network's mel size and conditioning widths come from the data cache in :meth:`setup`, so a
recipe only chooses the U-Net's capacity.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from audiodiff.conditioning import ConditionerConfig, build_conditioner
from audiodiff.conditioning_types import Conditioning
from audiodiff.config import PipelineConfig, SamplingDefaults
from audiodiff.denoiser import Denoiser, DiffusionConfig
from audiodiff.models.config import UNetConfig, build_unet
from audiodiff.pipeline import CONFIG, Pipeline, read_model
from audiodiff.spectrogram import MelConfig, check_mel_config
from audiodiff.training.base import SavedWeights, TrainingModule, submodule_state
from audiodiff.training.ema import ema_copy
from audiodiff.vocoders import load_vocoder

DEFAULT_DIFFUSION = DiffusionConfig()
DEFAULT_SAMPLING = SamplingDefaults()


class DiffusionModule(TrainingModule):
    """Trains ``Denoiser(UNet)`` with classifier-free-guidance dropout, AdamW and EMA weights
    (:class:`~audiodiff.training.base.TrainingModule`).

    Args:
        unet: the U-Net's shape; ``n_mels``, ``cond_dim`` and ``token_dim`` are taken from the data.
        diffusion: noise process and prediction target.
        cond_dropout: probability that a training example's condition is replaced by the null one.
        lr, weight_decay, betas: AdamW settings.
        warmup_steps: linear learning-rate warm-up; then a cosine down to ``final_lr_ratio * lr``
            at ``trainer.max_steps``.
        ema_decay: the EMA's final decay; EMA weights are used for validation, samples and export.
        seed: the noise of step ``s`` comes from a generator seeded with ``(seed, s, rank)`` so a
            resumed run draws exactly what an uninterrupted one would.
        sampling: defaults stored in the exported pipeline.
        init_from: a saved model folder (``audiodiff export`` output, e.g. the bundled default) whose
            weights start the network, its EMA copy and the null embeddings: fine-tuning. Its mel and
            conditioner settings must equal the data's (except ``pitch`` and ``duration``: a model
            without them can be fine-tuned with them); modules it lacks keep their initialisation.
            Ignored when resuming from a checkpoint (the checkpoint's weights replace it).
        pitch_conditioning: also condition on the note a caption names, through a learned
            pitch embedding (:class:`audiodiff.conditioning.PitchEmbedding`); text data only.
        duration_conditioning: also condition on the canvas' duration (the batch's ``seconds``)
            through a learned :class:`audiodiff.conditioning.DurationEmbedding`, kept when the
            caption is dropped; train it on variable durations (the data's ``durations``).
    """

    CONFIG_KEY = "pipeline_config"
    EXPORT_NAME = "pipeline"

    def __init__(
        self,
        unet: UNetConfig,
        diffusion: DiffusionConfig = DEFAULT_DIFFUSION,
        cond_dropout: float = 0.1,
        lr: float = 2e-4,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.99),
        warmup_steps: int = 500,
        final_lr_ratio: float = 0.05,
        ema_decay: float = 0.999,
        seed: int = 0,
        sampling: SamplingDefaults = DEFAULT_SAMPLING,
        init_from: str | None = None,
        pitch_conditioning: bool = False,
        duration_conditioning: bool = False,
    ) -> None:
        super().__init__()
        if not 0 <= cond_dropout < 1:
            raise ValueError(f"cond_dropout must be in [0, 1), got {cond_dropout}")
        self.save_hyperparameters(ignore=["unet", "diffusion", "sampling"])
        self.unet_config, self.diffusion_config, self.sampling = unet, diffusion, sampling
        self.pipeline_config: PipelineConfig | None = None

    def configure_from_data(self, mel: MelConfig, conditioner: ConditionerConfig) -> None:
        """Build network, EMA copy and conditioner for the data's mel and conditioning settings."""
        if self.pipeline_config is not None:
            return
        if self.hparams.pitch_conditioning:
            if conditioner.kind != "text":
                raise ValueError("pitch_conditioning reads notes from captions; this data is conditioned on "
                                 "class labels: prepare it with captions, or set pitch_conditioning false")
            conditioner = dataclasses.replace(conditioner, pitch=True)
        if self.hparams.duration_conditioning:
            conditioner = dataclasses.replace(conditioner, duration=True)
        unet = dataclasses.replace(self.unet_config, n_mels=mel.n_mels, cond_dim=conditioner.dim,
                                   token_dim=conditioner.token_dim)
        self.pipeline_config = PipelineConfig(mel=mel, unet=unet, conditioner=conditioner,
                                              diffusion=self.diffusion_config, defaults=self.sampling)
        self.denoiser = Denoiser(build_unet(unet), self.diffusion_config)
        self.ema = ema_copy(self.denoiser.network)
        self.conditioner = build_conditioner(conditioner)

    @property
    def ema_source(self) -> torch.nn.Module:
        return self.denoiser.network

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        self.configure_from_data(data.mel_config, data.conditioner_config)
        super().setup(stage)

    def saved_weights(self, path: Path) -> SavedWeights:
        """A model folder's U-Net and conditioner weights; its mel and conditioner must be ours."""
        config, parts = read_model(path)
        mine = self.pipeline_config
        check_mel_config(mine.mel, config.mel, what=f"the model in {path}")
        if dataclasses.replace(config.conditioner, pitch=mine.conditioner.pitch, duration=mine.conditioner.duration,
                               guidance=mine.conditioner.guidance) != mine.conditioner:
            raise ValueError(f"the model in {path} was trained with another conditioner "
                             f"({config.conditioner}); fine-tune it on data conditioned the same way "
                             f"({mine.conditioner})")
        return SavedWeights({"unet": self.denoiser.network, "conditioner": self.conditioner}, parts,
                            "use its unet, pitch_conditioning and duration_conditioning settings (its "
                            "config.json) in the recipe")

    def init_weights_from(self, path: Path) -> list[str]:
        """Start from the model folder ``path`` and play through its vocoder (a fine-tune of the
        bundled model keeps the neural vocoder it was trained to sound through)."""
        missing = super().init_weights_from(path)
        vocoder = PipelineConfig.load(path / CONFIG).vocoder
        self.pipeline_config = dataclasses.replace(self.pipeline_config, vocoder=vocoder)
        return missing

    def exportable(self) -> Pipeline:
        """A Pipeline that shares the module's EMA network and conditioner (no copies)."""
        config = self.pipeline_config
        return Pipeline(config, Denoiser(self.ema, config.diffusion), self.conditioner,
                        load_vocoder(config.vocoder, config.mel))

    @classmethod
    def exportable_from_checkpoint(cls, checkpoint: dict[str, Any]) -> Pipeline:
        pipe = Pipeline.from_config(PipelineConfig.from_dict(checkpoint[cls.CONFIG_KEY]))
        state = checkpoint["state_dict"]
        pipe.denoiser.network.load_state_dict(submodule_state(state, "ema"))
        pipe.conditioner.load_state_dict(submodule_state(state, "conditioner"))
        return pipe
    def step_generator(self, offset: int = 0) -> torch.Generator:
        """A generator for this step, rank and purpose, independent of any global RNG state."""
        seed = (self.hparams.seed * 1_000_003 + self.global_step) * 97 + self.global_rank * 7 + offset
        return torch.Generator(device=self.device).manual_seed(seed)

    def batch_conditioning(self, batch: dict[str, Tensor]) -> Conditioning:
        """The batch's (un-dropped) conditioning."""
        if self.pipeline_config.conditioner.kind == "class":
            return self.conditioner(batch["label"].tolist())
        cond = Conditioning(batch["pooled"], batch["tokens"], batch["token_mask"])
        return self.conditioner.add_pitch(cond, batch["pitch"])

    def model_step(self, batch: dict[str, Tensor], generator: torch.Generator, network: torch.nn.Module) -> Tensor:
        """Mean loss over the batch with conditioning dropout (shared by train and validation)."""
        cond = self.batch_conditioning(batch)
        keep = torch.rand(len(cond), generator=generator, device=self.device) >= self.hparams.cond_dropout
        cond = self.conditioner.add_duration(self.conditioner.drop(cond, keep), batch["seconds"])
        denoiser = self.denoiser if network is self.denoiser.network else Denoiser(network, self.diffusion_config)
        return denoiser.loss(batch["mel"], cond, generator=generator).mean()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.model_step(batch, self.step_generator(), self.denoiser.network)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["seconds"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        gen = torch.Generator(device=self.device).manual_seed(self.hparams.seed + batch_idx)
        loss = self.model_step(batch, gen, self.ema)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(batch["seconds"]))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[self.CONFIG_KEY] = self.pipeline_config.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = PipelineConfig.from_dict(checkpoint[self.CONFIG_KEY])
        if self.pipeline_config is not None and saved != dataclasses.replace(self.pipeline_config,
                                                                             vocoder=saved.vocoder):
            raise ValueError("the checkpoint was made with another model or data config; "
                             "resume with the recipe and cache it was trained with")
        self.configure_from_data(saved.mel, saved.conditioner)
