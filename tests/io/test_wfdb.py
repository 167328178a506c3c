"""Tests of biodae.io.wfdb: WFDB read/write round trips, overflow policy, bad inputs.

Core tests use the excerpt in tests/data/signals; tests on whole records read the
folder named by BIODAE_DATA and are skipped without it. Written records are checked
with an independent reader (header text parsed here, .dat bytes decoded with numpy).
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from biodae._errors import InputError, OutputExistsError
from biodae.io import wfdb as wfdb_io
from biodae.io._containers import Signal
from biodae.io.wfdb import read_wfdb, write_wfdb

SIGNALS = Path(__file__).resolve().parents[1] / "data" / "signals"
SEL = SIGNALS / "sel100_10s"  # qtdb sel100, 600-610 s, format 212, with .atr/.pu1/.q1c


# ----------------------------------------------------------------------------- independent reader


def parse_hea(path: Path) -> dict:
    """Minimal WFDB header parser (single-segment records)."""
    lines = Path(path).read_text().splitlines()
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    body = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    rec = body[0]
    fs_field = rec[2].split("/")
    out = {"name": rec[0], "n_sig": int(rec[1]), "fs": float(fs_field[0]), "n": int(rec[3]),
           "comments": comments, "signals": []}
    for f in body[1:1 + out["n_sig"]]:
        gain_field = f[2]
        units = gain_field.split("/")[1] if "/" in gain_field else "mV"
        gain_part = gain_field.split("/")[0]
        if "(" in gain_part:
            gain, baseline = gain_part.rstrip(")").split("(")
        else:
            gain, baseline = gain_part, None
        out["signals"].append({
            "file": f[0], "fmt": f[1], "gain": float(gain), "units": units,
            "adc_res": int(f[3]), "adc_zero": int(f[4]),
            "baseline": int(baseline) if baseline is not None else int(f[4]),
            "init": int(f[5]), "checksum": int(f[6]), "name": " ".join(f[8:]),
        })
    return out


def decode_dat(path: Path, fmt: str, n_sig: int, n: int) -> np.ndarray:
    """Digital samples (n, n_sig) of a format 16 or 212 signal file, decoded by hand."""
    raw = np.fromfile(path, dtype=np.uint8)
    if fmt == "16":
        return raw[: 2 * n * n_sig].view("<i2").astype(np.int64).reshape(n, n_sig)
    assert fmt == "212"
    total = n * n_sig
    trip = raw[: 3 * ((total + 1) // 2)].astype(np.int64).reshape(-1, 3)
    s0 = trip[:, 0] | ((trip[:, 1] & 0x0F) << 8)
    s1 = trip[:, 2] | ((trip[:, 1] & 0xF0) << 4)
    flat = np.empty(2 * len(trip), dtype=np.int64)
    flat[0::2], flat[1::2] = s0, s1
    flat = np.where(flat >= 2048, flat - 4096, flat)[:total]
    return flat.reshape(n, n_sig)


def independent_digital(record: Path) -> tuple[dict, np.ndarray]:
    """Header and digital samples (all channels) of a written record, without wfdb."""
    hea = parse_hea(Path(f"{record}.hea"))
    cols = []
    files = list(dict.fromkeys(s["file"] for s in hea["signals"]))
    for f in files:
        sigs = [s for s in hea["signals"] if s["file"] == f]
        cols.append(decode_dat(record.parent / f, sigs[0]["fmt"], len(sigs), hea["n"]))
    return hea, np.concatenate(cols, axis=1)


def half_step(sig: Signal) -> np.ndarray:
    return 0.5 / np.asarray(sig.meta["adc_gain"]) + 1e-12


# ----------------------------------------------------------------------------- reading


def test_read_excerpt_values_and_meta():
    sig = read_wfdb(SEL)
    assert sig.format == "wfdb"
    assert sig.data.dtype == np.float64 and sig.data.shape == (2500, 2)
    assert sig.sampling_rate == 250.0
    assert sig.channel_names == ["MLII", "V5"] and sig.units == ["mV", "mV"]
    m = sig.meta
    assert m["fmt"] == ["212", "212"] and m["adc_gain"] == [200.0, 200.0] and m["baseline"] == [0, 0]
    assert m["adc_res"] == [11, 11] and m["adc_zero"] == [1024, 1024] and m["counter_freq"] == 360.0
    assert m["comments"][0] == "69 M 1085 1629 x1" and len(m["comments"]) == 4
    assert m["signal_files"] == ["sel100_10s.dat"]
    assert [Path(p).name for p in m["annotation_files"]] == ["sel100_10s.atr", "sel100_10s.pu1", "sel100_10s.q1c"]
    # first samples from the header's init values: 974 and 988 adu at 200 adu/mV
    np.testing.assert_allclose(sig.data[0], [4.87, 4.94])
    hea, digital = independent_digital(SEL)
    np.testing.assert_array_equal(sig.data, digital / 200.0)


@pytest.mark.parametrize("suffix", ["", ".hea", ".dat"])
def test_read_accepts_record_hea_and_dat_paths(suffix):
    sig = read_wfdb(f"{SEL}{suffix}")
    assert sig.source == SEL
    assert sig.data.shape == (2500, 2)


# ----------------------------------------------------------------------------- round trips


def test_round_trip_is_exact_and_independently_readable(tmp_path):
    sig = read_wfdb(SEL)
    out = tmp_path / "copy"
    written = write_wfdb(sig, out)
    assert [p.name for p in written] == ["copy.dat", "copy.atr", "copy.pu1", "copy.q1c", "copy.hea"]
    assert all(p.is_file() for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)  # no temp left

    hea, digital = independent_digital(out)
    _, original = independent_digital(SEL)
    np.testing.assert_array_equal(digital, original)
    orig_hea = parse_hea(Path(f"{SEL}.hea"))
    assert hea["name"] == "copy" and hea["fs"] == 250.0 and hea["n"] == 2500
    assert hea["comments"] == orig_hea["comments"]
    for s, o in zip(hea["signals"], orig_hea["signals"]):
        for key in ("fmt", "gain", "baseline", "units", "adc_res", "adc_zero", "init", "checksum", "name"):
            assert s[key] == o[key], key
    for ext in ("atr", "pu1", "q1c"):
        assert filecmp.cmp(f"{SEL}.{ext}", out.parent / f"copy.{ext}", shallow=False)

    back = read_wfdb(out)
    np.testing.assert_array_equal(back.data, sig.data)
    for key in ("fmt", "adc_gain", "baseline", "adc_res", "adc_zero", "comments", "counter_freq"):
        assert back.meta[key] == sig.meta[key], key
    assert back.channel_names == sig.channel_names and back.units == sig.units


def test_write_tolerates_hea_suffix(tmp_path):
    written = write_wfdb(read_wfdb(SEL), tmp_path / "rec.hea")
    assert written[-1] == tmp_path / "rec.hea"
    assert (tmp_path / "rec.dat").is_file()


def test_changed_data_within_half_step(tmp_path):
    sig = read_wfdb(SEL)
    rng = np.random.default_rng(0)
    new = sig.replace(data=sig.data + rng.normal(0, 0.05, sig.data.shape))
    write_wfdb(new, tmp_path / "noisy")
    back = read_wfdb(tmp_path / "noisy")
    assert back.meta["fmt"] == ["212", "212"]
    assert np.all(np.abs(back.data - new.data) <= half_step(back))


def test_nan_samples_round_trip_as_invalid_values(tmp_path):
    sig = read_wfdb(SEL)
    data = sig.data.copy()
    data[100:110, 1] = np.nan
    write_wfdb(sig.replace(data=data), tmp_path / "gap")
    _, digital = independent_digital(tmp_path / "gap")
    assert np.all(digital[100:110, 1] == -2048)  # WFDB invalid sample in format 212
    back = read_wfdb(tmp_path / "gap")
    np.testing.assert_array_equal(np.isnan(back.data), np.isnan(data))
    np.testing.assert_array_equal(back.data[~np.isnan(data)], data[~np.isnan(data)])


def test_signal_without_meta_is_written_in_format_16(tmp_path):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(0, 0.01, (1000, 3)), axis=0) + [0.0, 50.0, -3.0]
    sig = Signal(x, 500.0, ["a", "b", "c"], ["mV", "mmHg", "mV"])
    write_wfdb(sig, tmp_path / "new")
    hea, digital = independent_digital(tmp_path / "new")
    assert [s["fmt"] for s in hea["signals"]] == ["16"] * 3
    assert hea["fs"] == 500.0 and [s["units"] for s in hea["signals"]] == ["mV", "mmHg", "mV"]
    assert np.abs(digital).max() < 32767
    back = read_wfdb(tmp_path / "new")
    assert np.all(np.abs(back.data - x) <= half_step(back))


# ----------------------------------------------------------------------------- overflow policy


def test_overflow_switches_212_to_16_keeping_gain(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_wfdb(SEL)
    big = sig.replace(data=sig.data * 20)  # up to ~100 mV: beyond 12 bits at 200 adu/mV
    assert np.abs(big.data * 200).max() > 2047
    write_wfdb(big, tmp_path / "x20")
    hea, digital = independent_digital(tmp_path / "x20")
    assert [s["fmt"] for s in hea["signals"]] == ["16", "16"]
    assert [s["gain"] for s in hea["signals"]] == [200.0, 200.0]
    assert [s["baseline"] for s in hea["signals"]] == [0, 0]
    _, original = independent_digital(SEL)
    np.testing.assert_array_equal(digital, original * 20)  # exact: same gain, 20 × the digital values
    assert any("format 16" in r.getMessage() and "212" in r.getMessage() for r in caplog.records)
    assert all(r.name == "biodae.io" for r in caplog.records)


def test_overflow_beyond_16_bits_refits_gain(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="biodae.io")
    sig = read_wfdb(SEL)
    big = sig.replace(data=sig.data * 1e4)
    write_wfdb(big, tmp_path / "x1e4")
    hea, digital = independent_digital(tmp_path / "x1e4")
    assert [s["fmt"] for s in hea["signals"]] == ["16", "16"]
    gains = [s["gain"] for s in hea["signals"]]
    assert all(0 < g < 200 for g in gains)
    # the data use most of the 16-bit range, with a margin
    assert 20000 < np.abs(digital).max() <= 32767 * 0.96
    assert any("refitted" in r.getMessage() for r in caplog.records)
    back = read_wfdb(tmp_path / "x1e4")
    assert np.all(np.abs(back.data - big.data) <= half_step(back))


def test_unchanged_data_logs_nothing(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="biodae.io")
    write_wfdb(read_wfdb(SEL), tmp_path / "same")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# ----------------------------------------------------------------------------- safe writing


def test_no_overwrite_without_force(tmp_path):
    sig = read_wfdb(SEL)
    write_wfdb(sig, tmp_path / "rec")
    before = (tmp_path / "rec.dat").read_bytes()
    with pytest.raises(OutputExistsError):
        write_wfdb(sig.replace(data=sig.data * 0.5), tmp_path / "rec")
    assert (tmp_path / "rec.dat").read_bytes() == before
    write_wfdb(sig.replace(data=sig.data * 0.5), tmp_path / "rec", force=True)
    assert (tmp_path / "rec.dat").read_bytes() != before


def test_existing_annotation_file_blocks_the_write(tmp_path):
    (tmp_path / "rec.q1c").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="rec.q1c"):
        write_wfdb(read_wfdb(SEL), tmp_path / "rec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.q1c"]


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    sig = read_wfdb(SEL)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(wfdb_io.shutil, "copyfile", boom)  # fails after wfdb wrote .hea/.dat
    with pytest.raises(OSError, match="disk full"):
        write_wfdb(sig, tmp_path / "rec")
    assert list(tmp_path.iterdir()) == []


def test_failed_forced_write_keeps_the_old_record(tmp_path, monkeypatch):
    sig = read_wfdb(SEL)
    write_wfdb(sig, tmp_path / "rec")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(wfdb_io.shutil, "copyfile", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_wfdb(sig.replace(data=sig.data * 2), tmp_path / "rec", force=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("name", ["bad name", "a.b", "é"])
def test_invalid_record_name(tmp_path, name):
    with pytest.raises(InputError, match="record name"):
        write_wfdb(read_wfdb(SEL), tmp_path / name)


def test_infinite_values_refused(tmp_path):
    sig = read_wfdb(SEL)
    data = sig.data.copy()
    data[5, 0] = np.inf
    with pytest.raises(InputError, match="MLII"):
        write_wfdb(sig.replace(data=data), tmp_path / "inf")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad inputs


def copy_record(dst: Path, name: str = "rec", *, hea: str | None = None, dat: bytes | None = None) -> Path:
    """Copy the excerpt as ``dst/name`` (optionally with another header text or .dat bytes)."""
    text = Path(f"{SEL}.hea").read_text().replace("sel100_10s", name) if hea is None else hea
    (dst / f"{name}.hea").write_text(text)
    (dst / f"{name}.dat").write_bytes(Path(f"{SEL}.dat").read_bytes() if dat is None else dat)
    return dst / name


def assert_input_error(exc: pytest.ExceptionInfo, *words: str) -> None:
    err = exc.value
    assert type(err) is InputError
    assert err.hint and "\n" not in err.message
    for w in words:
        assert w in err.message, (w, err.message)


def test_missing_record(tmp_path):
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "nothing")
    assert_input_error(exc, "nothing.hea", "not found")


def test_missing_dat(tmp_path):
    rec = copy_record(tmp_path)
    (tmp_path / "rec.dat").unlink()
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "rec.dat", "not found")


def test_truncated_dat(tmp_path):
    rec = copy_record(tmp_path, dat=Path(f"{SEL}.dat").read_bytes()[:1200])
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "rec.dat", "1200 bytes", "2 signals × 2500 samples", "format 212", "7500 bytes")


def test_header_declares_more_samples_than_the_file_holds(tmp_path):
    text = Path(f"{SEL}.hea").read_text().replace("sel100_10s 2 250/360.0 2500", "rec 2 250/360.0 650000")
    rec = copy_record(tmp_path, hea=text.replace("sel100_10s", "rec"))
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "650000 samples", "1950000 bytes")


def test_header_declares_more_signals_than_the_file_holds(tmp_path):
    lines = Path(f"{SEL}.hea").read_text().replace("sel100_10s", "rec").splitlines()
    lines[0] = lines[0].replace(" 2 ", " 3 ", 1)
    lines.insert(3, lines[2].replace("V5", "V6"))
    rec = copy_record(tmp_path, hea="\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "3 signals", "7500 bytes")


def test_header_with_missing_signal_lines(tmp_path):
    lines = Path(f"{SEL}.hea").read_text().replace("sel100_10s", "rec").splitlines()
    lines[0] = lines[0].replace(" 2 ", " 3 ", 1)
    rec = copy_record(tmp_path, hea="\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "rec")


@pytest.mark.parametrize("text", ["this is not a header\n", "rec two 250 x\nrec.dat 212\n", "\x00\x01\x02\n", ""])
def test_unparseable_header(tmp_path, text):
    rec = copy_record(tmp_path, hea=text)
    with pytest.raises(InputError) as exc:
        read_wfdb(rec)
    assert_input_error(exc, "rec")


def test_all_nan_channel(tmp_path, caplog):
    d = np.zeros((100, 2), dtype="<i2")
    d[:, 0] = np.arange(100)
    d[:, 1] = -32768  # WFDB invalid sample in format 16
    (tmp_path / "nan.dat").write_bytes(d.tobytes())
    (tmp_path / "nan.hea").write_text("nan 2 100 100\nnan.dat 16 200 16 0 0 0 0 ok\nnan.dat 16 200 16 0 0 0 0 dead\n")
    with caplog.at_level(logging.WARNING, logger="biodae.io"):
        sig = read_wfdb(tmp_path / "nan")  # a lead off for the whole record: kept, with a warning
    assert np.isnan(sig.data[:, 1]).all() and np.array_equal(sig.data[:, 0], np.arange(100) / 200)
    assert "'dead' hold no valid sample" in caplog.text
    d[:, 0] = -32768
    (tmp_path / "nan.dat").write_bytes(d.tobytes())
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "nan")
    assert_input_error(exc, "no channel holds a valid sample")


def _multi_frequency(tmp_path: Path) -> tuple[list[np.ndarray], Path]:
    """A 250-Hz-frame record: ECG at 2 samples per frame (500 Hz), Resp at 1 (250 Hz) with a gap."""
    import wfdb

    rng = np.random.default_rng(3)
    ecg = np.round(np.sin(2 * np.pi * 1.2 * np.arange(1000) / 500) * 200 + rng.normal(0, 20, 1000)).astype(np.int64)
    resp = np.round(np.sin(2 * np.pi * 0.25 * np.arange(500) / 250) * 500).astype(np.int64)
    resp[100:110] = -32768  # invalid samples
    wfdb.wrsamp("mf", fs=250, units=["mV", "V"], sig_name=["ECG", "Resp"], e_d_signal=[ecg, resp],
                samps_per_frame=[2, 1], fmt=["16", "16"], adc_gain=[200, 1000], baseline=[0, 0],
                write_dir=str(tmp_path))
    wfdb.wrann("mf", "atr", np.array([10, 200, 400]), np.array(["N", "N", "N"]), write_dir=str(tmp_path))
    return [ecg, resp], tmp_path / "mf"


def test_multi_frequency_record_is_read_at_its_highest_rate_and_written_back_at_each_rate(tmp_path):
    import wfdb

    (ecg, resp), path = _multi_frequency(tmp_path)
    sig = read_wfdb(path)
    assert sig.sampling_rate == 500 and sig.data.shape == (1000, 2)
    assert np.array_equal(sig.data[:, 0], ecg / 200)
    assert np.isnan(sig.data[200:220, 1]).all() and np.isfinite(sig.data[:, 1]).sum() == 980  # the gap, in time
    t = np.arange(1000) / 500
    keep = np.isfinite(sig.data[:, 1]) & (t > 0.1) & (t < 1.9)
    np.testing.assert_allclose(sig.data[keep, 1], 0.5 * np.sin(2 * np.pi * 0.25 * t[keep]), atol=2e-3)
    assert sig.meta["samps_per_frame"] == [2, 1] and np.array_equal(sig.meta["native_data"][1][:100], resp[:100] / 1000)
    # unchanged: the same digital samples at the same rates (read back with wfdb), annotations copied
    write_wfdb(sig, tmp_path / "out" / "copy")
    got = wfdb.rdrecord(str(tmp_path / "out" / "copy"), physical=False, smooth_frames=False)
    assert got.fs == 250 and got.samps_per_frame == [2, 1] and got.sig_len == 500
    assert np.array_equal(got.e_d_signal[0], ecg) and np.array_equal(got.e_d_signal[1], resp)
    assert (tmp_path / "out" / "copy.atr").read_bytes() == (tmp_path / "mf.atr").read_bytes()
    # a changed slow channel goes back to its own rate; the gap stays invalid
    data = sig.data.copy()
    data[:, 1] *= 2
    write_wfdb(sig.replace(data=data), tmp_path / "out" / "doubled")
    got = wfdb.rdrecord(str(tmp_path / "out" / "doubled"), physical=True, smooth_frames=False)
    x = got.e_p_signal[1]
    assert len(x) == 500 and np.isnan(x[100:110]).all() and np.isfinite(x).sum() == 490
    ok = np.isfinite(x) & (np.arange(500) > 50) & (np.arange(500) < 450)
    np.testing.assert_allclose(x[ok], 2 * resp[ok] / 1000, atol=5e-3)
    with pytest.raises(InputError, match="whole frames"):
        write_wfdb(sig.replace(data=sig.data[:999]), tmp_path / "out" / "cut")


def test_multi_frequency_format_212_with_three_rates_comes_back_exactly(tmp_path):
    """3, 1 and 2 samples per frame (300, 100, 200 Hz; 200 Hz is not a whole fraction of 300) in 12-bit
    format 212, full-range noise and invalid samples: still format 212, same digital samples."""
    import wfdb

    rng = np.random.default_rng(0)
    sigs = [rng.integers(-2000, 2000, k * 400) for k in (3, 1, 2)]
    sigs[1][5:9] = -2048
    wfdb.wrsamp("m212", fs=100, units=["mV"] * 3, sig_name=["a", "b", "c"], e_d_signal=sigs, samps_per_frame=[3, 1, 2],
                fmt=["212"] * 3, adc_gain=[200] * 3, baseline=[0] * 3, write_dir=str(tmp_path))
    sig = read_wfdb(tmp_path / "m212")
    assert sig.sampling_rate == 300 and np.isnan(sig.data[:, 1]).sum() == 12
    write_wfdb(sig, tmp_path / "out" / "copy")
    got = wfdb.rdrecord(str(tmp_path / "out" / "copy"), physical=False, smooth_frames=False)
    assert got.fmt == ["212"] * 3 and got.samps_per_frame == [3, 1, 2]
    assert all(np.array_equal(g, s) for g, s in zip(got.e_d_signal, sigs))


def test_multi_segment_multi_frequency_record_is_refused(tmp_path):
    (tmp_path / "s1.dat").write_bytes(np.zeros(100 * 3, dtype="<i2").tobytes())
    (tmp_path / "s1.hea").write_text("s1 2 250 100\ns1.dat 16x2 200 16 0 0 0 0 fast\ns1.dat 16 200 16 0 0 0 0 slow\n")
    (tmp_path / "ms.hea").write_text("ms/1 2 250 100\ns1 100\n")
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "ms")
    assert_input_error(exc, "'fast'", "2 samples per frame")
    assert "slow" not in exc.value.message


# ----------------------------------------------------------------------------- multi-segment


def write_segments(tmp_path: Path) -> np.ndarray:
    """Split the excerpt into segments seg_a (1000 samples) and seg_b (1500) with wfdb."""
    import wfdb

    ref = wfdb.rdrecord(str(SEL), physical=False)
    d = ref.d_signal.astype(np.int64)
    for name, part in (("seg_a", d[:1000]), ("seg_b", d[1000:])):
        wfdb.wrsamp(name, fs=250, units=["mV", "mV"], sig_name=["MLII", "V5"], d_signal=part,
                    fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(tmp_path))
    return d


def test_fixed_layout_multi_segment_read_as_one_signal(tmp_path):
    d = write_segments(tmp_path)
    (tmp_path / "multi.hea").write_text("multi/2 2 250 2500\nseg_a 1000\nseg_b 1500\n")
    sig = read_wfdb(tmp_path / "multi")
    np.testing.assert_array_equal(sig.data, d / 200.0)
    assert sig.meta["multi_segment"]["seg_len"] == [1000, 1500]
    assert sig.meta["fmt"] == ["212", "212"] and sig.channel_names == ["MLII", "V5"]
    write_wfdb(sig, tmp_path / "single")
    hea, digital = independent_digital(tmp_path / "single")
    np.testing.assert_array_equal(digital, d)
    assert hea["n"] == 2500


def test_multi_segment_with_truncated_segment(tmp_path):
    write_segments(tmp_path)
    (tmp_path / "multi.hea").write_text("multi/2 2 250 2500\nseg_a 1000\nseg_b 1500\n")
    data = (tmp_path / "seg_b.dat").read_bytes()
    (tmp_path / "seg_b.dat").write_bytes(data[:100])
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "multi")
    assert_input_error(exc, "segment 'seg_b'", "seg_b.dat", "100 bytes")


def test_variable_layout_multi_segment_is_refused(tmp_path):
    write_segments(tmp_path)
    (tmp_path / "var_layout.hea").write_text("var_layout 2 250 0\n~ 212 200 11 0 0 0 0 MLII\n~ 212 200 11 0 0 0 0 V5\n")
    (tmp_path / "var.hea").write_text("var/3 2 250 2500\nvar_layout 0\nseg_a 1000\nseg_b 1500\n")
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "var")
    assert_input_error(exc, "variable-layout")


# ----------------------------------------------------------------------------- whole records (BIODAE_DATA)


def data_dir() -> Path:
    root = os.environ.get("BIODAE_DATA")
    if not root:
        pytest.skip("BIODAE_DATA is not set (it names the real data folder, e.g. ../shared/data)")
    return Path(root)


@pytest.mark.data
@pytest.mark.parametrize("rel, ann", [
    ("ecg/qtdb/sel100", ["atr", "pu1", "q1c"]),
    ("ecg/nstdb/bw", []),
    ("ecg/samples/s0010_re", []),
])
def test_real_record_round_trip(tmp_path, rel, ann):
    import wfdb

    src = data_dir() / rel
    sig = read_wfdb(src)
    assert sorted(Path(p).name.split(".", 1)[1] for p in sig.meta["annotation_files"]) == sorted(ann)
    written = write_wfdb(sig, tmp_path / "out")
    assert {f"out.{e}" for e in ann} <= {p.name for p in written}
    ref = wfdb.rdrecord(str(src), physical=False).d_signal
    hea, digital = independent_digital(tmp_path / "out")
    np.testing.assert_array_equal(digital, ref)  # digital samples identical, decoded by hand
    orig = parse_hea(Path(f"{src}.hea"))
    assert [s["fmt"] for s in hea["signals"]] == [s["fmt"] for s in orig["signals"]]
    assert [s["baseline"] for s in hea["signals"]] == [s["baseline"] for s in orig["signals"]]
    assert [s["name"] for s in hea["signals"]] == [s["name"] for s in orig["signals"]]
    assert [s["units"] for s in hea["signals"]] == [s["units"] for s in orig["signals"]]
    assert hea["fs"] == orig["fs"] and hea["comments"] == orig["comments"]
    for e in ann:
        assert filecmp.cmp(f"{src}.{e}", tmp_path / f"out.{e}", shallow=False)
    back = read_wfdb(tmp_path / "out")
    np.testing.assert_array_equal(back.data, sig.data)
    assert back.meta["adc_gain"] == sig.meta["adc_gain"]


@pytest.mark.data
def test_ptb_record_keeps_its_two_signal_files(tmp_path):
    sig = read_wfdb(data_dir() / "ecg/samples/s0010_re")
    assert sig.data.shape == (38400, 15) and sig.sampling_rate == 1000.0
    assert sig.meta["signal_files"] == ["s0010_re.dat", "s0010_re.xyz"]
    assert sig.meta["annotation_files"] == []  # .xyz is a signal file, not annotations
    written = write_wfdb(sig, tmp_path / "ptb")
    assert [p.name for p in written] == ["ptb.dat", "ptb.xyz", "ptb.hea"]
    assert (tmp_path / "ptb.xyz").stat().st_size == 38400 * 3 * 2


@pytest.mark.data
def test_mat_record_is_written_as_dat_format_16(tmp_path, caplog):
    import wfdb

    caplog.set_level(logging.WARNING, logger="biodae.io")
    src = data_dir() / "ecg/samples/a103l"
    sig = read_wfdb(f"{src}.mat")
    assert sig.channel_names == ["II", "V", "PLETH"] and sig.units == ["mV", "mV", "NU"]
    assert sig.meta["signal_files"] == ["a103l.mat"] and sig.meta["comments"] == ["Asystole", "False alarm"]
    written = write_wfdb(sig, tmp_path / "a103l")
    assert [p.name for p in written] == ["a103l.dat", "a103l.hea"]
    assert any(".mat" in r.getMessage() and "a103l.dat" in r.getMessage() for r in caplog.records)
    hea, digital = independent_digital(tmp_path / "a103l")
    assert [s["fmt"] for s in hea["signals"]] == ["16"] * 3
    assert [s["gain"] for s in hea["signals"]] == [7247.0, 10520.0, 12530.0]
    np.testing.assert_array_equal(digital, wfdb.rdrecord(str(src), physical=False).d_signal)
    back = read_wfdb(tmp_path / "a103l")
    np.testing.assert_array_equal(back.data, sig.data)


@pytest.mark.data
def test_real_truncated_copy_is_refused(tmp_path):
    src = data_dir() / "ecg/nstdb/bw"
    shutil.copy(f"{src}.hea", tmp_path / "bw.hea")
    with open(f"{src}.dat", "rb") as fh:
        (tmp_path / "bw.dat").write_bytes(fh.read(1200))
    with pytest.raises(InputError) as exc:
        read_wfdb(tmp_path / "bw")
    assert_input_error(exc, "bw.dat holds 1200 bytes", "2 signals × 650000 samples in format 212 (1950000 bytes)")
