"""What each kind is for, measured: anomaly scores, the VAE's KL term, sparsity, supervision, conv1d."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from biodae.latent import Autoencoder  # noqa: E402
from biodae.nn.latent import _kl_gaussian, train_latent  # noqa: E402


def _pca_scores(train, X, k):
    mean, sd = train.mean(0), train.std(0)
    pca = PCA(k).fit((train - mean) / sd)
    Z = (X - mean) / sd
    return np.mean((Z - pca.inverse_transform(pca.transform(Z))) ** 2, axis=1)


def test_off_manifold_rows_score_high_and_are_flagged(manifold):
    train, normal, anomalies = manifold
    X = np.vstack([normal, anomalies])
    truth = np.r_[np.zeros(len(normal)), np.ones(len(anomalies))]
    ae = Autoencoder(latent_dim=3, hidden=(32, 16), epochs=20, batch_size=32, lr=3e-3, contamination=0.05,
                     random_state=0).fit(train)
    auc = roc_auc_score(truth, ae.score_samples(X))
    pca_auc = roc_auc_score(truth, _pca_scores(train, X, 3))
    assert auc > 0.95
    assert auc >= pca_auc  # the manifold is curved: PCA at the same size does worse (0.88 when written)
    # the threshold flags about 5 % of normal rows and most anomalies
    assert 0.01 < ae.predict(normal).mean() < 0.12
    assert ae.predict(anomalies).mean() > 0.8


def test_matches_pca_where_pca_is_right(manifold):
    """On a flat (linear) manifold PCA is the right model; the autoencoder must not lose to it."""
    rng = np.random.default_rng(4)
    basis = rng.normal(size=(3, 20))
    train = rng.normal(size=(800, 3)) @ basis + 0.05 * rng.normal(size=(800, 20))
    normal = rng.normal(size=(300, 3)) @ basis + 0.05 * rng.normal(size=(300, 20))
    anomalies = normal[:30] + 0.4 * rng.normal(size=(30, 20))
    X, truth = np.vstack([normal, anomalies]), np.r_[np.zeros(300), np.ones(30)]
    ae = Autoencoder(latent_dim=3, hidden=(32,), epochs=20, batch_size=32, lr=3e-3, random_state=0).fit(train)
    auc = roc_auc_score(truth, ae.score_samples(X))
    assert auc > 0.9 and auc >= roc_auc_score(truth, _pca_scores(train, X, 3)) - 0.02


def test_vae_kl_term_acts(digits):
    """With beta > 0 the posterior is pulled to N(0, I): its KL is far smaller, its means near unit scale."""
    X = digits[0]
    Xs = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)).astype(np.float32)
    common = {"kind": "variational", "latent_dim": 8, "arch": "dense", "hidden": (64,), "activation": "relu",
              "epochs": 10, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0, "kl_warmup": 3, "seed": 0}
    kl = {}
    for beta in (0.0, 1.0):
        model, _ = train_latent(Xs, beta=beta, **common)
        with torch.no_grad():
            mu, logvar = model.encode(torch.as_tensor(Xs))
            kl[beta] = float(_kl_gaussian(mu, logvar).mean())
    assert kl[1.0] < 0.2 * kl[0.0]  # 6 against 65 nats when written
    # the same through the estimator: codes (posterior means) near unit scale with the KL, spread without
    sq = {b: float(np.mean(Autoencoder("variational", 8, hidden=(64,), epochs=10, lr=3e-3, beta=b, kl_warmup=3,
                                       random_state=0).fit(X).transform(X) ** 2)) for b in (0.0, 1.0)}
    assert sq[1.0] < 1.5 and sq[0.0] > 3 * sq[1.0]


def _near_zero_share(Z, rel=0.1):
    """Share of code entries at most ``rel`` times the largest |entry| of their row (scale-free)."""
    return float(np.mean(np.abs(Z) <= rel * np.abs(Z).max(axis=1, keepdims=True)))


def test_sparse_penalties_make_codes_sparse(digits):
    X = digits[0]
    common = {"latent_dim": 16, "hidden": (64,), "epochs": 10, "lr": 3e-3, "random_state": 0}

    def share(kind, **kw):
        ae = Autoencoder(kind, **common, **kw).fit(X)
        return _near_zero_share(ae.transform(X)), ae.transform(X)

    plain, _ = share("undercomplete")
    l1, _ = share("sparse-l1", l1=0.1)
    l1_off, _ = share("sparse-l1", l1=0.0)  # same ReLU code, no penalty: the penalty does the work
    kl, codes_kl = share("sparse-kl", rho=0.05, beta=1.0)
    kl_off, codes_off = share("sparse-kl", rho=0.05, beta=0.0)
    assert l1 > plain + 0.15 and l1 > l1_off + 0.15  # 0.47 against 0.17 and 0.18 when written
    assert kl > plain + 0.3 and kl > kl_off + 0.3  # 0.58 against 0.17 and 0.09
    assert codes_kl.mean() < 2 * 0.05 < 0.3 < codes_off.mean()  # mean activation pulled to rho


def test_supervised_codes_separate_classes(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sup = Autoencoder("supervised", 2, hidden=(64,), epochs=20, lr=3e-3, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(sup.classes_, np.arange(10))
    proba = sup.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert sup.score(Xte, yte) > 0.75  # chance 0.1; 0.89 when written
    # 2-D codes: supervised ones classify well, unsupervised ones poorly (the classic picture)
    uns = Autoencoder("undercomplete", 2, hidden=(64,), epochs=20, lr=3e-3, random_state=0).fit(Xtr)

    def logreg(ae):
        return LogisticRegression(max_iter=2000).fit(ae.transform(Xtr), ytr).score(ae.transform(Xte), yte)

    assert logreg(sup) > logreg(uns) + 0.15  # 0.91 against 0.65 when written


def test_balanced_class_weight_raises_recall_of_the_rare_class(digits):
    X, y = digits
    keep = (y != 1) | (np.arange(len(y)) % 12 == 0)  # class 1 becomes rare (15 of 1,635 rows)
    X, y = X[keep], (y[keep] == 1).astype(int)
    kw = {"hidden": (32,), "epochs": 10, "lr": 3e-3, "validation_fraction": 0.0, "random_state": 0}
    plain = Autoencoder("supervised", 4, **kw).fit(X, y)
    balanced = Autoencoder("supervised", 4, class_weight="balanced", **kw).fit(X, y)
    recall = {n: float(np.mean(m.predict(X)[y == 1] == 1)) for n, m in (("plain", plain), ("balanced", balanced))}
    assert recall["balanced"] > recall["plain"] + 0.2


def test_conv1d_learns_signal_windows():
    """Windows of noisy sinusoids (one channel): the conv1d autoencoder reconstructs their shape."""
    rng = np.random.default_rng(5)
    t = np.arange(90) / 90
    freq, phase = rng.uniform(2, 4, size=(600, 1)), rng.uniform(0, 2 * np.pi, size=(600, 1))
    clean = np.sin(2 * np.pi * freq * t + phase)
    X = clean + 0.1 * rng.normal(size=clean.shape)
    ae = Autoencoder(latent_dim=4, arch="conv1d", hidden=(8, 16), epochs=15, lr=1e-2, standardize=False,
                     random_state=0).fit(X[:500])
    rec = ae.reconstruct(X[500:])
    err = np.mean((rec - clean[500:]) ** 2)
    assert err < 0.1 * np.mean(clean[500:] ** 2)  # within 10 % of the signal power (0.5); 0.039 when written
    assert ae.n_features_in_ == 90 and ae.transform(X[:3]).shape == (3, 4)


def test_denoising_autoencoder_is_robust_to_input_noise(manifold):
    """Trained on corrupted inputs, it maps noisy rows back nearer the clean ones than a plain one does."""
    train, normal, _ = manifold
    rng = np.random.default_rng(6)
    noisy = normal + 0.3 * train.std(0) * rng.normal(size=normal.shape)
    kw = {"hidden": (32,), "epochs": 20, "batch_size": 32, "lr": 3e-3, "random_state": 0}
    errors = {}
    for kind in ("undercomplete", "denoising"):
        ae = Autoencoder(kind, 16, noise_std=0.3, **kw).fit(train)
        errors[kind] = float(np.mean(((ae.reconstruct(noisy) - normal) / train.std(0)) ** 2))
    noise = float(np.mean(((noisy - normal) / train.std(0)) ** 2))  # 0.09
    assert errors["denoising"] < 0.85 * errors["undercomplete"] < 0.5 * noise  # 0.021 and 0.029 when written
