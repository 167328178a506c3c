"""select_latent_dim and the elbow rule."""

from __future__ import annotations

import numpy as np
import pytest

from biodae import InputError
from biodae.latent._select import elbow


def test_elbow_of_known_curves():
    # sharp drop until 4, flat after
    assert elbow([1, 2, 4, 8, 16], [1.0, 0.6, 0.1, 0.09, 0.08]) == 4
    assert elbow([2, 4, 8, 16, 32, 64], [0.9, 0.8, 0.3, 0.05, 0.04, 0.04]) == 16
    # linear sizes too
    assert elbow([1, 2, 3, 4, 5, 6, 8], [0.8, 0.6, 0.4, 0.2, 0.02, 0.02, 0.01]) == 5
    # no bend (a straight line on the log axis) or too few points: the size of the smallest error
    assert elbow([2, 4, 8], [0.3, 0.2, 0.1]) == 8
    assert elbow([4, 8], [0.5, 0.2]) == 8


def _subspace_rows(dim: int, n: int = 500, features: int = 24, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sources = rng.normal(size=(n, dim)) * np.linspace(2, 1, dim)
    return sources @ rng.normal(size=(dim, features)) + 0.05 * rng.normal(size=(n, features))


def test_finds_the_intrinsic_dimension(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from biodae.latent import Autoencoder, select_latent_dim

    X = _subspace_rows(4)
    est = Autoencoder(hidden=(32,), epochs=12, lr=3e-3, batch_size=32, random_state=0)
    res = select_latent_dim(X, (1, 2, 4, 8, 16, 32), estimator=est, random_state=0)
    assert res.candidates == (1, 2, 4, 8, 16)  # 32 > 24 features: left out
    assert res.elbow == 4 and res.pca_elbow == 4
    assert (res.n_train, res.n_test) == (400, 100)
    # PCA: 4 components hold all but the noise; the error curves fall to near zero at 4
    assert res.k95 <= 4 and res.explained_variance[3] > 0.99 and res.explained_variance[2] < 0.95
    assert res.pca_error[2] < 0.01 < res.pca_error[1]
    assert res.ae_error[2] < 0.2 * res.ae_error[1]
    assert np.all(np.diff(res.explained_variance) >= 0) and res.explained_variance[-1] == pytest.approx(1.0)
    text = res.table()
    assert text.splitlines()[0].split("|")[0].strip() == "latent size"
    assert len(text.splitlines()) == 2 + 5 + 3
    assert "elbow: 4 (autoencoder), 4 (PCA)" in text
    assert f"90 % of the variance with {res.k90} components, 95 % with {res.k95}" in text
    pytest.importorskip("matplotlib")
    png = res.plot(tmp_path / "elbow.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_pca_error_is_the_held_out_pca_reconstruction_error():
    """The PCA column is what scikit-learn's PCA gives on the same split and standardisation."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    from biodae.latent import Autoencoder, select_latent_dim

    X = _subspace_rows(3, n=200, features=10, seed=2)
    res = select_latent_dim(X, (2, 3), estimator=Autoencoder(hidden=(8,), epochs=2, random_state=0),
                            test_size=0.25, random_state=7)
    rng = np.random.RandomState(7)
    tr, te = train_test_split(X, test_size=0.25, random_state=rng.randint(np.iinfo(np.int32).max))
    m, s = tr.mean(0), tr.std(0)
    for k, got in zip((2, 3), res.pca_error):
        pca = PCA(k, svd_solver="full").fit((tr - m) / s)
        z = (te - m) / s
        assert got == pytest.approx(np.mean((z - pca.inverse_transform(pca.transform(z))) ** 2), rel=1e-9)


def test_refusals():
    from biodae.latent import select_latent_dim

    X = _subspace_rows(2, n=40, features=6)
    with pytest.raises(InputError, match="every candidate is above 6"):
        select_latent_dim(X, (8, 16))
    with pytest.raises(InputError, match="positive sizes"):
        select_latent_dim(X, (0, 2))
    with pytest.raises(InputError, match="test_size=1.5"):
        select_latent_dim(X, test_size=1.5)
    with pytest.raises(InputError, match="must be a biodae.latent.Autoencoder"):
        select_latent_dim(X, estimator=object())
    with pytest.raises(InputError, match="NaN"):
        select_latent_dim(np.full((10, 3), np.nan))
