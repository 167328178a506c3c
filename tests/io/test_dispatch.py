"""The format dispatch of :mod:`biodae.io` (``_dispatch.py``): detect_format, read/write, output_path, find_inputs.

The readers and writers of each format have their own tests; these check that the dispatch picks the right one,
names outputs by the conventions the README gives, finds inputs in folders, and reports a failed write in one line.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from biodae import io
from biodae._errors import BiodaeError, InputError, OutputError, OutputExistsError

# (file in tests/data, format, container, how a file of the format begins)
FILES = [
    ("signals/sel100_10s.hea", "wfdb", io.Signal, None),  # a text header: checked by its first line below
    ("signals/S001R03_5s_8ch.edf", "edf", io.Signal, b"0       "),
    ("signals/test_3s.bdf", "bdf", io.Signal, b"\xffBIOSEMI"),
    ("images/anatomical.nii", "nifti", io.Image, ((348).to_bytes(4, "little"), (348).to_bytes(4, "big"))),
    ("images/example4d_crop.nii.gz", "nifti", io.Image, b"\x1f\x8b"),
    ("images/CT_small.dcm", "dicom", io.Image, None),  # "DICM" after a 128-byte preamble: checked below
    ("images/brain_slice16.png", "png", io.Image, b"\x89PNG\r\n\x1a\n"),
    ("images/brain_stack.tif", "tiff", io.Image, (b"II*\x00", b"MM\x00*")),
]
DICM = b"\x00" * 128 + b"DICM"


def _copy_record(test_data: Path, dest: Path, name: str = "rec") -> Path:
    """The shipped WFDB excerpt under ``dest/name`` (header renamed inside), annotations included."""
    dest.mkdir(parents=True, exist_ok=True)
    src = test_data / "signals"
    for f in src.glob("sel100_10s.*"):
        shutil.copy(f, dest / f"{name}{f.suffix}")
    hea = dest / f"{name}.hea"
    hea.write_text(hea.read_text().replace("sel100_10s", name))
    return dest / name


def _touch(path: Path, content: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- detect_format
@pytest.mark.parametrize("rel, fmt, kind, magic", FILES)
def test_detect_format_of_each_shipped_format(test_data, rel, fmt, kind, magic):
    assert io.detect_format(test_data / rel) == fmt
    assert io.detect_format(str(test_data / rel)) == fmt  # a str as well as a Path


@pytest.mark.parametrize(
    "name, fmt",
    [("a.EDF", "edf"), ("a.rec", "edf"), ("a.BDF", "bdf"), ("a.NII.GZ", "nifti"), ("a.b.nii.gz", "nifti"),
     ("a.nii", "nifti"), ("a.DICOM", "dicom"), ("a.dcm", "dicom"), ("a.PNG", "png"), ("a.tif", "tiff"),
     ("a.TIFF", "tiff"), ("a.hea", "wfdb")],
)
def test_detect_format_by_ending_in_any_case(tmp_path, name, fmt):
    assert io.detect_format(_touch(tmp_path / name)) == fmt


def test_a_wfdb_record_is_named_by_its_header_its_signal_file_or_its_bare_path(tmp_path, test_data):
    rec = _copy_record(test_data, tmp_path, "rec")
    for p in (rec.with_suffix(".hea"), rec.with_suffix(".dat"), rec, str(rec)):
        assert io.detect_format(p) == "wfdb"
    _touch(tmp_path / "rec.mat")
    assert io.detect_format(tmp_path / "rec.mat") == "wfdb"
    # a signal file without its header is not a record
    _touch(tmp_path / "lonely.dat")
    with pytest.raises(InputError, match=r"unsupported file type '\.dat'"):
        io.detect_format(tmp_path / "lonely.dat")


def test_a_dicom_file_without_extension_is_known_by_its_preamble(tmp_path, test_data):
    shutil.copy(test_data / "images" / "CT_small.dcm", tmp_path / "IM0001")
    assert io.detect_format(tmp_path / "IM0001") == "dicom"
    img = io.read(tmp_path / "IM0001")
    assert img.format == "dicom"
    assert np.array_equal(img.data, io.read(test_data / "images" / "CT_small.dcm").data)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: d / "missing.nii.gz", ["missing.nii.gz", "no such file"]),
        (lambda d: d / "missing", ["missing", "no such file or WFDB record", ".hea"]),
        (lambda d: (d / "folder").mkdir() or d / "folder", ["folder", "is a directory"]),
        (lambda d: _touch(d / "notes.txt", b"text"), ["notes.txt", "unsupported file type '.txt'", "NIfTI", "WFDB"]),
        (lambda d: _touch(d / "README", b"not a DICOM file" * 20), ["README", "'(no extension)'", "DICOM"]),
    ],
    ids=["missing-known-ending", "missing-bare", "directory", "unsupported", "no-extension-not-dicom"],
)
def test_detect_format_errors_say_what_and_what_to_do(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        io.detect_format(path)
    for w in words:
        assert w in str(err.value)
    assert err.value.hint  # the "what to do" half
    with pytest.raises(InputError):  # read goes through the same check
        io.read(path)


# --------------------------------------------------------------------------- read / write
@pytest.mark.parametrize("rel, fmt, kind, magic", FILES, ids=[f[0].split("/")[1] for f in FILES])
def test_read_write_round_trip_through_the_dispatch(tmp_path, test_data, rel, fmt, kind, magic):
    src = test_data / rel
    obj = io.read(src)
    assert isinstance(obj, kind) and obj.format == fmt
    out = io.output_path(src, out_dir=tmp_path / "out")
    written = io.write(obj, out)
    main = out.with_suffix(".hea") if fmt == "wfdb" else out
    assert main in written and all(p.is_file() for p in written)
    head = main.read_bytes()[:132]
    if fmt == "wfdb":
        assert head.decode().startswith(f"{out.name} ") and out.with_suffix(".dat") in written
    elif fmt == "dicom":
        assert head[128:132] == b"DICM"
    else:
        assert head.startswith(magic if isinstance(magic, tuple) else (magic,))
    if main.name.endswith(".nii.gz"):
        assert gzip.decompress(main.read_bytes())[:4] in ((348).to_bytes(4, "little"), (348).to_bytes(4, "big"))
    assert io.detect_format(out) == fmt
    back = io.read(out)
    assert type(back) is kind and back.format == fmt
    assert back.data.shape == obj.data.shape and back.data.dtype == obj.data.dtype
    assert np.array_equal(back.data, obj.data, equal_nan=True)
    if kind is io.Signal:
        assert back.sampling_rate == obj.sampling_rate and back.channel_names == obj.channel_names
    else:
        assert back.spacing == pytest.approx(obj.spacing)
    with pytest.raises(OutputExistsError):  # a second write is refused, not wrapped into an OutputError
        io.write(obj, out)
    io.write(obj, out, force=True)


def test_write_goes_by_the_objects_format_not_the_path(tmp_path, test_data):
    img = io.read(test_data / "images" / "brain_slice16.png")
    (written,) = io.write(img.replace(format="tiff"), tmp_path / "slice.tif")
    assert written.read_bytes()[:4] in (b"II*\x00", b"MM\x00*")
    with pytest.raises(ValueError, match="cannot write format 'jpeg'"):
        io.write(img.replace(format="jpeg"), tmp_path / "slice.jpg")


# --------------------------------------------------------------------------- write errors
def _os_replace_fails(monkeypatch):
    def replace(src, dst, *args, **kwargs):  # as os.replace reports a full disk: both paths attached
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src), None, str(dst))

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("rel, name", [("images/mni152_t1_crop.nii.gz", "scan.nii.gz"), ("signals/sel100_10s", "rec")])
def test_an_os_error_while_writing_becomes_one_output_error_naming_the_output(tmp_path, test_data, monkeypatch,
                                                                              rel, name):
    obj = io.read(test_data / rel)
    out = tmp_path / "out" / name
    _os_replace_fails(monkeypatch)
    with pytest.raises(OutputError) as err:
        io.write(obj, out)
    msg = str(err.value)
    assert str(out) in msg, msg  # the output the caller asked for, not the temporary file that was removed
    assert "No space left on device" in msg and "\n" not in msg
    assert err.value.hint and "writable" in err.value.hint
    assert isinstance(err.value, OSError) and isinstance(err.value, BiodaeError)
    assert isinstance(err.value.__cause__, OSError) and err.value.__cause__.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written left behind


def test_a_file_where_the_output_folder_should_be_is_an_output_error(tmp_path, test_data):
    img = io.read(test_data / "images" / "mni152_t1_crop.nii.gz")
    blocker = _touch(tmp_path / "out", b"a file, not a folder")
    with pytest.raises(OutputError) as err:
        io.write(img, blocker / "scan.nii.gz")
    assert str(blocker) in str(err.value)
    assert blocker.read_bytes() == b"a file, not a folder"


# --------------------------------------------------------------------------- output_path
@pytest.mark.parametrize(
    "name, tag, expected",
    [
        ("scan.nii.gz", "_denoised", "scan_denoised.nii.gz"),
        ("scan.nii.gz", "_filtered", "scan_filtered.nii.gz"),
        ("a.b.nii.gz", "_denoised", "a.b_denoised.nii.gz"),
        ("T1.NII.GZ", "_denoised", "T1_denoised.NII.GZ"),
        ("x.nii", "_filtered", "x_filtered.nii"),
        ("chest.DCM", "_denoised", "chest_denoised.DCM"),
        ("eeg.edf", "_filtered", "eeg_filtered.edf"),
        ("slice.png", "_denoised", "slice_denoised.png"),
        ("stack.tiff", "_denoised", "stack_denoised.tiff"),
        ("IM0001", "_denoised", "IM0001_denoised"),  # a DICOM file without extension
    ],
)
def test_output_path_beside_the_input_adds_the_tag_before_the_ending(tmp_path, name, tag, expected):
    src = _touch(tmp_path / "in" / name, DICM if name == "IM0001" else b"")
    assert io.output_path(src, tag=tag) == tmp_path / "in" / expected
    assert io.output_path(src, out_dir=tmp_path / "out", tag=tag) == tmp_path / "out" / name  # name kept


def test_output_path_of_a_wfdb_record_is_a_record_path(tmp_path, test_data):
    rec = _copy_record(test_data, tmp_path / "in", "sel100")
    for p in (rec.with_suffix(".hea"), rec.with_suffix(".dat"), rec):
        assert io.output_path(p) == tmp_path / "in" / "sel100_denoised"
        assert io.output_path(p, tag="_filtered") == tmp_path / "in" / "sel100_filtered"
        assert io.output_path(p, out_dir=tmp_path / "out") == tmp_path / "out" / "sel100"
    # a dotted record name keeps its dots
    dotted = _copy_record(test_data, tmp_path / "in", "r.v2")
    assert io.output_path(dotted.with_name("r.v2.hea"), out_dir=tmp_path / "out") == tmp_path / "out" / "r.v2"


def test_output_path_mirrors_the_sub_folders_below_root(tmp_path, test_data):
    root = tmp_path / "archive"
    deep = _touch(root / "p01" / "mri" / "t1.nii.gz")
    top = _touch(root / "x.png")
    rec = _copy_record(test_data, root / "p02", "rec")
    out = tmp_path / "clean"
    assert io.output_path(deep, out_dir=out, root=root) == out / "p01" / "mri" / "t1.nii.gz"
    assert io.output_path(top, out_dir=out, root=root) == out / "x.png"
    assert io.output_path(rec.with_suffix(".hea"), out_dir=out, root=root) == out / "p02" / "rec"
    assert io.output_path(deep, out_dir=out) == out / "t1.nii.gz"  # no root: flat
    assert io.output_path(deep, out_dir=out, root=deep) == out / "t1.nii.gz"  # root is the file itself: flat
    assert io.output_path(deep, root=root) == deep.with_name("t1_denoised.nii.gz")  # no out_dir: beside it


def test_output_path_of_a_missing_input_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        io.output_path(tmp_path / "gone.nii.gz", out_dir=tmp_path / "out")


# --------------------------------------------------------------------------- find_inputs
def test_find_inputs_in_a_folder(tmp_path, test_data):
    root = tmp_path / "archive"
    _copy_record(test_data, root, "rec")  # .hea, .dat, .atr, .pu1, .q1c: listed once, by its header
    _copy_record(test_data, root, "rec_denoised")  # an output written beside its input: left out
    _touch(root / "eeg.edf")
    _touch(root / "eeg_filtered.edf")
    _touch(root / "notes.txt")
    _touch(root / "lonely.dat")  # no header: not a record
    _touch(root / ".hidden.edf")
    _touch(root / ".rec.k2j3.part" / "rec.hea")  # an unfinished atomic write
    _touch(root / "IM0001", DICM)  # a DICOM file without extension is not searched for
    _touch(root / "sub" / "scan.nii.gz")
    _touch(root / "sub" / "scan_denoised.nii.gz")
    _touch(root / "sub" / "deeper" / "chest.dcm")
    _touch(root / "sub" / "deeper" / "stack.TIF")

    found = io.find_inputs(root)
    assert [p.relative_to(root).as_posix() for p in found] == [
        "eeg.edf", "rec.hea", "sub/deeper/chest.dcm", "sub/deeper/stack.TIF", "sub/scan.nii.gz",
    ]
    assert [p.name for p in io.find_inputs(root, recursive=False)] == ["eeg.edf", "rec.hea"]
    assert io.find_inputs(str(root)) == found
    _touch(tmp_path / "empty" / ".keep")
    assert io.find_inputs(tmp_path / "empty") == []


def test_find_inputs_of_a_file_or_record_is_that_input(tmp_path, test_data):
    rec = _copy_record(test_data, tmp_path, "rec")
    assert io.find_inputs(rec) == [rec]  # a record by its bare path
    assert io.find_inputs(rec.with_suffix(".hea")) == [rec.with_suffix(".hea")]
    named = _touch(tmp_path / "scan_denoised.nii.gz")  # named explicitly: taken even with an output's name
    assert io.find_inputs(named) == [named]
    with pytest.raises(InputError, match="no such file"):
        io.find_inputs(tmp_path / "missing.edf")
    with pytest.raises(InputError, match="unsupported file type"):
        io.find_inputs(_touch(tmp_path / "notes.txt"))
