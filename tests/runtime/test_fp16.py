"""FP16 variants: float16 weights and network, float32 input, output and normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

import biodae
from biodae import InputError
from biodae.cli import main
from biodae.runtime import check_contract, convert_to_fp16, create_session, load_model, write_fp16_variant
from biodae.runtime._fp16 import FP16_TOLERANCE, fp16_parity, parity_inputs

MODELS = [p for p in sorted((Path(__file__).resolve().parents[2] / "models").glob("*.onnx"))
          if p.stem in biodae.runtime.available_models()]  # the denoisers (not the biodae.latent models)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    d = tmp_path_factory.mktemp("fp16")
    return {p.stem: (p, *write_fp16_variant(p, d / f"{p.stem}-fp16.onnx")) for p in MODELS}


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_variant_is_contract_complete_half_size_and_close(variants, path):
    src, dst, parity = variants[path.stem]
    assert check_contract(dst) == []
    assert dst.stat().st_size < 0.6 * src.stat().st_size
    proto = onnx.load(dst)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["biodae.precision"] == "fp16" and float(meta["biodae.fp16_parity"]) == pytest.approx(parity, rel=0.01)
    src_meta = {p.key: p.value for p in onnx.load(src).metadata_props}
    assert meta["biodae.source_weights_sha256"] == src_meta["biodae.weights_sha256"] != meta["biodae.weights_sha256"]
    assert meta["biodae.name"] == src_meta["biodae.name"] and meta["biodae.window"] == src_meta["biodae.window"]
    # float16 weights (float32 only for scalars of the normalisation), float32 input and output
    weights = [t for t in proto.graph.initializer if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    assert sum(t.data_type == TensorProto.FLOAT16 for t in weights) > 10
    assert all(t.data_type == TensorProto.FLOAT16 for t in weights if np.prod(t.dims) > 1)
    for v in (*proto.graph.input, *proto.graph.output):
        assert v.type.tensor_type.elem_type == TensorProto.FLOAT
    assert 0 < parity < 5e-3  # float16 rounding is there, and small


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_variant_denoises_like_the_float32_model(variants, path):
    _, dst, _ = variants[path.stem]
    a, b = load_model(path, threads=1), load_model(dst, threads=1)
    if a.spatial_dims == 2:
        img = biodae.read(Path(__file__).resolve().parents[1] / "data" / "images" / "brain_slice16.png").data
        ya, yb = a.denoise_image(img), b.denoise_image(img)
    else:
        t = np.arange(3 * a.window + 17) / a.sampling_rate
        x = np.sin(2 * np.pi * 1.1 * t) + 0.2 * np.random.default_rng(0).standard_normal(t.size)
        ya = a.denoise_signal(x, sampling_rate=a.sampling_rate)
        yb = b.denoise_signal(x, sampling_rate=a.sampling_rate)
    assert np.abs(yb - ya).max() / np.abs(ya).max() < 5e-3


def test_normalisation_stays_float32(variants):
    """EEG in µV with a large DC offset: float16 (11-bit mantissa) would keep ~30 µV steps of a
    60 mV offset; the variant normalises in float32, so the output keeps its accuracy."""
    src, dst, _ = variants["eeg"]
    x = parity_inputs(1, 512)[0] * 20.0 + 60_000.0
    assert fp16_parity(src, dst, [x]) < 5e-3


def test_conversion_is_reproducible_and_refuses_twice(variants, tmp_path):
    src, dst, _ = variants["ecg"]
    again, _ = write_fp16_variant(src, tmp_path / "again.onnx")
    assert again.read_bytes() == dst.read_bytes()
    with pytest.raises(InputError, match="already a fp16 model"):
        write_fp16_variant(dst, tmp_path / "twice.onnx")


def test_graph_without_convolution_is_refused():
    from onnx import helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, "l"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 1, "l"])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["input"], ["output"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(InputError, match="no convolution"):
        convert_to_fp16(m)


def test_cli_fp16_of_a_shipped_model(capsys, tmp_path, variants):
    out = tmp_path / "eeg-fp16.onnx"
    assert main(["export", str(variants["eeg"][0]), "-o", str(out), "--fp16"]) == 0
    printed = capsys.readouterr().out
    assert "FP16 variant of eeg.onnx, max |fp16 - fp32| / max |fp32| = " in printed and "contract ok" in printed
    assert out.read_bytes() == variants["eeg"][1].read_bytes()
    assert main(["export", str(variants["eeg"][0]), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "pass --fp16" in capsys.readouterr().err
    create_session(out)  # loads in onnxruntime


def test_tolerance_is_a_real_bound():
    assert FP16_TOLERANCE <= 1e-2
