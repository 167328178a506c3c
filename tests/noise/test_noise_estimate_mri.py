"""The MRI noise estimate ``biodae info`` and ``biodae denoise`` print (:func:`estimate_noise`) on
multi-coil magnitude noise as scanners make it (:func:`mri_coil_noise`): white Rician, 8-coil RSS,
8-coil RSS with k-space apodisation (correlated noise) and 8-coil SENSE (a level that varies in
space), against the truth; and on real multi-coil data (DIPY's ``test_piesno``) against PIESNO."""

from __future__ import annotations

import re

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from biodae import io
from biodae._errors import InputError
from biodae.cli import main
from biodae.noise import estimate_noise, estimate_sigma_mri, estimate_sigma_rician, mri_coil_noise

LEVELS = [3, 5, 7, 9]  # σ in % of the clean image's maximum


def _head(volume: np.ndarray, zoom: int, pad: int) -> np.ndarray:
    """A clean head in air from a crop of brain tissue: clipped to [0, 99.5th percentile],
    enlarged ``zoom`` times in-plane, cut to an ellipse with a blurred edge and padded with
    ``pad`` voxels of air (exact zeros) in-plane."""
    d = np.clip(np.asarray(volume, np.float64), 0.0, np.percentile(volume, 99.5))
    d = ndimage.zoom(d, (zoom, zoom, 1), order=1)
    g = np.indices(d.shape[:2], dtype=np.float64)
    r = sum(((g[i] - (n - 1) / 2) / (0.5 * n)) ** 2 for i, n in enumerate(d.shape[:2]))
    edge = ndimage.gaussian_filter((r <= 0.95).astype(np.float64), 1.5)
    edge[edge < 1e-3] = 0.0  # air is exactly empty
    return np.pad(d * edge[..., None], ((pad, pad), (pad, pad), (0, 0)))


@pytest.fixture(scope="module")
def anatomical_head(test_data) -> np.ndarray:
    """anatomical.nii (an SPM-normalised T1 crop, 33x41x25, 2 mm) as a 98x114x12 head in air."""
    return _head(io.read(test_data / "images" / "anatomical.nii").data[:, :, 7:19], 2, 16)


#: The four kinds of scanner noise, as :func:`mri_coil_noise` keyword arguments (a stack of
#: 2-D slices: k-space along the first two axes).
CASES = {
    "white Rician (1 coil)": dict(coils=1, uniform=True),
    "8-coil RSS, white": dict(coils=8, intensity_correction=False),
    "8-coil RSS, Hamming-correlated": dict(coils=8, kspace_filter="hamming", intensity_correction=False),
    "8-coil SENSE-like (non-stationary)": dict(coils=8, combine="sense"),
}


def _simulate(clean: np.ndarray, case: str, percent: float, seed: int):
    kwargs = dict(CASES[case])
    if kwargs.pop("uniform", False):  # one coil seeing every voxel alike: stationary Rician noise
        kwargs["sensitivities"] = np.ones((1,) + clean.shape)
        del kwargs["coils"]
    return mri_coil_noise(clean, percent / 100 * clean.max(), rng=seed, kspace_axes=(0, 1), **kwargs)


def _coils(how: str) -> float:
    return float(re.search(r"N≈([\d.]+) coils", how).group(1))


@pytest.mark.parametrize("percent", LEVELS)
@pytest.mark.parametrize("case", list(CASES))
def test_estimate_agrees_with_the_truth_within_20_percent(anatomical_head, case, percent):
    """The truth is the σ of the Gaussian channels behind the magnitude (``sigma_map``), as the
    estimate reports it, in the air: its median over the voxels where the clean head is exactly 0
    (constant there but for SENSE, where it varies 4-fold across the air)."""
    res = _simulate(anatomical_head, case, percent, seed=percent)
    air = anatomical_head == 0
    truth = float(np.median(res.sigma_map[air]))
    (est,) = estimate_noise(io.Image(res.noisy.astype(np.float32), (2.0, 2.0, 2.0), "nifti", "mri"))
    assert est.method == "chi-background" and "air voxels" in est.how, est.how
    assert est.sigma == pytest.approx(truth, rel=0.2), (est.sigma / truth, est.how)
    # the non-central χ it fitted has the coils the noise has (SENSE combines them into one)
    coils = _coils(est.how)
    assert coils == pytest.approx(res.coils_effective, rel=0.2), est.how
    if "Hamming" in case:  # the correlated case the Rayleigh estimate of the air got wrong (by 2.4x)
        rician_sigma = estimate_sigma_rician(res.noisy)
        assert abs(rician_sigma / truth - 1) > 0.4 and abs(est.sigma / truth - 1) < 0.05


