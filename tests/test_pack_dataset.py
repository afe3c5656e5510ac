"""recipes/oneshots/pack_dataset.py: the compact dataset copy carried to a GPU machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "oneshots"
sys.path.insert(0, str(RECIPE))

import pack_dataset  # noqa: E402

RATE = 8000


def write_dataset(root: Path, train: int, val: int) -> list[dict]:
    """``train`` + ``val`` clips of 0.25 s of 16-bit noise (exact in FLAC) with metadata, in file order."""
    gen = torch.Generator().manual_seed(0)
    entries = []
    (root / "audio").mkdir(parents=True)
    for i in range(train + val):
        path = f"audio/clip{i}.wav"
        samples = torch.randint(-8000, 8000, (RATE // 4,), generator=gen, dtype=torch.int16)
        soundfile.write(root / path, samples.numpy(), RATE, subtype="PCM_16")
        entries.append({"path": path, "caption": f"clip {i}", "split": "train" if i < train else "val", "pitch": i})
    (root / "metadata.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return entries


def test_pack_keeps_every_nth_train_clip_and_spread_val_clips_cut_to_length(tmp_path: Path) -> None:
    entries = write_dataset(tmp_path / "data", train=5, val=4)
    report = pack_dataset.pack(tmp_path / "data", tmp_path / "pack", every=2, seconds=0.1, val_clips=2)
    packed = [json.loads(line) for line in (tmp_path / "pack" / "metadata.jsonl").read_text().splitlines()]
    assert [e["caption"] for e in packed] == ["clip 0", "clip 2", "clip 4", "clip 5", "clip 7"]
    assert report["clips"] == 5 and report["splits"] == {"train": 3, "val": 2}
    assert report["audio_seconds"] == pytest.approx(0.5)
    assert report["bytes"] == sum(p.stat().st_size for p in (tmp_path / "pack").rglob("*") if p.is_file())
    for entry in packed:
        original = entries[entry["pitch"]]
        assert {k: v for k, v in entry.items() if k != "path"} == {k: v for k, v in original.items() if k != "path"}
        assert entry["path"].endswith(".flac")
        audio, rate = soundfile.read(tmp_path / "pack" / entry["path"], dtype="int16")
        source, _ = soundfile.read(tmp_path / "data" / original["path"], dtype="int16")
        assert rate == RATE and (audio == source[: RATE // 10]).all()  # the first 0.1 s, bit-exact


def test_pack_refuses_an_existing_folder_unless_overwrite(tmp_path: Path) -> None:
    write_dataset(tmp_path / "data", train=2, val=1)
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        pack_dataset.pack(tmp_path / "data", tmp_path / "pack", every=1, seconds=0.1, val_clips=1)
    assert (tmp_path / "pack" / "keep.txt").read_text() == "mine"
    pack_dataset.pack(tmp_path / "data", tmp_path / "pack", every=1, seconds=0.1, val_clips=1, overwrite=True)
    assert not (tmp_path / "pack" / "keep.txt").exists()
    assert len((tmp_path / "pack" / "metadata.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize(("every", "seconds", "val_clips", "message"),
                         [(0, 0.1, 1, "every must be"), (1, 0.0, 1, "seconds must be"), (1, 0.1, -1, "val_clips")])
def test_pack_rejects_bad_settings(tmp_path: Path, every: int, seconds: float, val_clips: int, message: str) -> None:
    write_dataset(tmp_path / "data", train=2, val=1)
    with pytest.raises(ValueError, match=message):
        pack_dataset.pack(tmp_path / "data", tmp_path / "pack", every=every, seconds=seconds, val_clips=val_clips)
    assert not (tmp_path / "pack").exists()


def test_cli_error_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(RECIPE / "pack_dataset.py"), "--data", str(tmp_path),
                             "--out", str(tmp_path / "pack")], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no metadata.jsonl in {tmp_path}: pass a dataset folder such as data/oneshots"]
    assert not (tmp_path / "pack").exists()
