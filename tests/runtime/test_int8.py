"""int8 variants: QDQ inner convolutions, float32 input and output, calibrated on given data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from biodae import InputError
from biodae.cli import main
from biodae.runtime import (
    check_contract,
    create_session,
    int8_variant,
    load_onnx,
    write_int8_variant,
)
from biodae.datasets._calibration import _TRAINING, calibration_inputs
from biodae.runtime._int8 import INT8_KEEP_FLOAT, INT8_TOLERANCE

ROOT = Path(__file__).resolve().parents[2]
ECG = ROOT / "models" / "ecg.onnx"


def _windows(lead: int) -> np.ndarray:
    """Eight 1024-sample windows of one lead of the shipped example (30 s of real ECG with real electrode motion at
    6 dB, mV, 250 Hz: the rate does not matter for calibrating), as float32 ``(8, 1, 1024)``."""
    from biodae.io import read

    x = np.asarray(read(ROOT / "examples" / "ecg" / "sel100_em6.hea").data[:, lead], dtype=np.float32)
    return np.stack([x[i * 768 : i * 768 + 1024] for i in range(8)])[:, None]


@pytest.fixture(scope="module")
def calibration():
    w = _windows(0)
    return [w[:4], w[4:]]


@pytest.fixture(scope="module")
def variant(calibration):
    return int8_variant(load_onnx(ECG), calibration, name="ecg", description="test windows")


def meta_text(proto) -> str:
    return {p.key: p.value for p in proto.metadata_props}["biodae.precision_detail"]


def test_variant_is_contract_complete_qdq_and_float32_io(variant, tmp_path):
    proto, parity = variant
    path = tmp_path / "ecg-int8.onnx"
    path.write_bytes(proto.SerializeToString(deterministic=True))
    assert check_contract(path) == []
    ops = [n.op_type for n in proto.graph.node]
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert ops.count("QuantizeLinear") >= len(convs) - 2 and ops.count("DequantizeLinear") >= 2 * (len(convs) - 2)
    int8_weights = [t for t in proto.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) == 3]
    for v in (*proto.graph.input, *proto.graph.output):
        assert v.type.tensor_type.elem_type == TensorProto.FLOAT
    meta = {p.key: p.value for p in proto.metadata_props}
    src = {p.key: p.value for p in load_onnx(ECG).metadata_props}
    assert meta["biodae.precision"] == "int8" and meta["biodae.calibration"] == "test windows"
    kept = INT8_KEEP_FLOAT[src["biodae.weights_sha256"]]  # chosen on validation data for these weights
    assert len(kept) == 5 and all(k in meta_text(proto) for k in kept)
    assert len(int8_weights) == len(convs) - 2 - len(kept)  # every Conv but the first, the last and those kept
    assert float(meta["biodae.int8_parity"]) == pytest.approx(parity, rel=0.01)
    assert meta["biodae.source_weights_sha256"] == src["biodae.weights_sha256"] != meta["biodae.weights_sha256"]
    assert meta["biodae.window"] == src["biodae.window"] and meta["biodae.name"] == "ecg"
    assert path.stat().st_size < 0.5 * ECG.stat().st_size


def test_parity_on_held_out_windows(variant):
    """Measured: 2.7e-2 of the output's peak on the calibration windows, 3.3e-2 on 256 training windows."""
    proto, parity = variant
    assert 1e-4 < parity < 0.06
    x = _windows(1)  # the other lead: not seen by the calibration
    a, b = create_session(str(ECG), threads=1), create_session(proto.SerializeToString(), threads=1)
    ya, yb = a.run(None, {"input": x})[0], b.run(None, {"input": x})[0]
    assert yb.dtype == np.float32 and yb.shape == ya.shape
    assert np.max(np.abs(yb - ya)) / np.max(np.abs(ya)) < 0.08
    assert np.sqrt(np.mean((yb - ya) ** 2)) / np.sqrt(np.mean(ya**2)) < 0.05


