"""2D image models at run time: intensity scaling, slicing plane, tiles, masks, 4D, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.noise import rician
from biodae._arrays import foreground_mask, slice_axis, zero_filled
from biodae.runtime import intensity_range, load_model

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def mri():
    return load_model("mri")


def _phantom(shape=(96, 80), seed=0):
    """A smooth 'head': an ellipse with a brighter inner ellipse, intensities 0..1000."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    r = ((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.4 * w)) ** 2
    img = np.where(r < 1, 600.0, 0.0) + np.where(r < 0.3, 400.0, 0.0)
    return img.astype(np.float32)


def test_intensity_range_is_the_percentiles():
    x = np.arange(1001, dtype=np.float32)
    assert intensity_range(x, (0.5, 99.5)) == pytest.approx((5.0, 995.0))
    assert intensity_range(np.full(10, 3.0)) == (3.0, 4.0)  # constant: hi = lo + 1
    with pytest.raises(InputError, match="no finite value"):
        intensity_range(np.full(4, np.nan))


def test_intensity_range_subsamples_large_volumes_with_a_fixed_stride():
    x = np.random.default_rng(0).random(4_000_001).astype(np.float32)
    lo, hi = intensity_range(x)
    ref = np.percentile(x[::3].astype(np.float64), [0.5, 99.5])  # ceil(4000001 / 2e6) = 3
    assert (lo, hi) == pytest.approx(tuple(ref), abs=0)
    vol = np.random.default_rng(1).random((130, 120, 150)).astype(np.float32)  # stride 2 over the C order
    ref = tuple(np.percentile(vol.reshape(-1)[::2].astype(np.float64), [0.5, 99.5]))
    assert intensity_range(vol) == intensity_range(np.asfortranarray(vol)) == pytest.approx(ref, abs=0)
    assert intensity_range(np.moveaxis(vol, 2, 0)) != ref  # another order is another stride sample


@pytest.mark.parametrize("spacing, axis", [((1, 1, 1), 2), ((1, 1, 3), 2), ((4, 1, 1), 0), ((1, 2.2, 2), 1),
                                           ((2, 2, 2.2, 2000), 2)])
def test_slice_axis_is_the_coarsest(spacing, axis):
    assert slice_axis(spacing, (10, 10, 10)) == axis


def test_foreground_mask_finds_the_object():
    img = _phantom()
    m = foreground_mask(img)
    assert m[48, 40] and not m[0, 0]
    assert 0.3 < m.mean() < 0.7


def test_signal_model_refuses_an_image():
    ecg = load_model("ecg")
    with pytest.raises(InputError, match="signal model"):
        ecg.denoise_image(np.zeros((32, 32), np.float32))


def test_image_model_refuses_a_signal(mri):
    with pytest.raises(InputError, match="image model"):
        mri.denoise_signal(np.zeros(100), sampling_rate=360.0)


def test_output_keeps_shape_dtype_and_range(mri):
    clean = _phantom()
    for sigma, factor in ((90.0, 0.6), (30.0, 1.0)):  # 9 % and 3 % of the maximum
        img = rician(clean, sigma, rng=1)
        out = mri.denoise_image(img)
        assert out.shape == img.shape and out.dtype == np.float32
        assert out.min() >= img.min() and out.max() <= img.max()
        assert np.abs(out - clean).mean() < factor * np.abs(img - clean).mean()  # it denoises


def test_scaling_is_equivariant(mri):
    """Scaled intensities (another scanner's unit) give the same output, scaled."""
    img = _phantom() + np.random.default_rng(2).normal(0, 25, (96, 80)).astype(np.float32)
    a = mri.denoise_image(img)
    b = mri.denoise_image(img * 7.5 + 100)
    np.testing.assert_allclose(b, a * 7.5 + 100, rtol=1e-4, atol=1e-2 * 7.5)


