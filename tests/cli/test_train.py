"""biodae train on real data with a tiny configuration: checkpoints, resume, ONNX export."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from biodae.cli import main  # noqa: E402
from biodae.runtime import check_contract, load_model  # noqa: E402

# "plateau": the test below extends a finished run, which a cosine schedule (the eeg recipe's) refuses
TINY = {"epochs": 1, "windows_per_epoch": 64, "val_windows": 32, "batch_size": 16, "lr_schedule": "plateau",
        "model_config": {"widths": [4, 6, 8], "kernel_size": 3, "norm": "rms"}}


def test_train_eeg_tiny_then_resume_and_export(capsys, tmp_path, biodae_data, monkeypatch):
    monkeypatch.setenv("BIODAE_DATA", str(biodae_data))
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    assert main(["train", "eeg", "--out-dir", str(run), "--config", str(cfg)]) == 0
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    assert json.loads((run / "recipe.json").read_text())["model_config"]["widths"] == [4, 6, 8]
    capsys.readouterr()
    # a second run with more epochs resumes, and exports a contract-complete model
    assert main(["train", "eeg", "--out-dir", str(run), "--config", str(cfg), "--epochs", "2",
                 "--export", str(tmp_path / "eeg.onnx")]) == 0
    out = capsys.readouterr()
    assert "resumed from" in out.out + out.err
    assert check_contract(tmp_path / "eeg.onnx") == []
    m = load_model(tmp_path / "eeg.onnx")
    assert (m.name, m.sampling_rate, m.units) == ("eeg", 256.0, "uV")


def test_extending_a_cosine_run_is_refused_with_what_to_do(capsys, tmp_path, biodae_data, monkeypatch):
    monkeypatch.setenv("BIODAE_DATA", str(biodae_data))
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(dict(TINY, lr_schedule="cosine")))
    run = tmp_path / "run"
    assert main(["train", "eeg", "--out-dir", str(run), "--config", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["train", "eeg", "--out-dir", str(run), "--config", str(cfg), "--epochs", "2"]) != 0
    err = capsys.readouterr().err
    assert "cosine schedule decays over 1 epochs" in err and "--epochs 1" in err
    assert "internal error" not in err


def test_unknown_recipe(capsys, tmp_path):
    assert main(["train", "mri9000", "--out-dir", str(tmp_path)]) == 2
    assert "unknown recipe 'mri9000'" in capsys.readouterr().err
