"""``biodae models [NAME]``: the shipped models, described from their own ONNX metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest

from biodae.cli import main
from biodae.runtime import _model
from biodae.runtime._precision import is_variant_file

MODELS = Path(__file__).resolve().parents[2] / "models"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def metadata(path: Path) -> dict[str, str]:
    """Read independently of biodae: onnx's own protobuf."""
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def blocks(out: str) -> dict[str, str]:
    """The listing's block of each model, by name (a block starts unindented, after a blank line)."""
    found = {}
    for block in out.split("\n\n")[1:]:
        lines = block.splitlines()
        if len(lines) > 1 and lines[1].startswith("  expects"):
            found[lines[0].split()[0]] = block
    return found


def test_models_lists_every_shipped_model_from_its_metadata(capsys):
    code, out, err = run(capsys, "models")
    assert code == 0, err
    shipped = sorted(p for p in MODELS.glob("*.onnx") if not is_variant_file(p))  # ecg.int8.onnx: a variant
    assert shipped, "no shipped models to list"
    listed = blocks(out)
    assert sorted(listed) == sorted(p.stem for p in shipped)
    for path in shipped:
        meta = metadata(path)
        if meta.get("biodae.task") == "latent":  # biodae.latent models (docs/onnx.md, "Latent models")
            block = listed[path.stem]
            assert block.splitlines()[0].split()[:3] == [path.stem, meta["biodae.version"], "LATENT"]
            assert f"expects  {meta['biodae.n_features']} features per row" in block
            assert f"flagged above {float(meta['biodae.threshold']):.4g}" in block
            assert Path(block.split("card     ")[1].split()[0]).resolve() == path.with_suffix(".md").resolve()
            continue
        block = listed[meta["biodae.name"]]
        head = block.splitlines()[0].split()
        assert head[1] == meta["biodae.version"] and head[2] == meta["biodae.modality"].upper()
        if meta.get("biodae.sampling_rate"):  # a signal model: its rate and units
            assert f"expects  {float(meta['biodae.sampling_rate']):g} Hz, {meta['biodae.units']}" in block
        else:  # an image model: the pixel spacing it was trained on
            assert f"pixel spacing: {meta['biodae.pixel_spacing']}" in block
        assert meta["biodae.input"].partition(": ")[2] in block
        assert meta["biodae.output"].partition(": ")[2] in block
        card = path.with_suffix(".md")
        assert card.is_file()
        assert Path(block.split("card     ")[1].split()[0]).resolve() == card.resolve()


def test_models_reads_the_files_not_a_table(capsys, tmp_path, monkeypatch):
    """Change a model's metadata on disk: the listing follows."""
    proto = onnx.load(str(MODELS / "eeg.onnx"))
    for p in proto.metadata_props:
        if p.key == "biodae.version":
            p.value = "9.8.7"
        if p.key == "biodae.sampling_rate":
            p.value = "512"
    onnx.save(proto, str(tmp_path / "eeg.onnx"))
    monkeypatch.setattr(_model, "_models_dir", lambda: tmp_path)
    code, out, err = run(capsys, "models")
    assert code == 0, err
    block = blocks(out)["eeg"]
    assert block.startswith("eeg  9.8.7  EEG")
    assert "expects  512 Hz" in block
    assert "card     (none)" in block  # no eeg.md in that folder


def test_models_name_prints_all_metadata_and_the_card(capsys):
    code, out, err = run(capsys, "models", "ecg")
    assert code == 0, err
    meta = metadata(MODELS / "ecg.onnx")
    lines = out.splitlines()
    for key, value in meta.items():
        assert any(line.split(None, 1)[0] == key and line.split(None, 1)[1:] == [value or "(empty)"]
                   for line in lines), key
    card = next(line for line in lines if line.startswith("card "))
    assert Path(card.split(None, 1)[1]).resolve() == (MODELS / "ecg.md").resolve()


def test_models_name_takes_an_onnx_file(capsys, tmp_path):
    shutil.copy2(MODELS / "mri.onnx", tmp_path / "mine.onnx")
    code, out, err = run(capsys, "models", tmp_path / "mine.onnx")
    assert code == 0, err
    assert "biodae.name" in out and "card" in out and "(none)" in out


@pytest.mark.parametrize("bad", ["nosuch", "missing.onnx", "truncated"])
def test_models_name_errors_are_one_line(capsys, tmp_path, bad):
    arg = bad
    if bad == "truncated":
        data = (MODELS / "xray.onnx").read_bytes()
        arg = tmp_path / "cut.onnx"
        arg.write_bytes(data[: len(data) // 3])
    elif bad == "missing.onnx":
        arg = tmp_path / bad
    code, out, err = run(capsys, "models", arg)
    assert code == 2
    assert err.startswith("biodae: error: ") and err.count("\n") == 1 and "Traceback" not in err
    if bad == "nosuch":
        assert "shipped models: " in err and "ecg" in err
