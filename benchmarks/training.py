"""Training throughput on this machine: samples/s, peak memory, and time waiting for data vs. in the step.

Usage: python benchmarks/training.py --cache cache/oneshots [--steps 20] [--threads 2]
       [--recipes recipes/oneshots-1d.yaml recipes/captions-2d.yaml] [--accelerator gpu]

On a GPU the step runs in the precision ``audiodiff train`` picks (bf16 mixed where supported) and
the peak GPU memory is reported too.

Each recipe's model is trained for ``--steps`` optimizer steps (after 3 warm-up steps) on the given
cache, in its own subprocess so that peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml


class Timer:
    """Splits wall time into waiting for the next batch and running the training step."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.wait, self.step, self.batches, self.samples = warmup, 0.0, 0.0, 0, 0
        self._end: float | None = None
        self._start = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = time.perf_counter()
        if self._end is not None and self.batches >= self.warmup:
            self.wait += self._start - self._end

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._end = time.perf_counter()
        if self.batches >= self.warmup:
            self.step += self._end - self._start
            self.samples += batch["mel"].shape[0]
        self.batches += 1


def child(recipe_path: str, args: argparse.Namespace) -> dict:
    import lightning as L

    from audiodiff.data.datamodule import AudioDataModule
    from audiodiff.denoiser import DiffusionConfig
    from audiodiff.models.config import UNetConfig
    from audiodiff.training.cli import default_precision
    from audiodiff.training.module import DiffusionModule

    torch.set_num_threads(args.threads)
    recipe = yaml.safe_load(Path(recipe_path).read_text())
    model_cfg, data_cfg = recipe["model"], recipe["data"]
    module = DiffusionModule(unet=UNetConfig(**model_cfg["unet"]),
                             diffusion=DiffusionConfig(**model_cfg.get("diffusion", {})))
    data = AudioDataModule(cache=args.cache, batch_size=data_cfg.get("batch_size", 16),
                           num_workers=data_cfg.get("num_workers", 0))
    timer = Timer(warmup=3)
    callback = type("TimerCallback", (L.Callback,), {
        "on_train_batch_start": lambda self, *a: timer.on_train_batch_start(*a),
        "on_train_batch_end": lambda self, *a: timer.on_train_batch_end(*a)})()
    gpu = args.accelerator == "gpu"
    trainer = L.Trainer(accelerator=args.accelerator, devices=1, max_steps=args.steps + 3, logger=False,
                        precision=default_precision() if gpu else "32-true",
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[callback])
    trainer.fit(module, data)
    params = sum(p.numel() for p in module.denoiser.network.parameters())
    total = timer.wait + timer.step
    return {"recipe": recipe_path, "params": params, "batch": data_cfg.get("batch_size", 16),
            "samples_per_s": timer.samples / total, "step_s": timer.step / args.steps,
            "wait_fraction": timer.wait / total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if gpu else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="a cache made by `audiodiff prepare` (2 s clips)")
    parser.add_argument("--recipes", nargs="+", default=["recipes/oneshots-1d.yaml", "recipes/captions-2d.yaml"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    device = torch.cuda.get_device_name() if args.accelerator == "gpu" else f"{args.threads} threads"
    print(f"machine: {platform.machine()}, {device}, torch {torch.__version__}; "
          f"cache {args.cache}; {args.steps} timed steps after 3 warm-up steps\n")
    print("| recipe | params | batch | samples/s | step (s) | waiting for data | peak RSS (MB) | peak GPU (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for recipe in args.recipes:
        cmd = [sys.executable, __file__, "--child", recipe, "--cache", args.cache, "--steps", str(args.steps),
               "--threads", str(args.threads), "--accelerator", args.accelerator]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"| {recipe} | failed: {done.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        gpu_mb = "-" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        print(f"| {recipe} | {r['params'] / 1e6:.1f}M | {r['batch']} | {r['samples_per_s']:.1f} | {r['step_s']:.2f} "
              f"| {100 * r['wait_fraction']:.1f}% | {r['peak_rss_mb']:.0f} | {gpu_mb} |")


if __name__ == "__main__":
    main()
