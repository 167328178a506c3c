"""NSTDB loading, download, splits and segments.

Core tests use small synthetic WFDB records written to a temporary folder, whose samples
encode their own position (channel 0: value = index, channel 1: value = 10^6 + index),
so a segment tells exactly where it came from. Tests marked ``data`` read the real
database from ``$BIODAE_DATA``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import biodae.noise._nstdb as nstdb_mod
from biodae._errors import BiodaeError, InputError
from biodae.noise import (
    NSTDB_KINDS,
    NSTDB_SPLITS,
    download_nstdb,
    load_nstdb,
    nstdb_segment,
    nstdb_split,
    nstdb_split_bounds,
)

N_SYN = 36_000  # 100 s at 360 Hz
OFFSET = 1_000_000


def write_records(folder: Path, n: int = N_SYN, scramble: tuple[int, int] | None = None) -> None:
    """Write bw/em/ma to ``folder``; ``scramble=(channel, stop)`` randomizes the samples of
    every split except the ``test`` range."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    idx = np.arange(n)
    data = np.stack([idx, OFFSET + idx], axis=1).astype(np.int32)
    if scramble is not None:
        rng = np.random.default_rng(123)
        data[:, 0] = rng.integers(0, OFFSET, n)  # test never uses channel 0
        data[: scramble[1], 1] = rng.integers(0, OFFSET, scramble[1])
    for kind in NSTDB_KINDS:
        wfdb.wrsamp(
            kind, fs=360, units=["mV", "mV"], sig_name=["noise1", "noise2"], d_signal=data,
            fmt=["32", "32"], adc_gain=[1.0, 1.0], baseline=[0, 0], write_dir=str(folder),
        )


@pytest.fixture(scope="module")
def syn_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_records(root / "ecg" / "nstdb")
    return root


def _decode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    channel = (values >= OFFSET / 2).astype(int)
    return channel, values - OFFSET * channel


# --- split definitions (pure index arithmetic) --------------------------------------------


def test_split_bounds_on_the_real_length():
    n = 650_000
    assert nstdb_split_bounds("train", n_samples=n) == (0, 0, 455_000)
    assert nstdb_split_bounds("val", n_samples=n) == (1, 455_000, 520_000)
    assert nstdb_split_bounds("test", n_samples=n) == (1, 520_000, 650_000)
    assert nstdb_split_bounds("deepfilter_v1_train", n_samples=n) == (0, 0, 325_000)
    assert nstdb_split_bounds("deepfilter_v1_test", n_samples=n) == (1, 325_000, 649_999)
    assert nstdb_split_bounds("deepfilter_v2_train", n_samples=n) == (1, 0, 325_000)
    assert nstdb_split_bounds("deepfilter_v2_test", n_samples=n) == (0, 325_000, 649_999)


@pytest.mark.parametrize("n", [10, 11, 999, 36_000, 650_000, 650_001])
def test_train_val_test_never_overlap_in_time_or_channel(n):
    sets = {s: nstdb_split_bounds(s, n_samples=n) for s in ("train", "val", "test")}
    ranges = {s: set(range(a, b)) for s, (_, a, b) in sets.items()}
    # disjoint in time, whatever the channel (the two channels are simultaneous)
    assert not ranges["train"] & ranges["val"]
    assert not ranges["train"] & ranges["test"]
    assert not ranges["val"] & ranges["test"]
    assert sets["train"][0] != sets["test"][0]  # and in channel
    assert sets["test"][2] == n and sets["test"][1] == n * 8 // 10  # the last 20% is test
    for version in ("v1", "v2"):
        ch_tr, a_tr, b_tr = nstdb_split_bounds(f"deepfilter_{version}_train", n_samples=n)
        ch_te, a_te, b_te = nstdb_split_bounds(f"deepfilter_{version}_test", n_samples=n)
        assert ch_tr != ch_te and b_tr <= a_te


def test_unknown_names_list_the_valid_ones(syn_root):
    with pytest.raises(InputError, match="'train', 'val', 'test'"):
        nstdb_split_bounds("testing", n_samples=100)
    with pytest.raises(InputError, match="'bw', 'em', 'ma'"):
        load_nstdb("xx", data_dir=syn_root)


# --- reading ---------------------------------------------------------------------------------


def test_load_synthetic(syn_root):
    rec = load_nstdb("em", data_dir=syn_root)
    assert rec.shape == (N_SYN, 2) and rec.dtype == np.float64
    np.testing.assert_array_equal(rec[:, 0], np.arange(N_SYN))
    rec[0, 0] = -5.0  # a copy: the cache is not touched
    assert load_nstdb("em", data_dir=syn_root)[0, 0] == 0.0


