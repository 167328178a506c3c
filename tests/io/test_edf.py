"""Tests of biodae.io.edf (on edfio): EDF/EDF+/BDF read/write round trips, header and annotations, bad inputs.

Core tests use the excerpts in tests/data/signals; tests on whole files read the folder
named by BIODAE_DATA and are skipped without it. Written files are checked with a
minimal EDF header parser written here, with numpy decoding and with pyEDFlib (an
independent reader: it reads EDF/EDF+ and BDF files whose record count is set).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import edfio
import numpy as np
import pyedflib
import pytest

from biodae._errors import InputError, OutputExistsError
from biodae.io._containers import Signal
from biodae.io.edf import read_edf, write_edf
from biodae.io.wfdb import read_wfdb

SIGNALS = Path(__file__).resolve().parents[1] / "data" / "signals"
EDFPLUS = SIGNALS / "S001R03_5s_8ch.edf"  # eegmmidb S001R03, 8 ch, 160 Hz, 5 s, EDF+C, 2 annotations
BDF = SIGNALS / "test_3s.bdf"  # EEGLAB test.bdf, 16 ch + Status, 256 Hz, 3 s, n_records = -1
EDF = SIGNALS / "test_3s.edf"  # EEGLAB test.edf, plain EDF, 16 ch, 256 Hz, 3 s


# ----------------------------------------------------------------------------- independent reader


def parse_edf_header(path: Path) -> dict:
    """Minimal EDF/BDF header parser: the fields the tests compare."""
    raw = Path(path).read_bytes()
    text = raw[:256].decode("latin-1")
    ns = int(text[252:256])
    sh = raw[256:256 * (ns + 1)].decode("latin-1")

    def field(offset: int, width: int) -> list[str]:
        return [sh[offset * ns + i * width: offset * ns + (i + 1) * width].strip() for i in range(ns)]

    spr = [int(v) for v in field(16 + 80 + 8 + 8 * 4 + 80, 8)]
    duration = float(text[244:252])
    return {
        "version": raw[:8], "patient": text[8:88].rstrip(), "recording": text[88:168].rstrip(),
        "startdate": text[168:176], "starttime": text[176:184], "header_bytes": int(text[184:192]),
        "reserved": text[192:236].strip(), "n_records": int(text[236:244]), "duration": duration, "ns": ns,
        "labels": field(0, 16), "dimension": field(16 + 80, 8),
        "physical_min": [float(v) for v in field(16 + 80 + 8, 8)],
        "physical_max": [float(v) for v in field(16 + 80 + 16, 8)],
        "digital_min": [int(v) for v in field(16 + 80 + 24, 8)],
        "digital_max": [int(v) for v in field(16 + 80 + 32, 8)],
        "spr": spr, "fs": [s / duration for s in spr], "size": len(raw),
    }


def decode_channel(path: Path, index: int) -> np.ndarray:
    """Physical samples of signal ``index``, decoded with numpy from the header parsed above."""
    h = parse_edf_header(path)
    bps = 3 if h["version"] == b"\xffBIOSEMI" else 2
    raw = np.frombuffer(Path(path).read_bytes()[h["header_bytes"]:], dtype=np.uint8)
    n_records = h["n_records"] if h["n_records"] >= 0 else len(raw) // (sum(h["spr"]) * bps)
    recs = raw[: n_records * sum(h["spr"]) * bps].reshape(n_records, -1)
    start = sum(h["spr"][:index]) * bps
    b = recs[:, start: start + h["spr"][index] * bps].reshape(-1, bps).astype(np.int64)
    d = b[:, 0] | (b[:, 1] << 8) | ((b[:, 2] << 16) if bps == 3 else 0)
    d = np.where(d >= 1 << (8 * bps - 1), d - (1 << (8 * bps)), d)
    pmin, pmax = h["physical_min"][index], h["physical_max"][index]
    dmin, dmax = h["digital_min"][index], h["digital_max"][index]
    return (d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin


def step(sig: Signal) -> np.ndarray:
    """Physical value of one digital step per channel."""
    return np.array([(c["physical_max"] - c["physical_min"]) / (c["digital_max"] - c["digital_min"])
                     for c in sig.meta["channels"]])


# ----------------------------------------------------------------------------- reading


def test_read_edfplus_excerpt():
    sig = read_edf(EDFPLUS)
    assert sig.format == "edf" and sig.data.dtype == np.float64 and sig.data.shape == (800, 8)
    assert sig.sampling_rate == 160.0
    assert sig.channel_names == ["Fc5.", "C3..", "Cz..", "C4..", "Fp1.", "Fpz.", "Fp2.", "Oz.."]
    assert sig.units == ["uV"] * 8
    m = sig.meta
    assert m["file_type"] == "EDF+C" and m["record_duration"] == 1.0 and m["n_records"] == 5
    assert m["patient"] == "X X X X" and m["recording"] == "Startdate 12-AUG-2009 X X BCI2000"
    assert m["startdate"] == "12.08.09" and m["starttime"] == "16.15.00"
    assert m["start_datetime"].isoformat() == "2009-08-12T16:15:00"
    assert m["channels"][0]["physical_max"] == 8092.0 and m["channels"][0]["digital_min"] == -8092
    assert m["channels"][0]["prefilter"] == "HP:0Hz LP:0Hz N:0Hz" and m["channels"][0]["transducer"] == "BCI2000"
    assert m["annotations"] == [{"onset": 0.0, "duration": 4.2, "description": "T0"},
                                {"onset": 4.2, "duration": 4.1, "description": "T2"}]
    assert m["status"] is None
    with pyedflib.EdfReader(str(EDFPLUS)) as f:
        ref = np.stack([f.readSignal(i) for i in range(8)], axis=1)
    np.testing.assert_allclose(sig.data, ref, rtol=0, atol=1e-9)


def test_read_bdf_with_open_record_count_and_status():
    sig = read_edf(BDF)
    assert sig.format == "bdf" and sig.data.shape == (768, 16) and sig.sampling_rate == 256.0
    assert sig.channel_names[:3] == ["A1", "A2", "A3"] and "Status" not in sig.channel_names
    m = sig.meta
    assert m["file_type"] == "BDF" and m["reserved"] == "24BIT" and m["n_records"] == 3
    assert m["status"]["label"] == "Status" and m["status"]["digital"].shape == (768,)
    assert m["status"]["dimension"] == "Boolean"
    for i in (0, 15):
        np.testing.assert_allclose(sig.data[:, i], decode_channel(BDF, i), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(m["status"]["digital"], decode_channel(BDF, 16))  # status: physical == digital


def test_read_plain_edf_keeps_free_text_fields():
    sig = read_edf(EDF)
    assert sig.data.shape == (768, 16) and sig.sampling_rate == 256.0
    assert sig.meta["file_type"] == "EDF" and sig.meta["annotations"] == []
    assert sig.meta["patient"] == "J. B. (1066 28)"
    assert sig.meta["recording"] == "Alerting sequence (RHYTHM, av)"
    np.testing.assert_allclose(sig.data[:, 3], decode_channel(EDF, 3), rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- round trips


def test_edfplus_round_trip(tmp_path):
    sig = read_edf(EDFPLUS)
    out = write_edf(sig, tmp_path / "copy.edf")
    assert out == tmp_path / "copy.edf" and [p.name for p in tmp_path.iterdir()] == ["copy.edf"]

    h, h0 = parse_edf_header(out), parse_edf_header(EDFPLUS)
    assert h["ns"] == 9 and h["labels"] == sig.channel_names + ["EDF Annotations"]
    assert h["fs"][:8] == [160.0] * 8 and h["n_records"] == 5 and h["duration"] == 1.0
    assert h["size"] == h["header_bytes"] + h["n_records"] * sum(h["spr"]) * 2
    for key in ("version", "patient", "recording", "startdate", "starttime", "reserved"):
        assert h[key] == h0[key], key
    for key in ("physical_min", "physical_max", "digital_min", "digital_max", "dimension"):
        assert h[key][:8] == h0[key][:8], key

    back = read_edf(out)
    assert np.all(np.abs(back.data - sig.data) <= step(sig) / 2 + 1e-9)
    np.testing.assert_array_equal(back.data, sig.data)  # unchanged data: exact
    assert back.meta["annotations"] == sig.meta["annotations"]
    assert back.meta["channels"] == sig.meta["channels"]
    for key in ("file_type", "patient", "recording", "startdate", "starttime", "record_duration"):
        assert back.meta[key] == sig.meta[key], key
    with pyedflib.EdfReader(str(out)) as f:  # an independent EDF+ reader accepts it
        onset, duration, text = f.readAnnotations()
        assert list(onset) == [0.0, 4.2] and list(duration) == [4.2, 4.1] and list(text) == ["T0", "T2"]
        np.testing.assert_allclose(f.readSignal(4), sig.data[:, 4], rtol=0, atol=1e-9)


def test_plain_edf_round_trip_is_byte_identical(tmp_path):
    out = write_edf(read_edf(EDF), tmp_path / "copy.edf")
    assert out.read_bytes() == EDF.read_bytes()
    back = read_edf(out)
    assert back.meta["patient"] == "J. B. (1066 28)"  # free text, not rewritten as EDF+ subfields
    assert back.meta["recording"] == "Alerting sequence (RHYTHM, av)"
    assert back.meta["startdate"] == "25.04.97" and back.meta["starttime"] == "13.36.05"
    assert parse_edf_header(out)["patient"] == "J. B. (1066 28)"
    with pyedflib.EdfReader(str(out)) as f:
        assert f.getStartdatetime().isoformat() == "1997-04-25T13:36:05"
        np.testing.assert_allclose(f.readSignal(3), back.data[:, 3], rtol=0, atol=1e-9)


def test_edfio_warning_on_open_record_count_is_logged(caplog):
    caplog.set_level(logging.INFO, logger="biodae.io")
    read_edf(BDF)  # pytest turns warnings into errors: edfio's must be caught
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "-1 data records" in r.getMessage()]
    assert infos and "test_3s.bdf" in infos[0].getMessage()


def test_bdf_round_trip(tmp_path):
    sig = read_edf(BDF)
    out = write_edf(sig, tmp_path / "copy.bdf")
    h = parse_edf_header(out)
    assert h["version"] == b"\xffBIOSEMI" and h["reserved"] == "24BIT"
    assert h["ns"] == 17 and h["labels"][-1] == "Status" and h["n_records"] == 3
    assert h["digital_min"][0] == -8388608 and h["fs"] == [256.0] * 17
    assert h["size"] == h["header_bytes"] + 3 * 17 * 256 * 3
    # everything after the record-count field is the original, byte for byte
    assert out.read_bytes()[244:] == BDF.read_bytes()[244:]
    back = read_edf(out)
    np.testing.assert_array_equal(back.data, sig.data)
    np.testing.assert_array_equal(back.meta["status"]["digital"], sig.meta["status"]["digital"])
    with pyedflib.EdfReader(str(out)) as f:
        np.testing.assert_allclose(f.readSignal(2), sig.data[:, 2], rtol=0, atol=1e-9)


def test_changed_data_within_one_step(tmp_path):
    sig = read_edf(EDFPLUS)
    rng = np.random.default_rng(0)
    new = sig.replace(data=sig.data + rng.normal(0, 3.0, sig.data.shape))
    back = read_edf(write_edf(new, tmp_path / "noisy.edf"))
    assert np.all(np.abs(back.data - new.data) <= step(sig) / 2 + 1e-9)


def test_data_beyond_physical_range_widen_it(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_edf(EDFPLUS)
    data = sig.data.copy()
    data[10, 2] = 12345.6  # beyond 8092 uV
    data[20, 2] = -9000.25
    back = read_edf(write_edf(sig.replace(data=data), tmp_path / "wide.edf"))
    ch = back.meta["channels"][2]
    assert ch["physical_max"] >= 12345.6 and ch["physical_min"] <= -9000.25
    assert back.meta["channels"][1] == sig.meta["channels"][1]  # other channels untouched
    s = step(back)
    assert np.all(np.abs(back.data - data) <= s / 2 + 1e-9)
    assert any("widened" in r.getMessage() and "Cz.." in r.getMessage() for r in caplog.records)


def test_rounded_and_inverted_physical_ranges(tmp_path):
    sig = read_edf(EDFPLUS)
    sig.meta["channels"][0].update(physical_min=-8263.7, physical_max=8263.7)  # edfio widens these a digit
    sig.meta["channels"][1].update(physical_min=8092.0, physical_max=-8092.0)  # inverted: negative gain
    x = sig.data.copy()
    x[:, 0] = np.clip(x[:, 0], -8263, 8263)
    back = read_edf(write_edf(sig.replace(data=x), tmp_path / "r.edf"))
    assert back.meta["channels"][0]["physical_min"] <= -8263.7 <= 8263.7 <= back.meta["channels"][0]["physical_max"]
    assert back.meta["channels"][1]["physical_min"] == 8092.0 and back.meta["channels"][1]["physical_max"] == -8092.0
    assert np.all(np.abs(back.data - x) <= np.abs(step(back)) / 2 + 1e-9)
    np.testing.assert_array_equal(read_edf(write_edf(back, tmp_path / "r2.edf")).data, back.data)


def test_bdf_keeps_24_bit_resolution(tmp_path):
    sig = read_edf(BDF)
    x = sig.data + 0.1  # 0.1 uV: far below an EDF step here, above a BDF step (1/32 uV)
    back = read_edf(write_edf(sig.replace(data=x), tmp_path / "fine.bdf"))
    assert np.all(np.abs(back.data - x) <= step(sig) / 2 + 1e-9)
    assert step(sig)[0] == pytest.approx(2 * 262144 / (2**24 - 1))


def test_wfdb_signal_written_as_edf(tmp_path):
    sig = read_wfdb(SIGNALS / "sel100_10s")
    out = write_edf(sig, tmp_path / "ecg.edf")
    h = parse_edf_header(out)
    assert h["labels"] == ["MLII", "V5", "EDF Annotations"] and h["fs"][:2] == [250.0, 250.0]
    assert h["dimension"][:2] == ["mV", "mV"] and h["reserved"] == "EDF+C"
    back = read_edf(out)
    assert np.all(np.abs(back.data - sig.data) <= step(back) / 2 + 1e-9)
    with pyedflib.EdfReader(str(out)) as f:
        assert f.getSampleFrequency(0) == 250.0


def test_length_not_a_whole_record_is_padded(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_edf(EDFPLUS)
    short = sig.replace(data=sig.data[:700])
    back = read_edf(write_edf(short, tmp_path / "short.edf"))
    assert back.data.shape == (800, 8)
    np.testing.assert_array_equal(back.data[:700], short.data)
    np.testing.assert_array_equal(back.data[700:], np.repeat(short.data[-1:], 100, axis=0))
    assert any("padding" in r.getMessage() for r in caplog.records)


def test_many_annotations_grow_the_annotation_channel(tmp_path):
    sig = read_edf(EDFPLUS)
    anns = [{"onset": 0.01 * k, "duration": None, "description": f"event number {k}"} for k in range(200)]
    sig.meta["annotations"] = anns
    back = read_edf(write_edf(sig, tmp_path / "many.edf"))
    got = back.meta["annotations"]
    assert [a["description"] for a in got] == [a["description"] for a in anns]
    assert [a["onset"] for a in got] == pytest.approx([a["onset"] for a in anns], abs=1e-7)  # TAL: 0.1 us
    assert all(a["duration"] is None for a in got)
    assert parse_edf_header(tmp_path / "many.edf")["spr"][-1] > parse_edf_header(EDFPLUS)["spr"][-1]
    with pyedflib.EdfReader(str(tmp_path / "many.edf")) as f:
        assert len(f.readAnnotations()[0]) == 200


def test_status_dropped_when_the_length_changes(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_edf(BDF)
    back = read_edf(write_edf(sig.replace(data=sig.data[:512]), tmp_path / "short.bdf"))
    assert back.data.shape == (512, 16) and back.meta["status"] is None
    assert any("Status" in r.getMessage() for r in caplog.records)


def test_subsecond_start_and_annotations_kept(tmp_path):
    sig = read_edf(EDFPLUS)
    sig.meta["start_datetime"] = sig.meta["start_datetime"].replace(microsecond=250000)
    out = write_edf(sig, tmp_path / "sub.edf")
    back = read_edf(out)
    assert back.meta["start_datetime"].isoformat() == "2009-08-12T16:15:00.250000"
    assert back.meta["starttime"] == "16.15.00"
    assert back.meta["annotations"] == sig.meta["annotations"]  # onsets from the first sample
    np.testing.assert_array_equal(back.data, sig.data)


def test_header_text_written_as_ascii(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_edf(EDFPLUS)
    sig = sig.replace(units=["\u00b5V"] * 8, channel_names=[f"channel-{i}-with-a-long-name" for i in range(8)])
    h = parse_edf_header(write_edf(sig, tmp_path / "u.edf"))
    assert h["dimension"][:8] == ["uV"] * 8 and h["labels"][0] == "channel-0-with-a"
    assert any("printable ASCII" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- safe writing


def test_no_overwrite_without_force(tmp_path):
    sig = read_edf(EDFPLUS)
    out = write_edf(sig, tmp_path / "a.edf")
    before = out.read_bytes()
    with pytest.raises(OutputExistsError):
        write_edf(sig.replace(data=sig.data * 0.5), out)
    assert out.read_bytes() == before
    write_edf(sig.replace(data=sig.data * 0.5), out, force=True)
    assert out.read_bytes() != before


@pytest.mark.parametrize("src", [EDFPLUS, BDF])
def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, src):
    sig = read_edf(src)

    real_write = edfio.Edf.write

    def broken_write(self, target):  # edfio writes part of the file, then the disk is full
        buf = io.BytesIO()
        real_write(self, buf)
        Path(target).write_bytes(buf.getvalue()[:1000])
        raise OSError("disk full")

    monkeypatch.setattr(edfio.Edf, "write", broken_write)  # Bdf shares Edf's write
    monkeypatch.setattr(edfio.Bdf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_edf(sig, tmp_path / ("a" + src.suffix))
    assert list(tmp_path.iterdir()) == []


def test_nan_refused(tmp_path):
    sig = read_edf(EDFPLUS)
    data = sig.data.copy()
    data[3, 5] = np.nan
    with pytest.raises(InputError, match="Fpz"):
        write_edf(sig.replace(data=data), tmp_path / "nan.edf")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad inputs


def assert_input_error(exc: pytest.ExceptionInfo, *words: str) -> None:
    err = exc.value
    assert type(err) is InputError
    assert err.hint and "\n" not in err.message
    for w in words:
        assert w in err.message, (w, err.message)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "none.edf")
    assert_input_error(exc, "none.edf", "not found")


def test_empty_file(tmp_path):
    (tmp_path / "e.edf").write_bytes(b"")
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "e.edf")
    assert_input_error(exc, "e.edf", "empty")


@pytest.mark.parametrize("keep", [100, 256 * 5, 256 * 10 + 3000])
def test_truncated_file(tmp_path, keep):
    (tmp_path / "t.edf").write_bytes(EDFPLUS.read_bytes()[:keep])
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "t.edf")
    assert_input_error(exc, "t.edf")
    assert "truncated" in exc.value.hint


def test_truncated_data_names_the_sizes(tmp_path):
    (tmp_path / "t.edf").write_bytes(EDFPLUS.read_bytes()[:-100])
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "t.edf")
    record = 8 * 160 * 2 + parse_edf_header(EDFPLUS)["spr"][-1] * 2
    assert_input_error(exc, f"5 data records × {record} bytes")


@pytest.mark.parametrize("content", [
    b"this is a text file, not EDF" * 20,
    (SIGNALS / "sel100_10s.hea").read_bytes(),
    (SIGNALS / "sel100_10s.dat").read_bytes(),
])
def test_not_edf(tmp_path, content):
    (tmp_path / "x.edf").write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "x.edf")
    assert_input_error(exc, "x.edf")


def test_damaged_header_number(tmp_path):
    raw = bytearray(EDFPLUS.read_bytes())
    raw[244:252] = b"one sec "
    (tmp_path / "d.edf").write_bytes(bytes(raw))
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "d.edf")
    assert_input_error(exc, "data record duration", "one sec")


def test_damaged_signal_header_wrapped(tmp_path):
    raw = bytearray(EDFPLUS.read_bytes())
    ns = 9
    pos = 256 + ns * (16 + 80 + 8) + 8 * 2  # physical minimum of signal 3
    raw[pos:pos + 8] = b"abc     "
    (tmp_path / "d.edf").write_bytes(bytes(raw))
    with pytest.raises(InputError) as exc:  # edfio's ValueError, named and on one line
        read_edf(tmp_path / "d.edf")
    assert_input_error(exc, "d.edf", "abc")


def test_damaged_annotation_wrapped(tmp_path):
    raw = bytearray(EDFPLUS.read_bytes())
    pos = bytes(raw).index(b"T0\x14")
    raw[pos:pos + 2] = b"\xff\xfe"  # not UTF-8
    (tmp_path / "a.edf").write_bytes(bytes(raw))
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "a.edf")
    assert_input_error(exc, "a.edf", "could not be read")


def test_data_beyond_the_declared_records_ignored(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    raw = EDFPLUS.read_bytes()
    (tmp_path / "x.edf").write_bytes(raw + raw[-1000:])
    sig = read_edf(tmp_path / "x.edf")
    assert sig.data.shape == (800, 8) and sig.meta["n_records"] == 5
    np.testing.assert_array_equal(sig.data, read_edf(EDFPLUS).data)
    assert any("ignoring 1000 bytes" in r.getMessage() for r in caplog.records)


def _mixed_rates(path: Path) -> list[np.ndarray]:
    """An EDF+ file with two channels at 256 Hz and one at 512 Hz (2 s); returns the samples written."""
    t = np.arange(512) / 256
    written = [60 * np.sin(2 * np.pi * 3 * t), 40 * np.cos(2 * np.pi * 5 * t),
               80 * np.sin(2 * np.pi * 7 * np.arange(1024) / 512)]
    with pyedflib.EdfWriter(str(path), 3, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders([
            {"label": lab, "dimension": "uV", "sample_frequency": fs, "physical_max": 100.0,
             "physical_min": -100.0, "digital_max": 32767, "digital_min": -32768,
             "prefilter": "", "transducer": ""}
            for lab, fs in (("EEG1", 256), ("EEG2", 256), ("ECG", 512))])
        w.writeSamples(written)
    return written


def test_channels_at_different_rates_are_read_at_the_highest_and_written_at_their_own(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biodae.io")
    path = tmp_path / "mixed.edf"
    written = _mixed_rates(path)
    sig = read_edf(path)
    assert sig.sampling_rate == 512 and sig.data.shape == (1024, 3)
    assert any("EEG1 (256 Hz), EEG2 (256 Hz) are resampled to 512 Hz" in r.getMessage() for r in caplog.records)
    assert sig.meta["native_data"][2] is None and sig.meta["native_data"][0].shape == (512,)
    np.testing.assert_allclose(sig.data[:, 2], written[2], atol=0.01)
    np.testing.assert_allclose(sig.data[100:900:2, 0], written[0][50:450], atol=0.5)  # interpolated, same times
    # unchanged: every channel back at its own rate, the same digital samples (read by pyEDFlib)
    out = write_edf(sig, tmp_path / "same.edf")
    with pyedflib.EdfReader(str(path)) as a, pyedflib.EdfReader(str(out)) as b:
        assert [b.getSampleFrequency(i) for i in range(3)] == [256, 256, 512]
        for i in range(3):
            np.testing.assert_array_equal(a.readSignal(i, digital=True), b.readSignal(i, digital=True))
    # changed: back at its own rate too, with the change
    halved = sig.replace(data=sig.data * [0.5, 1.0, 1.0])
    with pyedflib.EdfReader(str(write_edf(halved, tmp_path / "halved.edf"))) as b:
        assert b.getSampleFrequency(0) == 256
        np.testing.assert_allclose(b.readSignal(0)[20:-20], 0.5 * written[0][20:-20], atol=0.1)


def test_discontinuous_edfplus(tmp_path):
    out = write_edf(read_edf(EDFPLUS), tmp_path / "c.edf")
    raw = bytearray(out.read_bytes())
    raw[192:197] = b"EDF+D"
    (tmp_path / "contiguous.edf").write_bytes(bytes(raw))
    sig = read_edf(tmp_path / "contiguous.edf")  # EDF+D whose records happen to be contiguous
    assert sig.meta["file_type"] == "EDF+D" and sig.data.shape == (800, 8)
    pos = bytes(raw).index(b"+2\x14\x14\x00")
    raw[pos:pos + 2] = b"+7"  # data record 2 now starts at 7 s: a gap
    (tmp_path / "gap.edf").write_bytes(bytes(raw))
    with pytest.raises(InputError) as exc:
        read_edf(tmp_path / "gap.edf")
    assert_input_error(exc, "gap.edf", "discontinuous EDF+D", "gaps")


# ----------------------------------------------------------------------------- whole files (BIODAE_DATA)


def data_dir() -> Path:
    root = os.environ.get("BIODAE_DATA")
    if not root:
        pytest.skip("BIODAE_DATA is not set (it names the real data folder, e.g. ../shared/data)")
    return Path(root)


@pytest.mark.data
def test_eegmmidb_run_fs_and_round_trip(tmp_path):
    src = data_dir() / "eeg/eegmmidb-S001/S001R01.edf"
    sig = read_edf(src)
    assert sig.sampling_rate == 160.0 and sig.data.shape == (60 * 160, 64)
    assert sig.meta["annotations"] == [{"onset": 0.0, "duration": 60.2, "description": "T0"}]
    out = write_edf(sig, tmp_path / "r01.edf")
    # the file header and the 64 signal channels are the original, byte for byte; only the
    # annotation channel is laid out anew (by edfio: its size and physical range differ)
    h, h0 = parse_edf_header(out), parse_edf_header(src)
    for key in ("version", "patient", "recording", "startdate", "starttime", "header_bytes", "reserved",
                "n_records", "duration", "ns"):
        assert h[key] == h0[key], key
    for key in ("labels", "dimension", "physical_min", "physical_max", "digital_min", "digital_max", "spr"):
        assert h[key][:64] == h0[key][:64], key
    assert h["labels"][64] == "EDF Annotations"
    raw, raw0 = out.read_bytes(), src.read_bytes()
    rec, rec0 = sum(h["spr"]) * 2, sum(h0["spr"]) * 2
    for k in (0, 31, 59):  # data record k: the signal samples come first, unchanged
        a = raw[h["header_bytes"] + k * rec:][:64 * 160 * 2]
        assert a == raw0[h0["header_bytes"] + k * rec0:][:64 * 160 * 2]
    with pyedflib.EdfReader(str(out)) as f:
        onset, duration, text = f.readAnnotations()
        assert list(onset) == [0.0] and list(duration) == [60.2] and list(text) == ["T0"]
        assert f.getSampleFrequency(10) == 160.0
        np.testing.assert_allclose(f.readSignal(10), sig.data[:, 10], rtol=0, atol=1e-9)


@pytest.mark.data
def test_eegmmidb_annotations_match_pyedflib(tmp_path):
    src = data_dir() / "eeg/eegmmidb-S001/S001R03.edf"
    sig = read_edf(src)
    with pyedflib.EdfReader(str(src)) as f:
        onset, duration, text = f.readAnnotations()
        ref = np.stack([f.readSignal(i) for i in (0, 31, 63)], axis=1)
    assert [a["onset"] for a in sig.meta["annotations"]] == list(onset)
    assert [a["duration"] for a in sig.meta["annotations"]] == list(duration)
    assert [a["description"] for a in sig.meta["annotations"]] == list(text)
    np.testing.assert_allclose(sig.data[:, [0, 31, 63]], ref, rtol=0, atol=1e-9)
    back = read_edf(write_edf(sig, tmp_path / "r03.edf"))
    np.testing.assert_array_equal(back.data, sig.data)
    assert back.meta["annotations"] == sig.meta["annotations"]


@pytest.mark.data
@pytest.mark.parametrize("name", ["test.bdf", "test.edf"])
def test_eeglab_files_round_trip(tmp_path, name):
    src = data_dir() / "eeg/eeglab" / name
    sig = read_edf(src)
    assert sig.data.shape == (60 * 256, 16) and sig.sampling_rate == 256.0
    out = write_edf(sig, tmp_path / name)
    if name == "test.edf":
        assert out.read_bytes() == src.read_bytes()
        assert read_edf(out).meta["patient"] == "J. B. (1066 28)"
    else:  # the BioSemi header's open record count (-1) is written as the real count
        assert parse_edf_header(out)["n_records"] == 60
        assert out.read_bytes()[:236] == src.read_bytes()[:236]
        assert out.read_bytes()[244:] == src.read_bytes()[244:]
    with pyedflib.EdfReader(str(out)) as f:  # pyEDFlib reads the BDF once its record count is set
        assert f.signals_in_file == (16 if name == "test.edf" else 17) and f.getFileDuration() == 60
        np.testing.assert_allclose(f.readSignal(5), sig.data[:, 5], rtol=0, atol=1e-9)
