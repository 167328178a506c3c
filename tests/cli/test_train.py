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


@pytest.mark.parametrize("case", ["export-on-config", "config-is-run-file", "export-on-init", "export-is-checkpoint"])
def test_no_flag_makes_training_write_onto_its_own_input(capsys, tmp_path, case):
    """Refused before anything is read or written, --force or not; the input is left byte for byte."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.json").write_text(json.dumps(TINY))
    init = tmp_path / "start.onnx"
    init.write_bytes(b"not really a model")
    args = {
        "export-on-config": ["--config", str(cfg), "--export", str(cfg), "--force"],
        "config-is-run-file": ["--config", str(run / "recipe.json")],
        "export-on-init": ["--init", str(init), "--export", str(init), "--force"],
        "export-is-checkpoint": ["--export", str(run / "best.pt"), "--force"],
    }[case]
    before = {p: p.read_bytes() for p in (cfg, run / "recipe.json", init)}
    code = main(["train", "eeg", "--out-dir", str(run), "--data", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "never overwrites an input" in err or "one of the run's own files" in err
    assert "--export" in err and "export=" not in err
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in run.iterdir()) == ["recipe.json"]


def test_an_existing_export_is_refused_before_training(capsys, tmp_path):
    out = tmp_path / "eeg.onnx"
    out.write_bytes(b"keep me")
    code = main(["train", "eeg", "--out-dir", str(tmp_path / "run"), "--data", str(tmp_path), "--export", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and "exists" in err and "--force" in err and "force=True" not in err
    assert out.read_bytes() == b"keep me"
    assert not (tmp_path / "run").exists(), "refused before the run folder is made"
