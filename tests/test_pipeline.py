"""Pipeline: generation semantics, reproducibility, save/load and the model-folder error paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from audiodiff.config import FORMAT_VERSION
from audiodiff.formats import ModelFormatError
from audiodiff.operations import core
from audiodiff.pipeline import Pipeline
from tests.conftest import LABELS, TINY_MEL, tiny_config


@pytest.fixture(scope="module")
def class_pipe(class_model_dir: Path) -> Pipeline:
    return Pipeline.from_pretrained(class_model_dir)


@pytest.fixture(scope="module")
def text_pipe(text_model_dir: Path) -> Pipeline:
    return Pipeline.from_pretrained(text_model_dir)


def test_output_shape_rate_and_duration(class_pipe: Pipeline) -> None:
    out = class_pipe(label="kick", num=3, seed=0, duration=0.5)
    assert out.audio.shape == (3, 4000)
    assert out.sample_rate == TINY_MEL.sample_rate
    assert out.seeds == [0, 1, 2]
    assert out.mel.shape[:2] == (3, TINY_MEL.n_mels) and out.mel.shape[2] % 2 == 0
    assert out.audio.abs().max() <= 1.0 and torch.isfinite(out.audio).all()


def test_same_seed_same_audio_and_different_seed_differs(class_pipe: Pipeline) -> None:
    a = class_pipe(label="snare", seed=7)
    b = class_pipe(label="snare", seed=7)
    c = class_pipe(label="snare", seed=8)
    assert torch.equal(a.audio, b.audio)
    assert not torch.equal(a.audio, c.audio)


@pytest.mark.parametrize("sampler", ["ddpm", "euler_a", "dpmpp_2m", "heun"])
def test_batch_row_equals_request_made_alone(class_pipe: Pipeline, sampler: str) -> None:
    batch = class_pipe(label=["kick", "hat", "snare"], num=3, seed=10, sampler=sampler)
    for i, label in enumerate(["kick", "hat", "snare"]):
        alone = class_pipe(label=label, seed=10 + i, sampler=sampler)
        assert torch.equal(batch.mel[i], alone.mel[0])
        assert torch.equal(batch.audio[i], alone.audio[0])


def test_text_batch_row_equals_request_made_alone(text_pipe: Pipeline) -> None:
    prompts = ["a punchy kick drum", "soft felt piano note with a very long tail and a lot of reverb"]
    batch = text_pipe(prompt=prompts, num=2, seed=3, negative_prompt="noise")
    for i, prompt in enumerate(prompts):
        alone = text_pipe(prompt=prompt, seed=3 + i, negative_prompt="noise")
        assert torch.equal(batch.mel[i], alone.mel[0])
        assert torch.equal(batch.audio[i], alone.audio[0])


def test_condition_and_guidance_change_the_output(class_pipe: Pipeline, text_pipe: Pipeline) -> None:
    kick, hat = class_pipe(label="kick", seed=1), class_pipe(label="hat", seed=1)
    assert (kick.mel - hat.mel).abs().max() > 1e-3
    low, high = class_pipe(label="kick", seed=1, guidance=1.0), class_pipe(label="kick", seed=1, guidance=5.0)
    assert (low.mel - high.mel).abs().max() > 1e-3
    plain = text_pipe(prompt="a kick", seed=2)
    negative = text_pipe(prompt="a kick", seed=2, negative_prompt="a snare")
    assert (plain.mel - negative.mel).abs().max() > 1e-3


def test_save_load_round_trip_is_exact(class_pipe: Pipeline, tmp_path: Path) -> None:
    class_pipe.save_pretrained(tmp_path / "copy")
    again = Pipeline.from_pretrained(tmp_path / "copy")
    assert again.config == class_pipe.config
    assert torch.equal(again(label=2, seed=5).audio, class_pipe(label="hat", seed=5).audio)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["config.json", "model.safetensors"]
    data = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert data["format_version"] == FORMAT_VERSION and data["mel"]["n_mels"] == TINY_MEL.n_mels
    assert data["conditioner"]["labels"] == list(LABELS)


def test_save_refuses_to_overwrite(class_pipe: Pipeline, tmp_path: Path) -> None:
    class_pipe.save_pretrained(tmp_path / "m")
    before = (tmp_path / "m" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        class_pipe.save_pretrained(tmp_path / "m")
    class_pipe.save_pretrained(tmp_path / "m", overwrite=True)
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"], "no temporary folders may be left"


def test_fp16_weights_load_close_to_fp32(class_pipe: Pipeline, tmp_path: Path) -> None:
    class_pipe.save_pretrained(tmp_path / "half", dtype=torch.float16)
    half = Pipeline.from_pretrained(tmp_path / "half")
    a, b = class_pipe(label="kick", seed=0), half(label="kick", seed=0)
    assert (a.mel - b.mel).abs().mean() < 0.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "kick", "sampler": "nope"}, "unknown sampler"),
        ({"label": "kick", "steps": 0}, "steps"),
        ({"label": "kick", "guidance": -1.0}, "guidance"),
        ({"label": "cowbell"}, "unknown label 'cowbell'; this model knows: kick, snare, hat"),
        ({"prompt": "a kick"}, "class-conditioned"),
        ({"label": "kick", "duration": 0.0}, "duration"),
        ({"label": "kick", "num": 0}, "num"),
        ({"label": "kick", "negative_prompt": "x"}, "negative prompt"),
        ({"label": "kick", "guidance": float("nan")}, "guidance must be a finite number"),
        ({"label": "kick", "guidance": float("inf")}, "guidance must be a finite number"),
        ({"label": "kick", "duration": float("nan")}, r"duration must be in \(0, 600\] seconds"),
        ({"label": "kick", "duration": float("inf")}, "duration"),
        ({"label": "kick", "seed": -1}, "seed must be in 0..9223372036854775807"),
        ({"label": "kick", "seed": 2**63}, "seed must be in"),
        ({"label": "kick", "seed": 2**63 - 2, "num": 3}, r"seed must be in 0..9223372036854775805 .*3 rows"),
    ],
)
def test_bad_requests_raise_clear_errors(class_pipe: Pipeline, kwargs: dict, message: str, monkeypatch) -> None:
    def generated(*args, **kwargs):
        raise AssertionError("generation started before the request was checked")

    monkeypatch.setattr(core, "denoise", generated)
    with pytest.raises(ValueError, match=message):
        class_pipe(**kwargs)


def test_highest_seed_works(class_pipe: Pipeline) -> None:
    out = class_pipe(label="kick", seed=2**63 - 2, num=2, steps=1)
    assert out.seeds == [2**63 - 2, 2**63 - 1]


def test_settings_are_what_was_resolved(class_pipe: Pipeline) -> None:
    out = class_pipe(label=["kick", "hat"], num=2, seed=3, steps=2)
    d = class_pipe.config.defaults
    window = class_pipe.frames_for(round(d.duration * TINY_MEL.sample_rate))
    assert out.settings == {"prompt": None, "negative_prompt": None, "label": ["kick", "hat"], "sampler": d.sampler,
                            "steps": 2, "guidance": d.guidance, "duration": d.duration, "operation": "generate",
                            "loop": False, "window_frames": window,
                            "windows": 1, **class_pipe.provenance()}
    row = out.row_settings(1)
    assert list(row)[:4] == ["prompt", "negative_prompt", "label", "seed"]
    assert (row["label"], row["seed"], row["steps"]) == ("hat", 4, 2)
    assert out.row_settings(0)["label"] == "kick"
    one = class_pipe(label="snare", num=2, seed=0, steps=1)
    assert one.row_settings(1)["label"] == "snare" and one.row_settings(1)["seed"] == 1


def test_label_to_text_model_is_refused(text_pipe: Pipeline) -> None:
    with pytest.raises(ValueError, match="text-conditioned"):
        text_pipe(label="kick")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_and_corrupt_model_folders(class_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="no such folder"):
        Pipeline.from_pretrained(tmp_path / "absent")
    broken = _copy(class_model_dir, tmp_path / "json")
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        Pipeline.from_pretrained(broken)
    newer = _copy(class_model_dir, tmp_path / "newer")
    data = json.loads((newer / "config.json").read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (newer / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="upgrade"):
        Pipeline.from_pretrained(newer)
    no_weights = _copy(class_model_dir, tmp_path / "noweights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="model.safetensors is missing"):
        Pipeline.from_pretrained(no_weights)
    torn = _copy(class_model_dir, tmp_path / "torn")
    data = (torn / "model.safetensors").read_bytes()
    (torn / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="corrupt"):
        Pipeline.from_pretrained(torn)


def test_weights_that_do_not_match_the_config(class_model_dir: Path, tmp_path: Path) -> None:
    other = _copy(class_model_dir, tmp_path / "other")
    data = json.loads((other / "config.json").read_text())
    data["unet"]["base_channels"] = 16
    (other / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="do not match config.json .size mismatch for "):
        Pipeline.from_pretrained(other)


def test_weights_lacking_a_module_name_it(class_model_dir: Path, tmp_path: Path) -> None:
    """A folder from a version without some module says which weights are missing."""
    older = _copy(class_model_dir, tmp_path / "older")
    state = load_file(older / "model.safetensors")
    save_file({k: v for k, v in state.items() if not k.startswith("unet.input_skip.")}, older / "model.safetensors")
    with pytest.raises(ModelFormatError, match="missing unet.input_skip.weight, missing unet.input_skip.bias"):
        Pipeline.from_pretrained(older)


def test_vocoder_with_other_mel_settings_is_refused() -> None:
    from audiodiff.spectrogram import MelConfigMismatch
    from audiodiff.vocoders import GriffinLimVocoder

    pipe = Pipeline.from_config(tiny_config())
    other = GriffinLimVocoder(TINY_MEL.__class__(**{**TINY_MEL.to_dict(), "hop_length": 32}))
    with pytest.raises(MelConfigMismatch, match="hop_length=32"):
        Pipeline(pipe.config, pipe.denoiser, pipe.conditioner, other)


def test_missing_default_model_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import audiodiff.pipeline as pipeline_module

    missing = {"fast": tmp_path / "fast", "full": tmp_path / "default"}
    monkeypatch.setattr(pipeline_module, "BUNDLED_MODELS", missing)
    monkeypatch.setattr(pipeline_module, "DEFAULT_MODEL", missing["fast"])
    with pytest.raises(ModelFormatError, match="bundled model in .*fast is not installed"):
        Pipeline.from_pretrained()
    with pytest.raises(ModelFormatError, match="bundled model in .*default is not installed"):
        Pipeline.from_pretrained("full")


def test_saved_files_get_normal_permissions(class_pipe: Pipeline, tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        class_pipe.save_pretrained(tmp_path / "m")
    finally:
        os.umask(umask)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o755
    for name in ("config.json", "model.safetensors"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644


def test_a_duration_conditioned_model_is_told_each_request_s_exact_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole canvases carry the exact duration asked for (both guidance branches); windows of a
    longer sound and pieces of a loop carry their own full length."""
    import dataclasses

    from audiodiff.operations import generate_long
    from tests.conftest import perturbed

    config = tiny_config()
    config = dataclasses.replace(config, conditioner=dataclasses.replace(config.conditioner, duration=True),
                                 defaults=dataclasses.replace(config.defaults, window=0.5))
    pipe = perturbed(Pipeline.from_config(config))
    told: list[float] = []
    add = pipe.conditioner.add_duration
    monkeypatch.setattr(pipe.conditioner, "add_duration", lambda cond, s: told.append(s) or add(cond, s))
    short = pipe(label="kick", duration=0.3, seed=0, steps=2)
    assert short.audio.shape == (1, 2400) and told == [0.3, 0.3]
    window = core.window_frames(pipe)
    assert window == pipe.frames_for(4000)
    told.clear()
    long = generate_long(pipe, 1.2, label="kick", seed=0, steps=2)
    assert long.settings["windows"] > 1 and told == [window * TINY_MEL.hop_length / TINY_MEL.sample_rate] * 2
    told.clear()
    pipe(label="kick", duration=0.4, seed=0, steps=2, loop=True)
    assert len(told) == 2 and told[0] >= 0.4
    other = pipe(label="kick", duration=0.3, seed=0, steps=2)
    assert torch.equal(other.audio, short.audio)
    with torch.no_grad():
        pipe.conditioner.duration.mlp[-1].bias.add_(1.0)
    assert not torch.equal(pipe(label="kick", duration=0.3, seed=0, steps=2).mel, short.mel), "it is heard"


