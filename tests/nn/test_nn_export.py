"""ONNX export: checker, metadata, onnxruntime parity at odd sizes, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from biodae import OutputExistsError  # noqa: E402
from biodae.nn import NoisyWindows, build_model, checkpoint_to_onnx, export_onnx, fit, load_checkpoint  # noqa: E402

LENGTHS = [1, 7, 511, 513, 1000, 3601]
SIZES = [(1, 1), (31, 45), (64, 64), (65, 97)]
# the reference FCN-DAE as it is; the others small so that tracing stays quick
CASES = {
    "fcn_dae": {},
    "resunet1d": {"widths": [4, 6, 8], "bottleneck_dilations": [1, 2]},
    "dncnn2d": {"depth": 4, "width": 8},
    "resunet2d": {"widths": [4, 8], "bottleneck_dilations": [1, 2]},
}
META = {"fs": "360", "trained_on": "synthetic"}


def _perturbed(model):
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, cfg in CASES.items():
        model = _perturbed(build_model(name, **cfg))
        out[name] = (model, export_onnx(model, folder / f"{name}.onnx", metadata=META))
    return out


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _rel_err(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("name", list(CASES))
def test_file_passes_checker_and_has_metadata(exported, name):
    model, path = exported[name]
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    expected = ["batch", "channels", "length"] if model.spatial_dims == 1 else ["batch", "channels", "height", "width"]
    assert dims == expected
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["fs"] == "360" and meta["trained_on"] == "synthetic"
    assert meta["producer"].startswith("biodae ")
    assert meta["biodae.model"] == model.name and json.loads(meta["biodae.config"]) == model.config
    assert proto.opset_import[0].version == 18
    assert proto.graph.initializer and not any(t.external_data for t in proto.graph.initializer)  # one file


@pytest.mark.parametrize("name", list(CASES))
def test_no_machine_paths_or_node_metadata(exported, name):
    _, path = exported[name]
    data = path.read_bytes()
    for needle in (b"/work", b"site-packages", b"/home", b"/root", b"/tmp", b".py"):
        assert needle not in data, needle
    proto = onnx.load_from_string(data)
    assert not any(n.metadata_props or n.doc_string for n in proto.graph.node)
    assert not proto.doc_string and not proto.graph.doc_string


@pytest.mark.parametrize("name", list(CASES))
def test_onnxruntime_matches_torch_at_odd_sizes(exported, name):
    model, path = exported[name]
    session = _session(path)
    gen = torch.Generator().manual_seed(2)
    shapes = [(2, 3, n) for n in LENGTHS] if model.spatial_dims == 1 else [(2, 1, h, w) for h, w in SIZES]
    for shape in shapes:
        x = 40.0 * torch.randn(*shape, generator=gen) + 7.0  # physical units, any scale
        with torch.no_grad():
            ref = model(x).numpy()
        (out,) = session.run(["output"], {"input": x.numpy()})
        assert out.shape == ref.shape
        assert _rel_err(out, ref) <= 1e-4, (shape, _rel_err(out, ref))


@pytest.mark.parametrize("name", ["fcn_dae", "resunet2d"])
def test_constant_input_stays_finite_in_onnxruntime(exported, name):
    model, path = exported[name]
    shape = (1, 2, 50) if model.spatial_dims == 1 else (1, 1, 9, 13)
    x = np.full(shape, 2.5, dtype=np.float32)
    (out,) = _session(path).run(["output"], {"input": x})
    np.testing.assert_allclose(out, x, rtol=0, atol=1e-6)


def test_reexport_is_byte_identical_and_refuses_overwrite(exported, tmp_path):
    model, first = exported["dncnn2d"]
    again = export_onnx(model, tmp_path / "again.onnx", metadata=META)
    assert again.read_bytes() == first.read_bytes()
    with pytest.raises(OutputExistsError):
        export_onnx(model, again, metadata=META)
    assert model.training is False


def test_metadata_must_be_strings(tmp_path):
    with pytest.raises(ValueError, match="must be str"):
        export_onnx(build_model("dncnn2d", depth=2, width=2), tmp_path / "x.onnx", metadata={"fs": 360})


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 20, 96, dtype=np.float32))[None, None] * rng.uniform(0.5, 2, (24, 1, 1))
    data = NoisyWindows(clean.astype(np.float32), lambda w, r: w + 0.3 * r.standard_normal(w.shape), seed=0)
    torch.manual_seed(0)
    trained = fit(
        build_model(**{"name": "resunet1d", **CASES["resunet1d"]}), data, data, epochs=2, batch_size=8,
        checkpoint_dir=tmp_path / "run", progress=False, device="cpu",
    ).model
    model, ckpt = load_checkpoint(tmp_path / "run" / "best.pt")  # weights_only=True inside
    assert not model.training and ckpt["model"]["name"] == "resunet1d"
    for k, v in trained.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    path = checkpoint_to_onnx(tmp_path / "run" / "best.pt", tmp_path / "m.onnx", {"fs": "360"})
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["biodae.epoch"] == str(ckpt["epoch"]) and meta["fs"] == "360"
    assert json.loads(meta["biodae.train_config"])["batch_size"] == 8
    assert str(tmp_path).encode() not in path.read_bytes()
    x = rng.standard_normal((1, 1, 257)).astype(np.float32)
    (out,) = _session(path).run(["output"], {"input": x})
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert _rel_err(out, ref) <= 1e-4
