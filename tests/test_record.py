"""The record layer (biodae._record) and the modality table, tested directly: what is filtered,
what is copied, how images are split, and the provenance note."""

from __future__ import annotations

import numpy as np
import pytest

from biodae import filters, io
from biodae._errors import InputError
from biodae._modality import MODALITIES, default_model
from biodae._record import filter_record, note_provenance
from biodae.types import IMAGE_MODALITIES, SIGNAL_MODALITIES


@pytest.fixture
def record(test_data):
    return io.read(test_data / "signals" / "sel100_10s")


def with_pressure(rec: io.Signal) -> io.Signal:
    """The record plus a blood-pressure channel (mmHg), which is never ECG/EEG."""
    t = np.arange(rec.n_samples) / rec.sampling_rate
    bp = 90 + 20 * np.sin(2 * np.pi * 1.2 * t)
    return io.Signal(np.column_stack([rec.data, bp]), rec.sampling_rate, [*rec.channel_names, "BP"],
                     [*rec.units, "mmHg"], format=rec.format, meta=dict(rec.meta))


@pytest.mark.parametrize("method", ["median", "butterworth", "wavelet"])
def test_filter_record_filters_the_ecg_channels_as_the_filter_would_and_copies_the_rest(record, method):
    rec = with_pressure(record)
    out, rep = filter_record(rec, method)
    p = filters.defaults("ecg", method)
    for c in (0, 1):
        expected = filters.apply(method, rec.data[:, c], sampling_rate=rec.sampling_rate, **p)
        np.testing.assert_array_equal(out.data[:, c], expected)
        assert not np.allclose(out.data[:, c], rec.data[:, c])
    np.testing.assert_array_equal(out.data[:, 2], rec.data[:, 2])
    assert rep["filtered"] == ["MLII", "V5"] and rep["params"] == p and rep["modality"] == "ecg"
    assert rep["copied"] == ["BP (not ECG/EEG: unit 'mmHg')"]
    assert out.meta == rec.meta and rec.data is not out.data


def test_filter_record_with_a_modality_filters_every_channel(record):
    rec = with_pressure(record)
    out, rep = filter_record(rec, "butterworth", modality="eeg")
    expected = filters.apply("butterworth", rec.data[:, 2], sampling_rate=rec.sampling_rate,
                             **filters.defaults("eeg", "butterworth"))
    np.testing.assert_array_equal(out.data[:, 2], expected)
    assert rep["copied"] == [] and rep["modality"] == "eeg"


def test_filter_record_keeps_gaps_and_filters_the_stretches_between(record, caplog):
    data = record.data.copy()
    data[1000:1100, 0] = np.nan
    rec = record.replace(data=data)
    out, _ = filter_record(rec, "median")
    assert np.isnan(out.data[1000:1100, 0]).all() and np.isfinite(out.data[:1000, 0]).all()
    first = filters.apply("median", data[:1000, 0], sampling_rate=rec.sampling_rate, **filters.defaults("ecg", "median"))
    np.testing.assert_array_equal(out.data[:1000, 0], first)
    assert "gaps" in caplog.text


def test_filter_record_refuses_a_record_without_ecg_or_eeg(record):
    rec = io.Signal(record.data, record.sampling_rate, ["PLETH", "RESP"], ["NU", "NU"], format="wfdb")
    with pytest.raises(InputError, match="no channel looks like ECG or EEG"):
        filter_record(rec, "median")
    with pytest.raises(InputError, match="every value is NaN"):
        filter_record(record.replace(data=np.full_like(record.data, np.nan)), "median")


def test_filter_record_on_an_image_keeps_range_holes_and_zero_fill(test_data):
    img = io.read(test_data / "images" / "anatomical.nii")
    data = np.asarray(img.data, dtype=np.float32).copy()
    data[0:4, 0:4, 0:4] = 0  # a zero-filled corner (64 voxels)
    data[10, 10, 10] = np.nan
    src = img.replace(data=data)
    out, rep = filter_record(src, "wavelet")
    assert rep["params"] == filters.defaults("mri", "wavelet")
    assert np.isnan(out.data[10, 10, 10]) and (out.data[0:4, 0:4, 0:4] == 0).all()
    ok = np.isfinite(data)
    assert np.nanmin(out.data) >= np.nanmin(data) and np.nanmax(out.data) <= np.nanmax(data)
    assert not np.allclose(out.data[ok], data[ok])


def test_note_provenance_wfdb_comment_and_edf_plus_annotation(record, test_data):
    out = record.replace(data=record.data.copy())
    note_provenance(out, "biodae filter median")
    assert out.meta["comments"][-1] == "biodae filter median" and record.meta["comments"][-1] != "biodae filter median"
    edf = io.read(test_data / "signals" / "test_3s.edf")
    plain = edf.replace(data=edf.data.copy())
    note_provenance(plain, "x")  # plain EDF has no place for it
    assert plain.meta.get("annotations") == edf.meta.get("annotations")
    plus = edf.replace(data=edf.data.copy(), meta=dict(edf.meta, reserved="EDF+C"))
    note_provenance(plus, "biodae denoise: eeg")
    assert plus.meta["annotations"][-1] == {"onset": 0.0, "duration": None, "description": "biodae denoise: eeg"}


def test_modality_table_covers_the_vocabulary(test_data):
    assert set(SIGNAL_MODALITIES + IMAGE_MODALITIES) < set(MODALITIES)
    for m in SIGNAL_MODALITIES:
        assert MODALITIES[m].kind == "signal" and MODALITIES[m].model == m
    for m in IMAGE_MODALITIES:
        assert MODALITIES[m].kind == "image" and MODALITIES[m].filter_defaults == m
        filters.defaults(MODALITIES[m].filter_defaults, "median")  # a key the filters know
    expected = {"anatomical.nii": "mri", "MR_small.dcm": "mri", "CT_small.dcm": "xray", "RG1_crop.dcm": "xray",
                "brain_slice16.png": "xray", "brain_stack.tif": "xray"}
    for name, model in expected.items():
        assert default_model(io.read(test_data / "images" / name)) == model, name
    assert default_model("ct") == "xray"


def test_giving_up_on_a_record_stops_its_other_channels_at_their_next_batch(monkeypatch):
    """Channels denoise side by side on threads. When the main thread stops waiting (a second Ctrl-C
    raises KeyboardInterrupt there), the other channels must stop at their next batch instead of
    running to their end while the pool waits: the record is abandoned in a fraction of its time."""
    import time
    from concurrent.futures import Future

    from biodae._record import _denoise_channels

    rng = np.random.default_rng(0)
    fs = 360.0
    jobs = [("ecg", rng.normal(0, 0.1, int(fs * 1800)), fs, "mV") for _ in range(2)]  # 2 x 30 min
    t = time.perf_counter()
    _denoise_channels(jobs, "cpu", 2)
    full = time.perf_counter() - t

    real_result = Future.result

    def interrupted(self, timeout=None):  # as if Ctrl-C arrived while waiting for the first channel
        time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(Future, "result", interrupted)
    t = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        _denoise_channels(jobs, "cpu", 2)
    given_up = time.perf_counter() - t
    monkeypatch.setattr(Future, "result", real_result)
    assert given_up < 0.3 * full, (given_up, full)