def test_like_measures_the_output_in_the_inputs_air(anatomical_head):
    """A denoiser's output is measured in the input's air voxels, by the spread there: the input
    itself reads its own σ, half the noise half the σ, and the clean reconstruction (a perfect
    denoiser) almost nothing: what is left is the head's faint edge, which lies within the noise
    and was taken for air (6 % of the input's σ with Hamming apodisation; a fifth without
    leaving that edge out)."""
    for case in ("8-coil RSS, Hamming-correlated", "8-coil RSS, white"):
        res = _simulate(anatomical_head, case, 5, seed=11)
        img = io.Image(res.noisy.astype(np.float32), (2.0, 2.0, 2.0), "nifti", "mri")
        (before,) = estimate_noise(img)
        (same,) = estimate_noise(img, like=[before])
        assert same.method == before.method == "chi-background"
        assert same.sigma == pytest.approx(before.sigma, rel=1e-9)
        (half,) = estimate_noise(img.replace(data=img.data * 0.5), like=[before])
        assert half.sigma == pytest.approx(before.sigma / 2, rel=1e-6)
        clean = img.replace(data=res.clean.astype(np.float32))
        (perfect,) = estimate_noise(clean, like=[before])
        assert perfect.sigma < 0.1 * before.sigma, perfect.sigma / before.sigma
    (alone,) = estimate_noise(clean)  # without a k-space filter its air is empty: not a χ estimate
    assert alone.method == "rician-wavelet" and alone.how.startswith("no usable air (none around the object)")


