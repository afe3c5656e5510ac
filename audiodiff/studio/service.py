"""The studio's work apart from the page: one pipeline per vocoder, the operations, the history.

Every method calls the same library functions as the CLI (``Pipeline.__call__`` and
:mod:`audiodiff.operations`), stores each row of the result in the :class:`History` with its
sidecar and spectrogram, and returns the stored entries. Bad arguments raise ``ValueError``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiodiff import operations
from audiodiff.cli import sidecar
from audiodiff.pipeline import Generation, Pipeline, ProgressFn
from audiodiff.studio import forms
from audiodiff.studio.history import Entry, History, slug
from audiodiff.studio.render import spectrogram_png

MAX_RESULTS = 8  # sounds one request may make (the page has this many result slots)


@dataclass(frozen=True)
class Request:
    """The settings every operation shares, as the page's fields give them (``None``: the model's default)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    num: int = 1
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    vocoder: str | None = None

    @classmethod
    def from_fields(cls, prompt: Any, negative_prompt: Any, num: Any, seed: Any, steps: Any, guidance: Any,
                    sampler: Any, vocoder: Any) -> Request:
        """Parse the page's values; a bad one raises ``ValueError`` naming its field."""
        count = forms.optional_int("number of sounds", num) or 1
        if not 1 <= count <= MAX_RESULTS:
            raise ValueError(f"number of sounds must be 1..{MAX_RESULTS}, got {count}")
        return cls(forms.text(prompt), forms.text(negative_prompt), count, forms.optional_int("seed", seed),
                   forms.optional_int("steps", steps), forms.optional_float("guidance", guidance),
                   forms.text(sampler), forms.text(vocoder))

    def sampling(self) -> dict[str, Any]:
        """Keyword arguments of every operation: negative prompt, num, seed, steps, guidance, sampler."""
        return {"negative_prompt": self.negative_prompt, "num": self.num, "seed": self.seed, "steps": self.steps,
                "guidance": self.guidance, "sampler": self.sampler}


