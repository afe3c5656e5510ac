from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from audiodiff import vocoders
from audiodiff.audio import save
from audiodiff.data.clips import load_sounds
from audiodiff.data.layouts import scan
from audiodiff.data.waveforms import WaveformDataModule, WaveformSegments
from audiodiff.fileio import file_hash
from audiodiff.formats import ModelFormatError
from audiodiff.spectrogram import MelConfig, MelConfigMismatch, MelSpectrogram, mel_filterbank
from audiodiff.stft import hann_window, stft_magnitude
from audiodiff.training.checkpoint import export_checkpoint
from audiodiff.training.cli import train_vocoder
from audiodiff.training.vocoder_module import VocoderModule
from audiodiff.vocoders import SynthesisConfig, VocosConfig, load_vocoder
from audiodiff.vocoders.losses import MelL1Loss, MultiResolutionSTFTLoss
from audiodiff.vocoders.mel_inverse import MelInverse
from audiodiff.vocoders.network import SpectralRefiner
from audiodiff.vocoders.neural import NeuralVocoder
from tests.conftest import TINY_MEL

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TINY = VocosConfig(mel=TINY_MEL, dim=16, intermediate_dim=32, num_layers=2, spectral_layers=0)
SMALL_RES = ((64, 16, 64), (128, 32, 128), (256, 64, 256))


def tiny_vocoder(seed: int = 0) -> NeuralVocoder:
    torch.manual_seed(seed)
    return NeuralVocoder(TINY).eval()


def tone(seconds: float = 0.5, freq: float = 220.0, sample_rate: int = 8000) -> torch.Tensor:
    """A decaying harmonic tone with a little noise, ``[samples]``."""
    t = torch.arange(round(seconds * sample_rate)) / sample_rate
    partials = sum(0.3 / k * torch.sin(2 * math.pi * freq * k * t) for k in range(1, 5))
    noise = 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(int(freq)))
    return partials * torch.exp(-3 * t) + noise


