"""``--plot FILE.png`` on ``biodae denoise`` and ``biodae filter``, and :mod:`biodae.plot` behind it."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from biodae import InputError, OutputExistsError, io, plot
from biodae.cli import main
from tests.conftest import tree_digest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ecg"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str) -> None:
    assert err.startswith("biodae: error: "), err
    assert err.count("\n") == 1, err


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk (read without an image library)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def copy_record(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.name + ".*"):
        shutil.copy2(f, dest / f.name)
    return dest / src.name


def colour_fraction(path: Path, rgb: tuple[int, int, int], tol: int = 40) -> float:
    """Fraction of the picture's pixels close to the colour ``rgb``."""
    px = np.asarray(PILImage.open(path).convert("RGB"), dtype=int)
    return float((np.abs(px - np.array(rgb)).max(axis=2) < tol).mean())


# --------------------------------------------------------------------------- the command
def test_denoise_plot_of_an_ecg_record(capsys, tmp_path):
    src = copy_record(EXAMPLES / "sel100_em6", tmp_path / "in")
    before = tree_digest(tmp_path / "in")
    pic = tmp_path / "pics" / "ecg.png"
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--plot", pic)
    assert code == 0, err
    assert f"plot: {pic}" in out
    assert tree_digest(tmp_path / "in") == before
    w, h = png_size(pic)
    # two cleaned leads: six panels of ~1.45 in at 100 dpi, 12 in wide
    assert w == 1200 and 800 <= h <= 1100, (w, h)
    # something is drawn: the input (dark grey), the output (blue) and the removed component (red) traces
    assert colour_fraction(pic, (31, 119, 180)) > 0.002  # tab:blue
    assert colour_fraction(pic, (214, 39, 40)) > 0.002  # tab:red
    assert colour_fraction(pic, (64, 64, 64)) > 0.002  # 0.25 grey
    assert sorted(p.name for p in pic.parent.iterdir()) == ["ecg.png"], "a temporary file was left behind"


def test_filter_plot_of_a_nifti_volume(capsys, tmp_path, test_data):
    pic = tmp_path / "mri.png"
    code, out, err = run(capsys, "filter", test_data / "images" / "mni152_t1_crop.nii.gz", "--method", "wavelet",
                         "--out-dir", tmp_path / "out", "--plot", pic)
    assert code == 0, err
    w, h = png_size(pic)
    assert w == 1350 and 350 <= h <= 700, (w, h)
    px = np.asarray(PILImage.open(pic).convert("L"), dtype=float)
    assert px.std() > 20, "a blank picture"


def test_plot_is_never_an_input(capsys, tmp_path, test_data):
    src = tmp_path / "a.png"
    shutil.copy2(test_data / "images" / "brain_slice16.png", src)
    before = src.read_bytes()
    for force in ([], ["--force"]):
        code, out, err = run(capsys, "filter", src, "--method", "median", "--plot", src, *force)
        assert code == 2
        one_line_error(err)
        assert "input" in err and "--plot" in err
    # a link to the input is the input too
    link = tmp_path / "link.png"
    link.symlink_to(src)
    code, out, err = run(capsys, "filter", src, "--method", "median", "--plot", link, "--force")
    assert code == 2 and "input" in err
    assert src.read_bytes() == before
    assert not (tmp_path / "a_filtered.png").exists(), "refused only after the work"


def test_plot_is_never_an_output_of_the_run(capsys, tmp_path, test_data):
    src = test_data / "images" / "brain_slice16.png"
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "filter", src, "--method", "median", "--out-dir", out_dir,
                         "--plot", out_dir / "brain_slice16.png", "--force")
    assert code == 2
    one_line_error(err)
    assert "output" in err
    assert not out_dir.exists()
    # nor the --report of the run
    code, out, err = run(capsys, "filter", src, "--method", "median", "--out-dir", out_dir,
                         "--report", tmp_path / "r.png", "--plot", tmp_path / "r.png")
    assert code == 2 and "--report" in err


def test_existing_plot_needs_force(capsys, tmp_path, test_data):
    src = test_data / "images" / "CT_small.dcm"
    pic = tmp_path / "ct.png"
    pic.write_bytes(b"not mine to overwrite")
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--plot", pic)
    assert code == 2
    one_line_error(err)
    assert "already exists" in err and "--force" in err
    assert pic.read_bytes() == b"not mine to overwrite"
    assert not (tmp_path / "out").exists(), "the refusal must come before the work"
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--plot", pic, "--force")
    assert code == 0, err
    assert png_size(pic)[0] == 1350


@pytest.mark.parametrize("how", ["folder", "two files", "glob"])
def test_plot_draws_one_file(capsys, tmp_path, test_data, how):
    d = tmp_path / "in"
    d.mkdir()
    for name in ("brain_slice16.png", "mni152_slice8.png"):
        shutil.copy2(test_data / "images" / name, d / name)
    inputs = {"folder": [d], "two files": [d / "brain_slice16.png", d / "mni152_slice8.png"],
              "glob": [str(d / "*.png")]}[how]
    code, out, err = run(capsys, "filter", *inputs, "--method", "median", "--out-dir", tmp_path / "out",
                         "--plot", tmp_path / "p.png")
    assert code == 2
    one_line_error(err)
    assert "--plot draws one file" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "p.png").exists()