class Studio:
    """The model folder ``model`` (``None``: the bundled one) on ``device``, storing results in ``history``."""

    def __init__(self, model: str | Path | None, history: History, *, device: str = "cpu") -> None:
        self.model, self.history, self.device = model, history, device
        self.pipe = Pipeline.from_pretrained(model, device=device)  # now: a bad folder fails before the server starts
        self._pipes: dict[str | None, Pipeline] = {None: self.pipe, self.pipe.config.vocoder: self.pipe}

    def pipeline(self, vocoder: str | None) -> Pipeline:
        """The model with ``vocoder`` (``None``: its own), loaded on first use and kept."""
        if vocoder not in self._pipes:
            self._pipes[vocoder] = Pipeline.from_pretrained(self.model, vocoder=vocoder, device=self.device)
        return self._pipes[vocoder]

    @property
    def text_conditioned(self) -> bool:
        return self.pipe.config.conditioner.kind == "text"

    def condition(self, value: str | None, suffix: str = "") -> dict[str, Any]:
        """``{"prompt": value}`` for a text model, ``{"label": value}`` for a class model (``suffix``: ``_b``...)."""
        return {("prompt" if self.text_conditioned else "label") + suffix: value}

    def generate(self, req: Request, duration: Any, *, progress: ProgressFn | None = None) -> list[Entry]:
        """``req.num`` new sounds of ``duration`` seconds."""
        pipe = self.pipeline(req.vocoder)
        seconds = forms.seconds("duration", duration)
        return self.store(pipe, pipe(**self.condition(req.prompt), duration=seconds, progress=progress,
                                     **req.sampling()))

    def loop(self, req: Request, duration: Any, bars: Any = None, bpm: Any = None, beats_per_bar: Any = 4, *,
             progress: ProgressFn | None = None) -> list[Entry]:
        """Seamless loops of ``duration`` seconds, or of ``bars`` bars at ``bpm`` when both are given."""
        pipe = self.pipeline(req.vocoder)
        bars, bpm = forms.optional_float("bars", bars), forms.optional_float("bpm", bpm)
        if (bars is None) != (bpm is None):
            raise ValueError("give both bars and bpm for a loop of whole bars (or neither, for duration)")
        if bars is None:
            seconds = forms.seconds("duration", duration)
        else:
            seconds = operations.bars_to_seconds(forms.seconds("bars", bars), forms.seconds("bpm", bpm),
                                                 forms.seconds("beats per bar", beats_per_bar))
        result = operations.generate_long(pipe, seconds, **self.condition(req.prompt), loop=True, progress=progress,
                                          **req.sampling())
        return self.store(pipe, result)

    def vary(self, req: Request, path: str | None, strength: Any, *, loop: bool = False,
             progress: ProgressFn | None = None) -> list[Entry]:
        """Variations of the sound at ``path`` at ``strength`` in ``[0, 1]``."""
        pipe = self.pipeline(req.vocoder)
        sound = forms.sound(path, pipe.config.mel.sample_rate)
        strength = forms.optional_float("strength", strength)
        if strength is None:
            raise ValueError("strength is empty: enter 0..1 (0 keeps the input, 1 is a new sound)")
        result = operations.vary(pipe, sound.audio, strength=strength, loop=loop, progress=progress,
                                 **self.condition(req.prompt), **req.sampling())
        return self.store(pipe, result, sound.record)

    def inpaint(self, req: Request, path: str | None, regions: str | None, *,
                progress: ProgressFn | None = None) -> list[Entry]:
        """The sound at ``path`` with ``regions`` (``"0.5:0.8, 1.2:1.4"``, seconds) regenerated."""
        pipe = self.pipeline(req.vocoder)
        sound = forms.sound(path, pipe.config.mel.sample_rate)
        result = operations.inpaint(pipe, sound.audio, forms.regions(regions), progress=progress,
                                    **self.condition(req.prompt), **req.sampling())
        return self.store(pipe, result, sound.record)

    def extend(self, req: Request, path: str | None, seconds: Any, before: bool = False, *,
               progress: ProgressFn | None = None) -> list[Entry]:
        """The sound at ``path`` continued by ``seconds`` after it (``before``: before it)."""
        pipe = self.pipeline(req.vocoder)
        sound = forms.sound(path, pipe.config.mel.sample_rate)
        result = operations.extend(pipe, sound.audio, forms.seconds("seconds", seconds), before=bool(before),
                                   progress=progress, **self.condition(req.prompt), **req.sampling())
        return self.store(pipe, result, sound.record)

    def interpolate(self, req: Request, prompt_b: Any, seed_b: Any, num: Any, duration: Any, *,
                    progress: ProgressFn | None = None) -> list[Entry]:
        """``num`` sounds from (``req.prompt``, ``req.seed``) to (``prompt_b``, ``seed_b``)."""
        pipe = self.pipeline(req.vocoder)
        count = forms.optional_int("sounds", num)
        if count is None or not 2 <= count <= MAX_RESULTS:
            raise ValueError(f"sounds must be 2..{MAX_RESULTS}, got {num}")
        seed_a = secrets.randbelow(2**31) if req.seed is None else req.seed
        result = operations.interpolate(
            pipe, **self.condition(req.prompt, "_a"), **self.condition(forms.text(prompt_b), "_b"), seed_a=seed_a,
            seed_b=forms.optional_int("seed B", seed_b), num=count, duration=forms.seconds("duration", duration),
            negative_prompt=req.negative_prompt, steps=req.steps, guidance=req.guidance, sampler=req.sampler,
            progress=progress)
        return self.store(pipe, result)

    def store(self, pipe: Pipeline, result: Generation, extra: dict[str, Any] | None = None) -> list[Entry]:
        """Each row of ``result`` in the history: WAV, FLAC, sidecar (the CLI's, plus ``extra``) and spectrogram."""
        entries = []
        for row in range(len(result.seeds)):
            settings = {**sidecar(result, row, None if self.model is None else str(self.model)), **(extra or {})}
            what = settings.get("prompt") or settings.get("prompt_a") or settings.get("label") or "sound"
            stem = f"{slug(str(what))}-{result.seeds[row]}"
            audio = result.audio[row]
            entries.append(self.history.add(stem, audio, result.sample_rate, settings,
                                            spectrogram_png(audio, pipe.config.mel)))
        return entries
