"""EEG artefact sources: EOG from an EEGLAB recording, EMG from NSTDB ``ma``.

Core tests write a small synthetic EEGLAB ``.set``/``.fdt`` pair and synthetic NSTDB
records to a temporary folder; tests marked ``data`` use the real files in ``$BIODAE_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from biodae._errors import InputError
from biodae.noise import (
    ARTIFACT_SPLITS,
    NSTDB_KINDS,
    artifact_split_bounds,
    emg_from_nstdb_ma,
    emg_segment,
    eog_from_eeglab,
    eog_segment,
    nstdb_split_bounds,
)

FS_EEG = 128.0
N_EEG = 12_800  # 100 s
N_MA = 36_000  # 100 s at 360 Hz
LABELS = ["Fz", "EOG1", "Cz", "EOG2"]


def write_eeglab(folder: Path, scramble_before: int | None = None) -> None:
    """A 4-channel continuous EEGLAB dataset: EOG1 = 1 Hz sine, EOG2 = 3 Hz sine plus
    slow drift; ``scramble_before`` replaces every sample before it with noise."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(N_EEG) / FS_EEG
    rng = np.random.default_rng(0)
    data = np.stack(
        [
            rng.standard_normal(N_EEG),
            50 * np.sin(2 * np.pi * 1.0 * t),
            rng.standard_normal(N_EEG),
            30 * np.sin(2 * np.pi * 3.0 * t) + 40 * t,
        ],
        axis=1,
    ).astype("<f4")
    if scramble_before is not None:
        data[:scramble_before] = rng.standard_normal((scramble_before, 4)) * 100
    data.tofile(folder / "eeglab_data.fdt")  # [pnts x nbchan], sample-major
    chanlocs = np.zeros((1, len(LABELS)), dtype=[("labels", "O")])
    for i, label in enumerate(LABELS):
        chanlocs["labels"][0, i] = label
    eeg = {"nbchan": 4.0, "pnts": float(N_EEG), "srate": FS_EEG, "trials": 1.0, "data": "eeglab_data.fdt",
           "chanlocs": chanlocs}
    scipy.io.savemat(folder / "eeglab_data.set", {"EEG": eeg})


