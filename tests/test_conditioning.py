"""Conditioners: labels <-> indices, the pretrained text encoder, null embeddings and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiodiff.conditioning import (
    ClassConditioner,
    ConditionerConfig,
    PitchEmbedding,
    TextConditioner,
    build_conditioner,
    load_sentence_encoder,
    prompt_pitches,
)
from audiodiff.conditioning_types import Conditioning


@pytest.fixture(scope="module")
def text() -> TextConditioner:
    return TextConditioner(ConditionerConfig(kind="text", max_tokens=12))


def test_class_conditioner_maps_names_and_indices() -> None:
    cond = ClassConditioner(ConditionerConfig(kind="class", labels=("kick", "snare"), dim=8))
    by_name, by_index = cond(["snare", "kick"]), cond([1, 0])
    assert by_name.pooled.shape == (2, 8) and by_name.tokens is None
    assert torch.equal(by_name.pooled, by_index.pooled)
    assert not torch.equal(by_name.pooled[0], by_name.pooled[1])
    assert not torch.equal(cond.null(1).pooled[0], by_name.pooled[0])
    with pytest.raises(ValueError, match="unknown label 'tom'; this model knows: kick, snare"):
        cond(["tom"])
    with pytest.raises(ValueError, match="unknown label 2"):
        cond([2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "class"}, "non-empty list of distinct labels"),
        ({"kind": "class", "labels": ("a", "a")}, "distinct"),
        ({"kind": "audio"}, "must be 'text' or 'class'"),
        ({"kind": "text", "encoder": "bert"}, "unknown text encoder"),
        ({"kind": "text", "dim": 512}, "384-d"),
        ({"kind": "class", "labels": ("a",), "pitch": True}, "pitch conditioning .* needs kind 'text'"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConditionerConfig(**kwargs)


def test_config_round_trip() -> None:
    config = ConditionerConfig(kind="class", labels=("a", "b"), dim=4)
    assert ConditionerConfig.from_dict(config.to_dict()) == config
    assert isinstance(build_conditioner(config), ClassConditioner)
    text = ConditionerConfig(kind="text", pitch=True)
    assert ConditionerConfig.from_dict(text.to_dict()) == text
    legacy = {k: v for k, v in text.to_dict().items() if k != "pitch"}  # configs written before pitch
    assert ConditionerConfig.from_dict(legacy).pitch is False


def test_pitch_embedding_features_and_zero_start() -> None:
    embedding = PitchEmbedding(dim=8)
    midi = torch.tensor([60.0, float("nan"), 72.0, 61.0])
    assert torch.equal(embedding(midi), torch.zeros(4, 8)), "the output layer starts at zero"
    torch.nn.init.normal_(embedding.mlp[-1].weight)
    out = embedding(midi)
    assert out.shape == (4, 8) and torch.equal(out[1], torch.zeros(8)), "no note: no embedding"
    assert not torch.allclose(out[0], out[2]) and not torch.allclose(out[0], out[3])
    # known answer for the features: C4 is 0 octaves (sin 0, cos 1), C5 one octave up
    first = embedding.mlp[0]
    feats = (embedding.mlp[0].weight.new_zeros(13), embedding.mlp[0].weight.new_zeros(13))
    feats[0][7:] = 1.0
    feats[1][0] = 1.0
    feats[1][1:7] = torch.sin(2 * torch.pi * torch.tensor(PitchEmbedding.CYCLES_PER_OCTAVE))
    feats[1][7:] = torch.cos(2 * torch.pi * torch.tensor(PitchEmbedding.CYCLES_PER_OCTAVE))
    expected = embedding.mlp[2](torch.nn.functional.silu(first(torch.stack(feats))))
    torch.testing.assert_close(out[[0, 2]], expected)


def test_text_conditioner_adds_the_pitch_of_the_named_note(text: TextConditioner) -> None:
    pitched = TextConditioner(ConditionerConfig(kind="text", max_tokens=12, pitch=True))
    pitched.load_state_dict(text.state_dict(), strict=False)  # the same null embedding
    prompts = ["piano, note C4", "piano, note E4", "a kick drum", ""]
    plain = text(prompts)
    assert torch.equal(pitched(prompts).pooled, plain.pooled), "a fresh pitch embedding adds zero"
    torch.nn.init.normal_(pitched.pitch.mlp[-1].weight)
    cond = pitched(prompts)
    added = pitched.pitch(torch.tensor([60.0, 64.0]))
    torch.testing.assert_close(cond.pooled[:2], plain.pooled[:2] + added)
    assert torch.equal(cond.pooled[2:], plain.pooled[2:]), "no note, or no prompt: unchanged"
    assert torch.equal(cond.tokens, plain.tokens)
    assert text.add_pitch(plain, torch.tensor([60.0] * 4)) is plain, "no pitch conditioning: unchanged"
    torch.testing.assert_close(prompt_pitches(prompts), torch.tensor([60.0, 64.0, float("nan"), float("nan")]),
                               equal_nan=True, rtol=0, atol=0)


def test_text_pooled_matches_sentence_transformers(text: TextConditioner) -> None:
    """Known answer: the pooled vector is the encoder's own normalised mean-pooled sentence embedding."""
    prompts = ["a punchy electronic kick drum", "soft piano note, C4"]
    reference = load_sentence_encoder("all-MiniLM-L6-v2").encode(prompts, convert_to_numpy=True)
    cond = text(prompts)
    np.testing.assert_allclose(cond.pooled.numpy(), reference, atol=1e-5)
    assert cond.tokens.shape == (2, 12, 384) and cond.mask.dtype == torch.bool
    assert cond.mask[0].sum() == 8  # [CLS] a punch ##y electronic kick drum [SEP]


