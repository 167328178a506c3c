"""``Autoencoder.fit(X, y, sample_weight=...)``: weights steer the loss, bad weights are refused."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from biodae import InputError  # noqa: E402
from biodae.latent import Autoencoder  # noqa: E402


def _two_groups(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Group A varies along feature 0, group B (a little more) along feature 1: one latent unit can
    serve only one of them."""
    rng = np.random.default_rng(seed)
    n = 400
    a = np.zeros((n, 4))
    a[:, 0] = rng.normal(0, 1.0, n)
    b = np.zeros((n, 4))
    b[:, 1] = rng.normal(0, 1.2, n)
    X = np.concatenate([a, b]) + rng.normal(0, 0.01, (2 * n, 4))
    group = np.repeat([0, 1], n)
    return X, group


def _errors(ae: Autoencoder, X: np.ndarray, group: np.ndarray) -> tuple[float, float]:
    err = np.sum((X - ae.reconstruct(X)) ** 2, axis=1)
    return float(err[group == 0].mean()), float(err[group == 1].mean())


def test_the_weighted_group_is_the_one_reconstructed():
    X, group = _two_groups()
    params = dict(latent_dim=1, hidden=(), epochs=40, lr=1e-2, standardize=False, validation_fraction=0.0,
                  random_state=0)
    unweighted = _errors(Autoencoder(**params).fit(X), X, group)
    assert unweighted[1] < 0.2 * unweighted[0]  # the wider group B wins the one unit
    w = np.where(group == 0, 10.0, 1.0)
    weighted = _errors(Autoencoder(**params).fit(X, sample_weight=w), X, group)
    assert weighted[0] < 0.2 * weighted[1]  # weighted 10:1, A wins it


def test_unit_weights_train_as_no_weights(small_rows):
    params = dict(latent_dim=3, hidden=(16,), epochs=3, random_state=0)
    a = Autoencoder(**params).fit(small_rows)
    b = Autoencoder(**params).fit(small_rows, sample_weight=np.ones(len(small_rows)))
    np.testing.assert_allclose(b.transform(small_rows), a.transform(small_rows), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", ["sparse-l1", "sparse-kl", "denoising", "variational", "supervised"])
def test_every_kind_takes_weights(small_rows, kind):
    y = np.arange(len(small_rows)) % 2 if kind == "supervised" else None
    w = np.linspace(0.5, 2.0, len(small_rows))
    ae = Autoencoder(kind, 2, hidden=(8,), epochs=2, random_state=0).fit(small_rows, y, sample_weight=w)
    assert np.all(np.isfinite(ae.history_["loss"]))
    w0 = w.copy()
    Autoencoder(kind, 2, hidden=(8,), epochs=1, random_state=0, class_weight="balanced" if y is not None else None
                ).fit(small_rows, y, sample_weight=w)
    np.testing.assert_array_equal(w, w0)  # the caller's weights are not modified


@pytest.mark.parametrize("weights, match", [
    (lambda n: np.ones(n - 1), "has shape"),
    (lambda n: -np.ones(n), "negative"),
    (lambda n: np.zeros(n), "no positive"),
    (lambda n: np.full(n, np.nan), "sample_weight"),
    (lambda n: np.ones((n, 2)), "sample_weight"),
])
def test_bad_weights_are_refused_saying_what_to_give(small_rows, weights, match):
    with pytest.raises(InputError, match=match):
        Autoencoder(latent_dim=2, hidden=(8,), epochs=1).fit(small_rows, sample_weight=weights(len(small_rows)))
