"""The neural vocoder's folder format (``audiodiff.vocoders.folder``): format 2, the upgrade of format
1, and the bundled folder's output against a reference made before the format changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from audiodiff import vocoders
from audiodiff.formats import ModelFormatError
from audiodiff.spectrogram import MelSpectrogram
from audiodiff.vocoders import NeuralVocoder, SynthesisConfig, VocosConfig
from audiodiff.vocoders.folder import upgrade_v1
from tests.conftest import TINY_MEL
from tests.test_neural_vocoder import tone

FIXTURE = Path(__file__).parent / "fixtures" / "bundled_vocoder_reference.safetensors"
NETWORK = VocosConfig(mel=TINY_MEL, dim=16, intermediate_dim=32, num_layers=1, spectral_layers=2, spectral_channels=4)


def write_v1_folder(folder: Path, vocoder: NeuralVocoder, fields: dict) -> dict[str, torch.Tensor]:
    """``vocoder`` saved in format 1's layout: one flat config of ``fields`` and a head whose output
    rows were ``[log magnitude; phase]``; returns the phase rows it made up."""
    state = {k: v.clone() for k, v in vocoder.state_dict().items()}
    phase = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(1))
             for k, v in state.items() if k.startswith("network.head.")}
    state.update({k: torch.cat([state[k], phase[k]]) for k in phase})
    folder.mkdir()
    save_file(state, folder / "model.safetensors", metadata={"format": "audiodiff-vocoder"})
    config = {"format_version": 1, "kind": "vocos", "audiodiff_version": "0.1.0", "mel": TINY_MEL.to_dict(), **fields}
    (folder / "config.json").write_text(json.dumps(config))
    return phase


V1_FIELDS = {"dim": 16, "intermediate_dim": 32, "num_layers": 1, "kernel_size": 7, "max_magnitude": 100.0,
             "magnitude_prior": True, "prior_nnls_steps": 10, "absolute_phase": True, "spectral_layers": 2,
             "spectral_channels": 4, "refine_iterations": 3, "refine_fit_steps": 1, "refine_anchor": 0.5,
             "phase_source": "gradient", "frequency_estimate": "mel"}


def test_a_format_1_folder_loads_as_its_format_2_upgrade(tmp_path: Path) -> None:
    """The flat fields split into the two configs, the phase settings go, the head keeps its
    log-magnitude rows: the same weights and output as the vocoder written in format 2."""
    torch.manual_seed(0)
    synthesis = SynthesisConfig(refine_iterations=3, refine_fit_steps=1, refine_anchor=0.5)
    vocoder = NeuralVocoder(NETWORK, synthesis).eval()
    write_v1_folder(tmp_path / "v1", vocoder, V1_FIELDS)
    upgraded = NeuralVocoder.from_pretrained(tmp_path / "v1")
    current = NeuralVocoder.from_pretrained(vocoder.save_pretrained(tmp_path / "v2"))
    assert (upgraded.network_config, upgraded.synthesis_config) == (NETWORK, synthesis)
    assert upgraded.state_dict().keys() == current.state_dict().keys()
    assert all(torch.equal(v, current.state_dict()[k]) for k, v in upgraded.state_dict().items())
    log_mel = MelSpectrogram(TINY_MEL)(tone())[None]
    with torch.no_grad():
        assert torch.equal(upgraded(log_mel), current(log_mel))
    again = upgraded.save_pretrained(tmp_path / "again")  # a loaded format-1 folder saves as format 2
    assert json.loads((again / "config.json").read_text())["format_version"] == 2
    assert load_file(again / "model.safetensors")["network.head.weight"].shape == (TINY_MEL.n_fft // 2 + 1, 16)


def test_upgrade_v1_splits_the_fields_and_drops_the_phase_rows() -> None:
    config = {"format_version": 1, "kind": "vocos", "audiodiff_version": "0.1.0", "mel": TINY_MEL.to_dict(),
              **V1_FIELDS}
    head = torch.arange(12.0).reshape(6, 2)
    state = {"network.head.weight": head, "network.head.bias": torch.arange(6.0), "network.embed.bias": torch.ones(3)}
    upgraded, new_state = upgrade_v1(config, state)
    assert upgraded == {
        "format_version": 2, "kind": "vocos", "audiodiff_version": "0.1.0",
        "network": {"mel": TINY_MEL.to_dict(), "dim": 16, "intermediate_dim": 32, "num_layers": 1, "kernel_size": 7,
                    "max_magnitude": 100.0, "magnitude_prior": True, "prior_nnls_steps": 10, "spectral_layers": 2,
                    "spectral_channels": 4},
        "synthesis": {"refine_iterations": 3, "refine_fit_steps": 1, "refine_anchor": 0.5},
    }
    assert torch.equal(new_state["network.head.weight"], head[:3])
    assert torch.equal(new_state["network.head.bias"], torch.arange(3.0))
    assert new_state["network.embed.bias"] is state["network.embed.bias"]


def test_fields_an_early_format_1_file_lacked_take_the_values_its_reader_gave_them() -> None:
    """A file written before the NNLS prior, the spectral refiner and the refinement existed: the
    clamped pseudo-inverse (0 NNLS steps), no refiner, no refinement iterations."""
    early = {k: V1_FIELDS[k] for k in ("dim", "intermediate_dim", "num_layers", "kernel_size", "max_magnitude",
                                       "magnitude_prior", "absolute_phase")}
    upgraded, _ = upgrade_v1({"format_version": 1, "kind": "vocos", "mel": TINY_MEL.to_dict(), **early}, {})
    network, synthesis = VocosConfig.from_dict(upgraded["network"]), SynthesisConfig.from_dict(upgraded["synthesis"])
    assert (network.prior_nnls_steps, network.spectral_layers, network.spectral_channels) == (0, 0, 16)
    assert synthesis == SynthesisConfig(refine_iterations=0, refine_fit_steps=3, refine_anchor=0.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"format_version": 3}, "format 3 but this audiodiff reads up to 2"),
    ({"kind": "unet"}, "for a 'unet', not a 'vocos'"),
    ({"depth": 3}, "config.json is invalid .*unknown fields \\['depth'\\]"),
])
def test_format_1_folders_of_another_kind_newer_or_with_unknown_fields_are_refused(
    tmp_path: Path, change: dict, message: str
) -> None:
    write_v1_folder(tmp_path / "v1", NeuralVocoder(NETWORK), V1_FIELDS)
    data = json.loads((tmp_path / "v1/config.json").read_text())
    (tmp_path / "v1/config.json").write_text(json.dumps({**data, **change}))
    with pytest.raises(ModelFormatError, match=message):
        NeuralVocoder.from_pretrained(tmp_path / "v1")


def test_the_bundled_folder_is_format_2_in_half_precision() -> None:
    folder = vocoders.BUNDLED_NEURAL
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["format_version"] == 2
    assert {v.dtype for v in load_file(folder / "model.safetensors").values()} == {torch.float16}


def test_the_bundled_vocoder_plays_the_reference_made_before_the_format_changed() -> None:
    """The fixture holds 8 frames of a harmonic tone's log-mel and what the bundled vocoder made of
    them in format 1, with its phase head (audiodiff f1136a4), on one thread. Format 2 without the
    phase rows gives the same samples: measured bit-identical at the same thread count (here and on
    four test sounds of 1 to 3 s, on 1 and 2 threads); 4.2e-6 apart on 2 threads, as the old code
    is from itself (GEMMs split over threads round differently)."""
    reference = load_file(FIXTURE)
    vocoder = NeuralVocoder.from_pretrained(vocoders.BUNDLED_NEURAL)
    with torch.inference_mode():
        out = vocoder(reference["log_mel"])
    torch.testing.assert_close(out, reference["audio"], atol=1e-5, rtol=0)
