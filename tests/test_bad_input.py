"""Every bad input to the ``audiodiff`` command: exit code 2, one line on stderr naming the argument,
no traceback, nothing written, and no model loaded or sound generated when the arguments alone are wrong."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from audiodiff.cli import main
from audiodiff.operations import core
from audiodiff.pipeline import Pipeline


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a hash of its bytes (folders: "dir")."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def refused(argv: list[str], root: Path, capsys: pytest.CaptureFixture[str], *names: str) -> str:
    """Run ``audiodiff argv``; check it is refused as the project rule says; return the error line."""
    before = snapshot(root)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert out == ""
    assert err.startswith("audiodiff: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    assert snapshot(root) == before, "something was written"
    return err


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command loads a model or starts generating."""

    def loaded(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(Pipeline, "from_pretrained", loaded)


@pytest.fixture
def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def generated(*args, **kwargs):
        raise AssertionError("generation started before the arguments were checked")

    monkeypatch.setattr(core, "denoise", generated)


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--device", "potato"], ["--device 'potato'", "not a torch device"]),
        (["--device", "meta"], ["--device meta"]),
        (["--device", "cuda:x"], ["--device 'cuda:x'"]),
        (["--guidance", "nan"], ["--guidance", "finite", "nan"]),
        (["--guidance", "inf"], ["--guidance", "inf"]),
        (["--guidance=-inf"], ["--guidance"]),
        (["--guidance", "-2"], ["--guidance must be a finite number >= 0"]),
        (["--seed", "-1"], ["--seed must be an integer in 0..9223372036854775807", "-1"]),
        (["--seed", str(2**63)], ["--seed", str(2**63)]),
        (["--seed", str(2**64)], ["--seed"]),
        (["--seed", str(2**63 - 2), "--num", "3"], ["--seed must be an integer in 0..9223372036854775805",
                                                   "seed+i", "3 sounds"]),
        (["--seed", "1.5"], ["--seed", "invalid int value"]),
        (["--duration", "nan"], ["--duration", "(0, 600]"]),
        (["--duration", "inf"], ["--duration"]),
        (["--duration", "0"], ["--duration"]),
        (["--duration", "-1"], ["--duration"]),
        (["--duration", "601"], ["--duration", "601"]),
        (["--steps", "0"], ["--steps must be an integer in 1..1000"]),
        (["--steps", "-3"], ["--steps"]),
        (["--steps", "100000"], ["--steps", "100000"]),
        (["--steps", "many"], ["--steps", "invalid int value: 'many'"]),
        (["--num", "0"], ["--num must be an integer in 1..1000"]),
        (["--num", "100000"], ["--num"]),
        (["--sampler", "nope"], ["--sampler nope is unknown", "dpmpp_2m"]),
        (["--format", "mp3"], ["--format", "invalid choice"]),
        (["--out", "x.mp3"], ["--out x.mp3", "cannot write .mp3"]),
        (["--out", "x.m4a"], ["--out x.m4a"]),
        (["--out", "existing.wav/x.wav"], ["--out existing.wav/x.wav", "existing.wav is a file"]),
        (["--out", "existing.wav/sub/"], ["existing.wav is a file"]),
        (["--out", "existing.wav"], ["existing.wav exists; pass --overwrite"]),
        (["--out", "notes.txt"], ["--out notes.txt is a file without an audio suffix"]),
        (["--out", "k.flac", "--format", "wav"], ["--out k.flac", "--format is wav"]),
        (["--num", "2", "--seed", "3", "--out", "out"], ["out/kick_4.json exists"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_sample_arguments_are_refused_before_loading(extra, names, tmp_path, capsys, monkeypatch,
                                                         no_model) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing.wav").write_bytes(b"precious")
    (tmp_path / "notes.txt").write_text("notes")
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "kick_4.json").write_text("{}")
    refused(["sample", "--label", "kick", "--quiet", *extra], tmp_path, capsys, *names)


def test_cuda_without_a_gpu_is_refused_before_loading(tmp_path, capsys, monkeypatch, no_model) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    for device in ("cuda", "cuda:1"):
        err = refused(["sample", "--label", "kick", "--device", device], tmp_path, capsys, f"--device {device}")
        assert err == f"audiodiff: error: --device {device}: no CUDA GPU is available on this machine; " \
                      "use --device cpu\n"


def test_missing_gpu_index_is_refused(tmp_path, capsys, monkeypatch, no_model) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    refused(["sample", "--label", "kick", "--device", "cuda:3"], tmp_path, capsys, "--device cuda:3", "cuda:0..cuda:0")


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--label", "cowbell"], ["unknown label 'cowbell'"]),
        (["--prompt", "a kick"], ["class-conditioned", "--label"]),
        (["--label", "kick", "--negative-prompt", "hiss"], ["negative prompt needs a text-conditioned model"]),
        (["--label", "kick", "--vocoder", "nope"], ["unknown vocoder 'nope'"]),
    ],
)
def test_arguments_the_model_refuses_generate_nothing(extra, names, class_model_dir, tmp_path, capsys,
                                                      no_generation) -> None:
    """No --quiet: a progress bar that had started would add to stderr."""
    refused(["sample", "--model", str(class_model_dir), "--out", str(tmp_path / "o"), *extra], tmp_path, capsys,
            *names)


