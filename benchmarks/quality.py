"""Prompt following of a text-conditioned model: pitch accuracy, sound category accuracy and speed.

Usage: python benchmarks/quality.py [--model fast] [--vocoder NAME] [--seeds 2] [--first-seed 0] [--steps N]
       [--out runs/quality] [--data data/oneshots] [--cache cache/oneshots] [--crepe-model tiny] [--threads 2]
       [--save-audio]

1. Pitch: "INSTRUMENT, note NOTE" prompts (6 instruments x 8 notes C3-C6 x seeds); the median f0 of
   the voiced frames (CREPE periodicity >= 0.5, louder than -60 dBFS) must be within 50 cents of the
   note; an unvoiced sound is a miss. The same measurement on real clips checks the metric: train
   clips at the same notes (also sent through the model's vocoder: the ceiling for generated audio)
   and val clips (the val split holds other notes, D#3/D#4/D#5) in the same range.
2. Category: an extra-trees classifier on mel features (:func:`quality_metrics.mel_features`) of the
   real train-split cache mels names the drum (kick, snare, ...), the instrument family or, with a
   cache of the general dataset (``--data data/general --cache cache/general``, see
   ``recipes/general-1d.yaml``), the sound-effect category (footsteps, door, water, ...). Its
   accuracy on real val clips (cache mels, and a subset sent through the vocoder and re-analysed)
   stands beside its accuracy on generated clips, scored twice: "audio" = the vocoded waveform
   re-analysed like the cache, "mel" = the model's own mel (bypasses the vocoder). For drums and
   effects, the Fréchet distance of the generated clips to the real val clips stands beside the
   real-vs-real floor at the same size. Real clips are cut to the generated length (``--duration``).
3. Free-phrased prompts (``free_prompts.py``: 10 instrument families x 5 notes C3-C6, two
   paraphrases per drum and per effect category; checked to appear in none of the dataset's
   captions): pitch hit rate and voiced rate (CREPE periodicity) per family, and drum and effect
   category accuracy, beside the template set.
4. Speed: real-time factor of one default generation, model loading excluded, best of 2.

With the defaults: 374 generated sounds (510 with effects), about 15 minutes on 2 CPU cores (the tiny CREPE model;
``--crepe-model full`` is about 20x slower on a CPU).
Prints Markdown tables and writes ``OUT/quality.json`` (every number, every sound) and ``OUT/quality.md``.
Needs ``torchcrepe`` and ``scikit-learn`` (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from free_prompts import FREE_DRUMS, FREE_EFFECTS, all_prompts, dataset_captions, leaked, pitch_prompts  # noqa: E402
from quality_metrics import (  # noqa: E402
    Projection,
    cents_error,
    estimate_f0,
    fit_frames,
    frechet,
    hit_rate,
    is_hit,
    mel_features,
    reanalyse,
)

from audiodiff import Pipeline  # noqa: E402
from audiodiff.config import ModelFormatError  # noqa: E402
from audiodiff.data.clips import clip_samples, load_clips, training_frames  # noqa: E402
from audiodiff.notes import note_to_midi  # noqa: E402
from audiodiff.spectrogram import denormalize, silence_level  # noqa: E402

PITCH_INSTRUMENTS = ("acoustic grand piano", "marimba", "string ensemble", "church organ", "brass section", "violin")
PITCH_NOTES = ("C3", "G3", "C4", "E4", "G4", "C5", "G5", "C6")
DRUM_PROMPTS = {
    "kick": ("a kick drum", "a punchy electronic kick drum"),
    "snare": ("a snare drum", "an acoustic snare drum sample"),
    "closed hihat": ("a closed hi-hat", "a tight closed hi-hat"),
    "open hihat": ("an open hi-hat", "a sizzling open hi-hat"),
    "tom": ("a tom drum", "a floor tom"),
    "crash": ("a crash cymbal", "a bright crash cymbal"),
    "ride": ("a ride cymbal", "a shimmering ride cymbal"),
    "clap": ("a hand clap", "an electronic hand clap"),
}
FAMILY_PROMPTS = {
    "keys": ("a piano note", "an electric piano note"),
    "mallets": ("a marimba note", "a vibraphone note"),
    "organ": ("an organ note", "a church organ note"),
    "guitar": ("a guitar note", "an electric guitar note"),
    "bass": ("a bass note", "a synth bass note"),
    "strings": ("a violin note", "a cello note"),
    "brass": ("a trumpet note", "a trombone note"),
    "reed": ("a saxophone note", "a clarinet note"),
    "pipe": ("a flute note", "a pan flute note"),
    "plucked": ("a harp note", "a banjo note"),
    "synth lead": ("a synth lead note", "a sawtooth lead note"),
    "synth pad": ("a synth pad note", "a warm pad note"),
}
# sound-effect category (recipes/sfx/, 15 or more train clips) -> phrasings in the captions' style
EFFECT_PROMPTS = {
    "ambience": ("a busy marketplace ambience", "a tropical jungle ambience"),
    "animal": ("a sheep bleating", "chickens clucking"),
    "creature": ("a zombie groaning", "a large beast roaring"),
    "door": ("a wooden door opening", "a heavy stone gate opening"),
    "electronic": ("robotic electronic bleeps", "a glitchy percussion hit"),
    "fire": ("a large fire crackling", "lava bubbling"),
    "footsteps": ("a single footstep on wood", "footsteps on snow"),
    "human": ("a man's death scream", "an old man grunting in pain"),
    "impact": ("a blow hitting a wooden shield", "an arrow hitting dirt"),
    "interface": ("a chat message notification", "a task complete chime"),
    "retro game": ("a retro jump sound", "a retro error buzz"),
    "tool": ("a hammer striking wood", "a pickaxe striking metal"),
    "vehicle": ("a car horn honking", "a helicopter flying"),
    "water": ("water flowing in a stream", "waves breaking on rocks"),
    "weapon": ("a sword swing", "a musket gunshot"),
    "weather": ("steady rain falling", "a howling snowstorm"),
    "whoosh": ("a swoosh", "an arrow whizzing past"),
}
TASKS = {"drum": DRUM_PROMPTS, "family": FAMILY_PROMPTS, "effect": EFFECT_PROMPTS}
FREE = {"drum": FREE_DRUMS, "effect": FREE_EFFECTS}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder or bundled name (default: the bundled default, fast)")
    parser.add_argument("--vocoder", help="vocoder spec (default: the model's own, as in audiodiff sample)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per template prompt (FIRST, FIRST + 1, ...)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed of every prompt (another value: another draw, for run-to-run spread)")
    parser.add_argument("--free-seeds", type=int, default=3, help="seeds per free-phrased prompt (free_prompts.py)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: the model's own)")
    parser.add_argument("--guidance", type=float, help="guidance scale (default: the model's own)")
    parser.add_argument("--sampler", help="sampler (default: the model's own)")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    parser.add_argument("--data", type=Path, default=Path("data/oneshots"), help="folder with metadata.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("cache/oneshots"), help="its mel cache")
    parser.add_argument("--instruments", nargs="+", default=list(PITCH_INSTRUMENTS))
    parser.add_argument("--notes", nargs="+", default=list(PITCH_NOTES))
    parser.add_argument("--crepe-model", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--max-vocoded", type=int, default=48, help="real val clips per task sent through the vocoder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-audio", action="store_true", help="also write every generated sound to OUT/audio/")
    return parser.parse_args(argv)


def load_metadata(root: Path) -> dict[str, dict[str, Any]]:
    """``metadata.jsonl`` rows keyed by their relative audio path."""
    with open(root / "metadata.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row["path"]: row for row in rows}


class PromptSampler:
    """Generates (and optionally saves) one sound per (prompt, seed) with fixed sampling settings."""

    def __init__(self, pipe: Pipeline, args: argparse.Namespace) -> None:
        self.pipe, self.args, self.count, self.seconds = pipe, args, 0, 0.0

    def __call__(self, prompt: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio ``[samples]``, normalised log-mel ``[n_mels, frames]``) of one generated sound."""
        start = time.perf_counter()
        out = self.pipe(prompt=prompt, seed=seed, steps=self.args.steps, guidance=self.args.guidance,
                        duration=self.args.duration, sampler=self.args.sampler)
        self.seconds += time.perf_counter() - start
        self.count += 1
        if self.args.save_audio:
            from audiodiff.audio import save

            name = "".join(c if c.isalnum() else "_" for c in prompt)[:60]
            (self.args.out / "audio").mkdir(parents=True, exist_ok=True)
            save(self.args.out / "audio" / f"{name}_s{seed}.wav", out.audio, out.sample_rate, overwrite=True)
        return out.audio[0], out.mel[0]


