"""Build a captioned sound-effects dataset from sounds that Debian and PyPI packages ship.

Sources (``sfx_sources.PACKAGES``): openttd-opensfx, minetest-data, sonic-pi-samples, four desktop
sound themes, wesnoth-1.16-data, tuxpaint-stamps-default, 0ad-data and the CC0 effects of the
PyPI package arcade. Output (the "metadata" dataset layout): ``OUT/audio/*.wav`` (mono 16-bit
clips that start at the onset, at most 6 s; longer sounds cut into windows), ``OUT/metadata.jsonl``
(one clip per line: captions, label, split, duration, package, file, licence) and
``OUT/report.json`` (counts per split / label / package / licence, durations, what was skipped).

    python recipes/sfx/build_sfx_dataset.py --out data/sfx [--jobs 2] [--licences cc0,cc-by]
        [--holdout-package PKG] [--limit N] [--root /] [--arcade-dir DIR]

Re-running reuses every source file whose clips exist (``OUT/.journal.jsonl``). What a file is
called lives in ``sfx_names*.py``, the taxonomy and splits in ``sfx_labels.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]

from sfx_audio import MAX_SECONDS, MAX_WINDOWS, clip_windows, decode  # noqa: E402
from sfx_labels import Clip, Naming, assign_splits, captions, licence_allowed, slug  # noqa: E402
from sfx_names import name_sound  # noqa: E402
from sfx_report import write_outputs  # noqa: E402
from sfx_sources import PACKAGES, Package, SourceFile, find_arcade, read_bytes  # noqa: E402

from audiodiff.audio import AudioError, save  # noqa: E402

PREFIXES = {
    "openttd-opensfx": "osfx", "minetest-data": "mt", "sonic-pi-samples": "spi",
    "sound-theme-freedesktop": "fdo", "oxygen-sounds": "oxy", "yaru-theme-sound": "yaru",
    "deepin-sound-theme": "deepin", "wesnoth-1.16-data": "wes", "tuxpaint-stamps-default": "tux",
    "0ad-data": "0ad", "arcade": "arcade",
}
JOURNAL = ".journal.jsonl"
CLIP_RULES_VERSION = 2  # bump when sfx_audio makes different clips, so old ones are remade


@dataclass(frozen=True)
class Build:
    """How clips are made; a journal entry made with other settings is not reused."""

    out: Path
    sample_rate: int = 22050
    max_seconds: float = MAX_SECONDS
    max_windows: int = MAX_WINDOWS

    def settings(self) -> dict[str, object]:
        return {"sample_rate": self.sample_rate, "max_seconds": self.max_seconds,
                "max_windows": self.max_windows, "clip_rules": CLIP_RULES_VERSION}


@dataclass(frozen=True)
class Planned:
    """A source file to make, what it is called and the stem of its clips' file names."""

    source: SourceFile
    naming: Naming
    stem: str


def find_packages(root: Path, arcade_dir: Path | None, wanted: Sequence[str]) -> tuple[list, list]:
    """``([(package, base folder)], [missing packages])`` among the ``wanted`` package names."""
    found, missing = [], []
    for package in PACKAGES:
        if package.name not in wanted:
            continue
        base = arcade_dir if package.installer == "pip" else root
        if base is not None and (base / package.probe).exists():
            found.append((package, base))
        else:
            missing.append(package)
    return found, missing


def plan(found: Sequence[tuple[Package, Path]], licences: Sequence[str] | None) -> tuple[list, list]:
    """Every source file to make (in a fixed order) and those skipped before decoding, with why."""
    planned: list[Planned] = []
    skipped: list[dict[str, str]] = []
    stems: set[str] = set()
    for package, base in found:
        files, passed = package.scan(base)
        skipped += passed
        for source in files:
            naming = name_sound(source)
            if isinstance(naming, str):
                skipped.append({"source": source.key, "reason": naming})
            elif not licence_allowed(source.licence, licences):
                skipped.append({"source": source.key, "reason": f"licence: {source.licence} not wanted"})
            else:
                planned.append(Planned(source, naming, _unique_stem(source, stems)))
    return planned, skipped