def test_similar_prompts_are_closer_than_different_ones(text: TextConditioner) -> None:
    kick, kick2, flute = text(["a kick drum", "a bass drum hit", "a breathy flute melody"]).pooled
    assert kick @ kick2 > kick @ flute + 0.1


def test_prompt_embedding_does_not_depend_on_the_batch(text: TextConditioner) -> None:
    alone = text(["a snare"])
    batch = text(["a long prompt about a reverberant orchestral crash cymbal", "a snare"])
    assert torch.equal(batch.select(slice(1, 2)).pooled, alone.pooled)
    assert torch.equal(batch.select(slice(1, 2)).tokens, alone.tokens)


def test_empty_prompt_is_the_null_embedding(text: TextConditioner) -> None:
    empty, null = text(["", "   "]), text.null(2)
    assert torch.equal(empty.pooled, null.pooled) and torch.equal(empty.mask, null.mask)
    assert null.mask.sum(1).tolist() == [1, 1]


def test_long_prompt_is_truncated_with_a_warning(text: TextConditioner) -> None:
    with pytest.warns(UserWarning, match="only the first 12 are used"):
        cond = text(["kick " * 50])
    assert cond.mask.sum() == 12 and torch.isfinite(cond.pooled).all()


def test_non_ascii_prompt_works(text: TextConditioner) -> None:
    cond = text(["ピアノ C4 ♯ — café"])
    assert torch.isfinite(cond.tokens).all() and cond.mask.sum() > 2


def test_non_string_prompt_is_refused(text: TextConditioner) -> None:
    with pytest.raises(ValueError, match="takes prompts"):
        text([3])


def test_drop_replaces_exactly_the_dropped_rows(text: TextConditioner) -> None:
    cond = text(["a", "b", "c"])
    dropped = text.drop(cond, torch.tensor([True, False, True]))
    assert torch.equal(dropped.pooled[0], cond.pooled[0]) and torch.equal(dropped.pooled[2], cond.pooled[2])
    assert torch.equal(dropped.pooled[1], text.null(1).pooled[0])


def test_null_embedding_is_learned(text: TextConditioner) -> None:
    names = {name for name, p in text.named_parameters() if p.requires_grad}
    assert names == {"null_pooled", "null_tokens"}
    assert "encoder" not in "".join(text.state_dict())


def test_conditioning_cat_pads_tokens_and_validates() -> None:
    a = Conditioning(torch.zeros(1, 4), torch.ones(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))
    b = Conditioning(torch.ones(2, 4), torch.ones(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    both = Conditioning.cat([a, b])
    assert both.tokens.shape == (3, 3, 4) and both.mask[0].tolist() == [True, True, False]
    with pytest.raises(ValueError, match="together"):
        Conditioning(torch.zeros(1, 4), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="does not match"):
        Conditioning(torch.zeros(1, 4), torch.zeros(1, 2, 4), torch.ones(1, 3, dtype=torch.bool))


def test_duration_embedding_starts_at_zero_and_is_added_to_any_condition() -> None:
    config = ConditionerConfig(kind="class", labels=("kick", "hat"), dim=8, duration=True)
    conditioner = ClassConditioner(config)
    cond, null = conditioner(["kick", "hat"]), conditioner.null(2)
    assert torch.equal(conditioner.add_duration(cond, 0.5).pooled, cond.pooled), "a fresh embedding adds zero"
    torch.nn.init.normal_(conditioner.duration.mlp[-1].weight)
    short, long = conditioner.add_duration(null, 0.25), conditioner.add_duration(null, torch.tensor([4.0, 4.0]))
    torch.testing.assert_close(short.pooled - null.pooled, conditioner.duration(torch.tensor([0.25, 0.25])))
    assert not torch.allclose(short.pooled, long.pooled), "the null condition carries the duration too"
    # log-2 scale from 1 s: 2 s is the feature vector of one octave, like C5 for the pitch embedding
    pitch = PitchEmbedding(dim=8)
    pitch.load_state_dict(conditioner.duration.state_dict())
    torch.testing.assert_close(conditioner.duration(torch.tensor([2.0])), pitch(torch.tensor([72.0])))
    plain = ClassConditioner(ConditionerConfig(kind="class", labels=("kick", "hat"), dim=8))
    assert plain.add_duration(cond, 0.5) is cond and plain.duration is None
    legacy = {k: v for k, v in config.to_dict().items() if k != "duration"}  # configs written before it
    assert ConditionerConfig.from_dict(legacy).duration is False
