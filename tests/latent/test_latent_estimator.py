"""Autoencoder: parameters, refusals, repeatability, pickling without torch, Pipeline and GridSearchCV."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from biodae import InputError  # noqa: E402
from biodae.latent import KINDS, Autoencoder  # noqa: E402

SMALL = {"hidden": (16,), "epochs": 5, "batch_size": 32, "random_state": 0}


def test_init_only_stores_parameters_and_clone_keeps_them():
    ae = Autoencoder("sparse-kl", 7, hidden=(20, 10), rho=0.1, beta=3.0, random_state=5)
    params = ae.get_params()
    assert params["kind"] == "sparse-kl" and params["latent_dim"] == 7 and params["hidden"] == (20, 10)
    assert params["rho"] == 0.1 and params["beta"] == 3.0 and params["random_state"] == 5
    twin = clone(ae)
    assert twin is not ae and twin.get_params() == params
    twin.set_params(latent_dim=3, kind="variational")
    assert (twin.latent_dim, twin.kind) == (3, "variational") and ae.latent_dim == 7
    # bad values are stored as given and refused by fit, as scikit-learn's conventions want
    Autoencoder(kind="nope", latent_dim=-1)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"kind": "vae"}, "kind='vae'.*undercomplete, sparse-l1"),
        ({"arch": "lstm"}, "arch='lstm'.*dense, conv1d"),
        ({"activation": "gelu"}, "activation='gelu'.*relu"),
        ({"latent_dim": 0}, "latent_dim=0"),
        ({"latent_dim": 2.5}, "latent_dim=2.5.*integer"),
        ({"hidden": (16, 0)}, "hidden=.*positive integers"),
        ({"hidden": "16"}, "hidden='16'"),
        ({"arch": "conv1d", "hidden": ()}, "no convolution"),
        ({"rho": 1.0}, "rho=1.0"),
        ({"contamination": 0.7}, "contamination=0.7"),
        ({"validation_fraction": 0.9}, "validation_fraction=0.9"),
        ({"class_weight": "some"}, "class_weight='some'"),
        ({"device": "gpu"}, "device='gpu'.*cuda"),
    ],
)
def test_bad_parameters_are_refused_at_fit_naming_the_choices(small_rows, params, match):
    with pytest.raises(InputError, match=match):
        Autoencoder(**params).fit(small_rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_a_gpu_is_refused(small_rows):
    with pytest.raises(InputError, match="device='cuda': torch sees no CUDA device.*device='cpu'"):
        Autoencoder(device="cuda", **SMALL).fit(small_rows)


def test_methods_before_fit_raise_not_fitted(small_rows):
    ae = Autoencoder()
    for method in ("transform", "score_samples", "predict", "decision_function", "reconstruct"):
        with pytest.raises(NotFittedError):
            getattr(ae, method)(small_rows)
    with pytest.raises(NotFittedError):
        ae.inverse_transform(np.zeros((2, 16)))
    with pytest.raises(NotFittedError):
        ae.save("never-written.onnx")


def test_fitted_attributes_shapes_and_dtypes(small_rows):
    X = small_rows
    ae = Autoencoder(latent_dim=3, **SMALL)
    assert ae.fit(X) is ae
    assert ae.n_features_in_ == 12 and ae.latent_dim_ == 3
    assert ae.mean_.shape == ae.scale_.shape == (12,) and ae.mean_.dtype == np.float32
    assert len(ae.history_["loss"]) == 5 and len(ae.history_["val_error"]) == 5
    assert ae.history_["loss"][-1] < ae.history_["loss"][0]
    assert list(ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1", "autoencoder2"]
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        assert ae.transform(Xd).dtype == dtype and ae.transform(Xd).shape == (200, 3)
        assert ae.score_samples(Xd).dtype == dtype and ae.score_samples(Xd).shape == (200,)
        assert ae.inverse_transform(ae.transform(Xd)).dtype == dtype
    # the score is the mean squared error of the standardised row and its reconstruction
    rec = ae.reconstruct(X)
    expected = np.mean(((X - ae.mean_) / ae.scale_ - (rec - ae.mean_) / ae.scale_) ** 2, axis=1)
    np.testing.assert_allclose(ae.score_samples(X), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(X)), rec, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ae.decision_function(X), ae.score_samples(X) - ae.threshold_, atol=1e-12)
    assert set(np.unique(ae.predict(X))) <= {0, 1}
    np.testing.assert_array_equal(ae.predict(X), (ae.score_samples(X) > ae.threshold_).astype(int))
    assert ae.score(X) == pytest.approx(-float(np.mean(ae.score_samples(X))))
    assert not hasattr(ae, "predict_proba") and not hasattr(ae, "classes_")


def test_wrong_inputs_are_refused_with_input_error(small_rows):
    ae = Autoencoder(latent_dim=2, **SMALL).fit(small_rows)
    with pytest.raises(InputError, match="X has 5 features, but Autoencoder is expecting 12 features"):
        ae.transform(small_rows[:, :5])
    with pytest.raises(InputError, match="Z has 3 columns.*codes have 2"):
        ae.inverse_transform(np.zeros((4, 3)))
    bad = small_rows.copy()
    bad[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ae.score_samples(bad)
    with pytest.raises(InputError, match="NaN"):
        Autoencoder(**SMALL).fit(bad)
    with pytest.raises(InputError, match="1 sample"):
        Autoencoder(**SMALL).fit(small_rows[:1])
    with pytest.raises(InputError, match="requires y"):
        Autoencoder("supervised", **SMALL).fit(small_rows)
    with pytest.raises(InputError, match="only 1 class"):
        Autoencoder("supervised", **SMALL).fit(small_rows, np.zeros(len(small_rows)))


def test_contamination_flags_that_share_of_the_training_rows(small_rows):
    ae = Autoencoder(latent_dim=2, contamination=0.1, **SMALL).fit(small_rows)
    assert ae.predict(small_rows).mean() == pytest.approx(0.1, abs=0.006)
    # without contamination and without validation rows: a quantile of the training rows' scores, and
    # the standardisation is theirs
    ae = Autoencoder(latent_dim=2, threshold_quantile=0.8, validation_fraction=0.0, **SMALL).fit(small_rows)
    assert ae.threshold_ == pytest.approx(float(np.quantile(ae.score_samples(small_rows), 0.8)), rel=1e-6)
    np.testing.assert_allclose(ae.mean_, small_rows.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ae.scale_, small_rows.std(0), rtol=1e-6)
    assert ae.history_["val_error"] == []
    # with validation rows the threshold comes from their scores: quantile 1 is the highest of them,
    # a score of one of the rows (not the highest of all 200 here), and 50 scores went into it
    ae = Autoencoder(latent_dim=2, threshold_quantile=1.0, validation_fraction=0.25, **SMALL).fit(small_rows)
    scores = ae.score_samples(small_rows)
    assert np.sum(scores == ae.threshold_) == 1 and ae.threshold_ < scores.max()
    assert 0 < ae.predict(small_rows).sum() <= 150
    assert "quantile 1 of the validation scores" in ae.onnx_model_.decode("latin-1")


@pytest.mark.parametrize("kind", ["undercomplete", "denoising", "variational", "supervised", "sparse-kl"])
def test_random_state_repeats_a_fit_bit_for_bit(small_rows, kind):
    y = (small_rows[:, 0] > 0).astype(int) if kind == "supervised" else None
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = Autoencoder(kind, 3, **SMALL).fit(small_rows, y)
    b = Autoencoder(kind, 3, **SMALL).fit(small_rows, y)
    assert a.onnx_model_ == b.onnx_model_  # same weights, threshold and metadata
    np.testing.assert_array_equal(a.transform(small_rows), b.transform(small_rows))
    c = Autoencoder(kind, 3, **{**SMALL, "random_state": 1}).fit(small_rows, y)
    assert not np.array_equal(a.transform(small_rows), c.transform(small_rows))
    # the callers' global generators are left alone
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_every_kind_fits_both_architectures(small_rows):
    y = (small_rows[:, 0] > 0).astype(int)
    for kind in KINDS:
        for arch, hidden in (("dense", (8,)), ("conv1d", (4, 6))):
            ae = Autoencoder(kind, 3, arch=arch, hidden=hidden, epochs=2, random_state=0)
            ae.fit(small_rows, y if kind == "supervised" else None)  # fit checks onnxruntime against torch
            assert ae.transform(small_rows[:5]).shape == (5, 3)
            assert np.isfinite(ae.score_samples(small_rows)).all()


def test_verbose_prints_one_line_per_epoch(small_rows, capsys):
    Autoencoder(latent_dim=2, **{**SMALL, "epochs": 3}, verbose=True).fit(small_rows)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("validation error" in ln for ln in lines)
    Autoencoder(latent_dim=2, **SMALL).fit(small_rows)
    assert capsys.readouterr().out == ""


def test_pickle_round_trip_and_predicting_without_torch(small_rows, tmp_path):
    ae = Autoencoder("supervised", 2, **SMALL).fit(small_rows, np.where(small_rows[:, 1] > 0, "hi", "lo"))
    ae.transform(small_rows)  # a live onnxruntime session is not pickled
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(small_rows), ae.transform(small_rows))
    np.testing.assert_array_equal(again.predict(small_rows), ae.predict(small_rows))
    (tmp_path / "ae.pkl").write_bytes(pickle.dumps(ae))
    np.save(tmp_path / "X.npy", small_rows)
    np.save(tmp_path / "expected.npy", ae.predict_proba(small_rows))
    script = textwrap.dedent(f"""
        import importlib.abc, pickle, sys

        class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        import biodae.latent
        from biodae import DependencyError
        ae = pickle.loads(open({str(tmp_path / "ae.pkl")!r}, "rb").read())
        X = np.load({str(tmp_path / "X.npy")!r})
        got, want = ae.predict_proba(X), np.load({str(tmp_path / "expected.npy")!r})
        assert np.array_equal(got, want), (np.abs(got - want).max(), got[:2], want[:2])
        assert list(ae.predict(X)) == {list(ae.predict(small_rows))!r}
        try:
            biodae.latent.Autoencoder(epochs=1).fit(X)
        except DependencyError as exc:
            print("refused:", exc)
        assert not any(m.split(".")[0] == "torch" for m in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused: fitting an Autoencoder needs torch" in out.stdout


def test_importing_biodae_latent_does_not_import_torch():
    script = "import sys, biodae.latent; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_pipeline_and_grid_search_choose_the_useful_setting(digits):
    X, y = digits[0][:600], digits[1][:600]
    # a transformer in a pipeline: 12-D codes classify digits better than 2-D ones
    pipe = Pipeline([("ae", Autoencoder(hidden=(32,), epochs=8, lr=3e-3, random_state=0)),
                     ("clf", LogisticRegression(max_iter=2000))])
    grid = GridSearchCV(pipe, {"ae__latent_dim": [2, 12]}, cv=2).fit(X, y)
    assert grid.best_params_ == {"ae__latent_dim": 12}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] + 0.1
    # a classifier on its own, scored by accuracy: a head that is trained (w_cls=1) beats one that is not
    sup = Autoencoder("supervised", 4, hidden=(32,), epochs=15, lr=1e-2, random_state=0)
    grid = GridSearchCV(sup, {"w_cls": [0.0, 1.0]}, cv=2).fit(X, y)
    assert grid.best_params_ == {"w_cls": 1.0}
    assert grid.cv_results_["mean_test_score"][0] < 0.2 < 0.6 < grid.cv_results_["mean_test_score"][1]  # chance: 0.1