def test_info_and_denoise_print_the_same_figure_for_correlated_noise(capsys, tmp_path, test_data):
    """A NIfTI with 8-coil RSS Hamming-apodised noise (mni152_t1_crop as a 128x128x8 head):
    ``biodae info`` and ``biodae denoise`` print one σ, within 20 % of the truth."""
    clean = _head(io.read(test_data / "images" / "mni152_t1_crop.nii.gz").data, 3, 16)
    res = _simulate(clean, "8-coil RSS, Hamming-correlated", 5, seed=3)
    truth = float(np.median(res.sigma_map[clean == 0]))
    src = tmp_path / "coils8_hamming.nii.gz"
    nib.save(nib.Nifti1Image(res.noisy.astype(np.float32), np.eye(4)), src)

    assert main(["info", str(src)]) == 0
    out = capsys.readouterr().out
    line = re.search(r"noise \(est\): sigma (\S+) \((.*)\)$", out, re.MULTILINE)
    assert line is not None, out
    info_sigma, how = line.groups()
    assert how.startswith("non-central chi, N≈") and "air voxels" in how
    assert float(info_sigma) == pytest.approx(truth, rel=0.2)
    assert main(["denoise", str(src), "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    before, after = re.search(r"noise sigma \(est\.\) (\S+) -> (\S+?)[,)]", out).groups()
    assert before == info_sigma
    assert 0.0 <= float(after) <= 1.05 * float(before)


def test_no_air_falls_back_to_the_wavelet_estimate(test_data):
    """Dark tissue is not taken for air: MR_small (a crop of tissue) fits χ only with about 20
    "coils"; a clean head whose surroundings hold a smooth, noiseless shading is refused too."""
    (e,) = estimate_noise(io.read(test_data / "images" / "MR_small.dcm"))
    assert e.method == "rician-wavelet" and e.how.startswith("no usable air (")
    clean = _head(io.read(test_data / "images" / "mni152_t1_crop.nii.gz").data, 3, 16)
    shade = ndimage.gaussian_filter(np.random.default_rng(0).random(clean.shape), (8, 8, 2))
    shaded = np.where(clean > 0, clean, 5.0 + 40.0 * (shade - shade.min()) / np.ptp(shade))
    (e,) = estimate_noise(io.Image(shaded.astype(np.float32), (1.0, 1.0, 1.0), "nifti", "mri"))
    assert e.method == "rician-wavelet" and e.how.startswith("no usable air ("), e.how


def test_estimate_sigma_mri_mask(anatomical_head):
    """``mask`` limits the background to the voxels given (e.g. the air outside the head) and
    starts from their median: on 8-coil RSS noise at 9 %, where dark tissue lies within the noise's
    range, it keeps to the air; a mask of another shape is refused."""
    res = _simulate(anatomical_head, "8-coil RSS, white", 9, seed=5)
    air = ndimage.binary_erosion(anatomical_head == 0, iterations=2)
    est = estimate_sigma_mri(res.noisy, mask=air)
    assert not np.any(est.background & ~air)
    assert est.sigma == pytest.approx(res.sigma_map[0, 0, 0], rel=0.05)
    assert est.coils == pytest.approx(8.0, rel=0.1)
    with pytest.raises(InputError, match="mask shape"):
        estimate_sigma_mri(res.noisy, mask=air[:-1])


@pytest.mark.parametrize("n", [49, 98, 103, 128])
def test_no_kspace_filter_keeps_every_line(n):
    """Without a filter every k-space line is kept, whatever the length: n·(1/n) rounds off for
    91 lengths up to 1024 (49, 98, 103...), which used to drop the line at -n/2 and leave a
    ringing copy of the head in the simulated air (up to 6 units on the 98x114 head above)."""
    x = np.zeros((n, 40))
    x[n // 4 : 3 * n // 4, 10:30] = 100.0
    res = mri_coil_noise(x, 1.0, sensitivities=np.ones((1,) + x.shape), rng=0)
    np.testing.assert_array_equal(res.noise_power_spectrum, 1.0)
    np.testing.assert_allclose(res.clean, x, atol=1e-9)


@pytest.mark.data
def test_test_piesno_against_piesno(biodae_data):
    """DIPY's ``test_piesno`` (real data from 8 receive coils): PIESNO told N = 8 gives
    σ = 0.010752. The air's χ is that of fewer, effective, coils (about 6.3: correlated coils), and
    σ is the effective σ for that N: so σ²·N, the noise power the air fixes, is compared with
    PIESNO's for N = 8, and σ with PIESNO told the N estimated (within 5 % each)."""
    path = biodae_data / "mri" / "dipy" / "test_piesno.nii.gz"
    assert path.exists(), f"the data folder (BIODAE_DATA) lacks {path}: see ../shared/data/README.md"
    img = io.read(path)
    (est,) = estimate_noise(img)
    assert est.method == "chi-background", est.how
    coils = _coils(est.how)
    assert 4.0 < coils < 8.0
    try:
        from dipy.denoise.noise_estimate import piesno
    except ImportError:  # DIPY is a benchmark extra: the figure it gives (dipy 1.12)
        piesno = None
    data = np.asarray(img.data, dtype=np.float64)
    ref8 = 0.010752 if piesno is None else float(piesno(data, N=8, return_mask=False))
    assert ref8 == pytest.approx(0.010752, rel=1e-3)
    assert est.sigma**2 * coils == pytest.approx(ref8**2 * 8, rel=0.05)
    if piesno is not None:
        assert est.sigma == pytest.approx(float(piesno(data, N=coils, return_mask=False)), rel=0.05)


@pytest.mark.parametrize("seed", range(3))
def test_air_mask_fills_holes_as_a_flood_fill_per_slice_does(seed):
    """The air mask's hole filling (one labelling per axis) against ndimage's flood fill, in 3-D
    and in every slice along each axis, on random blobs (holes inside, gaps open to a face)."""
    from biodae.noise._estimate import _fill_holes

    rng = np.random.default_rng(seed)
    shape = [(20, 24, 16), (9, 30, 5), (31, 17)][seed]
    filled = 0
    for density in (0.35, 0.55, 0.75):
        mask = rng.random(shape) < density
        expected = ndimage.binary_fill_holes(mask)
        if mask.ndim == 3:
            for ax in range(3):
                if mask.shape[ax] >= 3:
                    for i in range(mask.shape[ax]):
                        sl = (slice(None),) * ax + (i,)
                        expected[sl] |= ndimage.binary_fill_holes(mask[sl])
        got = _fill_holes(mask)
        np.testing.assert_array_equal(got, expected, err_msg=f"density {density}")
        filled += np.count_nonzero(got & ~mask)
    assert filled  # holes were there to fill
    thin = rng.random((9, 30, 2)) < 0.7  # too thin along the last axis for slices across it
    assert np.array_equal(_fill_holes(thin), thin | ndimage.binary_fill_holes(thin))
