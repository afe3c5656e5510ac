"""Time from clicking Generate in the studio to a playable result, beside the CLI for the same request.

Usage: python benchmarks/studio.py [--model DIR] [--prompt TEXT] [--runs 3]

Three numbers for one request (the model's default duration and settings, one sound):

- studio: headless Chromium (Debian's ``chromium``, through Playwright) clicks Generate on a studio
  started by ``python -m audiodiff.studio``; the clock stops when the result's audio element has
  loaded its file (``readyState >= 2``). The model is loaded once, before the first click.
- CLI: wall time of ``audiodiff sample --prompt ... --out tmp.wav`` in a fresh process (Python
  start, imports, model load, generation, writing the file).
- Python: ``pipe(prompt)`` alone, the model loaded beforehand (what both spend generating).

Each is the median of ``--runs`` runs after one warm-up run (the first encode loads the text encoder).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_studio(model: str | None, prompt: str, runs: int) -> list[float]:
    """Seconds from each Generate click to a loaded audio element (after one warm-up click)."""
    from playwright.sync_api import expect, sync_playwright

    port, history = free_port(), tempfile.mkdtemp(prefix="studio-bench-")
    argv = [sys.executable, "-m", "audiodiff.studio", "--port", str(port), "--history", history]
    server = subprocess.Popen([*argv, *(["--model", model] if model else [])], stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:
            if "serving at" in line:
                break
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(300_000)
            page.goto(f"http://127.0.0.1:{port}")
            page.locator("#prompt textarea").fill(prompt)
            page.locator("#settings .label-wrap").click()  # open the settings to set each run's seed
            times = []
            for i in range(runs + 1):
                seed = page.locator("#seed input")
                seed.fill(str(i))  # a new sound each time, so the page has a new file to load
                start = time.perf_counter()
                page.locator("#generate-button").click()
                expect(page.locator("#result-0")).to_contain_text(f"seed {i}", timeout=300_000)
                player = page.locator("#result-audio-0 [data-testid^=waveform] audio")
                player.wait_for(state="attached")
                page.wait_for_function("a => a.readyState >= 2", arg=player.element_handle(), timeout=300_000)
                times.append(time.perf_counter() - start)
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return times[1:]


def time_cli(model: str | None, prompt: str, runs: int) -> list[float]:
    """Wall seconds of ``audiodiff sample`` in a fresh process (after one warm-up run)."""
    exe = Path(sys.executable).with_name("audiodiff")
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):
            out = Path(tmp) / f"tmp{i}.wav"
            argv = [str(exe), "sample", "--prompt", prompt, "--seed", str(i), "--out", str(out), "--quiet"]
            start = time.perf_counter()
            subprocess.run([*argv, *(["--model", model] if model else [])], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return times[1:]


def time_python(model: str | None, prompt: str, runs: int) -> list[float]:
    """Seconds of ``pipe(prompt)`` with the model already loaded (after one warm-up call)."""
    from audiodiff.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(model)
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        pipe(prompt, seed=i)
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--prompt", default="a deep cinematic impact with a long metallic tail")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [("studio: click -> playable audio", time_studio(args.model, args.prompt, args.runs)),
            ("CLI: audiodiff sample (fresh process)", time_cli(args.model, args.prompt, args.runs)),
            ("Python: pipe(prompt), model loaded", time_python(args.model, args.prompt, args.runs))]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; model: {args.model or 'bundled'}; "
          f"median of {args.runs} runs after a warm-up")
    print(f"| {'what':<40} | median s | runs (s) |")
    print(f"|{'-' * 42}|---------:|----------|")
    for name, times in rows:
        print(f"| {name:<40} | {statistics.median(times):8.2f} | {', '.join(f'{t:.2f}' for t in times)} |")


if __name__ == "__main__":
    main()
