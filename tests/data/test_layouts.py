"""Dataset layouts: class folders, metadata CSV/JSONL, the hash split and every error message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audiodiff.data.layouts import hash_split, scan


def touch(root: Path, *names: str) -> None:
    """Create empty files (scanning never decodes audio)."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def write_jsonl(path: Path, rows: list[dict | str]) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_classes_layout(tmp_path: Path) -> None:
    touch(tmp_path, "kick/a.wav", "kick/deep/b.FLAC", "snare_drum/c.aif", "snare_drum/d.mp3",
          "snare_drum/.hidden.wav", "snare_drum/notes.txt", "empty_class/readme.md")
    index = scan(tmp_path)
    assert index.layout == "classes"
    assert index.labels == ("kick", "snare_drum")
    assert [e.source for e in index.entries] == [
        "kick/a.wav", "kick/deep/b.FLAC", "snare_drum/c.aif", "snare_drum/d.mp3"]
    assert {e.source: e.captions for e in index.entries}["snare_drum/c.aif"] == ("snare drum",)
    assert {e.label for e in index.entries} == {"kick", "snare_drum"}
    assert all(e.path == tmp_path / e.source for e in index.entries)
    # 5% of 4 files rounds to 0: at least one file validates.
    assert [e.split for e in index.entries].count("val") == 1


def test_hash_split_is_deterministic_5_percent() -> None:
    sources = [f"f{i}.wav" for i in range(100)]
    val = hash_split(sources)
    assert len(val) == 5
    assert hash_split(sources[::-1]) == val
    assert len(hash_split(sources[:3])) == 1
    assert hash_split(["only.wav"]) == set()


def test_metadata_csv(tmp_path: Path) -> None:
    touch(tmp_path, "a.wav", "sub/b.flac", "c.ogg")
    (tmp_path / "metadata.csv").write_text(
        "path,caption,label,split,captions\n"
        'a.wav,"a deep kick, dry",kick,train,boomy kick|kick drum\n'
        "sub/b.flac,bright hat,hat,val,\n"
        "c.ogg,,kick,,\n"
    )
    index = scan(tmp_path)
    assert index.layout == "metadata" and index.labels == ("hat", "kick")
    a, b, c = index.entries
    assert a.captions == ("a deep kick, dry", "boomy kick", "kick drum")
    assert (b.source, b.label, b.split) == ("sub/b.flac", "hat", "val")
    # No caption: the label is the caption. A file without a split trains when others name one.
    assert (c.captions, c.split) == (("kick",), "train")


def test_metadata_jsonl_without_split_uses_hash_split(tmp_path: Path) -> None:
    touch(tmp_path, *[f"x{i}.wav" for i in range(4)])
    write_jsonl(tmp_path / "metadata.jsonl", [
        {"path": f"x{i}.wav", "caption": f"sound {i}", "captions": [f"alt {i}", f"sound {i}"]}
        for i in range(4)
    ])
    index = scan(tmp_path)
    assert index.labels == () and all(e.label is None for e in index.entries)
    assert index.entries[2].captions == ("sound 2", "alt 2")
    val = hash_split([f"x{i}.wav" for i in range(4)])
    assert {e.source for e in index.entries if e.split == "val"} == val


def _missing_column(root: Path) -> str:
    touch(root, "a.wav")
    (root / "metadata.csv").write_text("file,description\na.wav,kick\n")
    return "metadata.csv"


def _missing_paths(root: Path) -> str:
    touch(root, "here.wav")
    names = ["here.wav", *[f"gone{i}.wav" for i in range(7)]]
    write_jsonl(root / "metadata.jsonl", [{"path": n, "caption": "x"} for n in names])
    return "metadata.jsonl"


def _bad_json_line(root: Path) -> str:
    touch(root, "a.wav")
    write_jsonl(root / "metadata.jsonl", [{"path": "a.wav", "caption": "x"}, "{not json"])
    return "metadata.jsonl"


def _bad_csv_line(root: Path) -> str:
    touch(root, "a.wav", "b.wav")
    (root / "metadata.csv").write_text("path,caption\na.wav,kick\nb.wav,snare,extra\n")
    return "metadata.csv"


def _bad_split(root: Path) -> str:
    touch(root, "a.wav")
    write_jsonl(root / "metadata.jsonl", [{"path": "a.wav", "caption": "x", "split": "test"}])
    return "metadata.jsonl"


def _duplicate(root: Path) -> str:
    touch(root, "a.wav")
    (root / "metadata.csv").write_text("path,caption\na.wav,kick\n\na.wav,boom\n")
    return "metadata.csv"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: "", ["no audio files found", "one sub-folder per class"]),
        (lambda root: touch(root, "x/readme.txt") or "", ["no audio files found"]),
        (lambda root: touch(root, "kick/a.wav", "loose.wav") or "loose.wav",
         ["outside class folders", "move them"]),
        (lambda root: touch(root, "metadata.csv", "metadata.jsonl") or "metadata.jsonl",
         ["keep only one"]),
        (_missing_column, ["has ['description', 'file']", "needs 'path' and 'caption'"]),
        (_missing_paths, ["lists 7 file(s) that do not exist", "gone0.wav", "and 2 more"]),
        (_bad_json_line, ["line 2", "not valid JSON"]),
        (_bad_csv_line, ["line 3", "quote values"]),
        (_bad_split, ["line 1", "'split' must be 'train' or 'val'"]),
        (_duplicate, ["line 4", "already listed on line 2"]),
    ],
    ids=["empty", "no-audio", "loose-files", "two-metadata", "missing-column",
         "missing-paths", "bad-json", "bad-csv", "bad-split", "duplicate"],
)
def test_errors_are_one_line_naming_the_file(tmp_path: Path, make, expected: list[str]) -> None:
    name = make(tmp_path)
    with pytest.raises(ValueError) as info:
        scan(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message and name in message
    for part in expected:
        assert part in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        scan(tmp_path / "nope")