def test_volume_slices_along_the_axis_and_4d_per_volume(mri):
    vol = np.stack([_phantom((48, 40)) * (1 + 0.1 * k) for k in range(6)], axis=2)
    vol += np.random.default_rng(3).normal(0, 20, vol.shape).astype(np.float32)
    out2 = mri.denoise_image(vol, axis=2)
    ref = np.stack([mri.denoise_image(vol[:, :, k]) for k in range(6)], axis=2)
    # the same slices, scaled by the volume's percentiles instead of each slice's: close, not equal
    assert np.abs(out2 - ref).mean() < 0.02 * vol.max()
    series = np.stack([vol, vol * 2], axis=3)
    out4 = mri.denoise_image(series, axis=2)
    np.testing.assert_allclose(out4[..., 0], out2, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out4[..., 1], 2 * out2, rtol=1e-4, atol=1e-2)
    with pytest.raises(ValueError, match="axis"):
        mri.denoise_image(vol)


def test_mask_copies_outside(mri):
    img = _phantom() + np.random.default_rng(4).normal(0, 30, (96, 80)).astype(np.float32)
    mask = np.zeros(img.shape, bool)
    mask[20:70, 10:50] = True
    out = mri.denoise_image(img, mask=mask)
    np.testing.assert_array_equal(out[~mask], img[~mask])
    assert not np.allclose(out[mask], img[mask])
    with pytest.raises(InputError, match="mask shape"):
        mri.denoise_image(img, mask=mask[:10])


def test_nan_and_inf_voxels_are_kept_and_do_not_spread(mri):
    vol = np.stack([_phantom(seed=k) for k in range(4)], axis=2)
    vol = vol + np.random.default_rng(5).normal(0, 30, vol.shape).astype(np.float32)
    bad = vol.copy()
    bad[40, 40, 1], bad[10, 5, 2], bad[50, 60, 2] = np.nan, np.inf, -np.inf
    out = mri.denoise_image(bad, axis=2)
    assert np.isnan(out[40, 40, 1]) and out[10, 5, 2] == np.inf and out[50, 60, 2] == -np.inf
    assert np.isfinite(out).sum() == out.size - 3  # before: a NaN made its whole slice NaN
    ref = mri.denoise_image(vol, axis=2)
    far = np.ones(vol.shape, bool)
    far[30:51, 30:51, 1] = far[:21, :16, 2] = far[40:61, 50:71, 2] = False
    assert np.abs(out - ref)[far].max() < 0.01 * np.abs(ref).max()  # elsewhere as if the voxels were ordinary
    assert (mri.denoise_image(np.full((8, 8), np.nan, np.float32)) != 0).all()  # all NaN: NaN back, no error


def test_zero_filled_finds_regions_of_exact_zeros_only():
    x = np.ones((6, 7), np.float32)
    x[:3, :4] = 0  # a zero region in the corner: 12 voxels, rim included
    x[5, 6] = x[4, 5] = 0  # zeros here and there, as 0 HU in water or quantised dark air have
    x[3, 6] = np.nan
    expected = np.zeros(x.shape, bool)
    expected[:3, :4] = True
    np.testing.assert_array_equal(zero_filled(x), expected)
    assert zero_filled(x, min_size=2)[5, 6] and not zero_filled(x, min_size=13).any()
    few = zero_filled(x, min_size=15)  # 14 zeros in all: no region can be that large (the shortcut)
    assert few.shape == x.shape and few.dtype == bool and not few.any()
    assert zero_filled(x, min_size=1).sum() == 14
    vol = np.ones((5, 5, 3), np.float32)
    vol[:3, :3, 0] = vol[:3, :3, 2] = 0  # 9 per slice; 18 only if slices connect (they do not: slice 1)
    assert zero_filled(vol, (0, 1)).sum() == 18 and zero_filled(vol, min_size=10).sum() == 0
    vol[:3, :3, 1] = 0
    assert zero_filled(vol, min_size=27).sum() == 27 and not zero_filled(vol, (0, 1), min_size=10).any()
    assert not zero_filled(np.full((3, 3), np.nan)).any()


