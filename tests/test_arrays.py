"""The generic array helpers (biodae._arrays): the one resample, finite stretches, holes, zero fill."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import resample_poly

from biodae._arrays import (
    MIN_STRETCH_S,
    finite_stretches,
    nearest_finite,
    per_finite_stretch,
    rational_ratio,
    resample,
    slice_axis,
    zero_filled,
)
from biodae._errors import InputError


@pytest.mark.parametrize(("src", "dst"), [(250, 360), (360, 250), (128, 256), (160, 256), (1000, 360)])
@pytest.mark.parametrize(("padtype", "center"), [("line", True), ("constant", True), ("line", False)])
def test_resample_is_resample_poly_around_the_mean(src, dst, padtype, center):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2001, 2)) * 2 + 7
    frac = Fraction(dst / src).limit_denominator(1000)
    mean = x.mean(axis=0, keepdims=True) if center else 0.0
    expected = resample_poly(x - mean, frac.numerator, frac.denominator, axis=0, padtype=padtype) + mean
    got = resample(x, src, dst, padtype=padtype, center=center)
    np.testing.assert_array_equal(got, expected)
    assert got.shape[0] == int(np.ceil(2001 * frac.numerator / frac.denominator))


def test_resample_keeps_a_sine_and_its_offset():
    t = np.arange(0, 4, 1 / 250)
    x = 5 + np.sin(2 * np.pi * 3 * t)
    y = resample(x, 250, 360)
    t2 = np.arange(len(y)) / 360
    mid = slice(100, -100)
    np.testing.assert_allclose(y[mid], 5 + np.sin(2 * np.pi * 3 * t2[mid]), atol=2e-3)


def test_resample_same_rate_is_a_copy_and_odd_ratios_are_refused():
    x = np.arange(10.0)
    y = resample(x, 100, 100)
    assert np.array_equal(x, y) and y is not x
    y[0] = 99
    assert x[0] == 0
    assert rational_ratio(250, 360) == (36, 25)
    with pytest.raises(InputError, match="ratio of small integers"):
        rational_ratio(1001.0, 1.0)  # 1/1001: no denominator up to 1000 comes within 1e-4


def test_finite_stretches_and_per_finite_stretch():
    finite = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 1], bool)
    assert finite_stretches(finite) == [(1, 3), (5, 8), (9, 10)]
    assert finite_stretches(np.zeros(4, bool)) == []
    fs = 10.0
    x = np.arange(40.0)
    x[12] = np.nan  # stretches of 12 and 27 samples: both >= 1 s at 10 Hz
    x[35] = np.inf  # a 4-sample stretch after it: under MIN_STRETCH_S, copied
    out, done, copied = per_finite_stretch(lambda s: s * 0 - 1, x, fs)
    assert (done, copied) == (2, 1) and MIN_STRETCH_S == 1.0
    assert (out[:12] == -1).all() and (out[13:35] == -1).all()
    assert np.isnan(out[12]) and np.isinf(out[35]) and np.array_equal(out[36:], x[36:])


def test_nearest_finite_and_zero_filled():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.inf]])
    y = nearest_finite(x)
    assert np.isfinite(y).all() and y[0, 1] in (1.0, 3.0, 5.0) and y[1, 2] in (3.0, 5.0)
    img = np.ones((10, 10))
    img[:4, :4] = 0  # 16 connected zeros: a fill
    img[8, 8] = 0  # a lone zero: a measurement
    z = zero_filled(img)
    assert z[:4, :4].all() and not z[8, 8] and z.sum() == 16


def test_slice_axis_is_the_coarsest_spacing():
    assert slice_axis((1.0, 1.0, 3.0), (10, 10, 10)) == 2
    assert slice_axis((4.0, 1.0, 1.0), (10, 10, 10)) == 0
    assert slice_axis((1.0, 1.0, 1.0), (10, 10, 10)) == 2  # ties: the last axis
