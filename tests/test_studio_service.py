"""The studio's operations without the page: each stores its rows with the CLI's sidecar."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile
import torch

from audiodiff import __version__
from audiodiff.fileio import file_hash
from audiodiff.studio.history import History
from audiodiff.studio.service import Request, Studio


@pytest.fixture(scope="module")
def studio(text_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Studio:
    return Studio(str(text_model_dir), History(tmp_path_factory.mktemp("history")))


def seconds(path: Path) -> float:
    info = soundfile.info(path)
    return info.frames / info.samplerate


def test_generate_stores_rows_with_their_sidecars(studio: Studio) -> None:
    req = Request.from_fields("a kick", "", 2, 7, None, None, "", "griffinlim")
    entries = studio.generate(req, 0.25)
    assert [e.settings["seed"] for e in entries] == [7, 8]
    assert [e.wav.name for e in entries] == ["a-kick-7.wav", "a-kick-8.wav"]
    s = entries[0].settings
    assert (s["prompt"], s["operation"], s["audiodiff_version"]) == ("a kick", "generate", __version__)
    assert s["model"] == studio.model and s["vocoder"] == "griffinlim" and s["steps"] == 4
    assert seconds(entries[0].wav) == pytest.approx(0.25) and entries[0].spectrogram.read_bytes()[:4] == b"\x89PNG"
    assert [e.id for e in studio.history.entries()[:2]] == [entries[1].id, entries[0].id]


def test_operations_on_an_upload_record_it(studio: Studio, tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    soundfile.write(path, (0.3 * torch.randn(4000, generator=torch.Generator().manual_seed(0))).numpy(), 8000)
    req = Request(prompt="noise", seed=3)
    varied = studio.vary(req, str(path), 0.5)[0]
    assert varied.settings["operation"] == "vary" and varied.settings["strength"] == 0.5
    assert varied.settings["input_sha256"] == file_hash(path, 64) and seconds(varied.wav) == pytest.approx(0.5)
    inpainted = studio.inpaint(req, str(varied.wav), "0.1:0.2, 0.3:0.4")[0]
    assert inpainted.settings["regions"] == [[0.1, 0.2], [0.3, 0.4]]
    assert inpainted.settings["input_sha256"] == file_hash(varied.wav, 64)
    extended = studio.extend(req, str(path), 0.25, before=True)[0]
    assert seconds(extended.wav) == pytest.approx(0.75) and extended.settings["before"] is True
    with pytest.raises(ValueError, match="outside the sound"):
        studio.inpaint(req, str(path), "0.4:0.9")


def test_loop_bars_and_interpolation(studio: Studio) -> None:
    loop = studio.loop(Request(prompt="hat", seed=1), None, bars=1, bpm=960)[0]  # 4 beats at 960 bpm: 0.25 s
    assert loop.settings["loop"] is True and seconds(loop.wav) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both bars and bpm"):
        studio.loop(Request(), 0.25, bars=1)
    path = studio.interpolate(Request(prompt="a", seed=1), "b", 2, 3, 0.25)
    assert [e.settings["t"] for e in path][0] == [0.0, 0.5, 1.0] and len(path) == 3
    with pytest.raises(ValueError, match="sounds must be 2"):
        studio.interpolate(Request(), "", None, 1, 0.25)


def test_bad_requests_name_the_field() -> None:
    with pytest.raises(ValueError, match="number of sounds must be 1..8"):
        Request.from_fields("", "", 9, None, None, None, None, None)
    with pytest.raises(ValueError, match="guidance must be a finite number"):
        Request.from_fields("", "", 1, None, None, float("inf"), None, None)