def _unique_stem(source: SourceFile, taken: set[str]) -> str:
    """``PREFIX_folder-name``; the source's extension or index is added when that is taken."""
    tail = f"{source.context}/{source.name}" if source.context else source.name
    if source.package == "minetest-data":
        tail = source.name  # already unique: minetest names start with their mod
    elif source.package == "openttd-opensfx":
        tail = f"{source.file.rsplit('#', 1)[1]}-{source.name}"
    stem = f"{PREFIXES[source.package]}_{slug(tail)[:80]}"
    if stem in taken:
        stem = f"{stem}-{slug(Path(source.file).suffix) or len(taken)}"
    taken.add(stem)
    return stem


def make_source(item: Planned, build: Build) -> dict[str, object]:
    """Decode one source file and write its clips; the journal entry of what happened."""
    import torch

    torch.set_num_threads(1)
    result: dict[str, object] = {"key": item.source.key, "settings": build.settings(), "clips": []}
    keep = build.max_seconds * build.max_windows + 30.0
    try:
        data = read_bytes(item.source.locator)
        decoded = decode(data, build.sample_rate, Path(item.source.file).suffix or ".wav", keep)
    except (AudioError, OSError, ValueError) as error:
        return {**result, "status": f"unreadable: {error}"}
    result.update(digest=decoded.digest, source_rate=decoded.source_rate, channels=decoded.channels)
    windows, reason = clip_windows(decoded.audio, build.sample_rate, max_seconds=build.max_seconds,
                                   max_windows=build.max_windows)
    if reason:
        return {**result, "status": reason}
    clips = []
    for index, window in enumerate(windows):
        name = item.stem if len(windows) == 1 else f"{item.stem}_w{index + 1:02d}"
        path = f"audio/{name}.wav"
        save(build.out / path, window, build.sample_rate, overwrite=True)
        clips.append({"path": path, "duration": window.shape[-1] / build.sample_rate})
    return {**result, "status": "written", "clips": clips}


def load_journal(out: Path, build: Build) -> dict[str, dict]:
    """The reusable journal entries by source key: same settings and every clip file present."""
    path = out / JOURNAL
    entries: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by an interrupted build
            entries[entry["key"]] = entry
    return {
        key: entry
        for key, entry in entries.items()
        if entry.get("settings") == build.settings()
        and all((out / clip["path"]).is_file() for clip in entry["clips"])
    }


