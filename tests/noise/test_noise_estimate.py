"""Noise estimation: wavelet MAD, Rician background estimate with fallback, signal SNR."""

from __future__ import annotations

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.noise import estimate_sigma, estimate_sigma_image, estimate_sigma_rician, estimate_snr_db, rician


def test_estimate_sigma_per_channel_on_smooth_signal():
    fs = 360.0
    t = np.arange(7200) / fs
    smooth = np.sin(2 * np.pi * 1.0 * t) + 0.5 * np.sin(2 * np.pi * 7.0 * t)
    sigmas = np.array([0.02, 0.1, 0.5])
    x = smooth[:, None] + np.random.default_rng(0).standard_normal((t.size, 3)) * sigmas
    est = estimate_sigma(x)  # default axis=0: biodae's (n_samples, n_channels) layout
    assert isinstance(est, np.ndarray) and est.shape == (3,)
    np.testing.assert_allclose(est, sigmas, rtol=0.10)
    np.testing.assert_array_equal(estimate_sigma(x, axis=0), est)
    one = estimate_sigma(x[:, 1])
    assert isinstance(one, float) and one == pytest.approx(est[1], rel=1e-12)
    # time along the last axis gives the same numbers
    np.testing.assert_allclose(estimate_sigma(x.T, axis=-1), est, rtol=1e-12)


def test_estimate_sigma_image():
    yy, xx = np.mgrid[0:256, 0:256]
    img = 100 * np.sin(yy / 40.0) * np.cos(xx / 55.0)
    noisy = img + 4.0 * np.random.default_rng(1).standard_normal(img.shape)
    est = estimate_sigma(noisy, axis=None)  # one n-D image
    assert isinstance(est, float)
    assert est == pytest.approx(4.0, rel=0.10)


def test_estimate_sigma_validation():
    with pytest.raises(InputError, match="wavelet"):
        estimate_sigma(np.zeros(100), wavelet="nope")
    with pytest.raises(InputError, match="axis"):
        estimate_sigma(np.zeros((10, 2)), axis=2)
    with pytest.raises(InputError, match="NaN"):
        estimate_sigma(np.array([1.0, np.nan, 2.0]))


def _phantom(shape=(64, 64, 40)):
    """A textured ellipsoid (intensities ~70-210) in air (0): 27% foreground."""
    g = np.indices(shape).astype(float)
    r = sum(((g[i] - (n - 1) / 2) / (0.4 * n)) ** 2 for i, n in enumerate(shape))
    texture = 140 + 50 * np.sin(g[0] / 6) * np.cos(g[1] / 9) + 20 * np.cos(g[2] / 5)
    return np.where(r < 1, texture, 0.0)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 12.0])
def test_estimate_sigma_rician_with_air(sigma):
    vol = rician(_phantom(), sigma, rng=int(sigma))
    assert estimate_sigma_rician(vol) == pytest.approx(sigma, rel=0.10)
    assert estimate_sigma_rician(vol, method="background") == pytest.approx(sigma, rel=0.10)
    # a 2-D slice works too
    assert estimate_sigma_rician(vol[:, :, 20]) == pytest.approx(sigma, rel=0.10)


def test_estimate_sigma_rician_integer_data():
    vol = np.round(rician(_phantom(), 5.0, rng=0)).astype(np.uint16)
    assert estimate_sigma_rician(vol) == pytest.approx(5.0, rel=0.10)


def test_estimate_sigma_rician_without_air_falls_back():
    shape = (48, 48, 24)
    obj = 100 + 10 * np.sin(np.indices(shape)[0] / 7.0)  # fills the whole field of view
    vol = rician(obj, 4.0, rng=2)
    with pytest.raises(InputError, match="no usable air"):
        estimate_sigma_rician(vol, method="background")
    assert estimate_sigma_rician(vol) == pytest.approx(4.0, rel=0.10)  # wavelet fallback
    assert estimate_sigma_rician(vol, method="wavelet") == pytest.approx(4.0, rel=0.10)


def test_estimate_sigma_rician_zero_filled_background():
    ph = _phantom()
    vol = rician(ph, 3.0, rng=4)
    vol[ph == 0] = 0.0  # masked/skull-stripped: the air holds no measurement
    with pytest.raises(InputError, match="no usable air"):
        estimate_sigma_rician(vol, method="background")
    assert estimate_sigma_rician(vol) == pytest.approx(3.0, rel=0.10)


def test_estimate_sigma_rician_validation():
    with pytest.raises(InputError, match="'auto', 'background', 'wavelet'"):
        estimate_sigma_rician(np.ones((8, 8)), method="otsu")
    with pytest.raises(InputError, match="negative"):
        estimate_sigma_rician(-np.ones((8, 8)))


