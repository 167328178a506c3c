"""Tests of the EEGdenoiseNet-style EEG data (:mod:`biodae.datasets._eeg`).

The data-driven tests read the real recordings from ``BIODAE_DATA`` (S001 runs, the
EEGLAB tutorial recording, NSTDB ``ma``); the preprocessed epochs go to a temporary
cache once per module.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from biodae import noise
from biodae._errors import InputError
from biodae.datasets._eeg import (
    EEG_EPOCH,
    EEG_SAMPLING_RATE,
    EEG_SPLITS,
    EEGNoiseMixer,
    eeg_artifact_split,
    eeg_channel_kept,
    eeg_recordings,
    load_eeg_epochs,
    preprocess_eeg,
)

S001_NAMES = [
    "Fc5.", "Fc3.", "Fc1.", "Fcz.", "Fc2.", "Fc4.", "Fc6.", "C5..", "C3..", "C1..", "Cz..", "C2..", "C4..", "C6..",
    "Cp5.", "Cp3.", "Cp1.", "Cpz.", "Cp2.", "Cp4.", "Cp6.", "Fp1.", "Fpz.", "Fp2.", "Af7.", "Af3.", "Afz.", "Af4.",
    "Af8.", "F7..", "F5..", "F3..", "F1..", "Fz..", "F2..", "F4..", "F6..", "F8..", "Ft7.", "Ft8.", "T7..", "T8..",
    "T9..", "T10.", "Tp7.", "Tp8.", "P7..", "P5..", "P3..", "P1..", "Pz..", "P2..", "P4..", "P6..", "P8..", "Po7.",
    "Po3.", "Poz.", "Po4.", "Po8.", "O1..", "Oz..", "O2..", "Iz..",
]


def _data_root() -> Path | None:
    env = os.environ.get("BIODAE_DATA")
    if not env:
        return None
    root = Path(env)
    needed = [
        root / "eeg" / "eegmmidb-S001" / "S001R10.edf",
        root / "eeg" / "eeglab" / "eeglab_data.fdt",
        root / "ecg" / "nstdb" / "ma.hea",
    ]
    return root if all(p.is_file() for p in needed) else None


needs_data = pytest.mark.skipif(
    _data_root() is None,
    reason="BIODAE_DATA is not set (or lacks eeg/eegmmidb-S001, eeg/eeglab and ecg/nstdb/ma): "
    "the EEG protocol needs the real S001 runs, the EEGLAB recording and NSTDB",
)


def _background(n: int, n_ch: int, rng: np.random.Generator) -> np.ndarray:
    """EEG-like 1/f noise, ~10 µV RMS per channel, independent channels."""
    w = rng.standard_normal((n, n_ch))
    spec = np.fft.rfft(w, axis=0)
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:, None] * n)
    x = np.fft.irfft(spec, n=n, axis=0)
    return 10 * x / x.std(axis=0)


def _blink(n: int, fs: float, at_s: float, peak_uv: float = 300.0) -> np.ndarray:
    t = np.arange(n) / fs
    return peak_uv * np.exp(-0.5 * ((t - at_s) / 0.08) ** 2)  # ~0.4 s wide


# ----------------------------------------------------------------- no data needed


def test_channel_selection():
    kept = [c for c in S001_NAMES if eeg_channel_kept(c)]
    assert len(kept) == 39
    for c in ("Fp1.", "Fpz.", "Af7.", "F7..", "F8..", "Fz..", "Ft7.", "Ft8.", "T7..", "T8..", "T9..", "T10.",
              "Tp7.", "Tp8.", "EOG1", "EEG T3", "EEG F7"):
        assert not eeg_channel_kept(c), c
    for c in ("Cz..", "Fc5.", "Iz..", "EEG O1", "POz", "EEG T5"):
        assert eeg_channel_kept(c), c


def test_splits_are_disjoint_by_recording():
    sets = {s: set(eeg_recordings(s)) for s in EEG_SPLITS}
    for a in EEG_SPLITS:
        for b in EEG_SPLITS:
            if a < b:
                assert not sets[a] & sets[b], (a, b)
    assert len(sets["train"]) == 7 and sets["val"] == {"eegmmidb-S001/S001R08.edf"}
    assert sets["test"] == {"eegmmidb-S001/S001R09.edf", "eegmmidb-S001/S001R10.edf"}
    assert [eeg_artifact_split(s) for s in EEG_SPLITS] == ["train", "val", "test", "test"]
    with pytest.raises(InputError, match="unknown EEG split"):
        eeg_recordings("training")


def test_missing_data_dir_raises_with_hint(monkeypatch, tmp_path):
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    with pytest.raises(InputError) as exc:
        load_eeg_epochs("val", cache_dir=tmp_path)
    assert exc.value.hint and "BIODAE_DATA" in exc.value.hint


def test_preprocess_rate_and_shapes():
    """A 10 Hz sine in one channel at 160 Hz comes out at 10 Hz in 512-sample epochs at 256 Hz."""
    rng = np.random.default_rng(0)
    fs, n = 160.0, 160 * 20
    x = _background(n, len(S001_NAMES), rng)
    cz = S001_NAMES.index("Cz..")
    x[:, cz] += 30 * np.sin(2 * np.pi * 10.0 * np.arange(n) / fs)
    out = preprocess_eeg(x, sampling_rate=fs, channel_names=S001_NAMES, recording="syn")
    assert out.epochs.shape[1] == EEG_EPOCH and out.epochs.dtype == np.float32
    assert out.counts["candidates"] == 10 * 39  # 20 s -> 10 epochs x 39 kept channels
    assert out.counts["kept"] == len(out) > 0
    assert set(out.channel) <= {c.rstrip(".").upper() for c in S001_NAMES if eeg_channel_kept(c)}
    assert np.all(out.start % EEG_EPOCH == 0)
    ep = out.epochs[out.channel == "CZ"]
    assert len(ep) > 0
    freqs = np.fft.rfftfreq(EEG_EPOCH, d=1.0 / EEG_SAMPLING_RATE)
    peak = freqs[np.argmax(np.abs(np.fft.rfft(ep.astype(np.float64), axis=1)).mean(axis=0))]
    assert peak == pytest.approx(10.0, abs=0.5)


def test_rejection_removes_injected_blink_synthetic():
    rng = np.random.default_rng(1)
    fs, n = 160.0, 160 * 30
    x = _background(n, len(S001_NAMES), rng)
    base = preprocess_eeg(x, sampling_rate=fs, channel_names=S001_NAMES)
    x[:, S001_NAMES.index("Pz..")] += _blink(n, fs, at_s=9.0)  # inside epoch 4 (8-10 s)
    hit = preprocess_eeg(x, sampling_rate=fs, channel_names=S001_NAMES)
    key = ("PZ", 4 * EEG_EPOCH)
    assert key in set(zip(base.channel, base.start))
    assert key not in set(zip(hit.channel, hit.start))
    assert hit.counts["ptp"] >= 1


def test_preprocess_rejects_unusable_input():
    rng = np.random.default_rng(2)
    x = _background(2000, len(S001_NAMES), rng)
    with pytest.raises(InputError, match="too low"):
        preprocess_eeg(x, sampling_rate=80.0, channel_names=S001_NAMES)
    with pytest.raises(InputError, match="common average"):
        preprocess_eeg(x[:, :2], sampling_rate=160.0, channel_names=["Fp1", "Cz"])
    with pytest.raises(InputError, match="shorter than one"):
        preprocess_eeg(x[:200], sampling_rate=160.0, channel_names=S001_NAMES)
    with pytest.raises(InputError, match="does not match"):
        preprocess_eeg(x, sampling_rate=160.0, channel_names=S001_NAMES[:-1])


# ----------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def eeg_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("eeg_cache")


@pytest.fixture(scope="module")
def splits(eeg_cache):
    if _data_root() is None:
        pytest.skip("BIODAE_DATA is not set")
    return {s: load_eeg_epochs(s, cache_dir=eeg_cache, return_info=True) for s in EEG_SPLITS}


@pytest.mark.data
@needs_data
def test_split_shapes_and_origin(splits, eeg_cache):
    for s, (x, info) in splits.items():
        assert x.ndim == 2 and x.shape[1] == EEG_EPOCH and x.dtype == np.float32, s
        assert x.shape[0] > 1000, s
        assert np.all(np.isfinite(x))
        assert set(info.recording) <= set(eeg_recordings(s)), s
        assert info.counts["kept"] == x.shape[0]
        assert np.all(np.ptp(x, axis=1) <= 150.0 + 1e-3)
        # band-limited to 1-45 Hz: almost no power above 50 Hz at the 256 Hz model rate
        p = np.abs(np.fft.rfft(x[:200] * np.hanning(EEG_EPOCH), axis=1)) ** 2
        f = np.fft.rfftfreq(EEG_EPOCH, d=1.0 / EEG_SAMPLING_RATE)
        assert p[:, f > 50].sum() < 1e-3 * p.sum()
    # no recording (run / time range) shared between splits
    recs = {s: set(info.recording) for s, (_, info) in splits.items()}
    for a in EEG_SPLITS:
        for b in EEG_SPLITS:
            if a < b:
                assert not recs[a] & recs[b], (a, b)
    # the cache is reused and gives the same epochs
    assert len(list(eeg_cache.glob("eeg_*.npz"))) == len(EEG_SPLITS)
    again = load_eeg_epochs("val", cache_dir=eeg_cache)
    np.testing.assert_array_equal(again, splits["val"][0])


@pytest.mark.data
@needs_data
def test_rejection_removes_injected_blink_real():
    from biodae.io import read

    root = _data_root()
    sig = read(root / "eeg" / "eegmmidb-S001" / "S001R01.edf")
    base = preprocess_eeg(sig.data, sampling_rate=sig.sampling_rate, channel_names=sig.channel_names)
    ch, name = sig.channel_names.index("Cz.."), "CZ"
    kept_starts = base.start[base.channel == name]
    assert kept_starts.size > 0
    start = int(kept_starts[len(kept_starts) // 2])  # an epoch kept before the blink
    data = sig.data.copy()
    at_s = (start + EEG_EPOCH / 2) / EEG_SAMPLING_RATE
    data[:, ch] += _blink(data.shape[0], sig.sampling_rate, at_s)
    hit = preprocess_eeg(data, sampling_rate=sig.sampling_rate, channel_names=sig.channel_names)
    assert (name, start) not in set(zip(hit.channel, hit.start))
    assert hit.counts["ptp"] > base.counts["ptp"]


def _snr_true_db(noisy: np.ndarray, clean: np.ndarray) -> float:
    c = clean.astype(np.float64)
    d = noisy.astype(np.float64) - c
    return float(10 * np.log10(np.mean(c**2) / np.mean(d**2)))


@pytest.mark.data
@needs_data
@pytest.mark.parametrize("kind", ["eog", "emg"])
def test_mixer_hits_target_snr(splits, kind):
    x = splits["val"][0]
    rng = np.random.default_rng(3)
    std = EEGNoiseMixer(x, artifact_split="val", kinds=(kind,))
    for snr in (-7.0, -5.0, 0.0, 3.5, 7.0):
        noisy, clean = std.window(rng, snr_db=snr)
        assert noisy.shape == clean.shape == (EEG_EPOCH,) and noisy.dtype == clean.dtype == np.float32
        assert _snr_true_db(noisy, clean) == pytest.approx(snr, abs=1e-6)
    nominal = EEGNoiseMixer(x, artifact_split="val", kinds=(kind,), definition="eegdenoisenet")
    for snr in (-7.0, 2.0):
        noisy, clean = nominal.window(rng, snr_db=snr)
        assert _snr_true_db(noisy, clean) == pytest.approx(noise.nominal_to_true_db(snr), abs=1e-6)
    noisy, clean = nominal.window(rng, snr_db=-7.0)
    assert _snr_true_db(noisy, clean) == pytest.approx(-14.0, abs=1e-6)
    # drawn SNRs stay in range; batches have the trainer's shape
    nb, cb = std.batch(16, rng)
    assert nb.shape == cb.shape == (16, 1, EEG_EPOCH) and nb.dtype == np.float32
    snrs = [_snr_true_db(n[0], c[0]) for n, c in zip(nb, cb)]
    assert min(snrs) >= -7.0 - 1e-6 and max(snrs) <= 7.0 + 1e-6


def _slice_of(segment: np.ndarray, source: np.ndarray) -> bool:
    """Whether ``segment`` equals ``±source[s:s+len]`` for some start (to 1e-9 relative)."""
    n = segment.size
    win = np.lib.stride_tricks.sliding_window_view(source, n)
    tol = 1e-9 * max(1.0, float(np.abs(source).max()))
    for sign in (1.0, -1.0):
        cand = np.nonzero(np.abs(win[:, 0] - sign * segment[0]) <= tol)[0]
        if any(np.allclose(win[i], sign * segment, rtol=0, atol=tol) for i in cand):
            return True
    return False


@pytest.mark.data
@needs_data
def test_test_artifacts_come_from_test_ranges(splits):
    x = splits["test"][0]
    mixer = EEGNoiseMixer(x, artifact_split="test")
    rng = np.random.default_rng(4)
    fs = EEG_SAMPLING_RATE
    eog = {s: noise.eog_from_eeglab(sampling_rate=fs, split=s) for s in ("train", "test")}
    emg = {s: noise.emg_from_nstdb_ma(s, sampling_rate=fs) for s in ("train", "test")}
    for _ in range(8):
        a = mixer.artifact(rng, kind="eog")
        assert any(_slice_of(a, eog["test"][:, c]) for c in (0, 1))
        assert not any(_slice_of(a, eog["train"][:, c]) for c in (0, 1))
        b = mixer.artifact(rng, kind="emg")
        assert _slice_of(b, emg["test"]) and not _slice_of(b, emg["train"])
    # what a window adds is a scaled test-range segment (correlation ±1 with a slice)
    for kind, src in (("eog", eog["test"][:, 0]), ("emg", emg["test"])):
        for _ in range(3):
            noisy, clean = mixer.window(rng, kind=kind, snr_db=0.0)
            d = noisy.astype(np.float64) - clean
            win = np.lib.stride_tricks.sliding_window_view(
                np.concatenate([src, eog["test"][:, 1]]) if kind == "eog" else src, EEG_EPOCH
            )
            wc = win - win.mean(axis=1, keepdims=True)
            dc = d - d.mean()
            r = wc @ dc / (np.linalg.norm(wc, axis=1) * np.linalg.norm(dc) + 1e-30)
            assert np.abs(r).max() > 1 - 1e-6


def test_mixer_validates_arguments():
    x = np.zeros((4, EEG_EPOCH), np.float32)
    with pytest.raises(InputError, match="artefact kinds"):
        EEGNoiseMixer(x, artifact_split="test", kinds=("ecg",))
    with pytest.raises(InputError, match="SNR definition"):
        EEGNoiseMixer(x, artifact_split="test", definition="nominal")
    with pytest.raises(InputError, match="artefact split"):
        EEGNoiseMixer(x, artifact_split="held-out")
    with pytest.raises(InputError, match="epochs"):
        EEGNoiseMixer(np.zeros((4, 100)), artifact_split="test")


@pytest.mark.data
@needs_data
def test_mixer_high_snr_share_and_clean_augment(splits):
    x = splits["val"][0]
    rng = np.random.default_rng(5)
    mixer = EEGNoiseMixer(x, artifact_split="val", high_snr_fraction=0.25, high_snr_range=(10.0, 20.0),
                          clean_augment=True)
    snrs = np.array([_snr_true_db(*mixer.window(rng)) for _ in range(800)])
    assert snrs.min() >= -7.0 - 1e-6 and snrs.max() <= 20.0 + 1e-6
    assert not np.any((snrs > 7.0 + 1e-6) & (snrs < 10.0 - 1e-6))  # nothing between the two ranges
    assert 0.2 < np.mean(snrs >= 10.0 - 1e-6) < 0.3
    # clean targets are the epochs, flipped in sign and/or reversed in time, each about half the time
    seen = {"same": 0, "neg": 0, "rev": 0, "negrev": 0}
    rows = {x[i].tobytes(): i for i in range(len(x))}
    for _ in range(200):
        _, clean = mixer.window(rng, snr_db=0.0)
        for name, cand in (("same", clean), ("neg", -clean), ("rev", clean[::-1]), ("negrev", -clean[::-1])):
            if np.ascontiguousarray(cand).tobytes() in rows:
                seen[name] += 1
                break
        else:
            raise AssertionError("a clean target is not a (flipped / reversed) training epoch")
    assert all(20 < v < 80 for v in seen.values()), seen
    # a fixed snr_db is never replaced by the high-SNR range
    noisy, clean = mixer.window(rng, snr_db=-3.0)
    assert _snr_true_db(noisy, clean) == pytest.approx(-3.0, abs=1e-6)
    with pytest.raises(InputError, match="high_snr_fraction"):
        EEGNoiseMixer(x, artifact_split="val", high_snr_fraction=1.5)
