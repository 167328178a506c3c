"""``biodae denoise``/``filter`` on archives: folders, RECORDS, globs, worker processes, Dask,
reruns, bad records and interrupts. Outputs are read back with wfdb and pyedflib."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import wfdb

from biodae import io
from biodae.cli import main
from tests.conftest import tree_digest

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def make_record(test_data: Path, dest: Path, name: str, *, minutes: float | None = None) -> Path:
    """The shipped 10-s excerpt under a new record name (annotations too); optionally tiled longer."""
    rec = io.read(test_data / "signals" / "sel100_10s")
    if minutes:
        n = int(minutes * 60 * rec.sampling_rate)
        rec = rec.replace(data=np.resize(rec.data, (n, rec.n_channels)),
                          meta=dict(rec.meta, annotation_files=[]))
    io.write(rec, dest / name)
    return dest / name


def leftovers(root: Path) -> list[Path]:
    """Temporary files of atomic writes (must never survive a run)."""
    return [p for p in root.rglob("*") if ".part" in p.name]


@pytest.fixture
def archive(tmp_path, test_data):
    """Two good records (one in a sub-folder), an EDF, and four records that cannot be cleaned."""
    d = tmp_path / "archive"
    make_record(test_data, d, "r1")
    make_record(test_data, d / "sub", "r2")
    shutil.copy(test_data / "signals" / "S001R03_5s_8ch.edf", d / "eeg.edf")
    # truncated: the header promises more samples than the signal file holds
    make_record(test_data, d, "truncated")
    dat = d / "truncated.dat"
    dat.write_bytes(dat.read_bytes()[:3000])
    # a header that lies about its number of signals
    make_record(test_data, d, "liar")
    hea = d / "liar.hea"
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["liar 3 250 2500"] + lines[1:]) + "\n")
    # a corrupt header
    (d / "garbage.hea").write_bytes(b"\x00\xff not a header \x13\n")
    # a record with no valid sample at all (every lead off): refused, with the reason
    (d / "dead.dat").write_bytes(np.full(1250 * 2, -32768, dtype="<i2").tobytes())
    (d / "dead.hea").write_text("dead 2 250 1250\ndead.dat 16 200 16 0 0 0 0 MLII\ndead.dat 16 200 16 0 0 0 0 V5\n")
    return d


# --------------------------------------------------------------------------- a folder, in parallel
def test_folder_with_bad_records_in_two_processes(capsys, tmp_path, test_data, archive):
    before = tree_digest(archive)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "denoise", archive, "--out-dir", out, "--jobs", "2")
    assert code == 1, err
    assert tree_digest(archive) == before, "an input was modified"

    # the good records: same header, the biodae comment added, annotations copied, data cleaned
    for rel in ("r1", "sub/r2"):
        src, got = wfdb.rdrecord(str(archive / rel)), wfdb.rdrecord(str(out / rel))
        assert (got.fs, got.sig_name, got.units, got.sig_len) == (src.fs, src.sig_name, src.units, src.sig_len)
        assert got.comments[:-1] == src.comments
        assert got.comments[-1] == "biodae denoise: ecg 1.4.0 on MLII, V5"
        for ext in ("atr", "pu1", "q1c"):
            assert (out / f"{rel}.{ext}").read_bytes() == (archive / f"{rel}.{ext}").read_bytes()
        assert not np.allclose(got.p_signal, src.p_signal, atol=0.05)
        assert np.corrcoef(got.p_signal[:, 0], src.p_signal[:, 0] - src.p_signal[:, 0].mean())[0, 1] > 0.8
    import pyedflib

    with pyedflib.EdfReader(str(out / "eeg.edf")) as r, pyedflib.EdfReader(str(archive / "eeg.edf")) as s:
        assert r.getSignalLabels() == s.getSignalLabels() and r.getSampleFrequencies().tolist() == [160] * 8
        assert not np.allclose(r.readSignal(0), s.readSignal(0))

    # the bad ones are named with the reason, nothing of them is written, nothing half-written anywhere
    reasons = {"truncated": "truncated", "liar": "declares 3 signals", "garbage": "cannot parse header",
               "dead": "no channel holds a valid sample"}
    for name, why in reasons.items():
        line = next(ln for ln in stdout.splitlines() if ln.startswith(f"  FAILED  {name}:"))
        assert why in line, line
        assert not list(out.glob(f"{name}.*"))
    assert leftovers(out) == []
    assert "3 written, 0 skipped, 4 failed in " in stdout and "(processes, 2 jobs x 1 thread;" in stdout
    header = next(ln for ln in stdout.splitlines() if ln.startswith("file "))
    assert header.split() == ["file", "status", "signal", "SNR", "in", "SNR", "out", "time", "what"]

    # the JSON report says the same, with the estimated SNR before and after per record
    rep = json.loads((out / "biodae-denoise-report.json").read_text())
    assert rep["backend"] == "processes" and rep["jobs"] == 2 and rep["threads"] == 1
    assert rep["totals"]["done"] == 3 and rep["totals"]["failed"] == 4
    by = {f["name"]: f for f in rep["files"]}
    assert by["sub/r2"]["status"] == "done" and by["sub/r2"]["channels"] == ["MLII", "V5"]
    assert all(isinstance(v, float) for v in by["sub/r2"]["snr_in_db"] + by["sub/r2"]["snr_out_db"])
    assert by["dead"]["status"] == "failed" and "no channel holds a valid sample" in by["dead"]["message"]
    assert len({f["worker"] for f in rep["files"] if f["status"] == "done"}) >= 1

    # a rerun skips what is finished and touches nothing; --force cleans again
    done = tree_digest(out / "sub")
    code, stdout, _ = run(capsys, "denoise", archive, "--out-dir", out)
    assert code == 1 and "0 written, 3 skipped, 4 failed" in stdout
    assert "skipped sub/r2: output exists" in stdout and tree_digest(out / "sub") == done
    os.utime(out / "sub" / "r2.dat", (0, 0))
    code, stdout, _ = run(capsys, "denoise", archive / "sub", "--out-dir", out / "sub", "--force")
    assert code == 0 and "1 written, 0 skipped, 0 failed" in stdout
    assert (out / "sub" / "r2.dat").stat().st_mtime > 0  # written again, the same bytes
    assert {k: v for k, v in tree_digest(out / "sub").items() if not k.endswith(".json")} == done


# --------------------------------------------------------------------------- RECORDS, globs, lists
def test_polysomnography_edf_with_channels_at_several_rates(capsys, tmp_path):
    """EEG at 256 Hz, ECG at 512 Hz, respiration at 32 Hz in one file: each is cleaned (or copied) at its own rate."""
    import pyedflib

    rng = np.random.default_rng(0)
    src = tmp_path / "psg.edf"
    chans = [("EEG C3-A2", "uV", 256, 500.0, rng.normal(0, 20, 256 * 20)),
             ("ECG II", "mV", 512, 5.0, np.sin(2 * np.pi * 1.2 * np.arange(512 * 20) / 512) + rng.normal(0, .05, 512 * 20)),
             ("Resp", "", 32, 1.0, 0.5 * np.sin(2 * np.pi * 0.25 * np.arange(32 * 20) / 32))]
    with pyedflib.EdfWriter(str(src), 3, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders([{"label": lab, "dimension": u, "sample_frequency": fs, "physical_max": pm,
                             "physical_min": -pm, "digital_max": 32767, "digital_min": -32768,
                             "prefilter": "", "transducer": ""} for lab, u, fs, pm, _ in chans])
        w.writeSamples([c[-1] for c in chans])
    code, stdout, err = run(capsys, "info", src)
    assert code == 0 and "512 Hz (stored at lower rates: EEG C3-A2 256 Hz, Resp 32 Hz)" in stdout
    code, stdout, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out")
    assert code == 0, err
    assert "eeg" in stdout and "ecg" in stdout and "copied unchanged: Resp" in stdout
    with pyedflib.EdfReader(str(src)) as a, pyedflib.EdfReader(str(tmp_path / "out" / "psg.edf")) as b:
        assert [b.getSampleFrequency(i) for i in range(3)] == [256, 512, 32]
        assert [b.getNSamples()[i] for i in range(3)] == [256 * 20, 512 * 20, 32 * 20]
        np.testing.assert_array_equal(a.readSignal(2, digital=True), b.readSignal(2, digital=True))  # copied
        assert not np.array_equal(a.readSignal(0), b.readSignal(0))  # denoised


def test_records_file_glob_and_a_list_of_records(capsys, tmp_path, test_data):
    db = tmp_path / "db"
    for name in ("a", "b"):
        make_record(test_data, db / "p01", name)
    make_record(test_data, db / "p02", "c")
    (db / "RECORDS").write_text("p01/a\np02/c\np03/gone\n")
    code, stdout, _ = run(capsys, "filter", db / "RECORDS", "--method", "wavelet", "--out-dir", tmp_path / "o1",
                          "--jobs", "2")
    assert code == 1
    assert sorted(p.relative_to(tmp_path / "o1").as_posix() for p in (tmp_path / "o1").rglob("*.hea")) == [
        "p01/a.hea", "p02/c.hea"]
    assert "FAILED  p03/gone: RECORDS line 3:" in stdout
    assert "biodae filter wavelet" in wfdb.rdheader(str(tmp_path / "o1" / "p02" / "c")).comments[-1]

    code, stdout, _ = run(capsys, "filter", str(db / "p0*" / "*.hea"), "--method", "median", "--out-dir",
                          tmp_path / "o2")
    assert code == 0 and "3 written" in stdout
    assert sorted(p.name for p in (tmp_path / "o2").rglob("*.hea")) == ["a.hea", "b.hea", "c.hea"]
    assert (tmp_path / "o2" / "p01" / "b.hea").is_file()  # the glob's folder layout is mirrored

    code, stdout, _ = run(capsys, "filter", db / "p01" / "a", db / "p02" / "c.hea", "--method", "median",
                          "--out-dir", tmp_path / "o3", "--report", tmp_path / "run.json")
    assert code == 0 and sorted(p.name for p in (tmp_path / "o3").iterdir()) == [
        "a.atr", "a.dat", "a.hea", "a.pu1", "a.q1c", "c.atr", "c.dat", "c.hea", "c.pu1", "c.q1c"]
    assert json.loads((tmp_path / "run.json").read_text())["totals"]["done"] == 2

    # two records with one name cannot go to one folder: the second is refused, the first kept
    code, stdout, _ = run(capsys, "filter", db / "p01" / "a", tmp_path / "o3" / "a", "--method", "median",
                          "--out-dir", tmp_path / "o4")
    assert code == 1 and "is also the output of" in stdout


def test_bad_flags(capsys, tmp_path, test_data, monkeypatch):
    rec = test_data / "signals" / "sel100_10s"
    code, _, err = run(capsys, "denoise", rec, rec, "--backend", "serial", "--jobs", "2", "--out-dir", tmp_path)
    assert code == 2 and "--backend serial cleans one file at a time" in err
    code, _, err = run(capsys, "denoise", rec, "--backend", "processes", "--scheduler", "tcp://x:1")
    assert code == 2 and "--scheduler is a Dask option" in err
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    code, _, err = run(capsys, "denoise", rec, rec, "--backend", "dask", "--out-dir", tmp_path)
    assert code == 2 and "pip install 'biodae[dask]'" in err and not list(tmp_path.iterdir())


def test_import_and_cli_stay_light(tmp_path, test_data):
    """``import biodae`` and a whole ``biodae denoise`` run import neither torch nor dask."""
    code = (
        "import sys, biodae, biodae.cli\n"
        f"rc = biodae.cli.main(['denoise', {str(test_data / 'signals' / 'sel100_10s')!r}, "
        f"{str(test_data / 'signals' / 'S001R03_5s_8ch.edf')!r}, '--out-dir', {str(tmp_path)!r}])\n"
        "heavy = sorted(m for m in ('torch', 'dask', 'distributed') if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "0 []"


# --------------------------------------------------------------------------- interrupts
def test_interrupt_between_renames_leaves_no_half_record(capsys, tmp_path, test_data, monkeypatch):
    src = tmp_path / "in"
    for name in ("r1", "r2", "r3"):
        make_record(test_data, src, name)
    out = tmp_path / "out"
    real, calls = os.replace, []

    def replace(a, b):  # Ctrl-C after r2's signal and first annotation file are in place
        calls.append(Path(b).name)
        if Path(b).name == "r2.pu1":
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(os, "replace", replace)
    code, stdout, err = run(capsys, "denoise", src, "--out-dir", out)
    assert code == 130 and "interrupted" in err
    assert "r2.dat" in calls and "r2.atr" in calls  # the interrupt did land inside r2's group
    assert sorted(p.name for p in out.iterdir()) == [
        "biodae-denoise-report.json", "r1.atr", "r1.dat", "r1.hea", "r1.pu1", "r1.q1c"]
    assert wfdb.rdrecord(str(out / "r1")).sig_len == 2500
    rep = json.loads((out / "biodae-denoise-report.json").read_text())
    assert rep["interrupted"] is True and [f["status"] for f in rep["files"]] == ["done", "not run", "not run"]
    assert "1 written, 0 skipped, 0 failed, 2 not run (interrupted)" in stdout


@pytest.mark.slow
def test_ctrl_c_with_worker_processes_finishes_what_is_in_progress(tmp_path, test_data):
    src = tmp_path / "in"
    for i in range(6):
        make_record(test_data, src, f"long{i}", minutes=10)
    before = tree_digest(src)
    out = tmp_path / "out"
    # as from a terminal: Ctrl-C at its default even when the test run itself ignores it (a job started with
    # `&` by a non-interactive shell does, and its children inherit that)
    proc = subprocess.Popen(
        [sys.executable, "-m", "biodae.cli", "denoise", str(src), "--out-dir", str(out), "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(out.glob("*.hea")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: to the whole process group
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert tree_digest(src) == before
    assert leftovers(out) == []
    rep = json.loads((out / "biodae-denoise-report.json").read_text())
    status = {f["name"]: f["status"] for f in rep["files"]}
    assert rep["interrupted"] is True and "not run" in status.values(), status
    # every record on disk is complete, and exactly those reported done are there
    assert sorted(p.stem for p in out.glob("*.hea")) == sorted(n for n, s in status.items() if s == "done")
    assert sorted(p.stem for p in out.glob("*.dat")) == sorted(p.stem for p in out.glob("*.hea"))
    for hea in out.glob("*.hea"):
        assert wfdb.rdrecord(str(hea.with_suffix(""))).sig_len == 10 * 60 * 250


# --------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster:
        yield cluster


def test_dask_outputs_are_bitwise_those_of_the_serial_run(capsys, tmp_path, test_data, archive, dask_cluster):
    make_record(test_data, archive, "r3")
    make_record(test_data, archive / "sub", "r4")
    code, _, err = run(capsys, "denoise", archive, "--out-dir", tmp_path / "serial")
    assert code == 1, err
    code, stdout, err = run(capsys, "denoise", archive, "--out-dir", tmp_path / "dask",
                            "--scheduler", dask_cluster.scheduler_address)
    assert code == 1, err
    assert "5 written, 0 skipped, 4 failed" in stdout and "(dask, 1 job" in stdout
    rep = json.loads((tmp_path / "dask" / "biodae-denoise-report.json").read_text())
    workers = {f["worker"] for f in rep["files"] if f["status"] == "done"}
    assert workers <= set(dask_cluster.scheduler_info["workers"]) and len(workers) == 2
    assert {f["name"]: f["status"] for f in rep["files"]} == {
        f["name"]: f["status"] for f in json.loads(
            (tmp_path / "serial" / "biodae-denoise-report.json").read_text())["files"]}

    def files(d: Path) -> dict[str, bytes]:
        return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
                if p.is_file() and not p.name.endswith(".json")}

    serial = files(tmp_path / "serial")
    assert len(serial) == 5 * 5 - 4 and files(tmp_path / "dask") == serial  # 4 records x 5 files + the EDF


def test_dask_local_cluster_started_for_the_run(capsys, tmp_path, test_data):
    pytest.importorskip("distributed")
    src = tmp_path / "in"
    for name in ("r1", "r2", "r3"):
        make_record(test_data, src, name)
    code, _, _ = run(capsys, "denoise", src, "--out-dir", tmp_path / "serial")
    assert code == 0
    code, stdout, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "dask", "--backend", "dask",
                            "--jobs", "2")
    assert code == 0, err
    assert "3 written, 0 skipped, 0 failed" in stdout and "(dask, 2 jobs x 1 thread;" in stdout
    for p in (tmp_path / "serial").glob("r*"):
        assert (tmp_path / "dask" / p.name).read_bytes() == p.read_bytes(), p.name
