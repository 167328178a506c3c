"""Autoencoders for any ``(n_samples, n_features)`` array: latent codes, anomaly scores, latent size.

:class:`Autoencoder` is a scikit-learn estimator (``fit``, ``transform``,
``inverse_transform``, ``score_samples``, ``predict``; ``Pipeline`` and ``GridSearchCV``
work) in six kinds: undercomplete, sparse (L1 or KL), denoising, variational and
supervised. Training needs torch (:mod:`biodae.nn.latent`); a fitted model runs through
onnxruntime, pickles without torch and saves as one ONNX file that clients in other
languages can run (``docs/onnx.md``, "Latent models"). :func:`select_latent_dim` compares
latent sizes with PCA on held-out rows. :class:`LatentFile` runs a saved model with onnxruntime
alone (no scikit-learn import), as ``biodae beats`` does.

>>> from biodae.latent import Autoencoder, select_latent_dim      # doctest: +SKIP
>>> ae = Autoencoder("undercomplete", latent_dim=8, random_state=0).fit(X_train)  # doctest: +SKIP
>>> codes = ae.transform(X_test)                                  # doctest: +SKIP
>>> scores = ae.score_samples(X_test)       # reconstruction error: higher = more abnormal  # doctest: +SKIP
>>> ae.save("model.onnx"); ae2 = Autoencoder.load("model.onnx")   # doctest: +SKIP
>>> print(select_latent_dim(X, random_state=0).table())           # doctest: +SKIP
"""

import lazy_loader as _lazy

# imported on first use: scikit-learn takes over a second to import, and a latent file can run without it
# (biodae.latent._onnx.LatentFile, what `biodae beats` runs)
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_estimator": ["ACTIVATIONS", "ARCHS", "KINDS", "Autoencoder"],
    "_select": ["LatentDimSelection", "select_latent_dim"],
    "_onnx": ["LatentFile"],
})

__all__ = ["Autoencoder", "KINDS", "ARCHS", "ACTIVATIONS", "select_latent_dim", "LatentDimSelection", "LatentFile"]
