"""Public API: input rules, dtypes, immutability, multichannel, apply, defaults, tune."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal as sp_signal

from biodae import filters
from biodae._errors import BiodaeError, InputError
from biodae.filters import apply, butterworth, default_grid, defaults, median, tune, wavelet

FS = 360.0

SIGNAL_CALLS = [
    ("median", {"baseline": True, "window_s": 0.02}),
    ("butterworth", {"low": 0.5, "high": 40.0, "notch": 50.0}),
    ("wavelet", {"wavelet": "sym8", "remove_baseline": True}),
    ("deepfilter_iir", {}),
    ("deepfilter_fir", {}),
]
IMAGE_CALLS = [
    ("median", {"size": 3}),
    ("butterworth", {"cutoff": 0.5, "order": 2}),
    ("wavelet", {"wavelet": "db2"}),
]


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def test_public_api():
    assert set(filters.__all__) == {
        "METHODS", "MODALITIES", "TuneResult", "apply", "butterworth", "default_grid",
        "deepfilter_fir", "deepfilter_iir", "defaults", "median", "tune", "wavelet",
    }
    assert filters.METHODS == ("median", "butterworth", "wavelet")
    assert filters.MODALITIES == ("ecg", "eeg", "mri", "xray", "ct")


# ----------------------------------------------------------------------------- input rules
@pytest.mark.parametrize("name, kw", SIGNAL_CALLS)
@pytest.mark.parametrize("shape", [(1001,), (777, 3)])
def test_signals_odd_lengths_shape_dtype_and_input_untouched(name, kw, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    before = x.copy()
    y = getattr(filters, name)(x, sampling_rate=FS, **kw)
    assert np.array_equal(x, before)
    assert y.shape == shape and y.dtype == np.float64
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name, kw", SIGNAL_CALLS)
def test_multichannel_equals_per_channel_loop(name, kw, rng):
    x = rng.standard_normal((1201, 4)) + np.linspace(0, 3, 4)
    y = getattr(filters, name)(x, sampling_rate=FS, **kw)
    loop = np.stack([getattr(filters, name)(x[:, j], sampling_rate=FS, **kw) for j in range(4)], axis=1)
    assert np.allclose(y, loop, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name, kw", IMAGE_CALLS)
@pytest.mark.parametrize("shape", [(63, 65), (9, 17, 21)])
@pytest.mark.parametrize("dtype, out", [(np.uint16, np.float32), (np.float32, np.float32), (np.float64, np.float64)])
def test_images_odd_sizes_dtype_and_input_untouched(name, kw, shape, dtype, out, rng):
    x = (rng.random(shape) * 1000).astype(dtype)
    before = x.copy()
    y = getattr(filters, name)(x, **kw)
    assert np.array_equal(x, before)
    assert y.shape == shape and y.dtype == out


def test_float64_signal_input_is_not_aliased(rng):
    x = rng.standard_normal(500)
    before = x.copy()
    for name, kw in SIGNAL_CALLS[:3]:
        y = getattr(filters, name)(x, sampling_rate=FS, **kw)
        y += 1.0  # writing to the output must not reach the input
        assert np.array_equal(x, before)


@pytest.mark.parametrize("func", [median, butterworth, wavelet])
def test_1d_without_sampling_rate_is_refused(func):
    with pytest.raises(InputError) as err:
        func(np.zeros(1000))
    assert "sampling_rate" in str(err.value)


@pytest.mark.parametrize(
    "x, kw, words",
    [
        (np.zeros((1000, 2)), {}, ["shorter than 3", "sampling_rate"]),  # a 2-lead signal without fs
        (np.zeros((4, 4, 4, 4)), {}, ["2D", "3D"]),
        (np.zeros((10, 10, 10)), {"sampling_rate": FS}, ["(n_samples, n_channels)"]),
        (np.zeros((12, 5000)), {"sampling_rate": FS}, ["axis 0", "x.T"]),
        (np.array([0.0, 1.0, np.nan, 3.0]), {"sampling_rate": FS}, ["NaN"]),
        (np.zeros(100), {"sampling_rate": 0.0}, ["sampling_rate", "positive"]),
        (np.zeros(2), {"sampling_rate": FS}, ["at least 3 samples"]),
        (np.zeros(100, dtype=complex), {"sampling_rate": FS}, ["complex"]),
    ],
)
def test_input_rules(x, kw, words):
    with pytest.raises(InputError) as err:
        butterworth(x, low=1.0, **kw) if "sampling_rate" in kw else butterworth(x, cutoff=0.5)
    for w in words:
        assert w in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, BiodaeError)


# ----------------------------------------------------------------------------- apply / defaults
def test_apply_dispatches(rng):
    x = rng.standard_normal(2000)
    assert np.array_equal(apply("wavelet", x, sampling_rate=FS, method="visu"), wavelet(x, sampling_rate=FS, method="visu"))
    img = rng.random((32, 32))
    assert np.array_equal(apply("median", img, size=5), median(img, size=5))


def test_apply_unknown_method_lists_valid():
    with pytest.raises(InputError) as err:
        apply("gaussian", np.zeros(100), sampling_rate=FS)
    assert isinstance(err.value, ValueError)
    for name in ("'median'", "'butterworth'", "'wavelet'"):
        assert name in str(err.value)


def test_apply_unknown_parameter_lists_the_methods_parameters():
    with pytest.raises(InputError) as err:
        apply("butterworth", np.zeros(100), sampling_rate=FS, lowcut=0.5)
    msg = str(err.value)
    assert "'lowcut'" in msg
    for p in ("low", "high", "order", "notch", "notch_q", "cutoff"):
        assert p in msg


@pytest.mark.parametrize("modality", ["ecg", "eeg"])
@pytest.mark.parametrize("method", ["median", "butterworth", "wavelet"])
def test_signal_defaults_run(modality, method, ecg_like):
    p = defaults(modality, method)
    t = np.arange(3000) / FS
    y = apply(method, ecg_like(t), sampling_rate=FS, **p)
    assert y.shape == t.shape


@pytest.mark.parametrize("modality", ["mri", "xray", "ct"])
@pytest.mark.parametrize("method", ["median", "butterworth", "wavelet"])
def test_image_defaults_run(modality, method, phantom2d):
    y = apply(method, phantom2d(64), **defaults(modality, method))
    assert y.shape == (64, 64)


def test_defaults_values_and_copies():
    assert defaults("ecg", "butterworth") == {"low": 0.5, "high": 40.0, "order": 4}
    assert defaults("EEG", "butterworth") == {"low": 1.0, "high": 40.0, "order": 4}
    assert defaults("ecg", "median")["baseline"] is True
    assert defaults("ecg", "wavelet")["remove_baseline"] is True
    assert defaults("mri", "median") == {"size": 3}
    d = defaults("ct", "wavelet")
    d["mode"] = "hard"
    assert defaults("ct", "wavelet")["mode"] == "soft"


def test_defaults_errors():
    with pytest.raises(InputError) as err:
        defaults("pet", "median")
    for m in ("'ecg'", "'eeg'", "'mri'", "'xray'", "'ct'"):
        assert m in str(err.value)
    with pytest.raises(InputError, match="'wavelet'"):
        defaults("ecg", "bilateral")


# ----------------------------------------------------------------------------- tune
def _band_pairs(rng, n_pairs=6, n=2048):
    """Clean: sines below 20 Hz. Noise: white noise high-passed above 60 Hz."""
    t = np.arange(n) / FS
    sos = sp_signal.butter(8, 60.0, "highpass", fs=FS, output="sos")
    clean, noisy = [], []
    for _ in range(n_pairs):
        c = sum(rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (2.0, 7.0, 15.0, 19.0))
        clean.append(c)
        noisy.append(c + sp_signal.sosfilt(sos, rng.standard_normal(n)))
    return noisy, clean


def test_tune_finds_the_brute_force_best_high(rng):
    noisy, clean = _band_pairs(rng)
    grid = {"high": [25.0, 40.0, 55.0, 80.0, 120.0], "order": [4]}
    r = tune("butterworth", noisy, clean, sampling_rate=FS, grid=grid)
    brute = {
        h: np.mean([_rmse(butterworth(x, sampling_rate=FS, high=h, order=4), c) for x, c in zip(noisy, clean)])
        for h in grid["high"]
    }
    best = min(brute, key=brute.get)
    assert r.params == {"high": best, "order": 4}
    assert best < 60.0  # the cut-off lands between the signal and the noise band
    assert r.score == pytest.approx(brute[best], rel=1e-9)
    for row in r.table:  # stacking pairs as channels is exact
        assert row["score"] == pytest.approx(brute[row["high"]], rel=1e-9)


def test_tune_table_holds_every_grid_point(rng):
    noisy, clean = _band_pairs(rng, n_pairs=3, n=1024)
    grid = {"low": [None, 0.5], "high": [30.0, 45.0, 100.0], "order": [2, 4]}
    r = tune("butterworth", noisy, clean, sampling_rate=FS, grid=grid)
    assert len(r.table) == 12
    got = {(row["low"], row["high"], row["order"]) for row in r.table}
    assert got == set(itertools.product(*grid.values()))
    assert all(np.isfinite(row["score"]) for row in r.table)
    assert r.score == min(row["score"] for row in r.table)
    assert r.metric == "rmse" and r.greater_is_better is False


def test_tune_stacked_arrays_lists_and_callable_metric(rng):
    noisy, clean = _band_pairs(rng, n_pairs=4, n=1024)
    grid = {"high": [25.0, 80.0]}
    a = tune("butterworth", np.stack(noisy), np.stack(clean), sampling_rate=FS, grid=grid)
    b = tune("butterworth", noisy, clean, sampling_rate=FS, grid=grid)
    assert a.params == b.params and a.score == pytest.approx(b.score)

    def snr(c, e):
        return float(10 * np.log10(np.sum(c**2) / np.sum((c - e) ** 2)))

    c = tune("butterworth", noisy, clean, sampling_rate=FS, grid=grid, metric=snr, greater_is_better=True)
    assert c.params == b.params and c.metric == "snr" and c.greater_is_better


def test_tune_is_deterministic_and_defaults_grid(rng, ecg_like):
    t = np.arange(1024) / FS
    clean = [ecg_like(t, p) for p in (0.0, 0.3, 0.6)]
    noisy = [c + 0.05 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 0.2 * t) for c in clean]
    for method in ("median", "butterworth", "wavelet"):
        r1 = tune(method, noisy, clean, sampling_rate=FS, modality="ecg")
        r2 = tune(method, noisy, clean, sampling_rate=FS, modality="ecg")
        assert r1.params == r2.params and r1.score == r2.score
        assert len(r1.table) == len(default_grid(method, sampling_rate=FS, modality="ecg", shape=(1024,)))
        # the tuned filter is at least as good as the default one on these pairs
        d = np.mean([_rmse(apply(method, x, sampling_rate=FS, **defaults("ecg", method)), c) for x, c in zip(noisy, clean)])
        assert r1.score <= d + 1e-12


def test_default_grids_respect_nyquist_and_sizes():
    g = default_grid("butterworth", sampling_rate=250.0, modality="ecg")
    assert all(p["high"] is None or p["high"] < 125.0 for p in g)
    assert not any(p["low"] is None and p["high"] is None for p in g)
    assert {p["high"] for p in g} == {None, 30.0, 40.0, 45.0, 100.0}
    assert len(default_grid("butterworth", sampling_rate=360.0)) == (5 * 6 - 1) * 3
    assert len(default_grid("butterworth")) == 24
    assert {p["size"] for p in default_grid("median")} == {3, 5}
    g = default_grid("median", sampling_rate=128.0)  # 0.01 s is 1 sample at 128 Hz: dropped
    assert all(p["window_s"] != 0.01 for p in g)


def test_tune_images(phantom2d, rng):
    clean = [phantom2d(48), phantom2d(48).T.copy()]
    noisy = [c + 0.1 * rng.standard_normal(c.shape).astype(np.float32) for c in clean]
    r = tune("butterworth", noisy, clean, modality="mri", grid={"cutoff": [0.1, 0.4, 1.0], "order": [2]})
    brute = {
        k: np.mean([_rmse(butterworth(x, cutoff=k, order=2), c) for x, c in zip(noisy, clean)]) for k in (0.1, 0.4, 1.0)
    }
    assert r.params["cutoff"] == min(brute, key=brute.get)
    r = tune("median", noisy, clean)
    assert r.params["size"] in (3, 5) and len(r.table) == 2


@pytest.mark.parametrize(
    "args, kw, words",
    [
        (("gaussian",), {"sampling_rate": FS}, ["'median'", "'butterworth'", "'wavelet'"]),
        (("butterworth",), {"sampling_rate": FS, "grid": {"lowcut": [1.0]}}, ["'lowcut'", "low", "high", "order", "notch"]),
        (("butterworth",), {"sampling_rate": FS, "grid": {"cutoff": [0.5]}}, ["'cutoff'", "signals"]),
        (("butterworth",), {"sampling_rate": FS, "grid": {"high": 40.0}}, ["list"]),
        (("butterworth",), {"sampling_rate": FS, "grid": {"high": [400.0]}}, ["grid point", "Nyquist"]),
        (("butterworth",), {"sampling_rate": FS, "metric": "mae"}, ["metric"]),
        (("butterworth",), {"sampling_rate": FS, "modality": "mri"}, ["image modality"]),
        (("butterworth",), {"modality": "ecg"}, ["sampling_rate"]),
    ],
)
def test_tune_errors(args, kw, words):
    x = [np.zeros(256), np.zeros(256)]
    if "sampling_rate" not in kw:
        x = [np.zeros((16, 16))]
    with pytest.raises(InputError) as err:
        tune(*args, x, x, **kw)
    for w in words:
        assert w in str(err.value)


def test_tune_pair_errors():
    with pytest.raises(InputError, match="differs"):
        tune("median", [np.zeros(100)], [np.zeros(101)], sampling_rate=FS)
    with pytest.raises(InputError, match="2 noisy"):
        tune("median", [np.zeros(100)] * 2, [np.zeros(100)], sampling_rate=FS)
    with pytest.raises(InputError, match="axis 0"):
        tune("median", np.zeros(100), np.zeros(100), sampling_rate=FS)
