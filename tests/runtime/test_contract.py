"""Contract checks beyond the metadata: the IR version that other runtimes can load."""

from __future__ import annotations

import onnx

from biodae.runtime import check_contract, load_model


def test_newer_ir_version_is_flagged(tmp_path):
    proto = onnx.load(load_model("eeg").path)
    assert proto.ir_version == 10 and check_contract(load_model("eeg").path) == []
    proto.ir_version = 11
    onnx.save(proto, tmp_path / "ir11.onnx")
    assert any(p.startswith("IR version 11 > 10") for p in check_contract(tmp_path / "ir11.onnx"))