# -------------------------------------------------------------------------------------------------- pitch


def pitch_row(audio: torch.Tensor, sample_rate: int, midi: int, crepe_model: str, **extra: Any) -> dict[str, Any]:
    """One pitch measurement: f0, cents error, hit and octave-free hit."""
    f0 = estimate_f0(audio, sample_rate, model=crepe_model)
    return {**extra, "midi": midi, "f0": f0, "cents": cents_error(f0, midi), "hit": is_hit(f0, midi),
            "hit_octave_free": is_hit(f0, midi, octave_free=True)}


def real_pitch_clips(meta: dict[str, dict[str, Any]], instruments: list[str], midis: set[int]) -> list[dict]:
    """Real clips of ``instruments``: train clips at the asked notes (the velocity nearest 80) and every val
    clip within the asked notes' range (the val split holds other notes: D#2, D#3, ...)."""
    best: dict[tuple[str, int], dict] = {}
    chosen = []
    for row in meta.values():
        name = row["source"].split(":", 1)[-1]
        if name not in instruments or row.get("pitch") is None:
            continue
        if row["split"] == "val":
            if min(midis) <= row["pitch"] <= max(midis):
                chosen.append(row)
        elif row["pitch"] in midis:
            key = (name, row["pitch"])
            if key not in best or abs(row["velocity"] - 80) < abs(best[key]["velocity"] - 80):
                best[key] = row
    return chosen + list(best.values())