@pytest.mark.parametrize("seed", range(4))
def test_zero_filled_links_few_zeros_as_labelling_the_grid_does(seed):
    """A noisy scan's few zeros take the sparse path: the same regions as ndimage.label on every voxel."""
    from scipy import ndimage

    import biodae._arrays as arrays

    rng = np.random.default_rng(seed)
    shape = [(40, 50, 30), (128, 140), (12, 14, 10, 6), (30, 40, 20)][seed]
    x = rng.random(shape).astype(np.float32) + 0.1
    n = x.size // (2 * arrays._SPARSE_ZEROS)  # below the sparse limit, so that path runs
    for _ in range(n // 8):  # small clusters (some merge, some touch the faces) and single zeros
        start = [int(rng.integers(0, s)) for s in shape]
        size = [int(rng.integers(1, 4)) for _ in shape]
        x[tuple(slice(a, a + b) for a, b in zip(start, size))] = 0
    x.reshape(-1)[rng.choice(x.size, n // 4, replace=False)] = 0
    assert 0 < np.count_nonzero(x == 0) <= x.size // arrays._SPARSE_ZEROS
    regions = 0
    for axes in (None, (0, 1), (1, 2) if len(shape) > 2 else (1,)):
        use = range(x.ndim) if axes is None else axes
        structure = np.zeros([3] * x.ndim, dtype=bool)
        structure[tuple(slice(None) if a in use else 1 for a in range(x.ndim))] = True
        labels, _ = ndimage.label(x == 0, structure=structure)
        for min_size in (1, 2, 9):
            big = np.bincount(labels.ravel()) >= min_size
            big[0] = False
            expected = big[labels]
            for order in "CF":  # NIfTI volumes come Fortran-ordered
                got = zero_filled(np.asarray(x, order=order), axes, min_size=min_size)
                np.testing.assert_array_equal(got, expected, err_msg=f"axes {axes}, min_size {min_size}, {order}")
            regions += min_size > 1 and expected.any()
    assert regions  # clusters large enough were there to find
    np.testing.assert_array_equal(zero_filled(x, (0, -len(shape)), min_size=2), zero_filled(x, (0,), min_size=2))


def test_a_masked_volume_keeps_its_zero_fill(mri):
    """Skull-stripped or masked data: the exact zeros outside stay exactly 0 (they became small
    positive values before, which breaks ``> 0`` masks downstream)."""
    rng = np.random.default_rng(2)
    vol = np.stack([_phantom() for _ in range(3)], axis=2)
    head = vol > 0
    noisy = np.where(head, rician(vol, 40.0, rng=rng), 0).astype(np.float32)
    out = mri.denoise_image(noisy, axis=2)
    fill = zero_filled(noisy)
    assert fill.sum() > 0.3 * fill.size
    assert (out[fill] == 0).all()
    assert (out[head] > 0).all() and not np.allclose(out[head], noisy[head])  # the head is still denoised
    noisy_air = rician(vol, 40.0, rng=rng)  # real noisy air has no zero region: denoised as before
    assert not zero_filled(noisy_air).any()


def test_tiles_blend_without_seams(mri):
    """A slice larger than a tile, tiled, against the same slice in one piece."""
    rng = np.random.default_rng(5)
    big = np.kron(_phantom((90, 90)), np.ones((8, 8), np.float32))[:700, :650]
    noisy = rician(big, 50.0, rng=rng)
    assert max(noisy.shape) > mri.tile  # 512: tiled
    tiled = mri.denoise_image(noisy)
    whole_model = load_model("mri")
    whole_model.tile = 4096
    whole = whole_model.denoise_image(noisy)
    # the receptive field (332 px) exceeds the overlap, so tiles are not bit-equal to one
    # pass; they must be as good, and the blend regions must not stand out (no seams)
    err_tiled, err_whole = np.abs(tiled - big).mean(), np.abs(whole - big).mean()
    assert err_tiled < 1.02 * err_whole
    diff = np.abs(tiled - whole).mean(axis=0)  # per column; tiles start at x = 0 and 650 - 512 = 138
    blend = np.r_[138:202, 448:512]
    rest = np.setdiff1d(np.arange(650), blend)
    assert diff[blend].mean() < 1.5 * diff[rest].mean()
    rows = np.abs(tiled - whole).mean(axis=1)  # y: starts 0 and 700 - 512 = 188
    blend_y = np.r_[188:252, 448:512]
    assert rows[blend_y].mean() < 1.5 * rows[np.setdiff1d(np.arange(700), blend_y)].mean()


def test_noise_estimates_before_and_after_use_one_method():
    """The σ printed before denoising is the one ``biodae info`` prints (estimate_noise); the σ
    after is measured by the same method in the same voxels: with usable air, σ_before times the
    spread of those air voxels after over before (a denoised air is no longer χ distributed, and
    its mean does not fall with the noise)."""
    from biodae import io, noise
    from biodae._record import _noise_sigmas

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:96, :96]
    head = np.where((yy - 48) ** 2 + (xx - 48) ** 2 < 30**2, 100.0, 0.0)
    vol = np.stack([noise.rician(head, 5.0, rng=rng) for _ in range(4)], axis=-1)
    img = io.Image(vol, (1.0, 1.0, 1.0), "nifti", "mri")
    (info,) = noise.estimate_noise(img)
    before, half = _noise_sigmas(img, img.replace(data=vol * 0.5))
    assert info.method == "chi-background" and "N≈1.0 coils" in info.how  # Rician: one coil
    assert before == info.sigma == pytest.approx(5.0, rel=0.05)  # the truth (estimate_sigma_rician: 5.004)
    assert half == pytest.approx(before / 2)
    flat_air = vol.copy()
    flat_air[head[..., None].repeat(4, -1) == 0] = 3.0  # a denoiser that flattened the air: no noise left there
    again, flat = _noise_sigmas(img, img.replace(data=flat_air))
    assert again == before and flat == pytest.approx(0.0, abs=1e-9)


def test_image_batches_hold_about_one_256_slice_on_the_cpu(mri):
    """Larger calls are slower per pixel on the CPU (the activations leave the caches): 64k pixels
    per call, 1 to 16 slices; the output does not depend on the batch."""
    assert [mri.image_batch_size(n, n) for n in (32, 64, 128, 256, 512)] == [16, 16, 4, 1, 1]
    assert mri.image_batch_size(100, 300) == 2
    vol = np.random.default_rng(0).random((40, 48, 6)).astype(np.float32)
    np.testing.assert_allclose(mri.denoise_image(vol, axis=2), mri.denoise_image(vol, axis=2, batch_size=4), atol=1e-6)


def test_denoise_image_removes_the_noise_floor_of_many_coils_first(mri):
    """An 8-coil root-sum-of-squares slice: biodae.denoise_image removes the floor of 7 coils
    before the Rician model (report["noise_floor"]) and lands far nearer the clean slice than the
    model alone; a Rician slice goes to the model as it is; outside a mask the input is kept."""
    from biodae import denoise_image, io, noise

    yy, xx = np.mgrid[:128, :128]
    head = np.where((yy - 64) ** 2 / 50**2 + (xx - 64) ** 2 / 40**2 <= 1, 0.6, 0.0)
    head[(yy - 60) ** 2 + (xx - 50) ** 2 < 15**2] = 0.35
    res = noise.mri_coil_noise(head, 0.03, coils=8, rng=2)
    noisy = res.noisy.astype(np.float32)
    kept = noisy.copy()
    inside = head > 0
    image = io.Image(noisy, (1.0, 1.0), "png", "mri")
    out, rep = denoise_image(image, mri)
    alone = mri.denoise_image(noisy)
    err = float(np.sqrt(np.mean((out.data - res.clean)[inside] ** 2)))
    err_alone = float(np.sqrt(np.mean((alone - res.clean)[inside] ** 2)))
    assert rep["noise_floor"] and err < 0.7 * err_alone  # 0.018 against 0.030 when written
    np.testing.assert_array_equal(image.data, kept)  # the input is not modified
    assert np.count_nonzero(out.data == 0) == np.count_nonzero(noisy == 0)  # no zero fill made by the floor

    rician_slice = noise.rician(head, 0.03, rng=2).astype(np.float32)
    out, rep = denoise_image(io.Image(rician_slice, (1.0, 1.0), "png", "mri"), mri)
    assert not rep["noise_floor"]
    np.testing.assert_array_equal(out.data, mri.denoise_image(rician_slice))

    mask = np.zeros(head.shape, bool)
    mask[30:90, 30:90] = True
    out, rep = denoise_image(image, mri, mask=mask)
    assert rep["noise_floor"]
    np.testing.assert_array_equal(out.data[~mask], noisy[~mask])