def write_ma(folder: Path, scramble_before: int | None = None) -> None:
    """NSTDB-like records: a strong 2 Hz wave plus white noise (the "EMG") on both channels."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    t = np.arange(N_MA) / 360.0
    p = np.stack([np.sin(2 * np.pi * 2.0 * t)] * 2, axis=1) + 0.05 * rng.standard_normal((N_MA, 2))
    if scramble_before is not None:
        p[:, 0] = rng.standard_normal(N_MA)
        p[:scramble_before, 1] = rng.standard_normal(scramble_before)
    d = np.round(p * 1000).astype(np.int32)
    for kind in NSTDB_KINDS:
        wfdb.wrsamp(
            kind, fs=360, units=["mV", "mV"], sig_name=["noise1", "noise2"], d_signal=d,
            fmt=["32", "32"], adc_gain=[1000.0, 1000.0], baseline=[0, 0], write_dir=str(folder),
        )


@pytest.fixture(scope="module")
def syn_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_eeglab(root / "eeg" / "eeglab")
    write_ma(root / "ecg" / "nstdb")
    return root


def _peak_hz(x, fs):
    spec = np.abs(np.fft.rfft(x - x.mean()))
    return np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(spec)]


# --- EOG ------------------------------------------------------------------------------------


def test_artifact_split_bounds():
    n = 30_504
    tr, va, te = (artifact_split_bounds(s, n_samples=n) for s in ARTIFACT_SPLITS)
    assert tr == (0, 21_352) and va == (21_352, 24_403) and te == (24_403, 30_504)
    assert tr[1] <= va[0] and va[1] <= te[0] and te[1] == n
    assert te[1] - te[0] >= 0.2 * n - 1  # the last 20% is held out


def test_eog_channels_rate_and_band(syn_root):
    eog = eog_from_eeglab(syn_root, sampling_rate=256.0, split="train")
    a, b = artifact_split_bounds("train", n_samples=N_EEG)
    assert eog.shape == ((b - a) * 2, 2)
    assert _peak_hz(eog[:, 0], 256.0) == pytest.approx(1.0, abs=0.05)  # EOG1 first
    assert _peak_hz(eog[:, 1], 256.0) == pytest.approx(3.0, abs=0.05)  # then EOG2
    # the 0.3 Hz high-pass removed the drift of EOG2 (40 uV/s over 70 s)
    assert abs(eog[1000:-1000, 1].mean()) < 1.0
    assert np.ptp(eog[1000:-1000, 1]) < 70.0


def test_eog_test_split_uses_only_its_own_samples(syn_root, tmp_path):
    a, _ = artifact_split_bounds("test", n_samples=N_EEG)
    write_eeglab(tmp_path / "eeg" / "eeglab", scramble_before=a)
    for rate in (256.0, 128.0, 200.0):
        ref = eog_from_eeglab(syn_root, sampling_rate=rate, split="test")
        got = eog_from_eeglab(tmp_path, sampling_rate=rate, split="test")
        np.testing.assert_array_equal(ref, got)
    assert not np.array_equal(
        eog_from_eeglab(syn_root, sampling_rate=256.0, split="val"),
        eog_from_eeglab(tmp_path, sampling_rate=256.0, split="val"),
    )


def test_eog_segment(syn_root):
    test = eog_from_eeglab(syn_root, sampling_rate=256.0, split="test")
    kw = dict(length=512, sampling_rate=256.0, data_dir=syn_root)
    a = eog_segment("test", rng=4, **kw)
    np.testing.assert_array_equal(a, eog_segment("test", rng=np.random.default_rng(4), **kw))
    assert a.shape == (512,)
    # a contiguous slice of one channel of the test split
    found = [
        ch for ch in (0, 1)
        for s in np.flatnonzero(test[:-511, ch] == a[0])
        if np.array_equal(test[s : s + 512, ch], a)
    ]
    assert len(found) == 1
    fixed = eog_segment("test", rng=4, channel=1, **kw)
    assert _peak_hz(fixed, 256.0) == pytest.approx(3.0, abs=0.5)
    with pytest.raises(InputError, match="channel"):
        eog_segment("test", rng=0, channel=2, **kw)


def test_eog_validation(syn_root, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="'train', 'val', 'test'"):
        eog_from_eeglab(syn_root, sampling_rate=256.0, split="all")
    with pytest.raises(InputError, match="band"):
        eog_from_eeglab(syn_root, sampling_rate=256.0, split="test", band=(10.0, 1.0))
    with pytest.raises(InputError, match="Nyquist"):
        eog_from_eeglab(syn_root, sampling_rate=256.0, split="test", band=(1.0, 70.0))
    with pytest.raises(InputError, match="not found"):
        eog_from_eeglab(tmp_path, sampling_rate=256.0, split="test")
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    with pytest.raises(InputError, match="BIODAE_DATA"):
        eog_from_eeglab(sampling_rate=256.0, split="test")


def test_eeglab_without_eog_channels(tmp_path):
    folder = tmp_path / "eeg" / "eeglab"
    write_eeglab(folder)
    m = scipy.io.loadmat(folder / "eeglab_data.set")
    m["EEG"]["chanlocs"][0, 0]["labels"][0, 1] = np.array(["VEOG"])
    scipy.io.savemat(folder / "eeglab_data.set", {"EEG": m["EEG"]})
    with pytest.raises(InputError, match="EOG1"):
        eog_from_eeglab(tmp_path, sampling_rate=128.0, split="test")


# --- EMG ------------------------------------------------------------------------------------


def test_emg_highpass_and_rate(syn_root):
    emg = emg_from_nstdb_ma("train", sampling_rate=256.0, data_dir=syn_root)
    _, a, b = nstdb_split_bounds("train", n_samples=N_MA)
    assert emg.shape == (int(np.ceil((b - a) * 256 / 360)),)
    # the 2 Hz wave (amplitude 1 mV) is gone, the white part (0.05 mV) is kept above 20 Hz
    spec = np.abs(np.fft.rfft(emg)) * 2 / len(emg)
    freqs = np.fft.rfftfreq(len(emg), 1 / 256.0)
    assert spec[np.argmin(np.abs(freqs - 2.0))] < 1e-3
    assert 0.02 < emg.std() < 0.05


def test_emg_splits_use_only_their_own_samples(syn_root, tmp_path):
    _, a, _ = nstdb_split_bounds("test", n_samples=N_MA)
    write_ma(tmp_path / "ecg" / "nstdb", scramble_before=a)
    ref = emg_from_nstdb_ma("test", sampling_rate=256.0, data_dir=syn_root)
    np.testing.assert_array_equal(ref, emg_from_nstdb_ma("test", sampling_rate=256.0, data_dir=tmp_path))
    assert not np.array_equal(
        emg_from_nstdb_ma("train", sampling_rate=256.0, data_dir=syn_root),
        emg_from_nstdb_ma("train", sampling_rate=256.0, data_dir=tmp_path),
    )


def test_emg_segment(syn_root):
    kw = dict(length=512, sampling_rate=256.0, data_dir=syn_root)
    a = emg_segment("val", rng=1, **kw)
    np.testing.assert_array_equal(a, emg_segment("val", rng=1, **kw))
    assert not np.array_equal(a, emg_segment("val", rng=2, **kw))
    part = emg_from_nstdb_ma("val", sampling_rate=256.0, data_dir=syn_root)
    starts = [s for s in np.flatnonzero(part[:-511] == a[0]) if np.array_equal(part[s : s + 512], a)]
    assert len(starts) == 1
    with pytest.raises(InputError, match="Nyquist"):
        emg_segment("val", rng=1, length=10, sampling_rate=30.0, data_dir=syn_root)


# --- real files -----------------------------------------------------------------------------

DATA = os.environ.get("BIODAE_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="BIODAE_DATA is not set: real EEGLAB/NSTDB files unavailable")


@pytest.mark.data
@needs_data
def test_real_eog_matches_an_independent_read():
    from scipy.signal import butter, sosfiltfilt

    folder = Path(DATA) / "eeg" / "eeglab"
    raw = np.fromfile(folder / "eeglab_data.fdt", "<f4").reshape(30504, 32).T
    labels = [str(c.labels) for c in scipy.io.loadmat(
        folder / "eeglab_data.set", squeeze_me=True, struct_as_record=False)["EEG"].chanlocs]
    assert labels.index("EOG1") == 1 and labels.index("EOG2") == 5
    a, b = artifact_split_bounds("test", n_samples=30504)
    sos = butter(4, [0.3, 10.0], btype="bandpass", fs=128.0, output="sos")
    expected = sosfiltfilt(sos, raw[[1, 5], a:b].astype(np.float64), axis=1).T
    got = eog_from_eeglab(sampling_rate=128.0, split="test")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)
    up = eog_from_eeglab(sampling_rate=256.0, split="test")
    assert up.shape == (2 * (b - a), 2)
    assert 5.0 < up.std() < 100.0  # tens of uV


@pytest.mark.data
@needs_data
def test_real_emg():
    emg = emg_from_nstdb_ma("test", sampling_rate=256.0)
    assert emg.shape == (int(np.ceil(130_000 * 256 / 360)),)
    assert 0.005 < emg.std() < 0.5  # mV
    seg = emg_segment("train", length=512, sampling_rate=256.0, rng=0)
    assert seg.shape == (512,) and np.all(np.isfinite(seg))
