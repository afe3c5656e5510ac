"""How fast ``audiodiff finetune`` adapts the bundled model to a folder of sounds, and what it forgets.

Usage: python benchmarks/finetune.py --sfx data/sfx --oneshots data/oneshots --label footsteps
       [--minutes 5 10 20] [--seeds 3] [--out runs/finetune-bench]

The folder is one category of the sound-effects dataset (``recipes/sfx/``): its train split is
what the user gives ``finetune`` (captions from the dataset's metadata), its validation split --
whole source files the run never sees -- is the target. After each budget (one run, resumed:
5, then 10, then 20 minutes in all) the model generates one sound per held-out clip from that
clip's caption (``--seeds`` seeds each) and is scored by

* the Fréchet distance between the features (:func:`quality_metrics.mel_features`, projected on
  the 8 principal components of the real clips) of the generated sounds and of the held-out
  clips, beside the floor: the same distance between real train and held-out clips;
* classifier agreement: the share of generated sounds that an extra-trees classifier trained on
  the whole effects train split (every category) calls the folder's category, beside its
  accuracy on the held-out clips themselves;
* forgetting: the Fréchet distance of generated drum hits (``quality.DRUM_PROMPTS``) to the real
  held-out drum clips of the one-shot dataset, before and after.

Training time is wall-clock: on a machine shared with other work the same budget makes fewer steps
(the table reports the steps).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import DRUM_PROMPTS  # noqa: E402
from quality_metrics import Projection, frechet, mel_features, reanalyse  # noqa: E402

from audiodiff.audio import load  # noqa: E402
from audiodiff.pipeline import BUNDLED_MODELS, Pipeline  # noqa: E402

FRAMES = 176  # 2 s at the bundled model's mel settings
DRUMS = ("kick", "snare", "tom", "ride", "closed hihat", "open hihat", "pedal hihat", "crash", "clap", "ride bell")


def features(paths: list[Path], pipe: Pipeline) -> np.ndarray:
    config = pipe.config.mel
    rows = [reanalyse(load(p, config.sample_rate)[0], config.sample_rate, config, FRAMES) for p in paths]
    return mel_features(torch.cat(rows))


def generated(pipe: Pipeline, prompts: list[str], seeds: int) -> np.ndarray:
    config = pipe.config.mel
    mels = []
    with torch.inference_mode():
        for i, prompt in enumerate(prompts):
            for seed in range(seeds):
                audio = pipe(prompt, seed=1000 * seed + i).audio
                mels.append(reanalyse(audio, config.sample_rate, config, FRAMES))
    return mel_features(torch.cat(mels))


def make_folder(sfx: Path, label: str, out: Path) -> tuple[Path, list[dict], list[dict], list[dict]]:
    """A dataset folder of ``label``'s train clips (links and a metadata file); all rows by split."""
    rows = [json.loads(line) for line in (sfx / "metadata.jsonl").read_text().splitlines() if line.strip()]
    mine = [r for r in rows if r["label"] == label]
    train, val = [r for r in mine if r["split"] == "train"], [r for r in mine if r["split"] == "val"]
    folder = out / f"{label}-train"
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for r in train:
        link = folder / r["path"]
        if not link.exists():
            link.symlink_to((sfx / r["path"]).resolve())
    lines = [json.dumps({"path": r["path"], "caption": r["caption"], "captions": r["captions"]}) for r in train]
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder, train, val, [r for r in rows if r["split"] == "train"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sfx", type=Path, default=Path("data/sfx"))
    parser.add_argument("--oneshots", type=Path, default=Path("data/oneshots"))
    parser.add_argument("--label", default="footsteps")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/finetune-bench"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sklearn.ensemble import ExtraTreesClassifier

    folder, train, val, all_train = make_folder(args.sfx, args.label, args.out)
    base = Pipeline.from_pretrained("full")  # what audiodiff finetune starts from
    real_train = features([args.sfx / r["path"] for r in train], base)
    real_val = features([args.sfx / r["path"] for r in val], base)
    project = Projection(np.concatenate([real_train, real_val]))
    floor = frechet(project(real_train), project(real_val))
    clf_rows = all_train[::2]  # every other effects train clip: all categories, half the decoding
    clf = ExtraTreesClassifier(n_estimators=300, class_weight="balanced", random_state=0, n_jobs=1).fit(
        features([args.sfx / r["path"] for r in clf_rows], base), [r["label"] for r in clf_rows])
    real_agreement = float(np.mean(clf.predict(real_val) == args.label))

    drums_meta = [json.loads(line) for line in (args.oneshots / "metadata.jsonl").read_text().splitlines()
                  if line.strip()]
    drum_val = [r for r in drums_meta if r.get("split") == "val" and r.get("label") in DRUMS]
    real_drums = features([args.oneshots / r["path"] for r in drum_val], base)
    drum_project = Projection(real_drums)
    drum_prompts = [p for prompts in DRUM_PROMPTS.values() for p in prompts]
    prompts = [r["caption"] for r in val]

    def score(pipe: Pipeline) -> dict[str, float]:
        made = generated(pipe, prompts, args.seeds)
        drums = generated(pipe, drum_prompts, args.seeds)
        return {"fd": frechet(project(made), project(real_val)),
                "agreement": float(np.mean(clf.predict(made) == args.label)),
                "drum_fd": frechet(drum_project(drums), drum_project(real_drums))}

    results = [{"minutes": 0, "steps": 0, **score(base)}]
    model = args.out / "model"
    for minutes in args.minutes:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("audiodiff")), "finetune", str(folder), "--out", str(model),
                        "--minutes", str(minutes), "--overwrite", "--quiet"], check=True)
        ckpt = torch.load(args.out / "model.run" / "checkpoints" / "last.ckpt", weights_only=True)
        results.append({"minutes": minutes, "steps": ckpt["global_step"], "wall_s": time.perf_counter() - start,
                        **score(Pipeline.from_pretrained(model))})
        print(json.dumps(results[-1]), flush=True)
    print(f"\n## finetune on {args.label}: {len(train)} train clips, {len(val)} held-out clips "
          f"({len(prompts) * args.seeds} generated), base {BUNDLED_MODELS['full'].name}\n")
    print(f"real train vs held-out FD (floor): {floor:.2f}; classifier on the held-out clips: "
          f"{real_agreement:.0%} {args.label}\n")
    print("| minutes | steps | FD to held-out | classifier says " + args.label + " | drum FD (forgetting) |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['minutes']:g} | {r['steps']} | {r['fd']:.2f} | {r['agreement']:.0%} | {r['drum_fd']:.2f} |")


if __name__ == "__main__":
    main()