def test_the_bundled_default_is_a_four_step_adapter_of_the_full_model() -> None:
    """``fast`` (the default) is a few megabytes of low-rank factors on ``full``; it samples with 4
    single-row passes, ``full`` with 25 guided steps; all bundled weights stay under 40 MB."""
    from audiodiff.pipeline import BUNDLED_MODELS, DEFAULT_MODEL, PRETRAINED

    assert BUNDLED_MODELS["fast"] == DEFAULT_MODEL
    config = json.loads((BUNDLED_MODELS["fast"] / "config.json").read_text())
    assert config["base"] == "../default" and config["defaults"]["steps"] == 4
    weights = sum(f.stat().st_size for f in PRETRAINED.rglob("*.safetensors"))
    assert (BUNDLED_MODELS["fast"] / "model.safetensors").stat().st_size < 5e6 and weights < 40e6
    fast, full = Pipeline.from_pretrained(), Pipeline.from_pretrained("full")
    assert (full.config.defaults.steps, full.config.defaults.sampler) == (25, "dpmpp_2m")
    assert fast.config.unet == full.config.unet and fast.config.conditioner.guidance
    rows: list[int] = []
    fast.denoiser.network.register_forward_hook(lambda _m, args, _o: rows.append(args[0].shape[0]))
    out = fast("a closed hi-hat", seed=0, duration=0.5)
    assert rows == [1, 1, 1, 1] and out.settings["steps"] == 4 and torch.isfinite(out.audio).all()
