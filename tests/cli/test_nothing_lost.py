"""Nothing lost, no surprises (issue #21): no flag combination lets an output land on an input,
reruns keep the first run's report, and the conditions a user can fix are one line, never an
internal error."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile

from biodae import _batch, io
from biodae._errors import InputError
from biodae.cli import main
from tests.conftest import tree_digest

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("biodae: error:")]
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


@pytest.fixture
def folder(tmp_path, test_data):
    """A folder with a WFDB record (with annotations), a PNG and a NIfTI volume."""
    d = tmp_path / "in"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(test_data / "signals" / f"sel100_10s.{ext}", d / f"sel100_10s.{ext}")
    shutil.copy(test_data / "images" / "brain_slice16.png", d / "a.png")
    shutil.copy(test_data / "images" / "anatomical.nii", d / "vol.nii")
    return d


# ----------------------------------------------------------------------------- outputs never land on inputs


@pytest.mark.parametrize("command", [["denoise"], ["filter", "--method", "median"]])
@pytest.mark.parametrize("spelling", ["{d}", "{d}/.", "{d}/../in"])
@pytest.mark.parametrize("force", [False, True])
def test_out_dir_that_is_the_input_folder_is_refused(capsys, folder, command, spelling, force):
    before = tree_digest(folder)
    argv = [*command, folder, "--out-dir", spelling.format(d=folder)] + ["--force"] * force
    code, out, err = run(capsys, *argv)
    assert code == 2
    line = one_line_error(err)
    assert "would be written onto the input" in line and "use --force" not in line + out
    assert tree_digest(folder) == before


def test_single_file_out_dir_beside_itself_is_refused(capsys, folder):
    before = tree_digest(folder)
    for argv in (["filter", folder / "a.png", "--method", "median", "--out-dir", folder, "--force"],
                 ["denoise", folder / "sel100_10s", "--out-dir", folder, "--force"],
                 ["denoise", folder / "vol.nii", "--out-dir", folder, "--force", "--save-noise"]):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert "onto the input" in one_line_error(err)
    assert tree_digest(folder) == before


def test_an_output_that_is_another_input_of_the_run_is_refused(capsys, folder):
    """`filter a.png a_filtered.png --force` wrote a's output over the second input, then cleaned that."""
    shutil.copy(folder / "a.png", folder / "a_filtered.png")
    before = tree_digest(folder)
    code, _, err = run(capsys, "filter", folder / "a.png", folder / "a_filtered.png", "--method", "median", "--force")
    assert code == 2
    assert "a_filtered.png" in one_line_error(err)
    assert tree_digest(folder) == before


def test_no_flag_combination_changes_an_input(capsys, tmp_path, folder):
    """Every combination of output folder, --force, --report and --save-noise over the same inputs:
    whatever each call answers, no input file changes."""
    shutil.copy(folder / "a.png", folder / "a_filtered.png")  # a file named like an output, given as an input
    inputs = tree_digest(folder)
    original = {k: Path(k).read_bytes() for k in inputs}
    outs = [None, folder, f"{folder}/.", tmp_path / "out"]
    reports = [None, folder / "sel100_10s.atr", tmp_path / "r.json"]
    targets = [[folder], [folder / "a.png", folder / "a_filtered.png"]]
    commands = [["filter", "--method", "median"], ["denoise", "--save-noise"]]
    tried = 0
    for cmd, tg, out_dir, report, force in itertools.product(commands, targets, outs, reports, [False, True]):
        argv = [*cmd, *tg] + (["--out-dir", out_dir] if out_dir else []) + (["--report", report] if report else [])
        argv += ["--force"] * force
        code, _, _ = run(capsys, *argv)
        tried += 1
        # the inputs of this call: in a folder, a file named like an output (a_filtered.png) is an earlier
        # output, not an input; given by name it is one
        protected = {k: v for k, v in inputs.items()
                     if (tg == [folder] and "_filtered" not in k) or any(k == str(t) for t in tg)}
        now = {k: v for k, v in tree_digest(folder).items() if k in protected}
        assert now == protected, f"an input changed after: biodae {' '.join(map(str, argv))} (exit {code})"
        for k, data in original.items():  # a file that was not an input of this call may be replaced (--report --force)
            Path(k).write_bytes(data)
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        for p in list(folder.rglob("*")):  # outputs written beside the inputs (tagged names): not inputs of the next
            if str(p) not in inputs and p.is_file():
                p.unlink()
    assert tried == 2 * 2 * 4 * 3 * 2


