"""The continuous-ECG data: patient-level split and the noise mixer."""

from __future__ import annotations

import numpy as np
import pytest

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