def test_estimate_snr_db():
    fs = 360.0
    t = np.arange(3600) / fs
    sig = np.sqrt(2) * np.sin(2 * np.pi * 10.0 * t)  # power 1
    noise = np.random.default_rng(3).standard_normal((t.size, 2)) * [0.1, 0.316]  # 20 dB, 10 dB
    snr = estimate_snr_db(sig[:, None] + noise, sampling_rate=fs)
    assert snr.shape == (2,)
    np.testing.assert_allclose(snr, [20.0, 10.0], atol=1.0)
    # a slow drift counts neither as signal nor as noise
    drifting = sig + noise[:, 0] + 3 * np.sin(2 * np.pi * 0.1 * t)
    assert estimate_snr_db(drifting, sampling_rate=fs) == pytest.approx(20.0, abs=1.0)
    assert estimate_snr_db(drifting, sampling_rate=fs, highpass=None) > 25.0
    with pytest.raises(InputError, match="sampling_rate"):
        estimate_snr_db(sig, sampling_rate=-1.0)


def test_estimate_sigma_image_ignores_flat_padding():
    """A CT-like image: noisy disc inside -3024 padding. Plain MAD is pulled to ~0 by the
    padding; the flat-block-aware estimate finds the true sigma."""
    from biodae.noise import estimate_sigma, estimate_sigma_image

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:256, :256]
    inside = (yy - 128) ** 2 + (xx - 128) ** 2 < 70**2
    img = np.full((256, 256), -3024.0)
    img[inside] = 40.0 + rng.normal(0, 12.0, inside.sum())
    assert estimate_sigma(img, axis=None) < 6.0  # the bias this function exists to avoid
    assert abs(estimate_sigma_image(img) - 12.0) < 0.1 * 12.0
    assert estimate_sigma_image(np.full((16, 16), 7.0)) == 0.0


# --------------------------------------------------------------------------- estimate_noise: one answer per file
def _synthetic_ecg(fs: float, seconds: float, rate_bpm: float = 72.0) -> np.ndarray:
    """A beat train: P, QRS (Q, R, S) and T waves as Gaussians, with slightly uneven RR intervals."""
    t = np.arange(int(seconds * fs)) / fs
    rng = np.random.default_rng(11)
    beats, at = [], 0.5
    while at < seconds:
        beats.append(at)
        at += 60.0 / rate_bpm * (1 + 0.05 * rng.standard_normal())
    waves = [(-0.2, 0.025, 0.15), (-0.03, 0.008, -0.15), (0.0, 0.01, 1.2), (0.03, 0.008, -0.3), (0.3, 0.05, 0.35)]
    x = np.zeros_like(t)
    for b in beats:
        for dt, w, a in waves:
            x += a * np.exp(-0.5 * ((t - b - dt) / w) ** 2)
    return x


def _signal(x: np.ndarray, fs: float, name: str = "MLII", unit: str = "mV"):
    from biodae import io

    return io.Signal(np.asarray(x, float).reshape(len(x), -1), fs, [name], [unit])


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0])
def test_estimate_noise_ecg_sees_white_noise_and_baseline_wander(fs):
    """On an ECG, the SNR is the beat train's power over everything that does not repeat from
    beat to beat: white noise and baseline wander alike (the wavelet estimate saw no wander at all)."""
    from biodae.noise import estimate_noise

    clean = _synthetic_ecg(fs, 60.0)
    p = np.var(clean)
    rng = np.random.default_rng(4)
    t = np.arange(clean.size) / fs
    for snr in (0.0, 10.0):
        white = rng.standard_normal(clean.size) * np.sqrt(p / 10 ** (snr / 10))
        (est,) = estimate_noise(_signal(clean + white, fs))
        assert est.method == "ecg-beats" and "beats" in est.how
        assert est.snr_db == pytest.approx(snr, abs=1.0)
        assert est.sigma == pytest.approx(np.std(white), rel=0.12)
        wander = np.sqrt(2 * p / 10 ** (snr / 10)) * np.sin(2 * np.pi * 0.3 * t)  # same power, below 0.5 Hz
        (est,) = estimate_noise(_signal(clean + wander, fs))
        assert est.snr_db == pytest.approx(snr, abs=1.0)
        assert estimate_snr_db(clean + wander, sampling_rate=fs) > snr + 20  # what info used to print