def pitch_benchmark(gen: PromptSampler, meta: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Generated and real pitch measurements, with hit rates overall and per instrument."""
    notes = {note: note_to_midi(note) for note in args.notes}
    trained = defaultdict(set)  # instrument -> MIDI notes seen in training
    for row in meta.values():
        if row["split"] == "train" and row.get("pitch") is not None:
            trained[row["source"].split(":", 1)[-1]].add(row["pitch"])
    rate = gen.pipe.config.mel.sample_rate
    generated = []
    for instrument in args.instruments:
        for note, midi in notes.items():
            for seed in seeds(args, args.seeds):
                audio, _ = gen(f"{instrument}, note {note}", seed)
                generated.append(pitch_row(audio, rate, midi, args.crepe_model, instrument=instrument, note=note,
                                           seed=seed, in_training_range=midi in trained[instrument]))
    family_notes = defaultdict(set)  # family -> MIDI notes seen in training
    for row in meta.values():
        if row["split"] == "train" and row.get("pitch") is not None:
            family_notes[row.get("family")].add(row["pitch"])
    free = []
    for family, note, prompt in pitch_prompts():
        midi = note_to_midi(note)
        for seed in seeds(args, args.free_seeds):
            audio, _ = gen(prompt, seed)
            free.append(pitch_row(audio, rate, midi, args.crepe_model, instrument=family, note=note, seed=seed,
                                  prompt=prompt, in_training_range=midi in family_notes[family]))
    real = real_pitch_rows(gen.pipe, meta, set(notes.values()), args)
    rows = {"generated": generated, "generated_free": free, **real}
    return {name: summarise_pitch(r) for name, r in rows.items()}


def real_pitch_rows(pipe: Pipeline, meta: dict[str, dict[str, Any]], midis: set[int],
                    args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Pitch rows of real clips cut like the cache: train clips at the asked notes (also through the
    model's vocoder, the ceiling for generated audio) and the val clips (held-out notes)."""
    config = pipe.config.mel
    frames = int(json.loads((args.cache / "manifest.json").read_text())["frames"])
    real: dict[str, list[dict[str, Any]]] = {"real_train": [], "real_train_vocoded": [], "real_val": []}
    for row in real_pitch_clips(meta, args.instruments, midis):
        clips, _ = load_clips(args.data / row["path"], config, clip_samples(config, frames))
        if not clips:
            continue
        audio, info = clips[0].audio, {"instrument": row["source"].split(":")[-1], "path": row["path"]}
        real[f"real_{row['split']}"].append(pitch_row(audio[0], config.sample_rate, row["pitch"],
                                                      args.crepe_model, **info))
        if row["split"] == "train":
            with torch.inference_mode():
                vocoded = pipe.vocoder(denormalize(reanalyse(audio, config.sample_rate, config, frames), config),
                                       config)
            real["real_train_vocoded"].append(pitch_row(vocoded[0], config.sample_rate, row["pitch"],
                                                        args.crepe_model, **info))
    return real


def summarise_pitch(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Hit rates overall and per instrument for a list of :func:`pitch_row` results."""

    def stats(subset: list[dict[str, Any]]) -> dict[str, Any]:
        errors = [abs(r["cents"]) for r in subset if not math.isnan(r["cents"])]
        return {"n": len(subset), "hit_rate": hit_rate([r["hit"] for r in subset]),
                "octave_free_hit_rate": hit_rate([r["hit_octave_free"] for r in subset]),
                "unvoiced": sum(math.isnan(r["f0"]) for r in subset),
                "voiced_rate": hit_rate([not math.isnan(r["f0"]) for r in subset]),
                "median_abs_cents": float(np.median(errors)) if errors else math.nan}

    by_instrument = defaultdict(list)
    for r in rows:
        by_instrument[r["instrument"]].append(r)
    summary = {"overall": stats(rows), "per_instrument": {k: stats(v) for k, v in by_instrument.items()},
               "rows": rows}
    if rows and "in_training_range" in rows[0]:
        summary["in_training_range"] = stats([r for r in rows if r["in_training_range"]])
    return summary


# ----------------------------------------------------------------------------------------------- category


def category_of(item: dict[str, Any], task: str, labels: list[str], meta: dict[str, dict[str, Any]]) -> str | None:
    """The drum label, sound-effect category or melodic family of a cache item, or ``None`` if it is
    outside the task's classes."""
    value = meta.get(item["source"], {}).get("family") if task == "family" else labels[item["label"]]
    return value if value in TASKS[task] else None


def train_classifier(features: np.ndarray, targets: list[str]):
    """Extra-trees classifier (balanced classes, fixed seed) on :func:`mel_features` rows."""
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=300, class_weight="balanced", random_state=0, n_jobs=1).fit(
        features, targets)


def accuracy(clf, features: np.ndarray, targets: list[str]) -> tuple[float, list[str]]:
    predicted = [str(p) for p in clf.predict(features)]
    return float(np.mean([p == t for p, t in zip(predicted, targets, strict=True)])), predicted


def category_benchmark(gen: PromptSampler, meta: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Per task: classifier accuracy on real val mels, on real val sent through the vocoder, and on generated
    clips; for drums and effects also the Fréchet distance of the generated clips to the real val clips
    (:func:`frechet_to_real`). A task the cache has no clips of (effects in a one-shot cache) is left out."""
    manifest = json.loads((args.cache / "manifest.json").read_text())
    mels = np.load(args.cache / "mels.npy", mmap_mode="r")
    config, results = gen.pipe.config.mel, {}
    # Real and generated clips are compared over the generated length (the cache's rows may be longer).
    frames = min(int(manifest["frames"]), training_frames(config, args.duration))
    for task, prompts in TASKS.items():
        split = {"train": ([], []), "val": ([], [])}
        for i, item in enumerate(manifest["items"]):
            target = category_of(item, task, manifest["labels"], meta)
            if target is not None and item["split"] in split:
                split[item["split"]][0].append(i)
                split[item["split"]][1].append(target)
        (train_idx, train_y), (val_idx, val_y) = split["train"], split["val"]
        if not train_idx or not val_idx:
            continue
        train_feats, val_feats = mel_features(mels[train_idx][..., :frames]), mel_features(mels[val_idx][..., :frames])
        clf = train_classifier(train_feats, train_y)
        real_acc, _ = accuracy(clf, val_feats, val_y)
        pick = np.random.default_rng(0).permutation(len(val_idx))[: args.max_vocoded]
        val_mel = torch.from_numpy(np.asarray(mels[[val_idx[i] for i in pick]][..., :frames], dtype=np.float32))
        with torch.inference_mode():
            audio = gen.pipe.vocoder(denormalize(val_mel, config), config)
        vocoded_acc, _ = accuracy(clf, mel_features(reanalyse(audio, config.sample_rate, config, frames)),
                                  [val_y[i] for i in pick])
        results[task] = {"classes": list(prompts), "n_train": len(train_y), "n_val": len(val_y),
                         "real_val": real_acc, "real_val_vocoded": vocoded_acc, "n_vocoded": len(pick),
                         **classify_generated(gen, clf, prompts, seeds(args, args.seeds), frames)}
        if task in FREE:
            results[task]["free"] = classify_generated(gen, clf, FREE[task], seeds(args, args.free_seeds), frames)
            made = np.concatenate([results[task].pop("features"), results[task]["free"].pop("features")])
            results[task]["frechet"] = frechet_to_real(made, train_feats, val_feats)
        results[task].pop("features", None)
    return results


def frechet_to_real(made: np.ndarray, train: np.ndarray, val: np.ndarray) -> dict[str, Any]:
    """Fréchet distance (8 principal components of the real clips' features) from generated clips
    ``made [n, d]`` to the real val clips, beside the floor: ``n`` real train clips (a fixed random
    subset) to the same val clips."""
    pick = np.random.default_rng(0).permutation(len(train))[: len(made)]
    project = Projection(np.concatenate([train[pick], val]))
    return {"generated": frechet(project(made), project(val)), "floor": frechet(project(train[pick]), project(val)),
            "n_generated": len(made), "n_val": len(val)}


def seeds(args: argparse.Namespace, count: int) -> range:
    """The seeds every prompt is generated with: ``count`` from ``--first-seed``."""
    return range(args.first_seed, args.first_seed + count)


def classify_generated(gen: PromptSampler, clf, prompts: dict[str, tuple[str, ...]], seeds: range,
                       frames: int) -> dict[str, Any]:
    """The classifier's accuracy on sounds generated from ``prompts`` (target -> phrasings), at each of ``seeds``."""
    config = gen.pipe.config.mel
    rows, audio_feats, mel_feats = [], [], []
    for target, texts in prompts.items():
        for prompt in texts:
            for seed in seeds:
                audio, mel = gen(prompt, seed)
                audio_feats.append(mel_features(reanalyse(audio[None], config.sample_rate, config, frames)))
                mel_feats.append(mel_features(fit_frames(mel[None], frames, silence_level(config))))
                rows.append({"prompt": prompt, "seed": seed, "target": target})
    targets = [r["target"] for r in rows]
    audio_acc, audio_pred = accuracy(clf, np.concatenate(audio_feats), targets)
    mel_acc, mel_pred = accuracy(clf, np.concatenate(mel_feats), targets)
    for r, a, m in zip(rows, audio_pred, mel_pred, strict=True):
        r.update(predicted_audio=a, predicted_mel=m)
    return {"generated_audio": audio_acc, "generated_mel": mel_acc, "n_generated": len(rows), "rows": rows,
            "features": np.concatenate(audio_feats)}


# -------------------------------------------------------------------------------------------------- speed


def speed_benchmark(pipe: Pipeline, args: argparse.Namespace, repeats: int = 2) -> dict[str, Any]:
    """Seconds and real-time factor of one default generation (warm-up first, then best of ``repeats``)."""

    def once() -> float:
        start = time.perf_counter()
        pipe(prompt="a punchy electronic kick drum", seed=0, steps=args.steps, guidance=args.guidance,
             duration=args.duration, sampler=args.sampler)
        return time.perf_counter() - start

    once()
    best = min(once() for _ in range(repeats))
    mel = pipe(prompt="a snare drum", seed=0, steps=1, duration=args.duration).mel
    start = time.perf_counter()
    with torch.inference_mode():
        pipe.vocoder(denormalize(mel, pipe.config.mel), pipe.config.mel)
    vocoder = time.perf_counter() - start
    return {"seconds": best, "rtf": best / args.duration, "vocoder_seconds": vocoder, "threads": args.threads,
            "steps": args.steps, "guidance": args.guidance, "sampler": args.sampler, "duration": args.duration}


# ------------------------------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.0f}%"


def markdown(result: dict[str, Any]) -> str:
    """The report's tables."""
    pitch, lines = result["pitch"], []
    lines += ["### Pitch (CREPE median f0 within 50 cents of the asked note)", "",
              "| instrument | generated hit | octave-free hit | median abs cents | unvoiced | "
              "notes outside its training range | real train clips, same notes | same clips via vocoder | "
              "real val clips (held-out notes) |",
              "|---|---|---|---|---|---|---|---|---|"]
    gen_rows = pitch["generated"]["rows"]
    for name, s in [*pitch["generated"]["per_instrument"].items(), ("**all**", pitch["generated"]["overall"])]:
        inst = [r for r in gen_rows if name == "**all**" or r["instrument"] == name]
        outside = sorted({r["note"] for r in inst if not r["in_training_range"]}, key=note_to_midi)
        real = [pitch[k]["overall"] if name == "**all**" else pitch[k]["per_instrument"].get(name, {"n": 0})
                for k in ("real_train", "real_train_vocoded", "real_val")]
        cells = [f"{_pct(r['hit_rate'])} of {r['n']}" if r["n"] else "-" for r in real]
        lines.append(f"| {name} | {_pct(s['hit_rate'])} of {s['n']} | {_pct(s['octave_free_hit_rate'])} | "
                     f"{s['median_abs_cents']:.0f} | {s['unvoiced']} | {' '.join(outside) or '-'} | "
                     f"{' | '.join(cells)} |")
    if "in_training_range" in pitch["generated"]:
        s = pitch["generated"]["in_training_range"]
        lines.append(f"| all, notes in training range | {_pct(s['hit_rate'])} of {s['n']} | "
                     f"{_pct(s['octave_free_hit_rate'])} | {s['median_abs_cents']:.0f} | {s['unvoiced']} | | | | |")
    free = pitch["generated_free"]
    lines += ["", "### Pitch, free-phrased prompts (benchmarks/free_prompts.py, held out of the captions)", "",
              "| family | prompt (note varies) | hit | octave-free hit | voiced | median abs cents |",
              "|---|---|---|---|---|---|"]
    for name, s in [*free["per_instrument"].items(), ("**all**", free["overall"])]:
        prompt = next((r["prompt"] for r in free["rows"] if r["instrument"] == name), "")
        lines.append(f"| {name} | {prompt} | {_pct(s['hit_rate'])} of {s['n']} | {_pct(s['octave_free_hit_rate'])} "
                     f"| {_pct(s['voiced_rate'])} | {s['median_abs_cents']:.0f} |")
    lines += ["", "### Category (extra-trees classifier trained on real train-split cache mels)", "",
              "| task | classes | real val (cache mels) | real val via vocoder (re-analysed audio) | "
              "generated: re-analysed audio | generated: model mel (no vocoder) |", "|---|---|---|---|---|---|"]
    for task, c in result["category"].items():
        lines.append(f"| {task} | {len(c['classes'])} | {_pct(c['real_val'])} of {c['n_val']} | "
                     f"{_pct(c['real_val_vocoded'])} of {c['n_vocoded']} | {_pct(c['generated_audio'])} of "
                     f"{c['n_generated']} | {_pct(c['generated_mel'])} of {c['n_generated']} |")
        if "free" in c:
            f = c["free"]
            lines.append(f"| {task}, free-phrased | {len(c['classes'])} | | | {_pct(f['generated_audio'])} of "
                         f"{f['n_generated']} | {_pct(f['generated_mel'])} of {f['n_generated']} |")
    lines += ["", "### Fréchet distance to the real val clips (8 principal components of the mel features)", "",
              "| task | generated (template + free-phrased) | real train clips, same number (floor) | ratio |",
              "|---|---|---|---|"]
    for task, c in result["category"].items():
        if "frechet" in c:
            d = c["frechet"]
            lines.append(f"| {task} | {d['generated']:.2f} ({d['n_generated']} sounds) | {d['floor']:.2f} | "
                         f"{d['generated'] / d['floor']:.1f}x |")
    lines += ["", "| prompt | target | predicted from audio (per seed) | predicted from mel (per seed) |",
              "|---|---|---|---|"]
    for c in result["category"].values():
        by_prompt = defaultdict(list)
        for r in c["rows"] + c.get("free", {}).get("rows", []):
            by_prompt[(r["prompt"], r["target"])].append(r)
        for (prompt, target), rs in by_prompt.items():
            lines.append(f"| {prompt} | {target} | {', '.join(r['predicted_audio'] for r in rs)} | "
                         f"{', '.join(r['predicted_mel'] for r in rs)} |")
    s = result["speed"]
    lines += ["", "### Speed (model load excluded, best of 2)", "",
              "| sampler | steps | guidance | audio (s) | threads | generate (s) | RTF | of which vocoder (s) |",
              "|---|---|---|---|---|---|---|---|",
              f"| {s['sampler']} | {s['steps']} | {s['guidance']:g} | {s['duration']:g} | {s['threads']} | "
              f"{s['seconds']:.2f} | {s['rtf']:.2f} | {s['vocoder_seconds']:.2f} |"]
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """NaN -> None, recursively, so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    missing = [name for name in ("torchcrepe", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(f"quality.py needs {' and '.join(missing)}: pip install -e '.[bench]'")
    try:
        pipe = Pipeline.from_pretrained(args.model, vocoder=args.vocoder)
    except (ModelFormatError, ValueError) as err:
        raise SystemExit(f"quality.py: {err}") from err
    d = pipe.config.defaults  # unset sampling settings are the model's own, as in audiodiff sample
    args.steps, args.sampler = args.steps or d.steps, args.sampler or d.sampler
    args.guidance = d.guidance if args.guidance is None else args.guidance
    if pipe.config.conditioner.kind != "text":
        raise SystemExit(f"quality.py: {args.model} is class-conditioned; this benchmark needs a text model")
    meta, gen, timing = load_metadata(args.data), PromptSampler(pipe, args), {}
    leaks = leaked(all_prompts(), dataset_captions(args.data))
    if leaks:
        raise SystemExit(f"quality.py: free-phrased prompts appear in {args.data}'s captions: {leaks}")
    result: dict[str, Any] = {"model": str(args.model), "model_hash": pipe.model_hash, "args": {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    for name, run in (("pitch", lambda: pitch_benchmark(gen, meta, args)),
                      ("category", lambda: category_benchmark(gen, meta, args)),
                      ("speed", lambda: speed_benchmark(pipe, args))):
        t = time.perf_counter()
        result[name] = run()
        timing[name] = time.perf_counter() - t
        print(f"[quality] {name} done in {timing[name]:.0f} s", file=sys.stderr, flush=True)
    result["runtime_s"] = {**timing, "generation": gen.seconds, "sounds": gen.count,
                           "total": time.perf_counter() - start}
    report = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.json").write_text(json.dumps(_clean(result), indent=1) + "\n")
    (args.out / "quality.md").write_text(report + "\n")
    print(report)
    print(f"\n{gen.count} sounds generated in {gen.seconds:.0f} s; total {result['runtime_s']['total']:.0f} s; "
          f"wrote {args.out / 'quality.json'}")


if __name__ == "__main__":
    main()