def noise(n: int = 2, samples: int = 4000, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


# --- network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prior", [True, False])
@pytest.mark.parametrize(("batch", "frames"), [(1, 2), (2, 9), (3, 40)])
def test_output_length_and_batch_independence(batch: int, frames: int, prior: bool) -> None:
    torch.manual_seed(0)
    vocoder = NeuralVocoder(dataclasses.replace(TINY, magnitude_prior=prior)).eval()
    log_mel = torch.randn(batch, TINY_MEL.n_mels, frames, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = vocoder(log_mel)
        alone = vocoder(log_mel[-1:])
        torch.testing.assert_close(vocoder.network(log_mel)[-1:], vocoder.network(log_mel[-1:]), atol=0, rtol=1e-5)
    assert out.shape == (batch, (frames - 1) * TINY_MEL.hop_length)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    # Batched FFTs round differently and the refinement iterations amplify that (measured up to 4.4e-4).
    torch.testing.assert_close(out[-1:], alone, atol=2e-3, rtol=0)


@pytest.mark.parametrize("steps", [0, 10])
def test_untrained_head_gives_the_inverse_mel_magnitude(steps: int) -> None:
    torch.manual_seed(0)
    vocoder = NeuralVocoder(dataclasses.replace(TINY, prior_nnls_steps=steps)).eval()
    torch.nn.init.zeros_(vocoder.network.head.weight)
    torch.nn.init.zeros_(vocoder.network.head.bias)
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        magnitude = vocoder.network(log_mel)
    pinv = torch.linalg.pinv(mel_filterbank(TINY_MEL).double().T).float()
    clamped = (pinv @ log_mel.exp()).clamp_min(TINY_MEL.log_floor)
    expected = MelInverse(TINY_MEL, steps)(log_mel.exp()).clamp_min(TINY_MEL.log_floor)
    torch.testing.assert_close(magnitude, expected, rtol=1e-5, atol=0.0)
    if steps:  # NNLS moves the quiet bins between harmonics off the floor
        assert not torch.allclose(magnitude, clamped, rtol=1e-3, atol=0.0)
    else:
        torch.testing.assert_close(magnitude, clamped, rtol=1e-5, atol=0.0)


def test_wrong_mel_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[n, 16, frames\]"):
        tiny_vocoder()(torch.zeros(1, 80, 5))


def test_configs_round_trip_through_dicts_and_default_to_the_bundled_vocoder() -> None:
    assert VocosConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    synthesis = SynthesisConfig(refine_iterations=2, refine_fit_steps=3, refine_anchor=0.0)
    assert SynthesisConfig.from_dict(json.loads(json.dumps(synthesis.to_dict()))) == synthesis
    with pytest.raises(ValueError, match="unknown VocosConfig fields"):
        VocosConfig.from_dict({**TINY.to_dict(), "depth": 3})
    with pytest.raises(ValueError, match="unknown SynthesisConfig fields"):
        SynthesisConfig.from_dict({"phase_source": "network"})
    with pytest.raises(ValueError, match="kernel_size"):
        VocosConfig(kernel_size=4)
    bundled = NeuralVocoder.from_pretrained(vocoders.BUNDLED_NEURAL)
    assert (bundled.network_config, bundled.synthesis_config) == (VocosConfig(), SynthesisConfig())


def test_an_untrained_spectral_refiner_changes_nothing() -> None:
    torch.manual_seed(0)
    plain = NeuralVocoder(TINY).eval()
    spectral = NeuralVocoder(dataclasses.replace(TINY, spectral_layers=2, spectral_channels=4)).eval()
    missing, unexpected = spectral.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("network.spectral.") for k in missing)
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        torch.testing.assert_close(spectral.network(log_mel), plain.network(log_mel))


def test_spectral_refiner_is_shift_equivariant_along_frequency() -> None:
    """The same peak shape gets the same correction wherever it lies (away from the edges)."""
    torch.manual_seed(0)
    refiner = SpectralRefiner(dim=8, channels=4, layers=3, kernel_size=5)
    torch.nn.init.normal_(refiner.out.weight)
    bins = torch.arange(200.0)
    peaks = [-8 + 6 * torch.exp(-((bins - centre) / 3) ** 2) for centre in (80.0, 110.0)]
    log_magnitude = torch.stack(peaks, -1)[None]  # [1, bins, 2 frames]
    features = torch.zeros(1, 2, 8)
    with torch.no_grad():
        correction = refiner(log_magnitude, features) - log_magnitude
    assert float(correction.abs().max()) > 1e-3
    torch.testing.assert_close(correction[0, 50:120, 0], correction[0, 80:150, 1], atol=1e-5, rtol=0)


def test_spectral_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="spectral_layers"):
        VocosConfig(spectral_layers=-1)
    with pytest.raises(ValueError, match="spectral_channels"):
        VocosConfig(spectral_layers=2, spectral_channels=0)


# --- save / load -----------------------------------------------------------------------------


def test_save_load_round_trip_gives_identical_output(tmp_path: Path) -> None:
    vocoder = tiny_vocoder()
    folder = vocoder.save_pretrained(tmp_path / "voc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voc"]  # no temporary left behind
    data = json.loads((folder / "config.json").read_text())
    assert (data["format_version"], data["kind"]) == (2, "vocos")
    assert set(data) == {"format_version", "kind", "audiodiff_version", "network", "synthesis"}
    assert MelConfig.from_dict(data["network"]["mel"]) == TINY_MEL
    assert SynthesisConfig.from_dict(data["synthesis"]) == SynthesisConfig()
    loaded = NeuralVocoder.from_pretrained(folder, mel_config=TINY_MEL)
    assert (loaded.network_config, loaded.synthesis_config) == (TINY, SynthesisConfig())
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        assert torch.equal(loaded(log_mel), vocoder(log_mel))
    assert isinstance(load_vocoder(str(folder), TINY_MEL), NeuralVocoder)


