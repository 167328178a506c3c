"""Tests of the DeepFilter benchmark data protocol (:mod:`biodae.datasets`).

The data-driven tests read the real QT Database and NSTDB from ``BIODAE_DATA`` and
build on two or three records only, to stay fast.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.datasets import (
    DEEPFILTER_TEST_RECORDS,
    DeepFilterData,
    deepfilter_protocol,
    qt_beats,
    validation_split,
)
from biodae.datasets._deepfilter import _chunk_starts, _resample_filter

TRAIN_REC, TEST_REC = "sel100", "sel123"
RECORDS = [TRAIN_REC, TEST_REC]


def _data_root() -> Path | None:
    env = os.environ.get("BIODAE_DATA")
    if not env:
        return None
    root = Path(env)
    if not (root / "ecg" / "qtdb" / f"{TRAIN_REC}.pu1").is_file():
        return None
    if not (root / "ecg" / "nstdb" / "bw.hea").is_file():
        return None
    return root


needs_data = pytest.mark.skipif(
    _data_root() is None,
    reason="BIODAE_DATA is not set (or lacks ecg/qtdb and ecg/nstdb/bw): the DeepFilter "
    "protocol needs the real QT Database and NSTDB records",
)


# ----------------------------------------------------------------- no data needed


def test_missing_data_dir_raises_with_hint(monkeypatch, tmp_path):
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    with pytest.raises(InputError) as exc:
        deepfilter_protocol(cache_dir=tmp_path)
    assert exc.value.hint and "BIODAE_DATA" in exc.value.hint
    with pytest.raises(InputError):
        deepfilter_protocol(tmp_path, cache_dir=tmp_path)  # folder without qtdb/nstdb


def test_randomstate_matches_legacy_global_stream():
    """RandomState(seed).randint(size=n) == np.random.seed(seed) + per-beat size=1 draws."""
    saved = np.random.get_state()
    try:
        np.random.seed(1234)
        per_beat_train = [np.random.randint(low=20, high=200, size=1) / 100 for _ in range(700)]
        per_beat_test = [np.random.randint(low=20, high=200, size=1) / 100 for _ in range(300)]
        np.random.seed(1234)
        vec_train = np.random.randint(low=20, high=200, size=700) / 100
        vec_test = np.random.randint(low=20, high=200, size=300) / 100
    finally:
        np.random.set_state(saved)
    rs = np.random.RandomState(1234)
    ours_train = rs.randint(low=20, high=200, size=700) / 100
    ours_test = rs.randint(low=20, high=200, size=300) / 100
    np.testing.assert_array_equal(np.concatenate(per_beat_train), ours_train)
    np.testing.assert_array_equal(np.concatenate(per_beat_test), ours_test)
    np.testing.assert_array_equal(vec_train, ours_train)
    np.testing.assert_array_equal(vec_test, ours_test)
    assert ours_train.min() >= 0.2 and ours_train.max() <= 1.99


def test_cached_resample_filter_is_bit_identical():
    from scipy.signal import resample_poly

    rng = np.random.default_rng(0)
    h = _resample_filter(250, 360)
    for n in (37, 180, 345):
        b = rng.standard_normal(n)
        padded = list(reversed(b)) + list(b) + list(reversed(b))
        np.testing.assert_array_equal(
            resample_poly(padded, 360, 250), resample_poly(np.asarray(padded), 360, 250, window=h)
        )


def test_chunk_starts_wrap_rule():
    # index restarts at 0 once it exceeds len - 512: 2000 - 512 = 1488 < 1536
    np.testing.assert_array_equal(_chunk_starts(7, 2000), [0, 512, 1024, 0, 512, 1024, 0])
    # exactly len - 512 is still used
    np.testing.assert_array_equal(_chunk_starts(4, 1024), [0, 512, 0, 512])


def test_validation_split_last_is_keras():
    tr, va = validation_split(71893, 0.3)
    split_at = int(71893 * 0.7)
    np.testing.assert_array_equal(tr, np.arange(split_at))
    np.testing.assert_array_equal(va, np.arange(split_at, 71893))
    rtr, rva = validation_split(np.zeros((71893, 3)), 0.3, method="random", seed=1)
    assert len(rva) == len(va) and len(rtr) == len(tr)
    assert np.intersect1d(rtr, rva).size == 0
    np.testing.assert_array_equal(np.union1d(rtr, rva), np.arange(71893))
    np.testing.assert_array_equal(rva, validation_split(71893, 0.3, method="random", seed=1)[1])
    with pytest.raises(InputError):
        validation_split(10, 1.5)
    with pytest.raises(InputError):
        validation_split(10, 0.3, method="shuffle")


# ----------------------------------------------------------------- real data


def _reference_arrays(qtdb: Path, bw: np.ndarray, records: list[str], version: int, seed: int):
    """The reference code (fperdigon/DeepFilter, Python data preparation), transcribed."""
    import wfdb
    from scipy.signal import resample_poly

    qt = {}
    for name in records:
        signal, fields = wfdb.rdsamp(str(qtdb / name))
        ann = wfdb.rdann(str(qtdb / name), "pu1")
        sym = np.array(ann.symbol)
        s = ann.sample
        Pidx, Sidx, Ridx = s[sym == "p"], s[sym == "("], s[sym == "N"]
        ind = np.zeros(len(Pidx))
        for j in range(len(Pidx)):
            ind[j] = np.where(Pidx[j] > Sidx)[0][-1]
        Pstart = Sidx[ind.astype(np.int64)] - int(0.04 * fields["fs"])
        x = signal[:, 0]
        beats = [
            x[Pstart[k] : Pstart[k + 1]]
            for k in range(len(Pstart) - 1)
            if np.sum((Ridx > Pstart[k]) & (Ridx < Pstart[k + 1])) < 2
        ]
        out = []
        for b in beats:
            L = math.ceil(len(b) * 360 / fields["fs"])
            res = resample_poly(list(reversed(b)) + list(b) + list(reversed(b)), 360, fields["fs"])
            out.append(res[L - 1 : 2 * L - 1])
        qt[name] = out
    h = int(bw.shape[0] / 2)
    c1a, c1b, c2a, c2b = bw[0:h, 0], bw[h:-1, 0], bw[0:h, 1], bw[h:-1, 1]
    noise_train, noise_test = (c1a, c2b) if version == 1 else (c2a, c1b)
    tr, te = [], []
    for name in qt:
        for b in qt[name]:
            if b.shape[0] > 496:
                continue
            v = np.zeros(512)
            v[16 : 16 + b.shape[0]] = b - (b[0] + b[-1]) / 2
            (te if name in DEEPFILTER_TEST_RECORDS else tr).append(v)
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        out = []
        for beats, noise_src in ((tr, noise_train), (te, noise_test)):
            idx, xs = 0, []
            for s_ in beats:
                noise = noise_src[idx : idx + 512]
                Ase = (np.max(noise) - np.min(noise)) / (np.max(s_) - np.min(s_))
                rnd = np.random.randint(low=20, high=200, size=1) / 100
                xs.append(s_ + (rnd / Ase) * noise)
                idx += 512
                if idx > len(noise_src) - 512:
                    idx = 0
            out.append((np.array(xs), np.array(beats)))
    finally:
        np.random.set_state(saved)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = _data_root()
    if root is None:
        pytest.skip("BIODAE_DATA is not set: the DeepFilter protocol needs the real QT Database and NSTDB")
    cache = tmp_path_factory.mktemp("dfcache")
    before = np.random.get_state()
    data = {v: deepfilter_protocol(root, version=v, seed=1234, cache_dir=cache, records=RECORDS) for v in (1, 2)}
    after = np.random.get_state()
    import wfdb

    bw, _ = wfdb.rdsamp(str(root / "ecg" / "nstdb" / "bw"))
    return {"root": root, "cache": cache, "data": data, "bw": bw, "rng_before": before, "rng_after": after}


@needs_data
def test_shapes_dtypes_and_split(built):
    d: DeepFilterData = built["data"][1]
    assert d.x_train.shape == d.y_train.shape == (d.n_train, 512)
    assert d.x_test.shape == d.y_test.shape == (d.n_test, 512)
    assert d.n_train > 500 and d.n_test > 500
    for a in (d.x_train, d.y_train, d.x_test, d.y_test):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    assert set(d.record_train) == {TRAIN_REC} and set(d.record_test) == {TEST_REC}
    assert set(d.record_test) <= set(DEEPFILTER_TEST_RECORDS)
    assert not set(d.record_train) & set(DEEPFILTER_TEST_RECORDS)
    assert len(d.record_train) == d.n_train == len(d.r_train) == len(d.len_train)
    assert len(d.record_test) == d.n_test == len(d.r_test) == len(d.len_test)
    info = d.info
    assert info["totals"]["train"] == d.n_train and info["totals"]["test"] == d.n_test
    assert info["beats_per_record"] == {TRAIN_REC: d.n_train, TEST_REC: d.n_test}
    for name, c in info["per_record"].items():
        assert c["windows"] == c["beats"] + c["dropped_edge"] + c["dropped_two_or_more_r"]
        assert c["kept"] == c["beats"] - c["dropped_too_long"]
    assert info["dropped"]["edge"]["total"] == 0


@needs_data
def test_placement_offset_lengths_and_endpoints(built):
    d = built["data"][1]
    for y, lens in ((d.y_train, d.len_train), (d.y_test, d.len_test)):
        assert np.all(y[:, :16] == 0)
        assert lens.min() > 0 and lens.max() <= 496
        rows = np.arange(len(y))
        first = y[rows, 16].astype(np.float64)
        last = y[rows, 16 + lens - 1].astype(np.float64)
        np.testing.assert_allclose(first + last, 0.0, atol=1e-5)
        after = np.arange(512)[None, :] >= (16 + lens)[:, None]
        assert np.all(y[after] == 0)


@needs_data
def test_r_range_and_peak_to_peak_ratio(built):
    for d in built["data"].values():
        for x, y, r in ((d.x_train, d.y_train, d.r_train), (d.x_test, d.y_test, d.r_test)):
            assert r.min() >= 0.2 and r.max() <= 1.99
            np.testing.assert_allclose(r * 100, np.rint(r * 100), atol=1e-9)  # whole percents
            added = x.astype(np.float64) - y.astype(np.float64)
            ratio = np.ptp(added, axis=1) / np.ptp(y.astype(np.float64), axis=1)
            np.testing.assert_allclose(ratio, r, rtol=2e-4)


@needs_data
@pytest.mark.parametrize("version", [1, 2])
def test_noise_comes_from_declared_channel_halves(built, version):
    d = built["data"][version]
    bw = built["bw"]
    h = int(bw.shape[0] / 2)
    ch_train, ch_test = (0, 1) if version == 1 else (1, 0)
    for x, y, start, seg_len, ch, other in (
        (d.x_train, d.y_train, 0, h, ch_train, ch_test),
        (d.x_test, d.y_test, h, bw.shape[0] - 1 - h, ch_test, ch_train),
    ):
        starts = _chunk_starts(len(x), seg_len)
        for i in (0, 1, 7, len(x) - 1):
            added = x[i].astype(np.float64) - y[i].astype(np.float64)
            lo = start + int(starts[i])
            chunk = bw[lo : lo + 512, ch]
            chunk_c = chunk - chunk.mean()
            alpha = float(np.dot(added - added.mean(), chunk_c) / np.dot(chunk_c, chunk_c))
            assert alpha > 0
            np.testing.assert_allclose(added, alpha * chunk, atol=1e-5 * max(1.0, np.abs(added).max()))
            wrong = bw[lo : lo + 512, other]
            assert not np.allclose(added, alpha * wrong, atol=1e-3)
    assert d.info["noise"]["train"]["channel"] == ch_train
    assert d.info["noise"]["test"]["channel"] == ch_test
    assert d.info["noise"]["test"]["start"] == h and d.info["noise"]["test"]["stop"] == bw.shape[0] - 1


@needs_data
def test_matches_transcribed_reference_code(built):
    """Bit-faithful to the reference (float64), up to the final float32 cast."""
    root = built["root"]
    (x_tr, y_tr), (x_te, y_te) = _reference_arrays(root / "ecg" / "qtdb", built["bw"], RECORDS, 1, 1234)
    d = built["data"][1]
    np.testing.assert_array_equal(d.y_train, y_tr.astype(np.float32))
    np.testing.assert_array_equal(d.x_train, x_tr.astype(np.float32))
    np.testing.assert_array_equal(d.y_test, y_te.astype(np.float32))
    np.testing.assert_array_equal(d.x_test, x_te.astype(np.float32))


@needs_data
def test_global_rng_state_untouched(built):
    a, b = built["rng_before"], built["rng_after"]
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@needs_data
def test_deterministic_and_cache_reuse(built):
    root, cache = built["root"], built["cache"]
    first = built["data"][1]
    assert first.info["from_cache"] is False
    files = sorted(p.name for p in Path(cache).iterdir())
    assert len(files) == 2 and all(f.endswith(".npz") for f in files)  # no leftover temporaries
    again = deepfilter_protocol(root, version=1, seed=1234, cache_dir=cache, records=RECORDS)
    assert again.info["from_cache"] is True
    assert again.info["cache_file"] == first.info["cache_file"]
    fresh = deepfilter_protocol(root, version=1, seed=1234, records=RECORDS, cache=False)
    assert fresh.info["from_cache"] is False and fresh.info["cache_file"] is None
    names = ("x_train", "y_train", "x_test", "y_test", "r_train", "r_test",
             "record_train", "record_test", "len_train", "len_test")
    for name in names:
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
        np.testing.assert_array_equal(getattr(fresh, name), getattr(first, name))
    assert again.info["totals"] == first.info["totals"]
    # a different seed is a different cache entry and different amplitudes, same clean beats
    other = deepfilter_protocol(root, version=1, seed=7, records=RECORDS, cache=False)
    np.testing.assert_array_equal(other.y_train, first.y_train)
    assert not np.array_equal(other.r_train, first.r_train)


@needs_data
def test_versions_share_clean_beats_and_r(built):
    d1, d2 = built["data"][1], built["data"][2]
    np.testing.assert_array_equal(d1.y_train, d2.y_train)
    np.testing.assert_array_equal(d1.r_test, d2.r_test)
    assert not np.array_equal(d1.x_test, d2.x_test)


@needs_data
def test_bad_arguments(built, tmp_path):
    root = built["root"]
    with pytest.raises(InputError):
        deepfilter_protocol(root, version=3, cache=False)
    with pytest.raises(InputError):
        deepfilter_protocol(root, records=["nosuchrecord"], cache=False)


@needs_data
def test_qt_beats_counts(built):
    beats, counts = qt_beats(built["root"] / "ecg" / "qtdb" / TRAIN_REC)
    assert counts["fs"] == 250 and counts["beats"] == len(beats)
    assert counts["p_without_onset"] == 0 and counts["dropped_edge"] == 0
    assert all(b.dtype == np.float64 and b.ndim == 1 for b in beats)


def test_qt_beats_edge_cases_on_synthetic_record(tmp_path):
    """P peak without onset, negative start after the 40 ms shift, zero-length window."""
    import wfdb

    n = 2000
    sig = np.sin(np.arange(n) / 25.0)[:, None] * np.array([[1.0, 0.5]])
    wfdb.wrsamp(
        "syn", fs=250, units=["mV", "mV"], sig_name=["I", "II"], p_signal=sig, fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    ann = {2: "p", 4: "(", 8: "p", 200: "(", 220: "p", 260: "N", 400: "(", 420: "p", 430: "p", 460: "N",
           600: "(", 620: "p", 660: "N", 700: "N", 800: "(", 820: "p", 860: "N"}
    samples = np.array(sorted(ann))
    # wfdb.wrann only accepts letters in the extension: write .pua, rename to .pu1
    wfdb.wrann("syn", "pua", samples, symbol=[ann[s] for s in samples], write_dir=str(tmp_path))
    (tmp_path / "syn.pua").rename(tmp_path / "syn.pu1")
    beats, counts = qt_beats(tmp_path / "syn")
    # P starts: -6 (edge), 190, 390, 390 (zero-length window), 590, 790
    assert counts["p_waves"] == 7 and counts["p_without_onset"] == 1
    assert counts["windows"] == 5
    assert counts["dropped_edge"] == 2 and counts["dropped_two_or_more_r"] == 1
    assert counts["beats"] == len(beats) == 2
    assert [len(b) for b in beats] == [math.ceil(200 * 360 / 250)] * 2