def test_estimate_noise_other_channels_keep_the_wavelet_estimate():
    from biodae import io
    from biodae.noise import estimate_noise

    fs = 160.0
    x = np.random.default_rng(2).normal(0, 20, (1600, 2)) + 50 * np.sin(2 * np.pi * 10 * np.arange(1600) / fs)[:, None]
    sig = io.Signal(x, fs, ["Fc5.", "Resp"], ["uV", "mV"])
    est = estimate_noise(sig)
    assert [e.method for e in est] == ["wavelet", "wavelet"] and [e.name for e in est] == ["Fc5.", "Resp"]
    np.testing.assert_allclose([e.sigma for e in est], estimate_sigma(x), rtol=1e-12)
    np.testing.assert_allclose([e.snr_db for e in est], estimate_snr_db(x, sampling_rate=fs), rtol=1e-12)
    (only,) = estimate_noise(sig, channels=[1])
    assert only == est[1]


def test_estimate_noise_gaps_short_records_and_long_ones():
    from biodae.noise import estimate_noise

    fs = 250.0
    clean = _synthetic_ecg(fs, 40.0)
    x = clean + np.random.default_rng(3).normal(0, 0.1, clean.size)
    gappy = x.copy()
    gappy[2500:2600] = np.nan  # 10 s, a gap, then 29.6 s: the longest stretch is the second
    (g,) = estimate_noise(_signal(gappy, fs))
    (alone,) = estimate_noise(_signal(x[2600:], fs))
    assert (g.sigma, g.snr_db) == (alone.sigma, alone.snr_db) and "longest gap-free stretch (29.6 s)" in g.how
    for n, why in ((0, "no valid sample"), (1, "a single valid sample")):
        data = np.full(5, np.nan)
        data[:n] = 0.5
        (e,) = estimate_noise(_signal(data, fs))
        assert (e.sigma, e.snr_db, e.method) == (None, None, "none") and why in e.how
    (few,) = estimate_noise(_signal(x[:8], fs))  # too short for beats or the drift high-pass: sigma only
    assert few.method == "wavelet" and few.sigma is not None and few.snr_db is None
    # longer than ten minutes: the median of ten 1-minute stretches spread over the record
    long = np.concatenate([_synthetic_ecg(fs, 60.0) + np.random.default_rng(k).normal(0, 0.02 * (k + 1), int(60 * fs))
                           for k in range(11)])
    (e,) = estimate_noise(_signal(long, fs))
    starts = np.linspace(0, long.size - int(60 * fs), 10).astype(int)
    parts = [estimate_noise(_signal(long[s:s + int(60 * fs)], fs))[0] for s in starts]
    assert e.snr_db == pytest.approx(float(np.median([p.snr_db for p in parts])))
    assert e.sigma == pytest.approx(float(np.median([p.sigma for p in parts])))
    assert "median of 10 60-s stretches" in e.how


def test_estimate_noise_like_keeps_the_inputs_method():
    """The output of a step is measured by the method chosen on its input, whatever it now looks like."""
    from biodae.noise import estimate_noise

    fs = 250.0
    x = _synthetic_ecg(fs, 30.0) + np.random.default_rng(5).normal(0, 0.05, int(30 * fs))
    before = estimate_noise(_signal(x, fs))
    assert before[0].method == "ecg-beats" and before[0].snr_db > 10
    (only_noise,) = estimate_noise(_signal(np.random.default_rng(6).normal(0, 0.05, x.size), fs), like=before)
    assert only_noise.method == "ecg-beats" and only_noise.snr_db < -10  # noise peaks make a poor beat model
    assert only_noise.sigma == pytest.approx(0.05, rel=0.1)
    (flat,) = estimate_noise(_signal(np.zeros(x.size), fs), like=before)
    assert flat.method == "wavelet" and "no regular beats found" in flat.how  # nothing left to model
    assert flat.sigma == 0.0 and flat.snr_db is None
    after = estimate_noise(_signal(x, fs, name="chan"), like=before)  # a name that is not ECG: still beats
    assert after[0].method == "ecg-beats" and after[0].snr_db == before[0].snr_db
    with pytest.raises(InputError, match="like= holds 2 estimates for 1 channels"):
        estimate_noise(_signal(x, fs), like=before * 2)