def test_settings_name_the_weights_file_and_the_synthesis(tmp_path: Path) -> None:
    vocoder = tiny_vocoder()
    assert vocoder.settings() == {"name": "neural", "weights_hash": None, "refine_iterations": 4,
                                  "refine_fit_steps": 1, "refine_anchor": 0.5}
    folder = vocoder.save_pretrained(tmp_path / "voc")
    loaded = NeuralVocoder.from_pretrained(folder, refine_iterations=3, refine_anchor=0.0)
    assert loaded.settings() == {"name": "neural", "weights_hash": file_hash(folder / "model.safetensors"),
                                 "refine_iterations": 3, "refine_fit_steps": 1, "refine_anchor": 0.0}
    with pytest.raises(TypeError, match="dim"):
        NeuralVocoder.from_pretrained(folder, dim=32)


def test_half_precision_weights_halve_the_file(tmp_path: Path) -> None:
    vocoder = tiny_vocoder()
    full = vocoder.save_pretrained(tmp_path / "fp32") / "model.safetensors"
    half = vocoder.save_pretrained(tmp_path / "fp16", dtype=torch.float16) / "model.safetensors"
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = NeuralVocoder.from_pretrained(half.parent)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded(log_mel), vocoder(log_mel), atol=1e-3, rtol=1e-2)


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    vocoder = tiny_vocoder()
    vocoder.save_pretrained(tmp_path / "voc")
    with pytest.raises(FileExistsError, match="overwrite"):
        vocoder.save_pretrained(tmp_path / "voc")
    vocoder.save_pretrained(tmp_path / "voc", overwrite=True)


def test_mismatched_mel_config_names_both_values(tmp_path: Path) -> None:
    folder = tiny_vocoder().save_pretrained(tmp_path / "voc")
    other = MelConfig(**{**TINY_MEL.to_dict(), "hop_length": 32})
    with pytest.raises(MelConfigMismatch, match=r"hop_length=64 \(expected 32\)"):
        NeuralVocoder.from_pretrained(folder, mel_config=other)
    with pytest.raises(MelConfigMismatch, match=r"hop_length=64 \(expected 32\)"):
        load_vocoder(str(folder), other)


def _break_config(folder: Path, text: str) -> None:
    (folder / "config.json").write_text(text)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "config.json").unlink(), "config.json not found"),
        (lambda f: (f / "model.safetensors").unlink(), "model.safetensors is missing"),
        (lambda f: _break_config(f, "{not json"), "not valid JSON"),
        (lambda f: _break_config(f, "[1, 2]"), "does not hold a JSON object"),
        (lambda f: _break_config(f, "{}"), "no format_version"),
        (lambda f: _break_config(f, '{"format_version": 2, "kind": "vocos"}'), "config.json is invalid"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 20), "model.safetensors is corrupt"),
    ],
)
def test_damaged_folders_give_clear_errors(tmp_path: Path, damage, message: str) -> None:
    folder = tiny_vocoder().save_pretrained(tmp_path / "voc")
    damage(folder)
    with pytest.raises(ModelFormatError, match=message):
        NeuralVocoder.from_pretrained(folder)


def test_newer_format_other_kinds_and_mismatched_weights_are_refused(tmp_path: Path) -> None:
    folder = tiny_vocoder().save_pretrained(tmp_path / "voc")
    data = json.loads((folder / "config.json").read_text())
    _break_config(folder, json.dumps({**data, "format_version": 3}))
    with pytest.raises(ModelFormatError, match="format 3.*upgrade"):
        NeuralVocoder.from_pretrained(folder)
    _break_config(folder, json.dumps({**data, "kind": "hifigan"}))
    with pytest.raises(ModelFormatError, match="for a 'hifigan', not a 'vocos'"):
        NeuralVocoder.from_pretrained(folder)
    _break_config(folder, json.dumps({**data, "network": {**data["network"], "dim": 24}}))
    with pytest.raises(ModelFormatError, match="weights do not match config.json"):
        NeuralVocoder.from_pretrained(folder)


