"""The page's repeated parts: the shared request fields, a result slot, the history panel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from audiodiff import samplers
from audiodiff.studio.history import Entry, History
from audiodiff.studio.service import MAX_RESULTS, Request, Studio

VOCODERS = ["neural", "griffinlim"]
HISTORY_HEADERS = ["when", "operation", "prompt / label", "seed", "seconds", "id"]


def condition_field(studio: Studio, label: str, **kwargs: Any) -> gr.components.Component:
    """A prompt box for a text model, a label menu for a class model."""
    if studio.text_conditioned:
        return gr.Textbox(label=label, placeholder="describe the sound, e.g. a deep cinematic impact", **kwargs)
    labels = list(studio.pipe.config.conditioner.labels)
    return gr.Dropdown(label=label.replace("Prompt", "Label"), choices=labels, value=labels[0], **kwargs)


@dataclass
class RequestFields:
    """Prompt, negative prompt and the sampling settings every tab shares."""

    prompt: gr.components.Component
    negative_prompt: gr.Textbox
    num: gr.Slider
    seed: gr.Number
    steps: gr.Number
    guidance: gr.Number
    sampler: gr.Dropdown
    vocoder: gr.Dropdown

    @classmethod
    def build(cls, studio: Studio) -> RequestFields:
        defaults, own_vocoder = studio.pipe.config.defaults, studio.pipe.config.vocoder
        with gr.Row():
            prompt = condition_field(studio, "Prompt", elem_id="prompt", scale=3)
            negative = gr.Textbox(label="Negative prompt", elem_id="negative-prompt", scale=2,
                                  visible=studio.text_conditioned, placeholder="what to steer away from")
        with gr.Accordion("Settings", open=False, elem_id="settings"), gr.Row():
            num = gr.Slider(1, MAX_RESULTS, value=1, step=1, label="Number of sounds", elem_id="num")
            seed = gr.Number(label="Seed (empty: random)", value=None, precision=0, elem_id="seed")
            steps = gr.Number(label="Steps", value=defaults.steps, precision=0, minimum=1, elem_id="steps")
            guidance = gr.Number(label="Guidance", value=defaults.guidance, minimum=0, elem_id="guidance")
            sampler = gr.Dropdown(list(samplers.SAMPLERS), value=defaults.sampler, label="Sampler", elem_id="sampler")
            vocoder = gr.Dropdown(sorted({own_vocoder, *VOCODERS}), value=own_vocoder, label="Vocoder",
                                  allow_custom_value=True, elem_id="vocoder")
        return cls(prompt, negative, num, seed, steps, guidance, sampler, vocoder)

    def components(self) -> list[gr.components.Component]:
        return [self.prompt, self.negative_prompt, self.num, self.seed, self.steps, self.guidance, self.sampler,
                self.vocoder]

    def request(self, values: dict[gr.components.Component, Any]) -> Request:
        """The :class:`Request` in ``values``."""
        return Request.from_fields(*(values[c] for c in self.components()))


@dataclass
class Slot:
    """One result: player, spectrogram, settings, downloads and 'Use as input'."""

    box: gr.Column
    title: gr.Markdown
    audio: gr.Audio
    image: gr.Image
    settings: gr.Code
    files: gr.File
    use: gr.Button

    @classmethod
    def build(cls, index: int) -> Slot:
        with gr.Column(visible=False, elem_classes=["result"], elem_id=f"result-{index}") as box:
            title = gr.Markdown()
            with gr.Row():
                audio = gr.Audio(label="Sound", type="filepath", interactive=False, buttons=["download"],
                                 elem_id=f"result-audio-{index}")
                image = gr.Image(label="Spectrogram", type="filepath", interactive=False, show_label=False,
                                 buttons=["download", "fullscreen"],
                                 elem_id=f"result-image-{index}")
            with gr.Row():
                settings = gr.Code(label="Settings", language="json", interactive=False, max_lines=14,
                                   elem_id=f"result-settings-{index}")
                with gr.Column():
                    files = gr.File(label="Download (WAV, FLAC, JSON sidecar)", file_count="multiple",
                                    interactive=False, elem_id=f"result-files-{index}")
                    use = gr.Button("Use as input", size="sm", elem_id=f"result-use-{index}")
        return cls(box, title, audio, image, settings, files, use)

    def outputs(self) -> list[gr.components.Component]:
        return [self.box, self.title, self.audio, self.image, self.settings, self.files]

    @staticmethod
    def show(entry: Entry | None) -> list[Any]:
        """Values for :meth:`outputs`: ``entry``'s, or a hidden slot for ``None``."""
        if entry is None:
            return [gr.Column(visible=False), "", None, None, "", None]
        return [gr.Column(visible=True), f"**{entry.title()}**", str(entry.wav), str(entry.spectrogram),
                json.dumps(entry.settings, indent=2), [str(p) for p in entry.downloads]]


def show_results(entries: list[Entry]) -> list[Any]:
    """Values for every slot's outputs (in slot order) and then the ids shown."""
    values = [value for i in range(MAX_RESULTS) for value in Slot.show(entries[i] if i < len(entries) else None)]
    return [*values, [entry.id for entry in entries]]


def history_view(history: History) -> list[Any]:
    """The history table's rows and the 'open' menu's choices, read from disk."""
    rows, choices = [], []
    for entry in history.entries():
        s = entry.settings
        when = entry.created
        duration = s.get("duration")
        rows.append([when, s.get("operation", "generate"), s.get("prompt") or s.get("prompt_a") or s.get("label") or "",
                     s.get("seed"), round(duration, 3) if isinstance(duration, (int, float)) else None, entry.id])
        choices.append((f"{when} {entry.title()}", entry.id))
    table = rows or [["", "", "", None, None, ""]]
    return [gr.Dataframe(value=table, headers=HISTORY_HEADERS), gr.Dropdown(choices=choices, value=None)]