def test_estimate_noise_images(test_data):
    from biodae import io
    from biodae.noise import estimate_noise

    mr = io.read(test_data / "images" / "MR_small.dcm")  # a 64x64 crop of tissue: no air
    (e,) = estimate_noise(mr)
    assert e.method == "rician-wavelet" and e.snr_db is None
    assert e.sigma == pytest.approx(estimate_sigma_rician(mr.data, method="wavelet"))
    ct = io.read(test_data / "images" / "CT_small.dcm")
    (e,) = estimate_noise(ct)
    assert e.method == "gaussian-wavelet" and e.sigma == pytest.approx(estimate_sigma_image(ct.data))
    # a 4D series: its first volume; NaN and infinite voxels are left out, not spread
    vol = rician(_phantom((32, 32, 20)), 4.0, rng=1)
    series = io.Image(np.stack([vol, 2 * vol], axis=-1).astype(np.float32), (1.0, 1.0, 1.0), "nifti", "mri")
    (e,) = estimate_noise(series)
    assert e.method == "chi-background" and "first volume" in e.how and "N≈1.0 coils" in e.how  # Rician: 1 coil
    assert e.sigma == pytest.approx(4.0, rel=0.05)  # the truth (estimate_sigma_rician: 3.97)
    holed = series.data.copy()
    holed[5, 5, 5, 0], holed[20, 3, 7, 0] = np.nan, np.inf
    (h,) = estimate_noise(series.replace(data=holed))
    assert h.sigma == pytest.approx(e.sigma, rel=0.01)
    (tiny,) = estimate_noise(io.Image(np.ones((1, 1), np.float32), (1.0, 1.0), "png", "xray"))
    assert tiny.sigma is None and "too small" in tiny.how


def test_background_estimate_refuses_tissue_for_air(test_data):
    """MR_small (a crop of tissue, intensities 127..2145) has a dark region whose spread is
    Rayleigh-like but which never comes near zero: it is not air (it gave σ = 265 against 20)."""
    from biodae import io

    mr = io.read(test_data / "images" / "MR_small.dcm")
    with pytest.raises(InputError, match="no usable air"):
        estimate_sigma_rician(mr.data, method="background")
    # integer data with a small σ (air values of 1, 2, 3...) still count as air
    for sigma in (1.5, 2.0):
        vol = np.round(rician(_phantom(), sigma, rng=3))
        assert estimate_sigma_rician(vol, method="background") == pytest.approx(sigma, rel=0.15)


def test_ecg_snr_tracks_real_noise_at_known_snr(biodae_data):
    """Clean QT Database leads (not the quick-start record; 0.5 Hz high-passed so that the
    reference holds no wander of its own) plus real NSTDB electrode motion, baseline wander and
    muscle noise (test split) at -6..12 dB: the estimate follows the true SNR and rises with it."""
    from scipy import signal as sps

    from biodae import io, noise

    rng = np.random.default_rng(21)
    levels = np.array([-6.0, 0.0, 6.0, 12.0])
    errors = []
    for name in ("sel103", "sel16265", "sel306", "sele0112", "sel808", "sel231"):
        rec = io.read(biodae_data / "ecg" / "qtdb" / name)
        fs = rec.sampling_rate
        x = rec.data[int(300 * fs):int(360 * fs), 0]
        clean = sps.sosfiltfilt(sps.butter(2, 0.5, btype="highpass", fs=fs, output="sos"), x - x.mean())
        for kind in ("em", "bw", "ma"):
            seg = noise.nstdb_segment(kind, "test", length=clean.size, rng=rng, sampling_rate=fs, data_dir=biodae_data)
            est = np.array([noise.estimate_noise(_signal(noise.mix_at_snr(clean, seg, s, remove_mean=True).noisy,
                                                         fs))[0].snr_db for s in levels])
            assert np.all(np.diff(est) > 0), (name, kind, est)
            errors.append(est - levels)
    errors = np.array(errors)
    assert np.all(np.abs(np.median(errors, axis=0)) < 1.5), np.median(errors, axis=0)
    assert np.all(np.abs(errors[:, :3]) < 3.0)  # -6..6 dB: every lead, every noise
    assert np.all(np.abs(errors[:, 3]) < 5.0)  # 12 dB: a lead's own beat-to-beat changes start to count


def test_the_quick_start_example_reads_near_its_6_db():
    """examples/ecg/sel100_em6 (electrode motion at 6 dB): the wavelet estimate said 25.3 dB."""
    from pathlib import Path

    from biodae import io
    from biodae.noise import estimate_noise

    folder = Path(__file__).resolve().parents[2] / "examples" / "ecg"
    noisy, clean = io.read(folder / "sel100_em6"), io.read(folder / "sel100_clean")
    for est, c in zip(estimate_noise(noisy), range(2)):
        true = 10 * np.log10(np.var(clean.data[:, c]) / np.var(noisy.data[:, c] - clean.data[:, c]))
        assert abs(est.snr_db - true) < 3.0 and est.method == "ecg-beats"
        assert est.sigma == pytest.approx(np.std(noisy.data[:, c] - clean.data[:, c]), rel=0.35)