def test_refuses_int8_model_bad_calibration_and_bad_parity(variant, calibration):
    with pytest.raises(InputError, match="already a int8 model"):
        int8_variant(variant[0], calibration)
    with pytest.raises(InputError, match="no calibration data"):
        int8_variant(load_onnx(ECG), [])
    with pytest.raises(InputError, match="shape"):
        int8_variant(load_onnx(ECG), [np.zeros((2, 2, 1024), np.float32)])
    with pytest.raises(InputError, match="disagrees"):
        int8_variant(load_onnx(ECG), calibration, tolerance=1e-6)
    assert INT8_TOLERANCE >= 0.06


def test_calibration_needs_data(monkeypatch):
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    with pytest.raises(InputError, match="BIODAE_DATA"):
        calibration_inputs("ecg")
    with pytest.raises(InputError, match="no calibration recipe"):
        calibration_inputs("ecg-beats")


def test_calibration_settings_match_the_recipes():
    pytest.importorskip("torch")
    from biodae.nn.recipes import RECIPES

    for name, spec in _TRAINING.items():
        o = RECIPES[name].options
        if spec["kind"] == "deepfilter":
            assert o["version"] == spec["version"]
        elif spec["kind"] == "ecg":
            assert tuple(o["snr_range"]) == spec["snr_range"] and tuple(o["noise_augment"]) == spec["noise_augment"]
            assert RECIPES[name].train_window == spec["length"]
        elif spec["kind"] == "eeg":
            assert {k: tuple(v) if isinstance(v, list) else v for k, v in o.items()} == {
                k: spec[k] for k in ("snr_range", "high_snr_fraction", "high_snr_range", "clean_augment")}
        else:
            assert o["noise"] == spec["noise"] and o["source_weights"] == spec["source_weights"]
            assert o.get("scanner") == spec.get("scanner")
            for k in ("sigma_range", "peak_range", "electronic_range"):
                assert (tuple(o[k]) if k in o else None) == spec.get(k)


def test_export_int8_cli(tmp_path, monkeypatch, calibration, capsys):
    import biodae.runtime

    monkeypatch.setattr(biodae.datasets, "calibration_inputs", lambda name: calibration)
    out = tmp_path / "ecg-int8.onnx"
    assert main(["export", str(ECG), "-o", str(out), "--int8"]) == 0
    printed = capsys.readouterr().out
    assert "int8 variant" in printed and "contract ok" in printed
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta["biodae.precision"] == "int8" and "1024" in meta["biodae.calibration"]
    before = out.read_bytes()
    assert main(["export", str(ECG), "-o", str(out), "--int8"]) != 0  # exists, no --force
    assert main(["export", str(out), "-o", str(tmp_path / "again.onnx"), "--int8"]) != 0  # already int8
    assert not (tmp_path / "again.onnx").exists()
    assert main(["export", str(ECG), "-o", str(tmp_path / "x.onnx"), "--int8", "--fp16"]) != 0
    assert "--fp16 and --int8" in capsys.readouterr().err
    assert main(["export", str(out), "-o", str(out), "--int8", "--force"]) != 0  # never onto its input
    assert out.read_bytes() == before


def test_write_int8_variant_never_writes_onto_its_input(tmp_path, calibration):
    src = tmp_path / "ecg.onnx"
    src.write_bytes(ECG.read_bytes())
    with pytest.raises(InputError, match="own input"):
        write_int8_variant(src, src, calibration=calibration, force=True)
    assert src.read_bytes() == ECG.read_bytes()


def test_keep_float_overrides_the_chosen_convolutions(calibration):
    with pytest.raises(InputError, match="not Conv nodes of the model: nope"):
        int8_variant(load_onnx(ECG), calibration, keep_float=["nope"])
    proto, _ = int8_variant(load_onnx(ECG), calibration, keep_float=())
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    int8_weights = [t for t in proto.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) == 3]
    assert len(int8_weights) == len(convs) - 2  # every Conv but the first and the last
    assert "also float32" not in meta_text(proto)