def test_data_dir_from_environment(syn_root, monkeypatch):
    monkeypatch.setenv("BIODAE_DATA", str(syn_root))
    assert load_nstdb("bw").shape == (N_SYN, 2)
    monkeypatch.delenv("BIODAE_DATA")
    with pytest.raises(InputError, match="BIODAE_DATA") as info:
        load_nstdb("bw")
    assert "data_dir" in info.value.hint


def test_missing_files_hint_at_download(tmp_path):
    (tmp_path / "ecg" / "nstdb").mkdir(parents=True)
    with pytest.raises(InputError, match="not found") as info:
        load_nstdb("ma", data_dir=tmp_path)
    assert "download_nstdb" in info.value.hint


# --- splits and segments ------------------------------------------------------------------------


@pytest.mark.parametrize("split", NSTDB_SPLITS)
def test_split_is_exactly_its_channel_and_range(syn_root, split):
    ch, a, b = nstdb_split_bounds(split, n_samples=N_SYN)
    part = nstdb_split("ma", split, data_dir=syn_root)
    channel, index = _decode(part)
    assert np.all(channel == ch)
    np.testing.assert_array_equal(index, np.arange(a, b))


@pytest.mark.parametrize("split", ["train", "val", "test", "deepfilter_v1_test", "deepfilter_v2_train"])
def test_segments_come_only_from_their_split(syn_root, split):
    ch, a, b = nstdb_split_bounds(split, n_samples=N_SYN)
    rng = np.random.default_rng(0)
    starts = []
    for _ in range(200):
        seg = nstdb_segment("bw", split, length=512, rng=rng, data_dir=syn_root)
        channel, index = _decode(seg)
        assert np.all(channel == ch)
        assert a <= index.min() and index.max() < b
        np.testing.assert_array_equal(np.diff(index), 1)  # contiguous
        starts.append(index[0])
    # the starts spread over the whole split, ends included
    assert min(starts) - a < 0.05 * (b - a) and b - 512 - max(starts) < 0.05 * (b - a)


def test_test_segments_never_touch_training_indices(syn_root):
    _, a_tr, b_tr = nstdb_split_bounds("train", n_samples=N_SYN)
    used = np.zeros((2, N_SYN), bool)
    for seed in range(300):
        channel, index = _decode(nstdb_segment("em", "test", length=360, rng=seed, data_dir=syn_root))
        used[channel, index.astype(int)] = True
    assert not used[0].any()  # never channel 0 ...
    assert not used[:, a_tr:b_tr].any()  # ... and never the training time range
    assert not used[:, : N_SYN * 8 // 10].any()


def test_segment_determinism(syn_root):
    a = nstdb_segment("ma", "train", length=1000, rng=11, data_dir=syn_root)
    b = nstdb_segment("ma", "train", length=1000, rng=np.random.default_rng(11), data_dir=syn_root)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nstdb_segment("ma", "train", length=1000, rng=12, data_dir=syn_root))
    r1 = nstdb_segment("ma", "test", length=500, rng=3, sampling_rate=250, data_dir=syn_root)
    r2 = nstdb_segment("ma", "test", length=500, rng=3, sampling_rate=250, data_dir=syn_root)
    np.testing.assert_array_equal(r1, r2)