def run(planned: Sequence[Planned], build: Build, jobs: int) -> dict[str, dict]:
    """Make every planned source the journal does not already have, ``jobs`` at a time."""
    journal = load_journal(build.out, build)
    results = {item.source.key: journal[item.source.key] for item in planned
               if _same_stem(journal.get(item.source.key), item.stem)}
    todo = [item for item in planned if item.source.key not in results]
    print(f"{len(planned) - len(todo)} of {len(planned)} source files already built; making {len(todo)}")
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool, open(build.out / JOURNAL, "a") as out:
        futures = {pool.submit(make_source, item, build): item for item in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            entry = future.result()
            results[entry["key"]] = entry
            out.write(json.dumps(entry) + "\n")
            out.flush()
            if done % 50 == 0 or done == len(todo):
                print(f"[{done}/{len(todo)}] {futures[future].source.package} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
    return results


def _same_stem(entry: dict | None, stem: str) -> bool:
    """Whether a journal entry's clips are named after ``stem`` (file naming may have changed)."""
    if entry is None:
        return False
    return all(Path(clip["path"]).stem in (stem, *(f"{stem}_w{i:02d}" for i in range(1, 100)))
               for clip in entry["clips"])


def drop_duplicates(planned: Sequence[Planned], results: dict[str, dict], build: Build) -> None:
    """Keep the first source (plan order) of each decoded-audio hash; delete the others' clips."""
    first: dict[str, str] = {}
    with open(build.out / JOURNAL, "a") as journal:
        for item in planned:
            entry = results[item.source.key]
            digest = entry.get("digest")
            if digest is None:
                continue
            original = first.setdefault(digest, item.source.key)
            if original != item.source.key and entry["clips"]:
                for clip in entry["clips"]:
                    (build.out / clip["path"]).unlink(missing_ok=True)
                entry.update(status=f"duplicate: same audio as {original}", clips=[])
                journal.write(json.dumps(entry) + "\n")


def clips_of(planned: Sequence[Planned], results: dict[str, dict]) -> list[Clip]:
    """The dataset's clips: every window of every source that was written."""
    clips = []
    for item in planned:
        source, entry = item.source, results[item.source.key]
        for index, made in enumerate(entry["clips"]):
            clips.append(Clip(
                made["path"], item.naming.label,
                captions(item.naming.phrases, item.naming.label, made["duration"]), source.package,
                source.file, source.group, source.licence, source.licence_from, source.author,
                made["duration"], index, len(entry["clips"]),
            ))
    return clips


def select_evenly(planned: Sequence[Planned], limit: int | None) -> list[Planned]:
    """``limit`` planned sources spread evenly over the plan (so every package shows up)."""
    if limit is None or limit >= len(planned):
        return list(planned)
    return [planned[index * len(planned) // limit] for index in range(limit)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--licences", type=lambda s: s.split(","), default=None,
                        help="keep only these licence families or SPDX ids, e.g. cc0,cc-by")
    parser.add_argument("--holdout-package", action="append", default=[], metavar="PKG",
                        help="put this whole package in the 'holdout' split (repeatable)")
    parser.add_argument("--packages", type=lambda s: s.split(","),
                        default=[p.name for p in PACKAGES], help="comma-separated subset")
    parser.add_argument("--allow-missing", action="store_true", help="build without missing packages")
    parser.add_argument("--limit", type=int, default=None, help="make only N source files (a spread)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS)
    parser.add_argument("--max-windows", type=int, default=MAX_WINDOWS)
    parser.add_argument("--root", type=Path, default=Path("/"), help="where the Debian packages are")
    parser.add_argument("--arcade-dir", type=Path, default=None, help="the arcade package folder")
    return parser.parse_args(argv)


def install_lines(missing: Sequence[Package]) -> list[str]:
    apt = [p.name for p in missing if p.installer == "apt"]
    pip = [p.name for p in missing if p.installer == "pip"]
    lines = [f"sudo apt-get install -y {' '.join(apt)}"] if apt else []
    return lines + ([f"pip install --no-deps {' '.join(pip)}"] if pip else [])


def main(argv: Sequence[str] | None = None) -> int:
    """Build the dataset; 0 on success, 2 when sound packages are missing."""
    args = parse_args(argv)
    unknown = set(args.packages + args.holdout_package) - set(PREFIXES)
    if unknown:
        print(f"unknown packages: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    found, missing = find_packages(args.root, args.arcade_dir or find_arcade(), args.packages)
    if missing and not args.allow_missing:
        lines = "\n  ".join(install_lines(missing))
        print(f"missing sound sources; install them with:\n  {lines}\n(or pass --allow-missing)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    build = Build(args.out, args.sample_rate, args.max_seconds, args.max_windows)
    planned, skipped = plan(found, args.licences)
    planned = select_evenly(planned, args.limit)
    (args.out / "audio").mkdir(parents=True, exist_ok=True)
    results = run(planned, build, max(1, args.jobs))
    drop_duplicates(planned, results, build)
    skipped += [{"source": item.source.key, "reason": results[item.source.key]["status"]}
                for item in planned if not results[item.source.key]["clips"]]
    clips = clips_of(planned, results)
    splits = assign_splits(clips, holdout_packages=args.holdout_package)
    options = {**build.settings(), "licences": args.licences, "holdout_packages": args.holdout_package,
               "packages": [p.name for p, _ in found], "missing": [p.name for p in missing],
               "limit": args.limit}
    report = write_outputs(args.out, clips, splits, skipped, [results[i.source.key] for i in planned],
                           time.monotonic() - started, options)
    print(f"{report['clips']} clips ({report['audio_seconds']} s of audio) from "
          f"{report['source_files']} files in {args.out}; splits {report['per_split']}; "
          f"{len(report['skipped'])} skipped {report['skipped_reasons']}; {report['build_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
