"""Autoencoder(linear_path=True): a linear encoder/decoder path started at PCA, beside the nonlinear one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from sklearn.decomposition import PCA  # noqa: E402

from biodae._errors import InputError  # noqa: E402
from biodae.latent import Autoencoder  # noqa: E402
from biodae.nn.latent import LatentNet, latent_forward  # noqa: E402


@pytest.mark.parametrize("arch, hidden", [("dense", (16, 8)), ("conv1d", (4, 8))])
def test_the_untrained_network_is_pca(manifold, arch, hidden):
    train = manifold[0].astype(np.float32)
    net = LatentNet(n_features=20, latent_dim=3, arch=arch, hidden=hidden, activation="elu", kind="undercomplete",
                    linear=True)
    net.init_linear_from_pca(train)
    out = latent_forward(net, manifold[1])
    pca = PCA(3).fit(train.astype(np.float64))
    np.testing.assert_allclose(out["recon"], pca.inverse_transform(pca.transform(manifold[1])), atol=2e-4)
    np.testing.assert_allclose(np.abs(out["code"]), np.abs(pca.transform(manifold[1])), atol=2e-4)  # signs may differ
    with pytest.raises(ValueError, match="no linear path"):
        LatentNet(n_features=20, latent_dim=3, arch="dense", hidden=(8,), activation="elu",
                  kind="undercomplete").init_linear_from_pca(train)


def test_training_improves_on_pca_on_held_out_rows(manifold):
    """The rows lie on a curved 2-D manifold: PCA with 2 components misses the curvature, the nonlinear part
    learns it, and the held-out error ends well below PCA's (it starts exactly at PCA's)."""
    train, normal, _ = manifold
    mean, sd = train.mean(0), train.std(0)
    pca = PCA(2).fit((train - mean) / sd)
    Z = (normal - mean) / sd
    pca_err = float(np.mean((Z - pca.inverse_transform(pca.transform(Z))) ** 2))
    ae = Autoencoder(latent_dim=2, hidden=(32, 16), activation="elu", epochs=30, batch_size=32, lr=1e-3,
                     linear_path=True, random_state=0).fit(train)
    err = float(np.mean(ae.score_samples(normal)))
    assert err < 0.7 * pca_err


def test_saved_and_loaded(tmp_path, manifold):
    train, normal, _ = manifold
    ae = Autoencoder("supervised", 2, hidden=(16,), epochs=3, linear_path=True, random_state=0)
    y = (train[:, 0] > np.median(train[:, 0])).astype(int)
    ae.fit(train, y)
    back = Autoencoder.load(ae.save(tmp_path / "m.onnx"))
    assert back.get_params()["linear_path"] is True
    np.testing.assert_array_equal(back.reconstruct(normal), ae.reconstruct(normal))
    np.testing.assert_array_equal(back.predict_proba(normal), ae.predict_proba(normal))
    # the decoder input path has the linear part too: decoding the codes gives the reconstruction
    np.testing.assert_allclose(back.inverse_transform(back.transform(normal)), back.reconstruct(normal), atol=1e-5)


@pytest.mark.parametrize("kind", ["sparse-l1", "sparse-kl"])
def test_refused_for_the_sparse_kinds(manifold, kind):
    with pytest.raises(InputError, match="linear_path=True does not go with"):
        Autoencoder(kind, 2, epochs=1, linear_path=True).fit(manifold[0])
    with pytest.raises(InputError, match="not a bool"):
        Autoencoder(epochs=1, linear_path="yes").fit(manifold[0])