def test_export_never_writes_over_its_input(capsys, tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(ROOT / "models" / "ecg.onnx", model)
    digest = model.read_bytes()
    for out in (model, tmp_path / "." / "m.onnx", tmp_path / "sub" / ".." / "m.onnx"):
        code, _, err = run(capsys, "export", model, "-o", out, "--fp16", "--force")
        assert code == 2
        assert "onto the input" in one_line_error(err)
    assert model.read_bytes() == digest


# ----------------------------------------------------------------------------- the report


def test_report_never_lands_on_an_input_nor_replaces_another_file(capsys, tmp_path, folder):
    before = tree_digest(folder)
    code, _, err = run(capsys, "denoise", folder, "--out-dir", tmp_path / "out", "--report", folder / "vol.nii",
                       "--force")
    assert code == 2 and "onto the input" in one_line_error(err)
    assert tree_digest(folder) == before and not (tmp_path / "out").exists()
    other = tmp_path / "notes.json"
    other.write_text('{"mine": 1}')
    code, _, err = run(capsys, "filter", folder / "a.png", "--method", "median", "--out-dir", tmp_path / "o",
                       "--report", other)
    assert code == 2 and "is not a biodae filter report" in one_line_error(err)
    assert json.loads(other.read_text()) == {"mine": 1} and not (tmp_path / "o").exists()
    code, _, _ = run(capsys, "filter", folder / "a.png", "--method", "median", "--out-dir", tmp_path / "o",
                     "--report", other, "--force")
    assert code == 0 and json.loads(other.read_text())["command"] == "filter"


def test_a_rerun_keeps_the_first_runs_figures(capsys, tmp_path, folder):
    out = tmp_path / "out"
    code, _, _ = run(capsys, "filter", folder, "--method", "median", "--out-dir", out)
    assert code == 0
    path = out / "biodae-filter-report.json"
    first = {f["input"]: f for f in json.loads(path.read_text())["files"]}
    assert {f["status"] for f in first.values()} == {"done"}
    rec = str(folder / "sel100_10s.hea")
    assert first[rec]["snr_in_db_mean"] is not None
    # the rerun skips every file: its report still carries what the first run measured
    code, stdout, _ = run(capsys, "filter", folder, "--method", "median", "--out-dir", out)
    assert code == 0 and "done earlier" in stdout
    second = {f["input"]: f for f in json.loads(path.read_text())["files"]}
    assert {f["status"] for f in second.values()} == {"skipped"}
    for k, f in second.items():
        kept = {key: v for key, v in f["earlier"].items() if key != "earlier"}
        assert kept == {key: v for key, v in first[k].items() if key != "earlier"}
    # a third run over part of the folder keeps the other files' entries too
    code, _, _ = run(capsys, "filter", folder / "a.png", folder / "vol.nii", "--method", "median", "--out-dir", out,
                     "--report", path)
    third = json.loads(path.read_text())
    assert [f["input"] for f in third["earlier_files"]] == [rec]
    assert third["earlier_files"][0]["snr_in_db_mean"] == first[rec]["snr_in_db_mean"]


# ----------------------------------------------------------------------------- user errors are one line


def _header_with_fs(folder: Path, fs: str) -> Path:
    hea = folder / "sel100_10s.hea"
    lines = hea.read_text().splitlines()
    first = lines[0].split()
    first[2] = fs + ("/" + first[2].split("/", 1)[1] if "/" in first[2] else "")
    hea.write_text("\n".join([" ".join(first)] + lines[1:]) + "\n")
    return hea


@pytest.mark.parametrize("fs", ["-360", "0", "abc"])
def test_wfdb_header_with_a_sampling_rate_that_is_not_positive(capsys, tmp_path, folder, fs):
    _header_with_fs(folder, fs)
    for command in (["info"], ["denoise", "--out-dir", tmp_path / "o"], ["filter", "-m", "median", "-o", tmp_path / "o"]):
        code, _, err = run(capsys, command[0], folder / "sel100_10s", *command[1:])
        assert code == 2, command
        assert f"sampling frequency as '{fs}'" in one_line_error(err)
    with pytest.raises(InputError, match="not a positive number"):
        io.read(folder / "sel100_10s")


def test_out_dir_that_is_a_file(capsys, tmp_path, folder):
    f = tmp_path / "afile"
    f.write_text("x")
    for argv in (["denoise", folder], ["filter", folder / "a.png", "-m", "median"]):
        code, _, err = run(capsys, *argv, "--out-dir", f)
        assert code == 2
        assert "is a file, not a folder" in one_line_error(err)
    assert f.read_text() == "x"


def test_unwritable_output_is_one_line(capsys, tmp_path, folder, monkeypatch):
    """A read-only output folder (simulated: tests run as root, for whom chmod does not bite)."""
    real = os.replace

    def deny(src, dst, *a, **k):
        if str(tmp_path / "ro") in str(dst):
            raise PermissionError(13, "Permission denied", str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", deny)
    code, _, err = run(capsys, "filter", folder / "a.png", "-m", "median", "--out-dir", tmp_path / "ro")
    assert code == 2
    assert "cannot write" in one_line_error(err) and "Permission denied" in err
    # a batch: each file fails with that line, the report cannot be written either, exit 1
    code, out, err = run(capsys, "filter", folder, "-m", "median", "--out-dir", tmp_path / "ro")
    assert code == 1
    assert out.count("FAILED") == 3 and "cannot write" in out and "internal error" not in out
    assert "cannot write the report" in one_line_error(err)


def test_bad_checkpoints_and_models_are_one_line(capsys, tmp_path, folder):
    pytest.importorskip("torch")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes((ROOT / "models" / "ecg.onnx").read_bytes()[:20000])
    for argv in (["export", empty, "-o", tmp_path / "x.onnx", "--recipe", "ecg"],
                 ["export", garbage, "-o", tmp_path / "x.onnx", "--recipe", "ecg"],
                 ["export", truncated, "-o", tmp_path / "y.onnx", "--fp16"],
                 ["denoise", folder / "sel100_10s", "--model", truncated, "--out-dir", tmp_path / "o"]):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        line = one_line_error(err)
        assert "weights_only" not in err and len(err.strip().splitlines()) == 1, err
        assert next(a for a in argv if isinstance(a, Path) and a.suffix in (".pt", ".onnx")).name in line
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


# ----------------------------------------------------------------------------- Ctrl-C in the serial mode


class _InterruptOnce:
    """A step that presses Ctrl-C (SIGINT to this process) while it works, then finishes its file."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, obj):
        self.calls += 1
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return obj.replace(data=obj.data * 0.5), "halved"


def test_ctrl_c_in_the_serial_mode_lets_the_file_in_progress_finish(tmp_path, folder, capsys):
    tasks = _batch.plan(_batch.expand_inputs([folder]), out_dir=tmp_path / "out", tag="_x")
    with pytest.raises(KeyboardInterrupt) as exc:
        _batch.run(tasks, _InterruptOnce(), backend="serial", progress=False)
    report = exc.value.report
    assert report.interrupted
    assert [r.status for r in report.results] == ["done", "not run", "not run"]
    first = Path(report.results[0].output)
    written = io.read(first if first.suffix else first.with_suffix(".hea"))
    source = io.read(report.results[0].input)
    np.testing.assert_allclose(written.data, source.data * 0.5, atol=0.01)
    assert "finishing the 1 file(s) in progress" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "out").rglob("*") if ".part" in p.name]


# ----------------------------------------------------------------------------- images


def test_mask_on_another_grid_is_refused(capsys, tmp_path, test_data):
    scan = nib.load(test_data / "images" / "anatomical.nii")
    data = np.asarray(scan.dataobj)
    mask = (data > np.percentile(data, 60)).astype(np.uint8)
    same = tmp_path / "same.nii"
    nib.save(nib.Nifti1Image(mask, scan.affine), same)
    shifted_affine = scan.affine.copy()
    shifted_affine[0, 3] += 5.0
    shifted = tmp_path / "shifted.nii"
    nib.save(nib.Nifti1Image(mask, shifted_affine), shifted)
    code, _, err = run(capsys, "denoise", test_data / "images" / "anatomical.nii", "--mask", shifted,
                       "--out-dir", tmp_path / "o1")
    assert code == 2
    assert "another voxel grid" in one_line_error(err) and "5 mm" in err
    assert not (tmp_path / "o1").exists()
    from biodae._batch._steps import _read_mask_once

    _read_mask_once.cache_clear()
    code, _, err = run(capsys, "denoise", test_data / "images" / "anatomical.nii", "--mask", same,
                       "--out-dir", tmp_path / "o2")
    assert code == 0, err


def test_tiff_with_two_series_is_refused_not_half_read(capsys, tmp_path):
    path = tmp_path / "two.tif"
    rng = np.random.default_rng(1)
    with tifffile.TiffWriter(path) as tw:
        tw.write(rng.integers(0, 4000, (32, 32), dtype=np.uint16))
        tw.write(rng.integers(0, 4000, (16, 16), dtype=np.uint16))
    code, _, err = run(capsys, "filter", path, "-m", "median", "--out-dir", tmp_path / "o")
    assert code == 2
    assert "2 image series" in one_line_error(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("method", ["median", "butterworth", "wavelet"])
def test_filter_a_one_slice_volume(capsys, tmp_path, test_data, method):
    scan = nib.load(test_data / "images" / "anatomical.nii")
    one = np.asarray(scan.dataobj)[:, :, 10:11].astype(np.float32)
    path = tmp_path / "one.nii"
    nib.save(nib.Nifti1Image(one, scan.affine), path)
    code, _, err = run(capsys, "filter", path, "-m", method, "--out-dir", tmp_path / "o")
    assert code == 0, err
    out = nib.load(tmp_path / "o" / "one.nii")
    assert out.shape == one.shape and np.array_equal(out.affine, scan.affine)
    got = np.asarray(out.dataobj)
    # the slice filtered as the same 2D image would be
    ref = io.read(path)
    from biodae import filters

    p = filters.defaults("mri", method)
    expected = np.clip(filters.apply(method, ref.data[:, :, 0], **p), one.min(), one.max())
    np.testing.assert_allclose(got[:, :, 0][one[:, :, 0] != 0], expected[one[:, :, 0] != 0], rtol=1e-4, atol=1e-3)
    assert not np.allclose(got, one)


def test_filter_an_image_too_small_says_so(capsys, tmp_path):
    from PIL import Image

    Image.fromarray(np.array([[7]], np.uint8)).save(tmp_path / "px.png")
    code, _, err = run(capsys, "filter", tmp_path / "px.png", "-m", "median", "--out-dir", tmp_path / "o")
    assert code == 2
    line = one_line_error(err)
    assert "1 x 1 pixels is too small" in line and "sampling rate" not in line


# ----------------------------------------------------------------------------- the README's Python example


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_denoise_files_with_processes_in_a_script_without_main_guard(tmp_path, folder):
    """The README's line, pasted into a plain script (no `if __name__ == "__main__":`), cleans the files."""
    res = _script(tmp_path, (
        "import biodae\n"
        f"report = biodae.denoise_files({str(folder)!r}, out_dir='clean/', backend='processes', jobs=2)\n"
        "print('STATUS', sorted(r.status for r in report.results), report.exit_status)\n"))
    assert "STATUS ['done', 'done', 'done'] 0" in res.stdout, res.stdout + res.stderr
    assert res.stdout.count("STATUS") == 1  # the workers did not run the script again
    assert (tmp_path / "clean" / "sel100_10s.hea").is_file()


def test_a_step_from_an_unguarded_script_fails_loudly_with_the_fix(tmp_path, folder):
    res = _script(tmp_path, (
        "from biodae import _batch\n"
        "class Half:\n"
        "    def __call__(self, obj):\n"
        "        return obj.replace(data=obj.data * 0.5), 'halved'\n"
        f"tasks = _batch.plan(_batch.expand_inputs([{str(folder)!r}]), out_dir='o', tag='_x')\n"
        "_batch.run(tasks, Half(), backend='processes', jobs=2)\n"))
    assert res.returncode != 0
    assert "if __name__ ==" in res.stderr and "backend='serial'" in res.stderr
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- inputs named by options, the report


def test_a_mask_or_model_file_is_an_input_too(capsys, tmp_path, test_data):
    """--mask and --model files are read by the run: no output, report included, may replace them."""
    scan = tmp_path / "scan.nii"
    shutil.copy(test_data / "images" / "anatomical.nii", scan)
    data = np.asarray(nib.load(scan).dataobj)
    mask = tmp_path / "scan_denoised.nii"  # named like the scan's output beside it
    nib.save(nib.Nifti1Image((data > data.mean()).astype(np.uint8), nib.load(scan).affine), mask)
    model = tmp_path / "my.onnx"
    shutil.copy(ROOT / "models" / "mri.onnx", model)
    before = {**tree_digest(mask), **tree_digest(model)}
    for argv in (["denoise", scan, "--mask", mask, "--force"],
                 ["denoise", scan, "--model", model, "--report", model, "--force"],
                 ["denoise", scan, "--mask", mask, "--out-dir", tmp_path / "o", "--report", mask, "--force"]):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert "onto the input" in one_line_error(err)
    assert {**tree_digest(mask), **tree_digest(model)} == before


def test_the_report_never_lands_on_an_output_of_the_run(capsys, tmp_path, test_data):
    from biodae import filter_files

    src = tmp_path / "in"
    src.mkdir()
    for ext in ("hea", "dat"):
        shutil.copy(test_data / "signals" / f"sel100_10s.{ext}", src / f"sel100_10s.{ext}")
    shutil.copy(test_data / "images" / "brain_slice16.png", src / "a.png")
    code, _, err = run(capsys, "filter", src, "-m", "median", "-o", tmp_path / "fo", "--report",
                       tmp_path / "fo" / "sel100_10s.dat")
    assert code == 2 and "an output of this run" in one_line_error(err)
    assert not (tmp_path / "fo").exists()
    with pytest.raises(InputError, match="an output of this run"):
        filter_files(src, "median", out_dir=tmp_path / "lo", report=tmp_path / "lo" / "a.png")
    assert not (tmp_path / "lo").exists()


def test_filter_an_image_with_a_signal_modality_uses_the_image_defaults(capsys, tmp_path, test_data):
    code, out, err = run(capsys, "filter", test_data / "images" / "brain_slice16.png", "-m", "median",
                         "--modality", "ecg", "-o", tmp_path)
    assert code == 0, err
    assert "median size=3" in out
    code, _, err = run(capsys, "filter", test_data / "signals" / "sel100_10s", "-m", "median", "--modality", "mri",
                       "-o", tmp_path / "s")
    assert code == 2 and "--modality mri is an image modality" in one_line_error(err)


def test_an_unwritable_plot_is_one_line(capsys, tmp_path, test_data):
    pytest.importorskip("matplotlib")
    png = tmp_path / "a.png"
    shutil.copy(test_data / "images" / "brain_slice16.png", png)
    code, _, err = run(capsys, "filter", png, "-m", "median", "-o", tmp_path / "o", "--plot", tmp_path / "a.png" / "x.png")
    assert code == 2 and "cannot write the picture" in one_line_error(err)


def test_remove_partial_leaves_other_outputs_temporary_files(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    mine = out / ".a.png.x1y2.part.png"
    other = out / ".ab.png.x1y2.part.png"  # another run writing ab.png into the same folder
    group = out / ".a.k3.part"
    for p in (mine, other):
        p.write_bytes(b"x")
    group.mkdir()
    task = _batch.Task("a", tmp_path / "a.png", out / "a.png", "png", (out / "a.png",))
    _batch.remove_partial(task)
    assert not mine.exists() and not group.exists() and other.exists()
