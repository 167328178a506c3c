"""``biodae beats``: per-record beat tables and WFDB flags, read back with independent readers (csv, wfdb)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from biodae.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def read_table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model", ["ecg-beats", "ecg-beats-aami"])
def test_beats_from_the_annotations_table_and_flags(capsys, tmp_path, test_data, model):
    code, out, err = run(capsys, "beats", test_data / "signals" / "sel100_10s", "--out-dir", tmp_path / "o",
                         "--annotator", "atr", "--model", model)
    assert code == 0, err
    rows = read_table(tmp_path / "o" / "sel100_10s.beats.csv")
    ann = wfdb.rdann(str(test_data / "signals" / "sel100_10s"), "atr")
    beats = [(s, sym) for s, sym in zip(ann.sample, ann.symbol) if sym in "NLRejAaJSVEFQ/fu"]
    assert [int(r["sample"]) for r in rows] == [s for s, _ in beats]
    assert [r["symbol"] for r in rows] == [sym for _, sym in beats]
    assert list(rows[0])[:5] == ["sample", "symbol", "score", "flag", "class"]
    assert list(rows[0])[5:] == [f"z{i}" for i in range(16)]
    if model == "ecg-beats-aami":
        assert {r["class"] for r in rows} <= {"N", "S", "V", "F"} and all(r["class"] for r in rows)
    else:
        assert all(r["class"] == "" for r in rows)
    scores = np.array([float(r["score"]) for r in rows])
    flags = np.array([int(r["flag"]) for r in rows])
    assert np.all(scores > 0) and set(flags) <= {0, 1}
    flagged = [int(r["sample"]) for r in rows if r["flag"] == "1"]
    marks = wfdb.rdann(str(tmp_path / "o" / "sel100_10s"), "anom")  # an empty file when nothing is flagged
    assert list(marks.sample) == flagged and all(n.startswith(f"biodae {model}:") for n in marks.aux_note)
    assert f"{len(rows)} beats, {len(flagged)} flagged" in out


def test_beats_detected_without_an_annotation_file(capsys, tmp_path, test_data):
    src = tmp_path / "in"
    src.mkdir()
    for ext in ("hea", "dat"):
        shutil.copy(test_data / "signals" / f"sel100_10s.{ext}", src / f"sel100_10s.{ext}")
    code, _, err = run(capsys, "beats", src / "sel100_10s", "--out-dir", tmp_path / "o")
    assert code == 0, err
    rows = read_table(tmp_path / "o" / "sel100_10s.beats.csv")
    ann = wfdb.rdann(str(test_data / "signals" / "sel100_10s"), "atr")
    truth = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym == "N"])
    found = np.array([int(r["sample"]) for r in rows])
    assert all(r["symbol"] == "" and r["class"] == "" for r in rows)
    # every annotated beat found within 40 ms, nothing else
    assert len(found) == len(truth) and np.max(np.abs(found - truth)) <= 0.04 * 250
    code, _, err = run(capsys, "beats", src / "sel100_10s", "--out-dir", tmp_path / "o2", "--annotator", "atr")
    assert code == 2 and "no 'atr' annotation file" in err and "--annotator" in err


def test_beats_refusals_and_rerun(capsys, tmp_path, test_data):
    rec = test_data / "signals" / "sel100_10s"
    code, _, err = run(capsys, "beats", rec, "--out-dir", tmp_path / "o", "--annotator", "atr", "--ext", "atr")
    assert code == 2 and "the flags would replace its annotations" in err
    code, _, err = run(capsys, "beats", rec, "--out-dir", tmp_path / "o", "--model", "nosuch")
    assert code == 2 and "no shipped beat model named 'nosuch'" in err
    with pytest.raises(SystemExit) as exc:  # argparse: --out-dir is required
        main(["beats", str(rec)])
    assert exc.value.code == 2 and "--out-dir" in capsys.readouterr().err
    # a batch: an image fails with one line, the record is done; a rerun skips it and keeps its figures
    batch = tmp_path / "batch"
    batch.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(rec.with_suffix(f".{ext}"), batch / f"sel100_10s.{ext}")
    shutil.copy(test_data / "images" / "CT_small.dcm", batch / "ct.dcm")
    code, out, _ = run(capsys, "beats", batch, "--out-dir", tmp_path / "ob", "--annotator", "atr")
    assert code == 1 and "is an image; beats come from ECG records" in out
    code, out, _ = run(capsys, "beats", batch, "--out-dir", tmp_path / "ob", "--annotator", "atr")
    report = json.loads((tmp_path / "ob" / "biodae-beats-report.json").read_text())
    r = next(f for f in report["files"] if f["name"] == "sel100_10s")
    assert r["status"] == "skipped" and "beats" in r["earlier"]["detail"]


@pytest.mark.parametrize("record", ["106", "223"])
def test_ds1_records_flag_more_ventricular_than_normal_beats(capsys, tmp_path, biodae_data, record):
    from biodae.datasets import mitdb_ds1_dir

    src = mitdb_ds1_dir(biodae_data) / record
    code, _, err = run(capsys, "beats", src, "--out-dir", tmp_path, "--annotator", "atr")
    assert code == 0, err
    rows = read_table(tmp_path / f"{record}.beats.csv")
    flag = {s: np.mean([r["flag"] == "1" for r in rows if r["symbol"] == s]) for s in ("N", "V")}
    score = {s: np.median([float(r["score"]) for r in rows if r["symbol"] == s]) for s in ("N", "V")}
    assert flag["V"] > flag["N"] and flag["V"] > 0.9, flag  # record 106: most N beats are flagged too (card)
    assert score["V"] > 2 * score["N"], score


def test_beats_into_the_records_own_folder_can_be_rerun(capsys, tmp_path, test_data):
    src = tmp_path / "in"
    src.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(test_data / "signals" / f"sel100_10s.{ext}", src / f"sel100_10s.{ext}")
    inputs = {p.name: p.read_bytes() for p in src.iterdir()}
    code, _, err = run(capsys, "beats", src, "--out-dir", src, "--annotator", "atr")
    assert code == 0, err
    code, out, err = run(capsys, "beats", src, "--out-dir", src, "--annotator", "atr")
    assert code == 0 and "1 skipped" in out, err
    code, out, err = run(capsys, "beats", src, "--out-dir", src, "--annotator", "atr", "--force")
    assert code == 0 and "1 written" in out, err
    assert {n: (src / n).read_bytes() for n in inputs} == inputs


@pytest.mark.parametrize("as_batch", [False, True])
def test_the_records_own_annotations_are_never_replaced_even_with_force(capsys, tmp_path, test_data, as_batch):
    """Without --annotator the run reads no annotation file, but ``--ext atr`` into the record's own folder
    would replace its reference annotations: refused like any input, --force or not."""
    src = tmp_path / "in"
    src.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(test_data / "signals" / f"sel100_10s.{ext}", src / f"sel100_10s.{ext}")
    inputs = {p.name: p.read_bytes() for p in src.iterdir()}
    target = src if as_batch else src / "sel100_10s"
    code, _, err = run(capsys, "beats", target, "--out-dir", src, "--ext", "atr", "--force")
    assert code == 2 and "would be written onto the input" in err and "sel100_10s.atr" in err
    assert {p.name: p.read_bytes() for p in src.iterdir()} == inputs  # nothing written, nothing replaced
    code, _, err = run(capsys, "beats", target, "--out-dir", tmp_path / "elsewhere", "--ext", "atr")
    assert code == 0, err  # another folder: that extension is fine
    assert (tmp_path / "elsewhere" / "sel100_10s.atr").is_file()


def test_written_by_biodae_tells_our_flags_from_reference_annotations(tmp_path, test_data):
    from biodae._batch import written_by_biodae

    def ann(ext, symbols, notes):
        wfdb.wrann("r", ext, np.array([10, 20]), symbol=symbols, aux_note=notes, fs=360, write_dir=str(tmp_path))
        return tmp_path / f"r.{ext}"

    assert written_by_biodae(ann("anom", ['"', '"'], ["biodae ecg-beats: anomaly score 0.3"] * 2))
    assert not written_by_biodae(ann("cmt", ['"', '"'], ["a cardiologist's note", "biodae ecg-beats: x"]))
    assert not written_by_biodae(ann("lab", ["N", "V"], ["", ""]))
    assert not written_by_biodae(test_data / "signals" / "sel100_10s.atr")
    (tmp_path / "r.bad").write_bytes(b"\x01\x02\x03")
    assert not written_by_biodae(tmp_path / "r.bad")
    (tmp_path / "r.none").write_bytes(b"\x00\x00")  # what biodae beats writes when nothing is flagged
    assert written_by_biodae(tmp_path / "r.none")
