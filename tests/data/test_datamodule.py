"""MelDataset items, reproducible order and captions, resumable and shardable training batches."""

from __future__ import annotations

import json
from pathlib import Path

import lightning
import numpy as np
import pytest
import soundfile
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from audiodiff.conditioning import ConditionerConfig
from audiodiff.data import (
    AudioDataModule,
    EpochSampler,
    MelDataset,
    ResumableLoader,
    open_cache,
    prepare,
)
from audiodiff.spectrogram import MelConfig

MEL = MelConfig(sample_rate=8000, n_fft=256, hop_length=64, win_length=256, n_mels=16, fmax=4000.0)
TEXT = ConditionerConfig(max_tokens=5)


class WordEncoder:
    """A stand-in sentence encoder: token ``k`` of a prompt is a constant vector of its length."""

    def preprocess(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        rows = [[len(w) for w in p.split()] for p in prompts]
        width = max(map(len, rows))
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        return {"input_ids": ids, "attention_mask": (ids > 0).long()}

    def __call__(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ids = features["input_ids"].float()
        return {"token_embeddings": ids[..., None].expand(*ids.shape, 384) / 10}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 train clips (labels a/b, some with three captions) and 3 val clips, text-embedded."""
    root = tmp_path_factory.mktemp("dataset")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(15):
        soundfile.write(root / f"{i:02d}.wav", rng.normal(0, 0.3, 900) * np.hanning(900), 8000)
        extra = {"captions": [f"take {i} at G{i % 4}", f"variant {i} again"]} if i % 3 == 0 else {}
        rows.append({"path": f"{i:02d}.wav", "caption": f"sound number {i}", "label": "ab"[i % 2],
                     "split": "val" if i >= 12 else "train", **extra})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("audiodiff.conditioning.load_sentence_encoder", lambda name: WordEncoder())
        prepare(root, out, mel_config=MEL, seconds=0.1, frames=16, conditioner_config=TEXT,
                progress=False)
    return out


def epoch_indices(loader: ResumableLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch["index"].tolist() for batch in loader]


def test_items_have_documented_shapes_and_dtypes(cache_dir: Path) -> None:
    cache = open_cache(cache_dir, MEL)
    train, val = MelDataset(cache, "train", seed=0), MelDataset(cache, "val", seed=0)
    assert (len(train), len(val)) == (12, 3)
    item = train[3]
    row = int(item["index"])
    assert item["mel"].dtype == torch.float32 and item["mel"].shape == (16, 16)
    np.testing.assert_array_equal(item["mel"].numpy(), cache.mels[row].astype(np.float32))
    assert item["label"].dtype == torch.int64 and int(item["label"]) == "ab".index(
        "ab"[int(cache.items[row].source[:2]) % 2])
    caption = int(item["caption_index"])
    assert item["caption_index"].dtype == torch.int64 and caption in cache.items[row].captions
    assert item["pooled"].shape == (384,) and item["pooled"].dtype == torch.float32
    assert item["tokens"].shape == (5, 384) and item["tokens"].dtype == torch.float32
    assert item["token_mask"].dtype == torch.bool
    words = cache.captions[caption].split()
    assert item["token_mask"].tolist() == [True] * len(words) + [False] * (5 - len(words))
    assert item["tokens"][: len(words), 0].tolist() == pytest.approx([len(w) / 10 for w in words],
                                                                     abs=1e-3)


def test_items_carry_the_note_their_caption_names(cache_dir: Path) -> None:
    cache = open_cache(cache_dir, MEL)
    dataset = MelDataset(cache, "train", seed=0)
    seen = set()
    for epoch in range(30):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            item = dataset[i]
            caption = cache.captions[int(item["caption_index"])]
            assert item["pitch"].dtype == torch.float32
            if caption.startswith("take"):  # "take 3 at G3": G3 is MIDI 55
                source = int(cache.items[int(item["index"])].source[:2])
                assert float(item["pitch"]) == 12 * (source % 4 + 1) + 7
                seen.add(source)
            else:
                assert item["pitch"].isnan()
    assert seen == {0, 3, 6, 9}


def test_caption_choice_depends_only_on_seed_epoch_and_index(cache_dir: Path) -> None:
    cache = open_cache(cache_dir)

    def choices(seed: int, epoch: int) -> list[int]:
        dataset = MelDataset(cache, "train", seed=seed)
        dataset.set_epoch(epoch)
        return [dataset.caption_index(i) for i in range(len(dataset))]

    assert choices(0, 0) == choices(0, 0)
    assert choices(0, 1) != choices(0, 0) or choices(0, 2) != choices(0, 0)
    assert choices(1, 0) != choices(0, 0) or choices(2, 0) != choices(0, 0)
    multi = [i for i, item in enumerate(MelDataset(cache, "train").rows)
             if len(cache.items[item].captions) == 3]
    seen = {c for epoch in range(12) for c in np.array(choices(0, epoch))[multi]}
    assert len(seen) > len(multi)  # different epochs use different phrasings


def test_order_is_a_permutation_of_seed_and_epoch(cache_dir: Path) -> None:
    dataset = MelDataset(open_cache(cache_dir), "train", seed=0)
    first = epoch_indices(ResumableLoader(dataset, batch_size=4, seed=5), 1)
    assert first == epoch_indices(ResumableLoader(dataset, batch_size=4, seed=5), 1)
    assert sorted(sum(first, [])) == sorted(dataset.rows)
    assert first != epoch_indices(ResumableLoader(dataset, batch_size=4, seed=5), 2)
    assert first != epoch_indices(ResumableLoader(dataset, batch_size=4, seed=6), 1)


def test_resume_skips_exactly_the_consumed_batches(cache_dir: Path) -> None:
    dataset = MelDataset(open_cache(cache_dir), "train", seed=0)
    loader = ResumableLoader(dataset, batch_size=3, seed=0)
    loader.sampler.set_epoch(2)
    full = [{k: v.clone() for k, v in batch.items()} for batch in loader]
    iterator = iter(loader)
    next(iterator), next(iterator)
    state = loader.state_dict()
    assert (state["epoch"], state["batches"]) == (2, 2)

    resumed = ResumableLoader(MelDataset(open_cache(cache_dir), "train", seed=0), batch_size=3,
                              seed=0)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)
    rest = list(resumed)
    assert len(resumed) == len(full) == 4 and len(rest) == 2
    for got, want in zip(rest, full[2:], strict=True):
        assert got.keys() == want.keys()
        for key in want:
            torch.testing.assert_close(got[key], want[key], equal_nan=True)
    assert resumed.state_dict()["batches"] == 4
    assert len(list(resumed)) == 4  # the skip applies to the resumed epoch only

    other = ResumableLoader(dataset, batch_size=4, seed=0)
    with pytest.warns(UserWarning, match=r"batch_size=4 \(checkpoint: 3\)"):
        other.load_state_dict(state)
    other.sampler.set_epoch(2)
    assert len(list(other)) == 3


def test_two_ranks_get_disjoint_shards_covering_the_data(cache_dir: Path) -> None:
    dataset = MelDataset(open_cache(cache_dir), "train", seed=0)
    for epoch in range(3):
        shards = []
        for rank in range(2):
            sampler = EpochSampler(dataset, seed=3, num_replicas=2, rank=rank)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        assert len(shards[0]) == len(shards[1]) == 6
        assert not set(shards[0]) & set(shards[1])
        assert set(shards[0]) | set(shards[1]) == set(range(12))


def test_datamodule_exposes_cache_settings_and_loaders(cache_dir: Path) -> None:
    module = AudioDataModule(str(cache_dir), batch_size=2, seed=1, val_batches=1)
    assert module.mel_config == MEL and module.labels == ["a", "b"]
    assert module.conditioner_config == TEXT
    val = list(module.val_dataloader())
    assert [b["index"].tolist() for b in val] == [module.val_set.rows[:2]]
    assert len(module.train_dataloader()) == 6
    with pytest.raises(ValueError, match="has 12 clips, fewer than batch_size=13"):
        AudioDataModule(str(cache_dir), batch_size=13).train_dataloader()


class Recorder(lightning.LightningModule):
    """Records the rows and captions of every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[int, list[int], list[int]]] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.seen.append((self.current_epoch, batch["index"].tolist(),
                          batch["caption_index"].tolist()))
        return (self.weight - batch["mel"].mean()) ** 2

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(cache_dir: Path, root: Path, ckpt_path: Path | None = None) -> list:
    model = Recorder()
    callbacks = [] if ckpt_path else [
        ModelCheckpoint(dirpath=root, filename="{step}", every_n_train_steps=1, save_top_k=-1)]
    trainer = lightning.Trainer(
        max_epochs=2, accelerator="cpu", devices=1, logger=False, limit_val_batches=0,
        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
        enable_checkpointing=not ckpt_path, default_root_dir=root)
    trainer.fit(model, AudioDataModule(str(cache_dir), batch_size=4, seed=3), ckpt_path=ckpt_path)
    return model.seen


@pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning")
@pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader`")
@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_lightning_resumes_mid_epoch_with_the_remaining_batches(cache_dir: Path,
                                                                tmp_path: Path) -> None:
    full = fit(cache_dir, tmp_path)
    assert len(full) == 6 and [epoch for epoch, *_ in full] == [0, 0, 0, 1, 1, 1]
    for step in (2, 3, 4):
        assert fit(cache_dir, tmp_path / "resumed", tmp_path / f"step={step}.ckpt") == full[step:]


def test_datamodule_builds_its_cache_from_a_dataset_folder(tmp_path: Path) -> None:
    from audiodiff.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path / "toy", per_class=3, sample_rate=8000, seconds=0.5)
    module = AudioDataModule(str(tmp_path / "cache"), root=str(root), seconds=0.5, mel=MEL, batch_size=2)
    module.prepare_data()
    assert module.mel_config == MEL and module.labels == ["hat", "kick", "tone"]
    assert module.conditioner_config.kind == "class"
    assert len(module.train_set) + len(module.val_set) == 9


def test_repeat_weights_train_clips_by_source_prefix(cache_dir: Path) -> None:
    cache = open_cache(cache_dir)
    plain = MelDataset(cache, "train").rows
    dataset = MelDataset(cache, "train", repeat={"0": 3, "01": 2})  # 00-09 x3, longest prefix 01 x2
    counts = {row: dataset.rows.count(row) for row in plain}
    expected = {row: 2 if cache.items[row].source.startswith("01") else
                3 if cache.items[row].source.startswith("0") else 1 for row in plain}
    assert counts == expected and len(dataset) == sum(expected.values()) == 2 + 9 * 3 + 2
    captions = {dataset.caption_index(i) for i, row in enumerate(dataset.rows) if row == dataset.rows[0]}
    assert len(captions) > 1  # 00 has three captions: its copies draw them independently


def test_repeat_rejects_prefixes_that_match_nothing_and_bad_counts(cache_dir: Path) -> None:
    cache = open_cache(cache_dir)
    with pytest.raises(ValueError, match=r"\['sfx/'\] match no train clip"):
        MelDataset(cache, "train", repeat={"sfx/": 2})
    with pytest.raises(ValueError, match="whole numbers >= 1"):
        MelDataset(cache, "train", repeat={"0": 0})


def test_datamodule_repeats_train_but_not_val(cache_dir: Path) -> None:
    module = AudioDataModule(str(cache_dir), batch_size=2, repeat={"1": 2})
    module.setup()
    assert len(module.train_set) == 12 + 2 and len(module.val_set) == 3  # 10 and 11 twice
