"""The ``studio`` subcommand's options, its missing-Gradio message, and the page's field parsing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import soundfile
import torch

from audiodiff.studio import command, forms
from audiodiff.studio.__main__ import main


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["studio", *argv])


def test_defaults_bind_loopback() -> None:
    args = parse([])
    assert (args.host, args.port, args.model, args.history, args.device) == ("127.0.0.1", 7860, None, None, "cpu")
    assert args.func is command.cmd_studio
    args = parse(["--host", "0.0.0.0", "--port", "8000", "--model", "m", "--history", "h"])
    assert (args.host, args.port, args.model, args.history) == ("0.0.0.0", 8000, "m", Path("h"))
    assert command.default_history().parent == Path(__import__("tempfile").gettempdir())


def test_missing_gradio_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    monkeypatch.setenv("GRADIO_TEMP_DIR", "")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    with pytest.raises(ImportError, match=r'pip install "audiodiff\[studio\]"'):
        command.cmd_studio(parse(["--history", str(tmp_path)]))
    assert main(["--history", str(tmp_path)]) == 2
    assert 'pip install "audiodiff[studio]"' in capsys.readouterr().err


def test_bad_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--port"):
        command.cmd_studio(parse(["--port", "70000", "--history", str(tmp_path)]))


def test_fields() -> None:
    assert forms.regions("0.5:0.8, 1.2:1.4") == [(0.5, 0.8), (1.2, 1.4)]
    assert forms.regions(" 0:1 ;") == [(0.0, 1.0)]
    for bad, match in [("", "regions is empty"), ("0.5", "START:END"), ("a:b", "START:END")]:
        with pytest.raises(ValueError, match=match):
            forms.regions(bad)
    assert forms.seconds("duration", 2) == 2.0
    for bad in (None, "", 0, -1, float("nan")):
        with pytest.raises(ValueError, match="duration"):
            forms.seconds("duration", bad)
    assert forms.optional_int("seed", None) is None and forms.optional_int("seed", 3.0) == 3
    with pytest.raises(ValueError, match="seed must be a whole number"):
        forms.optional_int("seed", 1.5)
    assert forms.text("  ") is None and forms.text(" kick ") == "kick"


def test_sound_reads_resamples_and_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "in.wav"
    soundfile.write(path, torch.zeros(16000).numpy(), 16000)
    sound = forms.sound(str(path), 8000)
    assert sound.audio.shape == (8000,) and sound.record["input"] == "in.wav"
    assert len(sound.record["input_sha256"]) == 64 and sound.record["input_duration"] == 1.0
    with pytest.raises(ValueError, match="input sound is missing"):
        forms.sound(None, 8000)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(ValueError, match="cannot decode"):
        forms.sound(str(junk), 8000)
    monkeypatch.setattr(forms, "MAX_UPLOAD_MB", 0)
    with pytest.raises(ValueError, match="larger than 0 MB"):
        forms.sound(str(path), 8000)
