"""Contract checks beyond the metadata: the IR version other runtimes load, a signal model's rate."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from biodae import InputError
from biodae.runtime import check_contract, load_model


def test_newer_ir_version_is_flagged(tmp_path):
    proto = onnx.load(load_model("eeg").path)
    assert proto.ir_version == 10 and check_contract(load_model("eeg").path) == []
    proto.ir_version = 11
    onnx.save(proto, tmp_path / "ir11.onnx")
    assert any(p.startswith("IR version 11 > 10") for p in check_contract(tmp_path / "ir11.onnx"))


def test_signal_model_without_sampling_rate_is_refused(tmp_path):
    proto = onnx.load(load_model("eeg").path)
    kept = [p for p in proto.metadata_props if p.key != "biodae.sampling_rate"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    onnx.save(proto, tmp_path / "no_rate.onnx")
    with pytest.raises(InputError, match="has no biodae.sampling_rate: the rate it was trained at is unknown"):
        load_model(tmp_path / "no_rate.onnx").denoise_signal(np.zeros(100), sampling_rate=256)