def test_plot_must_be_png(capsys, tmp_path, test_data):
    code, out, err = run(capsys, "filter", test_data / "images" / "brain_slice16.png", "--method", "median",
                         "--out-dir", tmp_path / "out", "--plot", tmp_path / "p.pdf")
    assert code == 2 and ".png" in err


def test_plot_without_matplotlib_says_how_to_install(capsys, tmp_path, test_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run(capsys, "filter", test_data / "images" / "brain_slice16.png", "--method", "median",
                         "--out-dir", tmp_path / "out", "--plot", tmp_path / "p.png")
    assert code == 2
    one_line_error(err)
    assert "pip install 'biodae[plot]'" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- biodae.plot
def _ecg_pair() -> tuple[io.Signal, io.Signal]:
    before = io.read(EXAMPLES / "sel100_em6")
    after = before.replace(data=before.data.copy())
    after.data[:, 0] = before.data[:, 0] * 0.5 + 0.1  # channel 0 changed, channel 1 left alone
    return before, after


def test_signal_figure_draws_the_middle_stretch_of_each_cleaned_channel():
    before, after = _ecg_pair()
    fig = plot.before_after_figure(before, after, title="t", snr_db={"MLII": (6.0, 12.5)})
    assert len(fig.axes) == 3, "one cleaned channel: input, output, removed"
    fs = before.sampling_rate
    sl = plot.signal_stretch(before.n_samples, fs)
    assert sl.stop - sl.start == int(10 * fs)
    assert abs((sl.start + sl.stop) / 2 - before.n_samples / 2) <= 1  # around the middle
    (x_in,), (x_out,), (x_rm,) = (ax.lines for ax in fig.axes)
    np.testing.assert_array_equal(x_in.get_ydata(), before.data[sl, 0])
    np.testing.assert_array_equal(x_out.get_ydata(), after.data[sl, 0])
    np.testing.assert_allclose(x_rm.get_ydata(), before.data[sl, 0] - after.data[sl, 0])
    np.testing.assert_allclose(x_in.get_xdata(), np.arange(sl.start, sl.stop) / fs)
    assert "12.5 dB" in fig.axes[1].get_title(loc="left") and "6.0 dB" in fig.axes[0].get_title(loc="left")
    # input and output on one vertical scale
    (a0, b0), (a1, b1) = fig.axes[0].get_ylim(), fig.axes[1].get_ylim()
    assert b0 - a0 == pytest.approx(b1 - a1)


def test_signal_figure_caps_the_channels():
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=(n, plot.MAX_CHANNELS + 3))
    before = io.Signal(x, 250.0, [f"c{i}" for i in range(x.shape[1])], ["mV"] * x.shape[1])
    after = before.replace(data=x * 0.9)
    fig = plot.before_after_figure(before, after)
    assert len(fig.axes) == 3 * plot.MAX_CHANNELS
    assert f"first {plot.MAX_CHANNELS} of {x.shape[1]}" in fig._suptitle.get_text()
    # a record shorter than the stretch is drawn whole
    assert len(fig.axes[0].lines[0].get_ydata()) == n


def test_image_figure_draws_the_middle_slice(test_data):
    before = io.read(test_data / "images" / "mni152_t1_crop.nii.gz")  # 32 x 32 x 8, 1 mm: sliced along axis 2
    after = before.replace(data=before.data * 0.5)
    fig = plot.before_after_figure(before, after, noise_sigma=(3.0, 1.5))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3 and len(fig.axes) == 4  # input, output, removed + the colour bar
    mid = before.data[:, :, 4].astype(np.float64)
    np.testing.assert_allclose(images[0].get_array(), mid.T)
    np.testing.assert_allclose(images[1].get_array(), 0.5 * mid.T)
    np.testing.assert_allclose(images[2].get_array(), 0.5 * mid.T)
    assert "3" in fig.axes[0].get_title() and "1.5" in fig.axes[1].get_title()
    # input and output share one grey scale
    assert images[0].get_clim() == images[1].get_clim()
    # another slicing axis: the middle of axis 0
    fig = plot.before_after_figure(before, after, axis=0)
    np.testing.assert_allclose([ax.images[0] for ax in fig.axes if ax.images][0].get_array(),
                               before.data[16].astype(np.float64).T)


def test_save_before_after_is_atomic_and_no_clobber(tmp_path, test_data):
    before = io.read(test_data / "images" / "brain_slice16.png")
    after = before.replace(data=before.data * 0.9)
    pic = plot.save_before_after(before, after, tmp_path / "p.png")
    first = pic.read_bytes()
    with pytest.raises(OutputExistsError):
        plot.save_before_after(before, after, pic)
    assert pic.read_bytes() == first
    with pytest.raises(InputError, match="a file of this run"):
        plot.save_before_after(before, after, pic, force=True, protect=[pic])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]