def test_bad_model_folders(class_model_dir: Path, tmp_path: Path, capsys) -> None:
    refused(["sample", "--model", str(tmp_path / "missing"), "--label", "kick"], tmp_path, capsys, "no such folder")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("[1, 2")
    refused(["info", str(tmp_path / "corrupt")], tmp_path, capsys, "not valid JSON")
    (tmp_path / "file").write_text("")
    refused(["info", str(tmp_path / "file")], tmp_path, capsys, "is a file, not a model folder")


def test_unknown_commands_and_options_are_one_line(tmp_path, capsys) -> None:
    refused(["sampel"], tmp_path, capsys, "invalid choice: 'sampel'")
    refused(["info", "--nope"], tmp_path, capsys, "unrecognized arguments: --nope")
    refused(["prepare", str(tmp_path)], tmp_path, capsys, "--out")


# --- export: a checkpoint is never a way to run code ---------------------------------------------


class RunsCode:
    """Unpickling this runs ``code`` (as a malicious checkpoint would)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


class CallsSystem:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def malicious_checkpoints(folder: Path, marker: Path) -> dict[str, Path]:
    """Files that create ``marker`` when loaded without weights_only: plain pickles and torch.save zips."""
    code = f"open({str(marker)!r}, 'w').close()"
    payloads = {"exec": RunsCode(code), "system": CallsSystem(f"touch '{marker}'")}
    paths = {}
    for name, payload in payloads.items():
        paths[f"{name}.pickle"] = folder / f"{name}.ckpt"
        paths[f"{name}.pickle"].write_bytes(pickle.dumps({"state_dict": payload, "pipeline_config": {}}))
        paths[f"{name}.torch"] = folder / f"{name}-torch.ckpt"
        torch.save({"state_dict": {"ema.w": payload}}, paths[f"{name}.torch"])
    return paths


def test_export_runs_no_code_from_a_checkpoint(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    for name, ckpt in malicious_checkpoints(tmp_path, marker).items():
        err = refused(["export", str(ckpt), "--out", str(tmp_path / "model")], tmp_path, capsys, str(ckpt),
                      "not a checkpoint audiodiff can load safely")
        assert not marker.exists(), f"loading {name} ran its code"
        assert "weights_only" not in err  # no advice to load it unsafely
    # the payloads are real: an unsafe load does create the marker
    pickle.loads((tmp_path / "exec.ckpt").read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (lambda: np.random.default_rng(0).bytes(4096), ["can load safely"]),
        (lambda: b"", ["is empty or cut short"]),
        (lambda: b"PK\x03\x04" + bytes(200), ["not an audiodiff training checkpoint"]),
        ("list", ["not an audiodiff training checkpoint"]),
        ("no state", ["the model config is invalid (missing 'mel')"]),
        ("half", ["not an audiodiff training checkpoint"]),
    ],
)
def test_export_of_files_that_are_no_checkpoint(content, names, tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "bad.ckpt"
    if content == "list":
        torch.save([1, 2, 3], ckpt)
    elif content == "no state":
        torch.save({"pipeline_config": {"format_version": 1}}, ckpt)
    elif content == "half":
        torch.save({"state_dict": {"ema.w": torch.zeros(1000)}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:2000])
    else:
        ckpt.write_bytes(content())
    refused(["export", str(ckpt), "--out", str(tmp_path / "model")], tmp_path, capsys, str(ckpt), *names)


def test_export_of_random_bytes_and_cut_checkpoints(tmp_path: Path, capsys) -> None:
    """torch's unpickler fails on arbitrary bytes in many ways; every one is the same one line."""
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"ema.w": torch.zeros(64)}, "pipeline_config": {"format_version": 1}}, good)
    data = good.read_bytes()
    rng = np.random.default_rng(1)
    ckpt = tmp_path / "bad.ckpt"
    cases = [rng.bytes(int(n)) for n in rng.integers(1, 3000, 25)] + [data[:n] for n in range(1, len(data), 97)]
    cases += [b"\x80\x02" + rng.bytes(int(n)) for n in rng.integers(1, 200, 25)]  # a pickle header, then noise
    for content in cases:
        ckpt.write_bytes(content)
        refused(["export", str(ckpt), "--out", str(tmp_path / "model")], tmp_path, capsys, str(ckpt))


