"""The batch engine (:mod:`biodae._batch`): inputs, plan, the per-file step with extra outputs, report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import wfdb

from biodae import _batch, io
from biodae._batch import _executors
from biodae._errors import InputError
from tests.conftest import tree_digest


def make_record(test_data: Path, dest: Path, name: str) -> Path:
    """A copy of the shipped 10-s excerpt under a new record name (annotations included)."""
    rec = io.read(test_data / "signals" / "sel100_10s")
    io.write(rec, dest / name)
    return dest / name


@dataclass(frozen=True)
class HalfAndRest:
    """A step with an extra output: the data halved, and the other half as ``_rest``."""

    def __call__(self, obj):
        new = obj.replace(data=obj.data * 0.5)
        return new, "halved", [(obj.replace(data=obj.data - new.data), "_rest")]


@dataclass(frozen=True)
class Boom:
    def __call__(self, obj):
        raise RuntimeError("a bug")


# --------------------------------------------------------------------------- inputs
def test_expand_folder_records_file_glob_and_explicit(tmp_path, test_data):
    make_record(test_data, tmp_path / "db", "r1")
    make_record(test_data, tmp_path / "db" / "sub", "r2")
    make_record(test_data, tmp_path / "db", "r1_denoised")  # an output written beside its input
    shutil.copy(test_data / "signals" / "S001R03_5s_8ch.edf", tmp_path / "db" / "eeg.edf")
    (tmp_path / "db" / "notes.txt").write_text("not an input")

    folder = _batch.expand_inputs([tmp_path / "db"])
    assert [s.name for s in folder] == ["eeg.edf", "r1", "sub/r2"]
    assert all(s.root == tmp_path / "db" for s in folder)

    (tmp_path / "db" / "RECORDS").write_text("# comment\nsub/r2\nr1\nmissing\n\n")
    recs = _batch.expand_inputs([tmp_path / "db" / "RECORDS"])
    assert [s.name for s in recs] == ["sub/r2", "r1", "missing"]
    assert recs[2].error and "RECORDS line 4" in recs[2].error and "missing" in recs[2].error

    pattern = str(tmp_path / "db" / "**" / "*.dat")
    globbed = _batch.expand_inputs([pattern])
    assert [s.name for s in globbed] == ["r1", "sub/r2"]  # .dat files name their records; outputs left out

    explicit = _batch.expand_inputs([tmp_path / "db" / "r1", tmp_path / "db" / "r1.hea", tmp_path / "db" / "eeg.edf"])
    assert [s.path.name for s in explicit] == ["r1.hea", "eeg.edf"] and explicit[0].root is None

    with pytest.raises(InputError, match="no supported files match"):
        _batch.expand_inputs([str(tmp_path / "db" / "*.nii")])
    with pytest.raises(InputError, match="no such file"):
        _batch.expand_inputs([tmp_path / "nope"])


def test_multi_segment_record_is_one_input(tmp_path, test_data):
    d = tmp_path / "ms"
    for seg in ("ms_1", "ms_2"):
        make_record(test_data, d, seg)
    (d / "ms.hea").write_text("ms/2 2 250 5000\nms_1 2500\nms_2 2500\n")
    sources = _batch.expand_inputs([d])
    assert [s.name for s in sources] == ["ms"]
    # and it is cleaned as one record of 5000 samples, written as a single-segment record
    tasks = _batch.plan(sources, out_dir=tmp_path / "out", tag="_x")
    res = _batch.clean_file(tasks[0], _batch.Filter("median"))
    assert res.status == "done", res.message
    out = wfdb.rdrecord(str(tmp_path / "out" / "ms"))
    assert out.sig_len == 5000 and out.n_sig == 2 and not hasattr(out, "seg_name")


# --------------------------------------------------------------------------- plan
def test_plan_skips_existing_and_refuses_collisions(tmp_path, test_data):
    make_record(test_data, tmp_path / "a", "rec")
    make_record(test_data, tmp_path / "b", "rec")
    make_record(test_data, tmp_path / "a", "other")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "other.hea").write_text("finished earlier")
    sources = _batch.expand_inputs([tmp_path / "a" / "rec", tmp_path / "b" / "rec", tmp_path / "a" / "other"])
    tasks = _batch.plan(sources, out_dir=tmp_path / "out", tag="_denoised")
    assert tasks[0].error is None and tasks[0].skip is None
    assert "also the output of" in tasks[1].error
    assert tasks[2].skip and "other.hea" in tasks[2].skip
    assert _batch.plan(sources[2:], out_dir=tmp_path / "out", tag="_d", force=True)[0].skip is None


# --------------------------------------------------------------------------- extra outputs
def test_extra_outputs_are_written_counted_and_never_clobbered(tmp_path, test_data):
    src = tmp_path / "in"
    for name in ("p", "q"):
        make_record(test_data, src, name)
    before = tree_digest(src)
    out = tmp_path / "out"
    tasks = _batch.plan(_batch.expand_inputs([src]), out_dir=out, tag="_x", extra_suffixes=["_rest"])
    rep = _batch.run(tasks, HalfAndRest(), extra_suffixes=["_rest"])
    assert rep.exit_status == 0 and [r.status for r in rep.results] == ["done", "done"]
    assert tree_digest(src) == before
    x = wfdb.rdrecord(str(src / "p")).p_signal
    half, rest = wfdb.rdrecord(str(out / "p")).p_signal, wfdb.rdrecord(str(out / "p_rest")).p_signal
    np.testing.assert_allclose(half, x / 2, atol=0.01)
    np.testing.assert_allclose(half + rest, x, atol=0.01)
    assert (out / "p_rest.atr").read_bytes() == (src / "p.atr").read_bytes()
    assert sorted(Path(p).name for p in rep.results[0].outputs)[:2] == ["p.atr", "p.dat"]
    # an extra alone is enough to count the file as done on a rerun; --force rewrites both
    for f in out.glob("q.*"):
        f.unlink()
    again = _batch.plan(_batch.expand_inputs([src]), out_dir=out, tag="_x", extra_suffixes=["_rest"])
    assert again[1].skip and "q_rest.hea" in again[1].skip
    forced = _batch.plan(_batch.expand_inputs([src]), out_dir=out, tag="_x", extra_suffixes=["_rest"], force=True)
    rep = _batch.run(forced, HalfAndRest(), force=True, extra_suffixes=["_rest"])
    assert [r.status for r in rep.results] == ["done", "done"] and (out / "q.hea").is_file()


def test_undeclared_extra_and_bugs_fail_one_file_and_leave_nothing(tmp_path, test_data):
    make_record(test_data, tmp_path / "in", "p")
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    res = _batch.clean_file(tasks[0], HalfAndRest())
    assert res.status == "failed" and "not declared" in res.message
    res = _batch.clean_file(tasks[0], Boom())
    assert res.status == "failed" and res.message == "internal error: RuntimeError: a bug"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(RuntimeError):
        _batch.clean_file(tasks[0], Boom(), raise_errors=True)


def test_a_failing_write_removes_the_extras_already_written(tmp_path, test_data, monkeypatch):
    make_record(test_data, tmp_path / "in", "p")
    out = tmp_path / "out"
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=out, tag="_x", extra_suffixes=["_rest"])
    real = io.write

    def write(obj, path, **kw):
        if Path(path).name == "p":
            raise InputError("disk full")
        return real(obj, path, **kw)

    monkeypatch.setattr(io, "write", write)
    res = _batch.clean_file(tasks[0], HalfAndRest(), extra_suffixes=["_rest"])
    assert res.status == "failed" and "disk full" in res.message
    assert list(out.iterdir()) == []


def test_processes_backend_needs_a_picklable_step(tmp_path, test_data):
    for name in ("p", "q"):
        make_record(test_data, tmp_path / "in", name)
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    with pytest.raises(TypeError, match="picklable step"):
        _batch.run(tasks, lambda obj: (obj, ""), backend="processes", jobs=2)


WAIT_S = 60.0  # the longest any step or test here waits for another process: then it fails, it never hangs


def wait_for(path: Path, what: str) -> None:
    """Return once ``path`` exists; raise ``TimeoutError(what)`` after :data:`WAIT_S` seconds."""
    import time

    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} ({path.name} not there after {WAIT_S:.0f} s)")
        time.sleep(0.01)


@dataclass(frozen=True)
class Gated:
    """Halves the data. Each file leaves ``started-NAME`` in ``flags`` as it begins; record ``a`` then finishes at
    once, the others wait for ``flags/release`` (and fail after :data:`WAIT_S` seconds without it)."""

    flags: str

    def __call__(self, obj):
        name = obj.meta["record_name"]
        (Path(self.flags) / f"started-{name}").touch()
        if name != "a":
            wait_for(Path(self.flags) / "release", f"{name} was never released")
        return obj.replace(data=obj.data * 0.5), "halved"


class ReleaseOnNotice:
    """Stands in for ``sys.stderr``: when biodae says it is finishing the files in progress (its answer to a
    Ctrl-C), this creates the ``release`` file that lets :class:`Gated` files finish. So those files are certainly
    still being cleaned when the Ctrl-C arrives, and are finished only because biodae waits for them."""

    def __init__(self, stream, flags: Path) -> None:
        self._stream, self._release, self.notices = stream, flags / "release", []

    def write(self, text: str) -> int:
        if "interrupted" in text:
            self.notices.append(text.strip())
            self._release.touch()
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def started(flags: Path) -> list[str]:
    return sorted(p.name.removeprefix("started-") for p in flags.glob("started-*"))


@dataclass(frozen=True)
class DiesOnB:
    """Halves the data of ``a`` and ``d`` at once; on ``b`` the worker dies abruptly once the parent has ``a``'s
    result (it then creates the file ``a_reported``); ``c`` stays busy until that broken pool ends its worker."""

    a_reported: str

    def __call__(self, obj):
        import os
        import time

        name = obj.meta["record_name"]
        if name == "b":
            wait_for(Path(self.a_reported), "a's result never reached the parent")
            os._exit(1)
        if name == "c":
            # Only keeps c's worker busy: the pool breaks when b exits, which follows a's result by one poll
            # of the file, and ends this worker; the test never waits for this sleep.
            time.sleep(WAIT_S)
        return obj.replace(data=obj.data * 0.5), "halved"


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_ctrl_c_in_a_pool_waits_only_for_the_files_being_cleaned(tmp_path, test_data, backend, monkeypatch):
    """Ctrl-C finishes the file each worker holds and leaves all the others (none waits queued in the pool)."""
    import contextlib
    import logging
    import sys

    for name in "abcdef":
        make_record(test_data, tmp_path / "in", name)
    flags = tmp_path / "flags"
    flags.mkdir()
    notice = ReleaseOnNotice(sys.stderr, flags)
    monkeypatch.setattr(sys, "stderr", notice)
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    with contextlib.ExitStack() as stack:
        if backend == "processes":
            stream = _executors._processes(list(enumerate(tasks)), Gated(str(flags)), {}, 2, 1)
        else:
            distributed = pytest.importorskip("distributed")
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR))
            stream = _executors._dask(list(enumerate(tasks)), Gated(str(flags)), {}, 2, 1, cluster.scheduler_address)
        first = next(stream)
        assert first[1].name == "a"  # b waits for the release
        wait_for(flags / "started-c", "c was not handed to the worker that cleaned a")  # the workers hold b and c
        assert started(flags) == ["a", "b", "c"]
        after = []
        with pytest.raises(KeyboardInterrupt):
            after.append(stream.throw(KeyboardInterrupt()))  # as a Ctrl-C while waiting
            after.extend(stream)
    assert [r.status for _, r in [first, *after]] == ["done"] * 3
    finished = sorted(r.name for _, r in [first, *after])
    assert finished == ["a", "b", "c"]  # handed out all at once, the pools would also have cleaned d and e
    assert started(flags) == ["a", "b", "c"]  # d, e and f never reached a worker
    assert len(notice.notices) == 1 and "finishing the 2 file(s) in progress" in notice.notices[0]
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.hea")) == finished


def test_ctrl_c_between_two_results_also_finishes_what_is_in_flight(tmp_path, test_data, monkeypatch):
    import sys

    for name in "abcdef":
        make_record(test_data, tmp_path / "in", name)
    flags = tmp_path / "flags"
    flags.mkdir()
    notice = ReleaseOnNotice(sys.stderr, flags)
    monkeypatch.setattr(sys, "stderr", notice)
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    seen = []

    def on_result(res):  # Ctrl-C arrives while the caller handles the first result, not in the pool's wait
        seen.append(res.name)
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as exc:
        _batch.run(tasks, Gated(str(flags)), backend="processes", jobs=2, on_result=on_result)
    status = {r.name: r.status for r in exc.value.report.results}
    assert status == {"a": "done", "b": "done", "c": "done", "d": "not run", "e": "not run", "f": "not run"}
    assert seen[0] == "a" and sorted(seen) == ["a", "b", "c"]
    assert started(flags) == ["a", "b", "c"]
    assert len(notice.notices) == 1 and "finishing the 2 file(s) in progress" in notice.notices[0]
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.hea")) == ["a", "b", "c"]  # reported as they are


def test_a_dead_worker_fails_its_files_and_a_new_pool_cleans_the_rest(tmp_path, test_data):
    for name in "abcd":
        make_record(test_data, tmp_path / "in", name)
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    marker = tmp_path / "a-reported"

    def on_result(res):
        if res.name == "a":
            marker.touch()

    rep = _batch.run(tasks, DiesOnB(str(marker)), backend="processes", jobs=2, on_result=on_result)
    status = {r.name: r.status for r in rep.results}
    # b killed its worker; c was in that pool; d, not yet handed out then, went to a new pool
    assert status == {"a": "done", "b": "failed", "c": "failed", "d": "done"}
    assert all("its worker died" in r.message for r in rep.results[1:3])
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.hea")) == ["a", "d"]


# --------------------------------------------------------------------------- report
def test_report_table_and_json(tmp_path, test_data):
    make_record(test_data, tmp_path / "in", "p")
    (tmp_path / "in" / "bad.hea").write_text("this is not a header\n")
    tasks = _batch.plan(_batch.expand_inputs([tmp_path / "in"]), out_dir=tmp_path / "out", tag="_x")
    rep = _batch.run(tasks, _batch.Filter("wavelet"), command="filter", out_dir=tmp_path / "out")
    assert rep.exit_status == 1
    done, bad = rep.results[1], rep.results[0]
    assert (bad.name, bad.status) == ("bad", "failed") and "cannot parse header" in bad.message
    assert done.channels == ["MLII", "V5"] and all(v is not None for v in done.snr_in_db + done.snr_out_db)
    assert done.snr_out_mean > done.snr_in_mean  # a wavelet filter removes white-ish noise: estimated SNR rises
    assert done.duration_s == pytest.approx(10.0)
    table = rep.table().splitlines()
    assert table[0].split() == ["file", "status", "signal", "SNR", "in", "SNR", "out", "time", "what"]
    assert table[2].startswith("bad ") and "FAILED" not in table[2] and "failed" in table[2]
    assert "p" == table[3].split()[0] and "done" in table[3] and "dB" in table[3]
    assert rep.summary().startswith("1 written, 0 skipped, 1 failed in ")
    d = json.loads(rep.write_json(tmp_path / "r.json").read_text())
    assert d["totals"] == {**d["totals"], "files": 2, "done": 1, "failed": 1, "skipped": 0}
    assert d["files"][1]["snr_out_db_mean"] == pytest.approx(done.snr_out_mean, abs=1e-3)
    assert d["files"][0]["message"] == bad.message


def test_an_aborted_file_leaves_no_temporary_files(tmp_path, test_data):
    """After a hard abort (second Ctrl-C) the temporary files of the files in progress are removed."""
    make_record(test_data, tmp_path / "in", "p")
    out = tmp_path / "out"
    out.mkdir()
    task = _batch.plan(_batch.expand_inputs([tmp_path / "in" / "p"]), out_dir=out, tag="_x",
                       extra_suffixes=("_noise",))[0]
    (out / ".p.k2j3.part").mkdir()                      # atomic_group's folder for record p
    (out / ".p.k2j3.part" / "p.dat").write_bytes(b"half")
    (out / ".p_noise.u7.part").mkdir()                  # an extra output's
    (out / ".q.zz.part").mkdir()                        # another record's: not ours
    (out / "p.hea").write_text("finished earlier")      # finished outputs are not temporary
    _batch.remove_partial(task)
    assert sorted(p.name for p in out.iterdir()) == [".q.zz.part", "p.hea"]


def test_snr_report_names_only_the_channels_a_step_changed():
    """The report's SNRs cover the changed channels: a difference in the last sample of a long
    channel counts, NaN against NaN does not (the block-wise comparison of _clean._snr)."""
    from biodae._batch._clean import _same_samples, _snr

    rng = np.random.default_rng(0)
    data = np.cumsum(rng.standard_normal((200_003, 3)), axis=0) * 0.01
    data[7, 1] = np.nan
    sig = io.Signal(data=data, sampling_rate=360.0, channel_names=["a", "b", "c"], units=["mV"] * 3)
    new = data.copy()
    new[-1, 2] += 1e-9  # only the very last sample of c
    names, before, after = _snr(sig, sig.replace(data=new))
    assert names == ["c"] and len(before) == len(after) == 1
    assert _same_samples(data[:, 1], data[:, 1].copy()) and not _same_samples(data[:, 2], new[:, 2])
    assert not _same_samples(data[:, 0], data[:-1, 0])
    assert _snr(sig, sig.replace(data=data.copy())) == ([], [], [])
