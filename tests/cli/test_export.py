"""biodae export: a checkpoint to a contract-complete, reproducible ONNX file."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biodae.cli import main  # noqa: E402
from biodae.nn import build_model, fit  # noqa: E402
from biodae.runtime import check_contract, load_model  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 60, 64 * 256)).reshape(64, 1, 256).astype(np.float32)
    noisy = clean + 0.3 * rng.standard_normal(clean.shape).astype(np.float32)
    model = build_model("resunet1d", widths=[4, 6, 8], kernel_size=3, norm="rms")
    fit(model, (noisy[:48], clean[:48]), (noisy[48:], clean[48:]), epochs=1, batch_size=16,
        checkpoint_dir=d, progress=False)
    return d / "best.pt"


def test_export_contract_and_reproducible(capsys, tmp_path, checkpoint):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(a)]) == 0
    assert "contract ok" in capsys.readouterr().out
    assert check_contract(a) == []
    m = load_model(a)
    assert m.name == "ecg" and m.sampling_rate == 360.0 and m.units == "mV"
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_export_refuses_overwrite_and_needs_a_recipe(capsys, tmp_path, checkpoint):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    assert "exists" in capsys.readouterr().err
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "recipe" in capsys.readouterr().err


def test_export_fp16_variant(capsys, tmp_path, checkpoint):
    out = tmp_path / "m16.onnx"
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(out), "--fp16"]) == 0
    printed = capsys.readouterr().out
    assert "FP16 variant of ecg (" in printed and "contract ok" in printed
    assert check_contract(out) == [] and list(tmp_path.iterdir()) == [out]  # no float32 file left behind
    m = load_model(out)
    assert m.metadata["biodae.precision"] == "fp16" and float(m.metadata["biodae.fp16_parity"]) < 1e-2
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(out), "--fp16"]) == 2
    assert "exists" in capsys.readouterr().err


def test_export_warns_when_the_checkpoint_was_not_trained_as_the_recipe_says(capsys, tmp_path, checkpoint):
    assert main(["export", str(checkpoint), "--recipe", "ecg", "-o", str(tmp_path / "m.onnx")]) == 0
    err = capsys.readouterr().err
    assert "was not trained as recipe 'ecg'" in err
    assert "model_config.widths [4, 6, 8] (recipe: [" in err and "epochs 1 (recipe: " in err


def test_recipe_drift_is_empty_for_a_run_of_the_recipe_itself():
    from dataclasses import asdict

    from biodae.nn.recipes import get_recipe, recipe_drift

    recipe = get_recipe("eeg")
    full = build_model(recipe.model, **recipe.model_config).config
    state = {"model": {"name": recipe.model, "config": full},
             "train_config": {"loss": recipe.loss, "epochs": recipe.epochs, "lr": recipe.lr, "seed": recipe.seed,
                              "batch_size": recipe.batch_size, "lr_schedule": recipe.lr_schedule, "patience": 3}}
    trained = asdict(recipe) | {"version": "0.0.1", "limits": "other texts do not count"}
    assert recipe_drift(recipe, state, trained) == []
    assert recipe_drift(recipe, state | {"train_config": {"loss": "snr"}}, None) == [
        'loss "snr" (recipe: "snr_psd")']
    assert recipe_drift(recipe, state, trained | {"options": {"snr_range": [-10.0, 12.0]}}) == [
        f'options {{"snr_range": [-10.0, 12.0]}} (recipe: {json.dumps(recipe.options)})']
