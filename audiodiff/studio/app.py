"""The Gradio page: shared request fields, one tab per operation, result slots and the history.

Each button runs one :class:`~audiodiff.studio.service.Studio` method; a ``ValueError`` or
``OSError`` from it (bad input, an unreadable upload) becomes a ``gr.Error`` shown in the page, and
the server goes on. The pipeline's ``progress(done, total)`` drives ``gr.Progress``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from audiodiff.pipeline import ProgressFn
from audiodiff.studio.history import Entry
from audiodiff.studio.service import MAX_RESULTS, Request, Studio
from audiodiff.studio.widgets import HISTORY_HEADERS, RequestFields, Slot, condition_field, history_view, show_results

Values = dict[gr.components.Component, Any]
Work = Callable[[Request, Values, ProgressFn], list[Entry]]

CSS = ".result { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; }"


def build_app(studio: Studio) -> gr.Blocks:
    """The studio page for ``studio``'s model and history (call ``.queue()`` and ``.launch()`` on it)."""
    defaults = studio.pipe.config.defaults
    with gr.Blocks(title="audiodiff studio", analytics_enabled=False, delete_cache=(3600, 24 * 3600)) as demo:
        gr.Markdown(f"## audiodiff studio\nModel: `{studio.model or 'bundled default'}` "
                    f"({studio.pipe.config.conditioner.kind}-conditioned, {studio.pipe.config.mel.sample_rate} Hz)")
        fields = RequestFields.build(studio)
        runs: list[tuple[gr.Button, set[gr.components.Component], Work]] = []
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                duration = gr.Number(label="Duration (s)", value=defaults.duration, minimum=0, elem_id="duration")
                go = gr.Button("Generate", variant="primary", elem_id="generate-button")
                runs.append((go, {duration}, lambda r, v, p: studio.generate(r, v[duration], progress=p)))
            with gr.Tab("Loop", id="loop"):
                with gr.Row():
                    loop_duration = gr.Number(label="Duration (s)", value=defaults.duration, minimum=0)
                    bars = gr.Number(label="Bars (optional, with BPM)", value=None, minimum=0)
                    bpm = gr.Number(label="BPM", value=None, minimum=0)
                    per_bar = gr.Number(label="Beats per bar", value=4, minimum=1)
                go = gr.Button("Make loop", variant="primary", elem_id="loop-button")
                runs.append((go, {loop_duration, bars, bpm, per_bar}, lambda r, v, p: studio.loop(
                    r, v[loop_duration], v[bars], v[bpm], v[per_bar], progress=p)))
            with gr.Tab("Vary", id="vary"):
                vary_input = gr.Audio(label="Input sound", type="filepath", sources=["upload"], elem_id="vary-input")
                strength = gr.Slider(0, 1, value=0.5, step=0.01, label="Strength (0 keeps it, 1 is new)")
                vary_loop = gr.Checkbox(label="Input is a loop (the variation loops too)")
                go = gr.Button("Vary", variant="primary", elem_id="vary-button")
                runs.append((go, {vary_input, strength, vary_loop}, lambda r, v, p: studio.vary(
                    r, v[vary_input], v[strength], loop=v[vary_loop], progress=p)))
            with gr.Tab("Inpaint", id="inpaint"):
                inpaint_input = gr.Audio(label="Input sound", type="filepath", sources=["upload"],
                                         elem_id="inpaint-input")
                regions = gr.Textbox(label="Regions to regenerate (start:end seconds, comma separated)",
                                     placeholder="0.5:0.8, 1.2:1.4", elem_id="regions")
                go = gr.Button("Inpaint", variant="primary", elem_id="inpaint-button")
                runs.append((go, {inpaint_input, regions}, lambda r, v, p: studio.inpaint(
                    r, v[inpaint_input], v[regions], progress=p)))
            with gr.Tab("Extend", id="extend"):
                extend_input = gr.Audio(label="Input sound", type="filepath", sources=["upload"],
                                        elem_id="extend-input")
                with gr.Row():
                    seconds = gr.Number(label="Seconds to add", value=1.0, minimum=0)
                    before = gr.Checkbox(label="Before the sound (instead of after)")
                go = gr.Button("Extend", variant="primary", elem_id="extend-button")
                runs.append((go, {extend_input, seconds, before}, lambda r, v, p: studio.extend(
                    r, v[extend_input], v[seconds], v[before], progress=p)))
            with gr.Tab("Interpolate", id="interpolate"):
                gr.Markdown("From the prompt and seed above (A) to B:")
                with gr.Row():
                    prompt_b = condition_field(studio, "Prompt B (empty: A's)")
                    seed_b = gr.Number(label="Seed B (empty: A's)", value=None, precision=0)
                    count = gr.Slider(2, MAX_RESULTS, value=5, step=1, label="Sounds")
                    path_duration = gr.Number(label="Duration (s)", value=defaults.duration, minimum=0)
                go = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
                runs.append((go, {prompt_b, seed_b, count, path_duration}, lambda r, v, p: studio.interpolate(
                    r, v[prompt_b], v[seed_b], v[count], v[path_duration], progress=p)))
        gr.Markdown("### Results")
        slots = [Slot.build(i) for i in range(MAX_RESULTS)]
        shown = gr.State([])
        with gr.Accordion("History (kept on disk, newest first)", open=True):
            table = gr.Dataframe(headers=HISTORY_HEADERS, interactive=False, elem_id="history-table")
            pick = gr.Dropdown(label="Show a past result", choices=[], elem_id="history-pick")
        outputs = [*(c for slot in slots for c in slot.outputs()), shown, table, pick]
        for button, inputs, work in runs:
            button.click(_runner(studio, fields, work), inputs={*fields.components(), *inputs}, outputs=outputs)
        pick.input(lambda entry_id: show_results(_found(studio, entry_id)), inputs=pick,
                   outputs=outputs[:-2])
        inputs_to = [vary_input, inpaint_input, extend_input]
        for i, slot in enumerate(slots):
            slot.use.click(lambda ids, i=i: _use(studio, ids, i), inputs=shown, outputs=[*inputs_to, tabs])
        demo.load(lambda: history_view(studio.history), outputs=[table, pick])
    return demo


def _runner(studio: Studio, fields: RequestFields, work: Work) -> Callable[..., list[Any]]:
    """A click handler: parse the shared fields, run ``work`` under a progress bar, show the results."""
    def run(values: Values, progress: gr.Progress = gr.Progress()) -> list[Any]:  # noqa: B008 (Gradio's idiom)
        def report(done: int, total: int) -> None:
            progress((done, total), desc="denoising", unit="steps")

        try:
            entries = work(fields.request(values), values, report)
        except (ValueError, OSError) as err:
            raise gr.Error(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__) from err
        return [*show_results(entries), *history_view(studio.history)]

    return run


def _found(studio: Studio, entry_id: str | None) -> list[Entry]:
    entry = studio.history.get(entry_id or "")
    if entry is None:
        raise gr.Error("that result is no longer in the history")
    return [entry]


def _use(studio: Studio, ids: list[str], index: int) -> list[Any]:
    """Put shown result ``index`` into the vary, inpaint and extend inputs and open the vary tab."""
    entry = studio.history.get(ids[index]) if index < len(ids) else None
    if entry is None:
        raise gr.Error("that result is no longer in the history")
    gr.Info("sent to Vary, Inpaint and Extend")
    return [str(entry.wav), str(entry.wav), str(entry.wav), gr.Tabs(selected="vary")]
