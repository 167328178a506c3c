"""The continuous-ECG data: patient-level split and the noise mixer."""

from __future__ import annotations

import numpy as np
import pytest

from biodae import InputError
from biodae.datasets import ECGNoiseMixer, ECGRecord, patient_of, split_of
from biodae.datasets._deepfilter import DEEPFILTER_TEST_RECORDS


def test_patient_mapping():
    assert patient_of("qtdb", "sel116") == patient_of("mitdb", "116") == "mitdb:116"
    assert patient_of("mitdb", "202") == patient_of("mitdb", "201")
    assert patient_of("qtdb", "sel16420") == "qt:sel16420"
    assert patient_of("qtdb", "sele0106") == "qt:sele0106"
    with pytest.raises(ValueError):
        patient_of("ptb", "s0010")


def test_deepfilter_test_records_are_test_patients():
    for r in DEEPFILTER_TEST_RECORDS:
        assert split_of(patient_of("qtdb", r)) == "test"


def test_every_patient_in_exactly_one_split(biodae_data):
    from biodae.datasets._ecg import _list_sources
    from biodae.datasets._paths import cache_root

    splits: dict[str, set[str]] = {}
    for source, path in _list_sources(biodae_data / "ecg", cache_root()):
        p = patient_of(source, path.name)
        splits.setdefault(p, set()).add(split_of(p))
    assert all(len(s) == 1 for s in splits.values())
    counts = {k: sum(1 for s in splits.values() if k in s) for k in ("train", "val", "test")}
    assert counts["test"] >= 15 and counts["val"] >= 5 and counts["train"] > 60, counts


def test_mixer_hits_snr_and_uses_only_its_noise_split(biodae_data):
    t = np.arange(20000) / 360.0
    rec = ECGRecord("synthetic", "qtdb", "qt:x", np.stack([np.sin(2 * np.pi * 1.2 * t)] * 2, axis=1).astype(np.float32))
    mixer = ECGNoiseMixer([rec], noise_split="test", length=1024, data_dir=biodae_data)
    rng = np.random.default_rng(0)
    for kind in ("bw", "em", "ma", "gaussian", "mains", "mix"):
        for snr in (-6.0, 0.0, 24.0):
            noisy, clean = mixer.window(rng, kind=kind, snr_db=snr)
            got = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((noisy - clean).astype(np.float64) ** 2))
            assert abs(got - snr) < 0.01, (kind, snr, got)
    from biodae import noise

    test_bw = noise.nstdb_split("bw", "test", data_dir=biodae_data)
    assert mixer._noise["bw"].size == test_bw.size and np.array_equal(mixer._noise["bw"], test_bw)


def _above_to_below(x: np.ndarray, hz: float) -> float:
    p = np.abs(np.fft.rfft(x - x.mean())) ** 2
    above = np.fft.rfftfreq(x.size, 1 / 360.0) > hz
    return float(p[above].sum() / p[~above].sum())


def test_noise_augment_varies_the_real_noise_and_keeps_the_snr(biodae_data):
    t = np.arange(20000) / 360.0
    rec = ECGRecord("synthetic", "qtdb", "qt:x", np.stack([np.sin(2 * np.pi * 1.2 * t)] * 2, axis=1).astype(np.float32))
    plain = ECGNoiseMixer([rec], noise_split="train", length=1024, data_dir=biodae_data)
    aug = ECGNoiseMixer([rec], noise_split="train", length=1024, data_dir=biodae_data, noise_augment=("bw", "em"))
    # the same draws without augmentation give the same windows as before the option existed
    a = plain.window(np.random.default_rng(3), kind="em", snr_db=0.0)
    b = ECGNoiseMixer([rec], noise_split="train", length=1024, data_dir=biodae_data).window(
        np.random.default_rng(3), kind="em", snr_db=0.0)
    assert np.array_equal(a[0], b[0])
    # a kind left out of noise_augment is drawn as without it
    c = aug.window(np.random.default_rng(3), kind="ma", snr_db=0.0)
    assert np.array_equal(c[0], plain.window(np.random.default_rng(3), kind="ma", snr_db=0.0)[0])
    assert not np.array_equal(aug.window(np.random.default_rng(3), kind="em", snr_db=0.0)[0], a[0])
    with pytest.raises(InputError, match="noise_augment"):
        ECGNoiseMixer([rec], noise_split="train", length=1024, data_dir=biodae_data, noise_augment=("gaussian",))

    rng = np.random.default_rng(0)
    for snr in (-6.0, 0.0, 24.0):
        noisy, clean = aug.window(rng, kind="bw", snr_db=snr)
        got = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((noisy - clean).astype(np.float64) ** 2))
        assert abs(got - snr) < 0.01, (snr, got)

    # re-weighting moves the share of in-band power both ways, and a gain of 1 changes nothing
    src = aug._noise["em"]
    start = 100000
    seg = src[start : start + 1024]
    ratios = [_above_to_below(aug._reweight(src, start, np.random.default_rng(s)), 1.0) for s in range(40)]
    base = _above_to_below(seg, 1.0)
    assert min(ratios) < 0.5 * base and max(ratios) > 2 * base, (base, min(ratios), max(ratios))

    class Unit:  # corner 1 Hz, gain 1
        def uniform(self, lo, hi):
            return 0.0

    assert np.allclose(aug._reweight(src, start, Unit()), seg, atol=1e-12)
