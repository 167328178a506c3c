"""export_onnx(precision="fp16"): the FP16 variant straight from a torch model, 1D and 2D."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from biodae.nn import build_model, export_onnx  # noqa: E402
from biodae.runtime import check_contract  # noqa: E402

CASES = {
    "resunet1d": ({"widths": [4, 6, 8], "bottleneck_dilations": [1, 2], "norm": "center"}, (2, 1, 517)),
    "dncnn2d": ({"depth": 4, "width": 8}, (2, 1, 45, 61)),
    "resunet2d": ({"widths": [4, 8], "bottleneck_dilations": [1, 2], "norm": "none"}, (1, 1, 33, 70)),
}


def _perturbed(model):
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


@pytest.mark.parametrize("name", list(CASES))
def test_fp16_export_matches_torch(tmp_path, name):
    cfg, shape = CASES[name]
    model = _perturbed(build_model(name, **cfg))
    path = export_onnx(model, tmp_path / "m16.onnx", metadata={"biodae.window": "256"}, precision="fp16")
    proto = onnx.load(path)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["biodae.precision"] == "fp16" and float(meta["biodae.fp16_parity"]) < 1e-2
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert not [p for p in check_contract(path) if not p.startswith("missing metadata")]
    x = np.random.default_rng(2).random(shape).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert out.dtype == np.float32 and out.shape == ref.shape
    err = np.abs(out - ref).max() / np.abs(ref).max()
    assert 1e-6 < err < 1e-2, err  # (re-conversion is byte-identical: tests/runtime/test_fp16.py)


def test_precision_is_checked(tmp_path):
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'fp16'"):
        export_onnx(build_model("dncnn2d", depth=3, width=4), tmp_path / "x.onnx", precision="int8")
