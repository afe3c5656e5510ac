"""Peak memory of ``audiodiff prepare`` against dataset size.

Writes synthetic datasets of short clips (0.25-1 s decaying tones and noise bursts at 22.05 kHz)
under ``--work``: class-folder layouts of each ``--clips`` size (no text encoder) and, with
``--text N``, a metadata.jsonl layout of N clips with distinct captions (runs the packaged
sentence encoder). Each prepare runs in a fresh Python process, so its peak RSS (``VmHWM``) is its
own; the table gives the clips, the seconds prepare took, the peak RSS and the RSS growth
during prepare (peak minus the RSS just before it, after the imports).

    python benchmarks/prepare_memory.py --clips 500 5000 --text 300
    # against other code, e.g. an older commit (runs alternate, so both see the same machine load):
    git archive COMMIT audiodiff | tar -x -C /tmp/old && \
        python benchmarks/prepare_memory.py --clips 500 5000 --code old=/tmp/old --code new=.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RATE = 22050
CLASSES = ("kick", "snare", "hat", "tone")


def clip(rng: np.random.Generator, kind: int) -> np.ndarray:
    """A 0.25-1 s mono clip: a decaying sine (even kinds) or noise burst (odd kinds)."""
    n = int(rng.uniform(0.25, 1.0) * RATE)
    t = np.arange(n) / RATE
    decay = np.exp(-t / rng.uniform(0.05, 0.3))
    source = np.sin(2 * np.pi * rng.uniform(50, 2000) * t) if kind % 2 == 0 else rng.uniform(-1, 1, n)
    return (0.7 * decay * source).astype(np.float32)


def make_classes(root: Path, clips: int) -> Path:
    """``clips`` WAVs spread over class folders (kept between runs)."""
    import soundfile

    done = root / ".done"
    if done.is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(clips)
    for i in range(clips):
        label = CLASSES[i % len(CLASSES)]
        (root / label).mkdir(parents=True, exist_ok=True)
        soundfile.write(root / label / f"{label}_{i:05d}.wav", clip(rng, i), RATE)
    done.write_text("")
    return root


def make_text(root: Path, clips: int) -> Path:
    """``clips`` WAVs with a metadata.jsonl of distinct captions (kept between runs)."""
    import soundfile

    done = root / ".done"
    if done.is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(clips + 1)
    lines = []
    for i in range(clips):
        soundfile.write(root / "audio" / f"{i:05d}.wav", clip(rng, i), RATE)
        caption = f"a {'bright' if i % 2 else 'dark'} {CLASSES[i % 4]} sound number {i}"
        lines.append(json.dumps({"path": f"audio/{i:05d}.wav", "caption": caption}))
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    done.write_text("")
    return root


def status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB, from /proc (Linux). Unlike
    ``ru_maxrss``, the peak is this program's own: it does not count the parent's memory at fork."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def child(data: str, out: str, conditioning: str) -> None:
    """Run one prepare in this process and print its timing and memory as JSON."""
    from audiodiff.conditioning import ConditionerConfig
    from audiodiff.data.cache import prepare
    from audiodiff.spectrogram import MelConfig

    cond = ConditionerConfig(kind="text") if conditioning == "text" else None
    if cond is not None:
        from audiodiff.conditioning import load_sentence_encoder

        load_sentence_encoder(cond.encoder)  # the encoder's own size is not the cache's doing
    before = status_mb("VmRSS")
    start = time.perf_counter()
    report = prepare(data, out, mel_config=MelConfig(), seconds=2.0, conditioner_config=cond, progress=False)
    seconds = time.perf_counter() - start
    peak = status_mb("VmHWM")
    print(json.dumps({"items": report.items, "seconds": seconds, "peak_mb": peak, "growth_mb": peak - before}))


def measure(data: Path, out: Path, conditioning: str, pythonpath: str) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(pythonpath).resolve()), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, __file__, "--child", str(data), str(out), conditioning],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"prepare failed on {data}:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[500, 5000], help="class-folder dataset sizes")
    parser.add_argument("--text", type=int, default=0, help="clips of a text (metadata) dataset; 0: none")
    parser.add_argument("--work", default="/tmp/audiodiff-prepare-memory", help="datasets and caches go here")
    parser.add_argument("--code", action="append", metavar="LABEL=FOLDER",
                        help="import audiodiff from FOLDER (repeat to compare; default: this checkout)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.work)
    runs = [("classes", n, make_classes(work / f"classes-{n}", n)) for n in args.clips]
    if args.text:
        runs.append(("text", args.text, make_text(work / f"text-{args.text}", args.text)))
    codes = [c.partition("=")[::2] for c in args.code or [f"this={Path(__file__).parents[1]}"]]
    print(f"{'code':<6} {'layout':<8} {'clips':>6} {'seconds':>8} {'peak RSS MB':>12} {'growth MB':>10}")
    for layout, n, data in runs:
        for label, folder in codes:
            row = measure(data, work / f"cache-{layout}-{n}", "text" if layout == "text" else "class", folder)
            print(f"{label:<6} {layout:<8} {n:>6} {row['seconds']:>8.1f} {row['peak_mb']:>12.0f} "
                  f"{row['growth_mb']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