def test_export_output_checks(tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "x.ckpt"
    torch.save({}, ckpt)
    (tmp_path / "model").mkdir()
    (tmp_path / "file").write_text("")
    refused(["export", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "m")], tmp_path, capsys, "no checkpoint at")
    refused(["export", str(ckpt), "--out", str(tmp_path / "model")], tmp_path, capsys, "model exists; pass --overwrite")
    refused(["export", str(ckpt), "--out", str(tmp_path / "file")], tmp_path, capsys, "--out", "is a file")
    refused(["export", str(ckpt), "--out", str(tmp_path / "file" / "m")], tmp_path, capsys, "is a file, not a folder")


# --- prepare and resynth -------------------------------------------------------------------------


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    (tmp_path / "data" / "kick").mkdir(parents=True)
    soundfile.write(tmp_path / "data" / "kick" / "a.wav", np.sin(np.arange(4000) * 0.3) * 0.5, 8000)
    (tmp_path / "file").write_text("")
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--seconds", "nan"], ["--seconds must be a finite number in (0, 60]"]),
        (["--seconds", "inf"], ["--seconds"]),
        (["--seconds", "0"], ["--seconds"]),
        (["--sample-rate", "0"], ["--sample-rate must be an integer in 1000..384000 Hz"]),
        (["--n-mels", "0"], ["--n-mels must be an integer in 1..513"]),
        (["--n-mels", "1000"], ["--n-mels"]),
        (["--max-tokens", "0"], ["--max-tokens"]),
        (["--conditioning", "sound"], ["--conditioning", "invalid choice"]),
    ],
)
def test_bad_prepare_arguments(extra, names, dataset: Path, capsys, monkeypatch) -> None:
    def prepared(*args, **kwargs):
        raise AssertionError("prepare started before the arguments were checked")

    monkeypatch.setattr("audiodiff.data.cache.prepare", prepared)
    refused(["prepare", str(dataset), "--out", str(dataset.parent / "cache"), *extra], dataset.parent, capsys, *names)


def test_prepare_output_checks(dataset: Path, capsys) -> None:
    root = dataset.parent
    refused(["prepare", str(dataset), "--out", str(root / "file")], root, capsys, "--out", "is a file")
    refused(["prepare", str(dataset), "--out", str(root / "file" / "c")], root, capsys, "is a file, not a folder")
    refused(["prepare", str(root / "nothing"), "--out", str(root / "c")], root, capsys, "does not exist")


def test_bad_resynth_arguments(dataset: Path, capsys, monkeypatch) -> None:
    root, sound = dataset.parent, str(dataset / "kick" / "a.wav")
    (root / "done.wav").write_bytes(b"precious")
    refused(["resynth", sound, "--out", str(root / "x.mp3")], root, capsys, "--out", "give a .wav, .flac or .ogg")
    refused(["resynth", sound, "--out", str(root / "done.wav")], root, capsys, "done.wav exists; pass --overwrite")
    refused(["resynth", sound, "--out", str(root / "file" / "x.wav")], root, capsys, "is a file, not a folder")
    refused(["resynth", sound, "--out", str(root / "data")], root, capsys, "--out")
    refused(["resynth", str(root / "none.wav"), "--out", str(root / "y.wav")], root, capsys, "no such audio file")
    refused(["resynth", sound, "--vocoder", "nope", "--out", str(root / "y.wav")], root, capsys, "unknown vocoder")


def test_console_script_bad_input_has_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("audiodiff")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "audiodiff.cli"]
    for argv in (["sample", "--guidance", "nan"], ["sample", "--steps", "x"], ["sample", "--device", "potato"]):
        bad = subprocess.run([*command, *argv, "--out", str(tmp_path / "o")], capture_output=True, text=True)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    assert list(tmp_path.iterdir()) == []