def test_resampled_split_uses_only_its_own_samples(syn_root, tmp_path):
    """Scrambling every sample outside the test range leaves the resampled test split
    bitwise unchanged: resampling cannot leak neighbouring noise into it."""
    other = tmp_path / "scrambled"
    write_records(other / "ecg" / "nstdb", scramble=(1, N_SYN * 8 // 10))
    for rate in (250.0, 500.0, 128.0):
        ref = nstdb_split("bw", "test", sampling_rate=rate, data_dir=syn_root)
        got = nstdb_split("bw", "test", sampling_rate=rate, data_dir=other)
        np.testing.assert_array_equal(ref, got)
        assert len(ref) == int(np.ceil(N_SYN * 0.2 * rate / 360))
    # ... while the training split does change
    assert not np.array_equal(
        nstdb_split("bw", "train", sampling_rate=250, data_dir=syn_root),
        nstdb_split("bw", "train", sampling_rate=250, data_dir=other),
    )


def test_resampled_segment_is_a_slice_of_the_resampled_split(syn_root):
    part = nstdb_split("em", "val", sampling_rate=250, data_dir=syn_root)
    _, a, b = nstdb_split_bounds("val", n_samples=N_SYN)
    # the ramp survives resampling: values track the source positions of the val range
    k = np.arange(len(part))
    np.testing.assert_allclose(part - OFFSET, a + k * 360 / 250, atol=1.0)
    seg = nstdb_segment("em", "val", length=250, rng=5, sampling_rate=250, data_dir=syn_root)
    start = int(np.argmin(np.abs(part - seg[0])))
    np.testing.assert_array_equal(part[start : start + 250], seg)


def test_segment_validation(syn_root):
    with pytest.raises(InputError, match="longer than"):
        nstdb_segment("bw", "val", length=N_SYN, rng=0, data_dir=syn_root)
    with pytest.raises(InputError, match="length"):
        nstdb_segment("bw", "val", length=0, rng=0, data_dir=syn_root)
    with pytest.raises(InputError, match="sampling_rate"):
        nstdb_segment("bw", "val", length=10, rng=0, sampling_rate=-5, data_dir=syn_root)


# --- download (wfdb.dl_database monkeypatched to copy local files) ------------------------------


def test_download_nstdb_copies_into_the_layout_load_reads(syn_root, tmp_path, monkeypatch):
    import wfdb

    calls = []

    def fake_dl_database(db_dir, dl_dir, records="all", annotators="all", keep_subdirs=True, overwrite=False):
        calls.append((db_dir, dl_dir, list(records), annotators))
        print("Generating record list for: ...")  # wfdb talks; download_nstdb must not
        for kind in records:
            for ext in (".hea", ".dat"):
                shutil.copy(syn_root / "ecg" / "nstdb" / f"{kind}{ext}", Path(dl_dir) / f"{kind}{ext}")

    monkeypatch.setattr(wfdb, "dl_database", fake_dl_database)
    dest = tmp_path / "fresh"
    folder = download_nstdb(dest)
    assert folder == dest / "ecg" / "nstdb"
    assert calls == [("nstdb", str(folder), ["bw", "em", "ma"], None)]
    np.testing.assert_array_equal(load_nstdb("ma", data_dir=dest), load_nstdb("ma", data_dir=syn_root))


def test_download_nstdb_failure_is_reported(tmp_path, monkeypatch, capsys):
    import wfdb

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(wfdb, "dl_database", offline)
    with pytest.raises(BiodaeError, match="network unreachable"):
        download_nstdb(tmp_path)

    monkeypatch.setattr(wfdb, "dl_database", lambda *a, **k: None)  # "succeeds" but writes nothing
    with pytest.raises(BiodaeError, match="missing"):
        download_nstdb(tmp_path)
    assert capsys.readouterr().out == ""


def test_download_nstdb_calls_the_real_function():
    # the real call stays in place (not run here: no network in tests)
    import inspect

    assert "wfdb.dl_database(" in inspect.getsource(nstdb_mod.download_nstdb)


# --- the real database ---------------------------------------------------------------------------

DATA = os.environ.get("BIODAE_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="BIODAE_DATA is not set: real NSTDB records unavailable")


def _find(haystack: np.ndarray, needle: np.ndarray) -> np.ndarray:
    """Start indices where ``needle`` occurs in ``haystack`` exactly."""
    cand = np.flatnonzero(haystack[: len(haystack) - len(needle) + 1] == needle[0])
    for j in range(1, len(needle)):
        cand = cand[haystack[cand + j] == needle[j]]
        if cand.size == 0:
            break
    return cand


@pytest.mark.data
@needs_data
def test_real_nstdb_records():
    import wfdb

    for kind in NSTDB_KINDS:
        rec = load_nstdb(kind)
        assert rec.shape == (650_000, 2)
        ref = wfdb.rdrecord(os.path.join(DATA, "ecg", "nstdb", kind))
        np.testing.assert_array_equal(rec, ref.p_signal)
        ch, a, b = nstdb_split_bounds("test", n_samples=650_000)
        np.testing.assert_array_equal(nstdb_split(kind, "test"), ref.p_signal[a:b, ch])


@pytest.mark.data
@needs_data
@pytest.mark.parametrize("kind", NSTDB_KINDS)
def test_real_test_segments_lie_in_the_test_range(kind):
    rec = load_nstdb(kind)
    n = rec.shape[0]
    for seed in range(5):
        seg = nstdb_segment(kind, "test", length=512, rng=seed)
        hits = _find(rec[:, 1], seg)
        assert hits.size >= 1
        assert np.all(hits >= n * 8 // 10) and np.all(hits + 512 <= n)
        # absent from the training channel's training range
        assert _find(rec[: n * 7 // 10, 0], seg).size == 0


@pytest.mark.data
@needs_data
def test_real_resampled_segment():
    seg = nstdb_segment("bw", "deepfilter_v1_test", length=1000, rng=0, sampling_rate=250)
    assert seg.shape == (1000,) and np.all(np.isfinite(seg))
    assert 0.01 < np.std(nstdb_split("bw", "test", sampling_rate=250)) < 5.0  # mV-scale noise
