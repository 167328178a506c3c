"""scikit-learn's own estimator checks (``sklearn.utils.estimator_checks``), all of them.

Two configurations run every check that applies to them: an unsupervised autoencoder (the
transformer checks: fit/transform contracts, dtypes, NaN and sparse refusals, pickling,
``n_features_in_``, feature names, sample-order and subset invariance, idempotent fits...)
and a supervised one (the classifier checks on top: string labels, one-class and regression
targets refused, accuracy on blobs, ``class_weight="balanced"``). Both are small so that the
hundreds of fits stay quick; the supervised one trains long enough for the accuracy checks.
scikit-learn itself skips ``check_array_api_input`` unless ``SCIPY_ARRAY_API`` is set (the
estimator does not take array-API inputs). One check is expected to fail, as it does for
scikit-learn's own mini-batch learners (``SGDClassifier``, ``MLPRegressor``):
``check_sample_weight_equivalence_on_dense_data`` asks that a weight of 2 give the fit of the row
repeated twice; ``sample_weight`` here weights each row's loss, while a repeated row also changes
the epoch's batches and the validation split (the docstring of ``fit`` says so).
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from biodae.latent import Autoencoder  # noqa: E402

ESTIMATORS = [
    Autoencoder(latent_dim=2, hidden=(8,), epochs=3, batch_size=16, random_state=0),
    Autoencoder("supervised", 4, hidden=(16,), epochs=10, batch_size=32, lr=1e-2, random_state=0),
]


EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "loss weights, not frequencies: a repeated row changes the mini-batches and the validation split",
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_checks(estimator, check):
    check(estimator)