def test_bundled_vocoder_loads_by_name() -> None:
    vocoder = load_vocoder("neural", MelConfig())
    assert isinstance(vocoder, NeuralVocoder) and vocoder.mel_config == MelConfig()
    with pytest.raises(MelConfigMismatch, match="sample_rate=22050 \\(expected 8000\\)"):
        load_vocoder("neural", TINY_MEL)


def test_missing_bundled_vocoder_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vocoders, "BUNDLED_NEURAL", tmp_path / "absent")
    with pytest.raises(ValueError, match="no bundled neural vocoder.*griffinlim"):
        load_vocoder("neural", MelConfig())


# --- losses ----------------------------------------------------------------------------------


def test_losses_are_zero_for_identical_signals_and_positive_otherwise() -> None:
    x, y = noise(seed=0), noise(seed=1)
    for loss in (MultiResolutionSTFTLoss(SMALL_RES), MelL1Loss(TINY_MEL)):
        assert float(loss(x, x)) == 0.0
        assert float(loss(x, y)) > 0.1
        assert float(loss(torch.zeros_like(x), torch.zeros_like(x))) == 0.0


def test_known_answers_for_a_doubled_signal() -> None:
    """Doubling a signal whose bins are all above the floor moves every log bin by ln 2.

    The spectral convergence of ``2x`` against ``x`` is ``||x - 2x|| / ||x|| = 1``.
    """
    x = noise()
    assert float(MelSpectrogram(TINY_MEL)(x).min()) > math.log(TINY_MEL.log_floor) + 1
    assert float(MelL1Loss(TINY_MEL)(2 * x, x)) == pytest.approx(math.log(2), abs=1e-5)
    assert float(MultiResolutionSTFTLoss(SMALL_RES, eps=1e-12)(2 * x, x)) == pytest.approx(
        1 + math.log(2), abs=1e-4
    )


