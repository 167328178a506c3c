"""Autoencoder(kind="supervised", ensemble=n): n networks, their class probabilities averaged in one ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from biodae import InputError  # noqa: E402
from biodae.latent import Autoencoder  # noqa: E402

KW = dict(hidden=(32,), epochs=8, lr=3e-3, validation_fraction=0.0, random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    one = Autoencoder("supervised", 4, **KW).fit(Xtr, ytr)
    five = Autoencoder("supervised", 4, ensemble=5, **KW).fit(Xtr, ytr)
    return one, five, Xte, yte


def test_first_member_is_the_single_network(fitted):
    """Code, reconstruction, score and threshold are the first network's: the same fit as ensemble=1."""
    one, five, Xte, _ = fitted
    np.testing.assert_array_equal(five.transform(Xte), one.transform(Xte))
    np.testing.assert_array_equal(five.score_samples(Xte), one.score_samples(Xte))
    np.testing.assert_array_equal(five.inverse_transform(five.transform(Xte[:5])), one.inverse_transform(
        one.transform(Xte[:5])))
    assert five.threshold_ == one.threshold_
    assert not np.allclose(five.predict_proba(Xte), one.predict_proba(Xte))


def test_proba_is_the_mean_of_the_members(fitted):
    """The graph's proba is the mean of five softmaxes, each from its own encoder and head."""
    import onnx

    _, five, Xte, _ = fitted
    proto = onnx.load_model_from_string(five.onnx_model_)
    names = ["head/proba"] + [f"member{i}/proba" for i in range(1, 5)]
    proto.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"x": Xte.astype(np.float32), "z": np.zeros((1, 4), np.float32)}
    proba, *members = sess.run(["proba", *names], feeds)
    assert len({m.tobytes() for m in members}) == 5  # five different networks
    np.testing.assert_allclose(proba, np.mean(members, axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(five.predict_proba(Xte), proba, rtol=1e-6, atol=1e-7)
    inits = {i.name for i in proto.graph.initializer}
    assert {f"member{i}.head.weight" for i in range(1, 5)} <= inits
    assert not any(n.startswith("member") and ".decoder" in n for n in inits)  # one decoder: the first network's


def test_ensemble_predicts_held_out_rows_better(fitted):
    """What it is for: the averaged probabilities fit new rows better than one network's (log loss)."""
    one, five, Xte, yte = fitted

    def loss(model):
        p = model.predict_proba(Xte)
        return log_loss(yte, p / p.sum(axis=1, keepdims=True))  # float32 probabilities, summed in float64

    l1, l5 = loss(one), loss(five)
    assert l5 < 0.9 * l1, (l1, l5)  # 0.43 and 0.34 when written (accuracy 0.87 and 0.94)


def test_ensemble_file_round_trip(fitted, tmp_path):
    _, five, Xte, _ = fitted
    path = five.save(tmp_path / "ens.onnx")
    back = Autoencoder.load(path)
    assert back.get_params()["ensemble"] == 5
    np.testing.assert_array_equal(back.predict(Xte), five.predict(Xte))
    assert "mean of the 5 ensemble members" in back.onnx_model_.decode("latin-1")


@pytest.mark.parametrize("params, match", [
    (dict(kind="undercomplete", ensemble=2), "needs kind='supervised'"),
    (dict(kind="supervised", ensemble=0), "ensemble"),
    (dict(kind="supervised", ensemble=1.5), "ensemble"),
])
def test_bad_ensemble_is_refused(small_rows, params, match):
    y = np.arange(len(small_rows)) % 2
    with pytest.raises(InputError, match=match):
        Autoencoder(epochs=1, **params).fit(small_rows, y)
