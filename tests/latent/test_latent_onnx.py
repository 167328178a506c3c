"""The ONNX file of a fitted Autoencoder: contract, plain onnxruntime, save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from biodae import InputError, OutputExistsError  # noqa: E402
from biodae._version import __version__  # noqa: E402
from biodae.latent import Autoencoder  # noqa: E402
from biodae.latent._onnx import METADATA_KEYS, check_latent_file, read_metadata  # noqa: E402
from biodae.runtime import weights_sha256  # noqa: E402


@pytest.fixture(scope="module")
def fitted(small_rows):
    """A supervised model with string labels (the richest file) and an unsupervised conv1d one."""
    X = small_rows
    labels = np.where(X[:, 0] > 0.5, "V", np.where(X[:, 0] < -0.5, "S", "N"))
    sup = Autoencoder("supervised", 3, hidden=(16, 8), epochs=20, lr=1e-2, batch_size=32, contamination=0.05,
                      random_state=0).fit(X, labels)
    conv = Autoencoder("variational", 2, arch="conv1d", hidden=(4, 8), epochs=4, random_state=0).fit(X)
    return X, labels, sup, conv


def _session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_file_follows_the_contract(fitted):
    X, labels, sup, conv = fitted
    for ae in (sup, conv):
        assert check_latent_file(ae.onnx_model_) == []
        proto = onnx.load_model_from_string(ae.onnx_model_)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert set(METADATA_KEYS) <= set(meta)
        assert proto.ir_version == 10 and [(o.domain, o.version) for o in proto.opset_import] == [("", 18)]
        assert meta["biodae.version"] == "0.0.0" and meta["biodae.name"] == "autoencoder"
        assert meta["producer"].startswith(f"biodae {__version__} ") and meta["biodae.task"] == "latent"
        assert meta["biodae.kind"] == ae.kind and meta["biodae.arch"] == ae.arch
        assert int(meta["biodae.latent_dim"]) == ae.latent_dim_ and int(meta["biodae.n_features"]) == 12
        assert float(meta["biodae.threshold"]) == ae.threshold_
        std = json.loads(meta["biodae.standardisation"])
        np.testing.assert_array_equal(np.float32(std["mean"]), ae.mean_)
        np.testing.assert_array_equal(np.float32(std["std"]), ae.scale_)
        assert meta["biodae.weights_sha256"] == weights_sha256(proto)
        assert json.loads(meta["biodae.params"])["kind"] == ae.kind
    meta = {p.key: p.value for p in onnx.load_model_from_string(sup.onnx_model_).metadata_props}
    assert json.loads(meta["biodae.classes"]) == ["N", "S", "V"]
    assert "contamination=0.05" in meta["biodae.threshold_rule"]


def test_contract_check_finds_what_is_wrong(fitted):
    _, _, sup, _ = fitted
    proto = onnx.load_model_from_string(sup.onnx_model_)
    props = [p for p in proto.metadata_props if p.key not in ("biodae.classes", "biodae.threshold")]
    del proto.metadata_props[:]
    proto.metadata_props.extend(props)
    proto.graph.output[0].name = "codes"
    problems = check_latent_file(proto.SerializeToString())
    assert any("missing metadata: biodae.threshold, biodae.classes" in p for p in problems)
    assert any("outputs must be" in p for p in problems)


def test_plain_onnxruntime_reproduces_scores_flags_and_classes(fitted):
    """What a client in another language does with the file and the contract alone."""
    X, labels, sup, _ = fitted
    data = sup.onnx_model_
    meta = {p.key: p.value for p in onnx.load_model_from_string(data).metadata_props}
    sess = _session(data)
    assert [i.name for i in sess.get_inputs()] == ["x", "z"]
    assert [o.name for o in sess.get_outputs()] == ["code", "reconstruction", "score", "proba", "decoded"]
    no_z, no_x = np.zeros((1, 3), np.float32), np.zeros((1, 12), np.float32)  # the path not needed gets a zero row
    code, rec, score, proba = sess.run(["code", "reconstruction", "score", "proba"],
                                       {"x": X.astype(np.float32), "z": no_z})
    np.testing.assert_array_equal(code, sup.transform(X.astype(np.float32)))
    np.testing.assert_array_equal(score, sup.score_samples(X.astype(np.float32)))
    # the score is what the contract says, from the metadata's standardisation
    std = json.loads(meta["biodae.standardisation"])
    mean, sd = np.float32(std["mean"]), np.float32(std["std"])
    np.testing.assert_allclose(score, np.mean(((X - mean) / sd - (rec - mean) / sd) ** 2, axis=1), rtol=1e-4)
    flags = score > float(meta["biodae.threshold"])
    np.testing.assert_array_equal(flags.astype(int), (sup.score_samples(X) > sup.threshold_).astype(int))
    assert 0.02 <= flags.mean() <= 0.08  # contamination 0.05 of the training rows
    classes = json.loads(meta["biodae.classes"])
    np.testing.assert_array_equal(np.asarray(classes)[proba.argmax(1)], sup.predict(X))
    assert (sup.predict(X) == labels).mean() > 0.8
    # the decoder path, from codes
    (decoded,) = sess.run(["decoded"], {"z": code, "x": no_x})
    np.testing.assert_allclose(decoded, rec, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(decoded, sup.inverse_transform(code))


@pytest.mark.parametrize("which", ["sup", "conv"])
def test_save_and_load_give_identical_outputs(fitted, tmp_path, which):
    X, labels, sup, conv = fitted
    ae = sup if which == "sup" else conv
    path = ae.save(tmp_path / "model.onnx")
    assert path.read_bytes() == ae.onnx_model_
    back = Autoencoder.load(path)
    assert back.get_params() == ae.get_params()
    assert back.threshold_ == ae.threshold_ and back.n_features_in_ == ae.n_features_in_
    np.testing.assert_array_equal(back.mean_, ae.mean_)
    assert back.history_ == ae.history_
    Z = ae.transform(X)
    np.testing.assert_array_equal(back.transform(X), Z)
    np.testing.assert_array_equal(back.score_samples(X), ae.score_samples(X))
    np.testing.assert_array_equal(back.predict(X), ae.predict(X))
    np.testing.assert_array_equal(back.inverse_transform(Z), ae.inverse_transform(Z))
    if which == "sup":
        np.testing.assert_array_equal(back.classes_, ae.classes_)
        np.testing.assert_array_equal(back.predict_proba(X), ae.predict_proba(X))
    # a loaded model can be refitted from its parameters
    refit = Autoencoder(**back.get_params()).fit(X, labels if which == "sup" else None)
    assert refit.transform(X).shape == Z.shape


def test_save_with_a_name_and_version_changes_only_those(fitted, tmp_path):
    X, _, sup, _ = fitted
    path = sup.save(tmp_path / "named.onnx", name="ecg-test", version="2.1.0")
    meta = read_metadata(path.read_bytes())
    plain = read_metadata(sup.onnx_model_)
    assert meta["biodae.name"] == "ecg-test" and meta["biodae.version"] == "2.1.0"
    assert {k: v for k, v in meta.items() if k not in ("biodae.name", "biodae.version")} == {
        k: v for k, v in plain.items() if k not in ("biodae.name", "biodae.version")}
    assert not check_latent_file(path.read_bytes())
    back = Autoencoder.load(path)
    np.testing.assert_array_equal(back.score_samples(X), sup.score_samples(X))
    np.testing.assert_array_equal(back.predict(X), sup.predict(X))


def test_save_refuses_to_overwrite_and_load_refuses_other_files(fitted, tmp_path):
    X, _, sup, _ = fitted
    path = sup.save(tmp_path / "m.onnx")
    with pytest.raises(OutputExistsError):
        sup.save(path)
    sup.save(path, force=True)
    with pytest.raises(InputError, match="no such file"):
        Autoencoder.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not an ONNX file|not a biodae latent model"):
        Autoencoder.load(tmp_path / "junk.onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", 3])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", 3])])
    other = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    other.ir_version = 10
    onnx.save(other, tmp_path / "denoiser.onnx")
    with pytest.raises(InputError, match="not a biodae latent model"):
        Autoencoder.load(tmp_path / "denoiser.onnx")


def test_latent_file_runs_without_the_estimator_and_agrees_with_it(fitted, tmp_path):
    """LatentFile (onnxruntime alone, what `biodae beats` runs) gives the loaded estimator's outputs,
    threshold and classes, and refuses the files Autoencoder.load refuses."""
    from biodae.latent._onnx import LatentFile

    X, _, sup, conv = fitted
    for ae in (sup, conv):
        path = ae.save(tmp_path / f"{ae.kind}.onnx")
        back, fast = Autoencoder.load(path), LatentFile(path)
        want, got = back.outputs(X), fast.outputs(X.astype(np.float32))
        assert sorted(got) == sorted(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
        assert (fast.threshold_, fast.n_features_in_, fast.latent_dim_) == (
            back.threshold_, back.n_features_in_, back.latent_dim_)
        assert hasattr(fast, "classes_") == (ae.kind == "supervised")
    np.testing.assert_array_equal(fast_classes := LatentFile(tmp_path / "supervised.onnx").classes_, sup.classes_)
    assert fast_classes.dtype.kind == sup.classes_.dtype.kind
    with pytest.raises(InputError, match="no such file"):
        LatentFile(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InputError, match="junk.onnx is not an ONNX file"):
        LatentFile(tmp_path / "junk.onnx")
    from pathlib import Path

    denoiser = Path(__file__).resolve().parents[2] / "models" / "ecg.onnx"
    with pytest.raises(InputError, match="ecg.onnx is not a biodae latent model: missing metadata"):
        LatentFile(denoiser)


@pytest.mark.parametrize("arch", ["dense", "conv1d"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh", "sigmoid", "silu"])
def test_graph_matches_torch_for_every_layer_type(activation, arch):
    from biodae.latent._onnx import build_graph
    from biodae.nn.latent import latent_forward, latent_spec, train_latent

    rng = np.random.default_rng(8)
    X = rng.normal(size=(64, 27)).astype(np.float32)  # 27: the conv1d graph pads to 28 and crops back
    model, _ = train_latent(X, rng.integers(0, 3, 64), kind="supervised", latent_dim=3, arch=arch,
                            hidden=(5, 4) if arch == "conv1d" else (9,), activation=activation, n_classes=3,
                            epochs=2, batch_size=16, lr=1e-2, weight_decay=0.0, seed=0)
    mean, scale = X.mean(0) + 0.5, X.std(0) * 2  # the graph standardises; torch gets standardised rows
    sess = _session(build_graph(latent_spec(model), mean, scale).SerializeToString())
    code, rec, score, proba, decoded = sess.run(None, {"x": X, "z": X[:5, :3]})
    ref = latent_forward(model, (X - mean) / scale)
    np.testing.assert_allclose(code, ref["code"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((rec - mean) / scale, ref["recon"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(proba, ref["proba"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(score, np.mean(((X - mean) / scale - ref["recon"]) ** 2, axis=1), rtol=1e-4)
    np.testing.assert_allclose((decoded - mean) / scale, latent_forward_decoder(model, X[:5, :3]), atol=1e-5)


def latent_forward_decoder(model, z):
    with torch.no_grad():
        return model.decoder(torch.as_tensor(z)).numpy()


def test_fit_refuses_a_graph_that_disagrees_with_torch(small_rows, monkeypatch):
    from biodae.latent import _onnx

    monkeypatch.setitem(_onnx._ACT_OPS, "relu", ("Sigmoid", {}))  # a wrong translation
    with pytest.raises(RuntimeError, match="disagrees with torch"):
        Autoencoder(latent_dim=2, hidden=(8,), epochs=1, random_state=0).fit(small_rows)


def test_outputs_gives_every_output_at_once(fitted):
    X, _, sup, conv = fitted
    out = sup.outputs(X)
    assert set(out) == {"code", "reconstruction", "score", "proba"}
    np.testing.assert_allclose(out["code"], sup.transform(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["score"], sup.score_samples(X), rtol=1e-6, atol=1e-7)
    assert set(conv.outputs(X[:3])) == {"code", "reconstruction", "score"}


def test_the_flag_compares_in_double_precision(fitted):
    """A threshold just below a float32 score, but equal to it once rounded to float32: the score is above it, so
    the row is flagged, by ``predict`` on float32 and float64 input alike, as ``biodae beats`` and the contract do."""
    X, _, _, conv = fitted
    ae = Autoencoder(**conv.get_params())
    ae.__dict__.update({k: v for k, v in conv.__dict__.items() if k.endswith("_")})
    s = float(ae.score_samples(X[:1].astype(np.float32))[0])
    ae.threshold_ = float(np.nextafter(s, -np.inf))
    assert np.float32(ae.threshold_) == np.float32(s)  # float32 rounding would make them equal: not flagged
    assert ae.predict(X[:1].astype(np.float32))[0] == 1 and ae.predict(X[:1].astype(np.float64))[0] == 1
    assert ae.decision_function(X[:1].astype(np.float32))[0] > 0