def test_magnitude_loss_known_answers() -> None:
    """The segment's own STFT magnitude scores 0; twice it scores ln 2 where above the floor."""
    module = VocoderModule(TINY)
    x = noise()
    true = stft_magnitude(x, TINY_MEL)
    assert float(true.min()) > TINY_MEL.log_floor
    assert float(module.magnitude_loss(true, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(module.magnitude_loss(2 * true, x)) == pytest.approx(math.log(2), abs=1e-5)
    losses = module.model_step(x, module.vocoder)
    assert set(losses) == {"loss", "mel_l1", "stft", "magnitude", "output", "target"}
    assert losses["output"].shape == losses["target"].shape == (2, x.shape[-1] // 64 * 64)
    assert float(losses["magnitude"]) > 0.1


def test_losses_refuse_different_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        MelL1Loss(TINY_MEL)(noise(samples=4000), noise(samples=3999))


# --- data ------------------------------------------------------------------------------------


def write_dataset(root: Path, sample_rate: int = 8000) -> Path:
    """Six tones (4 train, 2 val), plus one silent and one unreadable training file, in the
    metadata layout the diffusion trainer reads too."""
    (root / "audio").mkdir(parents=True)
    entries = []
    for i in range(6):
        save(root / f"audio/tone{i}.wav", tone(0.5, 110.0 * (i + 1), sample_rate)[None], sample_rate)
        entries.append({"path": f"audio/tone{i}.wav", "caption": "a tone", "split": "val" if i >= 4 else "train"})
    save(root / "audio/silent.wav", torch.zeros(1, 4000), sample_rate)
    (root / "audio/broken.wav").write_bytes(b"RIFF not really")
    entries += [{"path": f"audio/{name}.wav", "caption": name, "split": "train"} for name in ("silent", "broken")]
    (root / "metadata.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return root


def test_the_dataset_layout_gives_the_splits_and_unusable_files_are_skipped(tmp_path: Path) -> None:
    entries = scan(write_dataset(tmp_path / "data")).entries
    assert [e.path.name for e in entries if e.split == "val"] == ["tone4.wav", "tone5.wav"]
    sounds, skipped = load_sounds([e.path for e in entries if e.split == "train"], 8000)
    assert (len(sounds), skipped) == (4, 2)
    assert sounds[0].shape == (4000,)


def test_segments_are_deterministic_and_change_with_epoch() -> None:
    clips = [torch.arange(1000.0), torch.arange(50.0) + 5000]
    first = WaveformSegments(clips, 100, 20, seed=3)
    again = WaveformSegments(clips, 100, 20, seed=3)
    later = WaveformSegments(clips, 100, 20, seed=3, epoch=1)
    items = [first[i] for i in range(20)]
    assert all(torch.equal(a, again[i]) for i, a in enumerate(items))
    assert not all(torch.equal(a, later[i]) for i, a in enumerate(items))
    for item in items:
        assert item.shape == (100,)
        if item[0] >= 5000:  # the short clip: whole, then zero padding
            assert torch.equal(item, torch.cat([clips[1], torch.zeros(50)]))
        else:  # a contiguous run of the long clip
            assert torch.equal(item, torch.arange(100.0) + item[0])


def peak_frequency(segment: torch.Tensor, sample_rate: int) -> float:
    """Frequency of the largest bin of the 8x zero-padded, Hann-windowed spectrum."""
    n = segment.shape[-1]
    spectrum = torch.fft.rfft(segment * hann_window(n, dtype=segment.dtype), n=8 * n).abs()
    return float(spectrum.argmax()) * sample_rate / (8 * n)


def test_pitch_shift_moves_the_pitch_in_resampling_steps() -> None:
    sr, freq = 8000, 440.0
    sine = torch.sin(2 * math.pi * freq * torch.arange(3 * sr, dtype=torch.float64) / sr)
    segments = WaveformSegments([sine], sr, 24, seed=5, pitch_shift_cents=100)
    ratios = [peak_frequency(segments[i], sr) / freq for i in range(24)]
    steps = [r * 200 for r in ratios]  # rate / RESAMPLE_BASE: whole numbers of 1/200
    assert all(abs(s - round(s)) < 0.05 for s in steps)
    assert all(abs(1200 * math.log2(r)) <= 100 + 4.4 for r in ratios)
    assert len({round(s) for s in steps}) >= 8  # spread over the range, not one shift
    assert all(segments[i].shape == (sr,) for i in range(3))
    again = WaveformSegments([sine], sr, 24, seed=5, pitch_shift_cents=100)
    assert torch.equal(segments[7], again[7])


def test_gain_scales_within_the_range() -> None:
    sine = torch.sin(2 * math.pi * 100 * torch.arange(16000) / 8000)
    segments = WaveformSegments([sine], 4000, 30, gain_db=6.0)
    gains = [20 * math.log10(float(segments[i].abs().max())) for i in range(30)]
    assert max(gains) <= 6.01 and min(gains) >= -6.01
    assert max(gains) - min(gains) > 6
    with pytest.raises(ValueError, match="gain_db at least 0"):
        WaveformSegments([sine], 4000, 30, gain_db=-1.0)


def test_data_module_batches(tmp_path: Path) -> None:
    data = WaveformDataModule(str(write_dataset(tmp_path / "data")), sample_rate=8000,
                              segment_samples=512, batch_size=4, train_segments=8, val_segments=3)
    data.setup("fit")
    assert (len(data.sounds["train"]), len(data.sounds["val"]), data.skipped) == (4, 2, 2)
    assert [b.shape for b in data.train_dataloader()] == [(4, 512), (4, 512)]
    assert [b.shape[0] for b in data.val_dataloader()] == [3]


# --- training --------------------------------------------------------------------------------


def train_losses(metrics: Path, key: str) -> list[float]:
    with metrics.open() as f:
        return [float(row[key]) for row in csv.DictReader(f) if row.get(key)]


# Recipes that are overlays on others -> those, in the order they are given.
OVERLAYS = {"vocoder-finetune.yaml": ["vocoder.yaml"],
            "gpu/vocoder-finetune.yaml": ["vocoder.yaml", "vocoder-finetune.yaml"]}


def print_recipe(recipe: str, capsys: pytest.CaptureFixture[str]) -> dict:
    """The resolved config of ``recipe`` (over its base recipes where it is an overlay)."""
    base = [arg for name in OVERLAYS.get(recipe, []) for arg in ("--config", str(RECIPES / name))]
    with pytest.raises(SystemExit) as exit_info:
        train_vocoder(["fit", *base, "--config", str(RECIPES / recipe), "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def recipe_configs(printed: dict) -> tuple[VocosConfig, SynthesisConfig]:
    return VocosConfig.from_dict(printed["model"]["network"]), SynthesisConfig.from_dict(printed["model"]["synthesis"])


@pytest.mark.parametrize("recipe", ["vocoder.yaml", "vocoder-debug.yaml", *OVERLAYS])
def test_every_vocoder_recipe_parses(recipe: str, capsys: pytest.CaptureFixture[str]) -> None:
    printed = print_recipe(recipe, capsys)
    network, _ = recipe_configs(printed)
    assert printed["data"]["segment_samples"] > network.mel.n_fft and printed["data"]["batch_size"] >= 1
    assert sorted(p.name for p in RECIPES.glob("vocoder*.yaml")) == ["vocoder-debug.yaml", "vocoder-finetune.yaml",
                                                                     "vocoder.yaml"]


@pytest.mark.parametrize("recipe", ["vocoder.yaml", *OVERLAYS])
def test_the_recipes_train_the_bundled_network_and_synthesis_under_their_root_dir(
    recipe: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """From scratch and both fine-tunes: the bundled vocoder's network and synthesis settings,
    logs, checkpoints and export under the trainer's root folder; the fine-tunes start from the
    bundled weights and never export over them."""
    printed = print_recipe(recipe, capsys)
    bundled = NeuralVocoder.from_pretrained(vocoders.BUNDLED_NEURAL)
    assert recipe_configs(printed) == (bundled.network_config, bundled.synthesis_config)
    trainer = printed["trainer"]
    assert trainer["default_root_dir"].startswith("runs/") and trainer["logger"] in (None, True)
    assert all("dirpath" not in c.get("init_args", {}) or c["init_args"]["dirpath"] is None
               for c in trainer["callbacks"])
    export = [c for c in trainer["callbacks"] if c["class_path"] == "audiodiff.training.callbacks.Export"]
    assert [c["init_args"]["out"] for c in export] == [None]  # <default_root_dir>/vocoder
    assert printed["model"]["init_from"] == (None if recipe == "vocoder.yaml" else "audiodiff/pretrained/vocoder")


def test_debug_recipe_trains_resumes_and_exports(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["fit", "--config", str(RECIPES / "vocoder-debug.yaml"), f"--data.root={root}",
            f"--trainer.default_root_dir={run}"]
    train_vocoder(args)
    losses = train_losses(run / "logs/version_0/metrics.csv", "train/loss")
    assert len(losses) == 40
    # The integrated phase starts the loss lower than a network phase did; measured: 3.72 -> 3.10.
    assert sum(losses[-10:]) / 10 < 0.9 * sum(losses[:5]) / 5
    # On the two held-out pitches the magnitude improves (measured 2.285 -> 2.262) while 40 steps on
    # four tones overfit the waveform distances (val/loss 4.32 -> 4.48).
    val = train_losses(run / "logs/version_0/metrics.csv", "val/magnitude")
    assert len(val) == 4 and val[-1] < val[0]

    exported = NeuralVocoder.from_pretrained(run / "vocoder", mel_config=TINY_MEL)
    weights = load_file(run / "vocoder/model.safetensors")
    assert {v.dtype for v in weights.values()} == {torch.float16}
    last = next(run.rglob("last.ckpt"))  # wherever the CLI puts checkpoints under its root folder
    again = NeuralVocoder.from_pretrained(export_checkpoint(last, tmp_path / "again", dtype=torch.float16))
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        assert torch.equal(exported(log_mel), again(log_mel))

    train_vocoder([*args, "--trainer.max_steps=45", f"--ckpt_path={last}"])
    resumed = train_losses(run / "logs/version_1/metrics.csv", "train/loss")
    assert len(resumed) == 5  # steps 40..44 only: the first 40 came from the checkpoint

    with pytest.raises(ValueError, match="not an audiodiff training checkpoint"):
        torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
        export_checkpoint(tmp_path / "other.ckpt", tmp_path / "nothing")


def test_init_from_starts_from_a_saved_vocoder(tmp_path: Path) -> None:
    saved = tiny_vocoder(seed=3)
    saved.save_pretrained(tmp_path / "saved", dtype=torch.float16)
    module = VocoderModule(TINY, init_from=str(tmp_path / "saved"), adversarial_weight=1.0)
    module.setup("fit")
    source = NeuralVocoder.from_pretrained(tmp_path / "saved").state_dict()
    for name, value in source.items():
        assert torch.equal(module.vocoder.state_dict()[name], value), name
        assert torch.equal(module.ema.state_dict()[name], value), name
    assert module.discriminator is not None, "the discriminators start fresh"

    other = dataclasses.replace(TINY, num_layers=3)
    with pytest.raises(ValueError, match="has another network .* fine-tune it with that config as model.network"):
        VocoderModule(other, init_from=str(tmp_path / "saved")).setup("fit")

    # synthesis settings shape no weights: a vocoder saved with some fine-tunes with others
    synthesis = SynthesisConfig(refine_iterations=2, refine_fit_steps=3, refine_anchor=0.0)
    refined = VocoderModule(TINY, synthesis, init_from=str(tmp_path / "saved"))
    refined.setup("fit")
    assert refined.vocoder.synthesis_config == synthesis
    assert torch.equal(refined.vocoder.state_dict()["network.head.weight"], source["network.head.weight"])

    # a spectral refiner may be added: it starts as the identity, so the output is the saved one's
    spectral = VocoderModule(dataclasses.replace(TINY, spectral_layers=2), init_from=str(tmp_path / "saved"))
    spectral.setup("fit")
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        expected = NeuralVocoder.from_pretrained(tmp_path / "saved")(log_mel)
        torch.testing.assert_close(spectral.ema.eval()(log_mel), expected)
    spectral.vocoder.save_pretrained(tmp_path / "spectral")
    with pytest.raises(ValueError, match="has another network"):  # but not taken away
        VocoderModule(TINY, init_from=str(tmp_path / "spectral")).setup("fit")


def test_training_plays_the_synthesis_and_the_export_keeps_its_settings(tmp_path: Path) -> None:
    """``model.synthesis`` in training is the exported vocoder's synthesis: a training step's output
    is that vocoder's output; the export lands under the trainer's root folder."""
    root = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    train_vocoder(["fit", "--config", str(RECIPES / "vocoder-debug.yaml"), f"--data.root={root}",
                   f"--trainer.default_root_dir={run}", "--model.synthesis.refine_iterations=2",
                   "--model.synthesis.refine_anchor=0.25", "--trainer.max_steps=10"])
    losses = train_losses(run / "logs/version_0/metrics.csv", "train/loss")
    assert len(losses) == 10
    exported = NeuralVocoder.from_pretrained(run / "vocoder")
    assert exported.synthesis_config == SynthesisConfig(refine_iterations=2, refine_anchor=0.25)
    module = VocoderModule(exported.network_config, exported.synthesis_config)
    module.vocoder.load_state_dict(exported.state_dict())
    x = noise()
    log_mel = module.analysis(x)
    with torch.no_grad():
        step = module.model_step(x, module.vocoder)
        torch.testing.assert_close(step["output"], exported(log_mel))
