"""MRI and X-ray training data: split by volume/image, patches and noise reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from biodae.datasets import IMAGE_SOURCES, ImagePatchMixer, load_image_slices


def test_sources_are_split_by_file_never_shared():
    for modality in ("mri", "xray"):
        seen: dict[str, str] = {}
        for split in ("train", "val", "test"):
            for rel in IMAGE_SOURCES[modality, split]:
                assert rel not in seen, f"{rel} is in {seen[rel]} and {split}"
                seen[rel] = split
    # the X-ray test radiograph's lossy twin is in no split
    every = {r for v in IMAGE_SOURCES.values() for r in v}
    assert "xray/dicom/RG3_J2KI.dcm" not in every
    # nothing the MRI model is tested on is in any training set
    train = set(IMAGE_SOURCES["mri", "train"]) | set(IMAGE_SOURCES["xray", "train"])
    assert not train & (set(IMAGE_SOURCES["mri", "test"]) | set(IMAGE_SOURCES["xray", "test"]))


@pytest.mark.data
def test_slices_are_scaled_and_come_from_their_split(biodae_data):
    test = load_image_slices("mri", "test", data_dir=biodae_data)
    assert {s.source for s in test} == set(IMAGE_SOURCES["mri", "test"])
    for s in test:
        assert s.image.dtype == np.float32 and s.image.ndim == 2
        assert 0.0 <= np.percentile(s.image, 50) and np.percentile(s.image, 99) <= 1.1
    train = load_image_slices("mri", "train", data_dir=biodae_data)
    axes = {s.axis for s in train if "mni152" in s.source}
    assert axes == {0, 1, 2}  # slices along all three axes of the template


@pytest.mark.data
@pytest.mark.parametrize("noise", ["rician", "poisson_gaussian"])
def test_patch_mixer_is_reproducible_and_noisy(biodae_data, noise):
    slices = load_image_slices("mri", "val", data_dir=biodae_data)
    mixer = ImagePatchMixer(slices, noise=noise, patch=32, clean_fraction=0.0)
    a = mixer(np.random.default_rng(7))
    b = mixer(np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == a[1].shape == (32, 32)
    diffs = [np.abs(n - c).mean() for n, c in (mixer(np.random.default_rng(i)) for i in range(20))]
    assert min(diffs) > 0  # every patch noisy when clean_fraction is 0
    if noise == "rician":
        assert all((mixer(np.random.default_rng(i))[0] >= 0).all() for i in range(5))  # magnitudes


def test_patch_mixer_clean_fraction_and_small_images():
    from biodae.datasets import ImageSlice

    img = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    s = ImageSlice(img, "x", 0, None, (0.0, 1.0))
    mixer = ImagePatchMixer([s], noise="rician", patch=32, clean_fraction=1.0)
    n, c = mixer(np.random.default_rng(1))
    np.testing.assert_array_equal(n, c)
    with pytest.raises(Exception, match="at least 64"):
        ImagePatchMixer([s], noise="rician", patch=64)
    with pytest.raises(ValueError, match="noise must be"):
        ImagePatchMixer([s], noise="gaussian", patch=32)


def test_patch_mixer_contrast_change():
    from biodae.datasets import ImageSlice

    img = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    s = ImageSlice(img, "x", 0, None, (0.0, 1.0))
    kw = dict(noise="rician", patch=32, clean_fraction=1.0, gain_range=(1.0, 1.0))
    _, plain = ImagePatchMixer([s], **kw)(np.random.default_rng(3))
    _, squared = ImagePatchMixer([s], gamma_range=(2.0, 2.0), **kw)(np.random.default_rng(3))
    np.testing.assert_allclose(squared, plain.astype(np.float64) ** 2, rtol=1e-6)  # the same crop, x ** 2


def test_dead_leaves_are_piecewise_smooth_and_reproducible():
    from biodae.datasets import dead_leaves

    a = dead_leaves(np.random.default_rng(4), 64)
    np.testing.assert_array_equal(a, dead_leaves(np.random.default_rng(4), 64))
    assert a.shape == (64, 64) and a.min() >= 0.0 and a.max() <= 1.0
    images = [dead_leaves(np.random.default_rng(i), 64) for i in range(20)]
    assert len({float(im.std()) for im in images}) == 20  # not one image over and over
    # piecewise smooth: most neighbouring pixels are close, a few steps are edges
    steps = np.concatenate([np.abs(np.diff(im, axis=1)).ravel() for im in images])
    assert np.median(steps) < 0.01 and np.percentile(steps, 99.5) > 0.05


def test_patch_mixer_synthetic_fraction():
    from biodae.datasets import ImageSlice

    img = np.full((40, 40), 0.5, np.float32)  # a flat real image: any structure is synthetic
    s = ImageSlice(img, "x", 0, None, (0.0, 1.0))
    kw = dict(noise="poisson_gaussian", patch=32, clean_fraction=1.0, gain_range=(1.0, 1.0))
    off = ImagePatchMixer([s], **kw)
    assert all(np.ptp(off(np.random.default_rng(i))[1]) == 0 for i in range(10))
    # 0 draws nothing: the same patches as before the option existed
    np.testing.assert_array_equal(off(np.random.default_rng(2))[0],
                                  ImagePatchMixer([s], synthetic_fraction=0.0, **kw)(np.random.default_rng(2))[0])
    half = ImagePatchMixer([s], synthetic_fraction=0.5, **kw)
    synthetic = [np.ptp(half(np.random.default_rng(i))[1]) > 0 for i in range(200)]
    assert 70 < sum(synthetic) < 130
    assert all(np.ptp(ImagePatchMixer([s], synthetic_fraction=1.0, **kw)(np.random.default_rng(i))[1]) > 0
               for i in range(10))
    with pytest.raises(ValueError, match="synthetic_fraction"):
        ImagePatchMixer([s], synthetic_fraction=1.5, **kw)


def _lag1(noise: np.ndarray) -> float:
    n = noise - noise.mean()
    return float(np.mean(n[:, 1:] * n[:, :-1]) / np.mean(n * n))


def test_scanner_noise_level_and_correlation_per_kind():
    from biodae.datasets import ScannerNoise

    flat = np.full((64, 64), 0.6)  # high signal: the magnitude's noise is about Gaussian with the level sigma
    for kind, correlated in (("rician", False), ("rss", False), ("sense", False), ("correlated", True),
                             ("correlated_rician", True)):
        weights = tuple(1.0 if k == kind else 0.0 for k in ScannerNoise.KINDS)
        make = ScannerNoise(weights=weights, coils=(8,))
        sds, lags = [], []
        for seed in range(12):
            noisy, clean = make(flat, 0.05, np.random.default_rng(seed))
            assert noisy.shape == clean.shape == flat.shape
            sds.append(np.std(noisy - clean))
            lags.append(_lag1(noisy - clean))
        # sigma is the median level over the patch: the noise's sd is within 25 % of it
        assert 0.0375 < np.median(sds) < 0.0625, (kind, np.median(sds))
        if correlated:  # apodised k-space: neighbours' noise correlated (Hamming 0.625, Hann 0.67, Tukey less)
            assert np.median(lags) > 0.25, (kind, lags)
        else:
            assert abs(np.median(lags)) < 0.1, (kind, lags)


def test_scanner_noise_shifts_both_images_as_inference_scaling_does():
    from biodae.datasets import ScannerNoise

    make = ScannerNoise(weights=(0, 1, 0, 0, 0), coils=(16,))
    noisy, clean = make(np.zeros((64, 64)), 0.05, np.random.default_rng(0))
    # air with 16 coils: chi with 32 degrees of freedom, mean about 5.6 sigma; the low percentile that scaling
    # subtracts (a 0.1-5 % quantile, 3.2-4.2 sigma) moves the clean air below 0 by the same amount
    shift = -float(clean.max())
    assert np.ptp(clean) == 0 and 3.0 * 0.05 < shift < 4.5 * 0.05
    assert 0.05 < float(np.mean(noisy)) < 0.15  # mean (5.6 sigma) minus the shift: 1.4-2.4 sigma
    a = make(np.full((64, 64), 0.5), 0.05, np.random.default_rng(7))
    b = make(np.full((64, 64), 0.5), 0.05, np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # same seed, same draw


def test_scanner_noise_with_floor_gives_what_denoise_image_gives_the_model():
    """floor=True: a 16-coil root-sum-of-squares patch loses the floor of 15 coils (tissue's mean back
    at the clean value, not 15 coils' noise power above it) and its air becomes Rayleigh (Rician air),
    shifted by a quantile of the Rayleigh distribution, not of the 16-coil χ."""
    from biodae.datasets import ScannerNoise

    yy, xx = np.mgrid[:64, :64]
    clean = np.where((yy - 32) ** 2 + (xx - 20) ** 2 < 18**2, 0.5, 0.0)
    tissue, air = clean > 0, (yy - 32) ** 2 + (xx - 20) ** 2 > 22**2
    bias, bare, air_mean = [], [], []
    for seed in range(8):
        noisy, target = ScannerNoise(weights=(0, 1, 0, 0, 0), coils=(16,), floor=True)(
            clean, 0.05, np.random.default_rng(seed))
        raw, raw_target = ScannerNoise(weights=(0, 1, 0, 0, 0), coils=(16,))(clean, 0.05, np.random.default_rng(seed))
        bias.append(np.mean((noisy - target)[tissue]))
        bare.append(np.mean((raw - raw_target)[tissue]))
        air_mean.append(np.mean((noisy - target)[air]))
    assert abs(np.mean(bias)) < 0.01 < np.mean(bare)  # 16 coils' floor: about 0.07 above the tissue's 0.5
    # Rayleigh air of sigma about 0.05 (the median level; it varies with the coils): mean about 0.063, minus a
    # 0.1-5 % quantile (0.002-0.016); 0.065 when written. The 16-coil chi air itself: about 5.6 sigma = 0.28
    assert 0.04 < np.mean(air_mean) < 0.08


def test_scanner_noise_refuses_bad_weights():
    from biodae.datasets import ScannerNoise

    with pytest.raises(ValueError, match="5 non-negative numbers"):
        ScannerNoise(weights=(1, 1))
    with pytest.raises(ValueError, match="mri_scanner"):
        ImagePatchMixer([], noise="chi")


def test_correlated_rician_keeps_the_image_sharp():
    from biodae.datasets import ScannerNoise

    rng = np.random.default_rng(1)
    patch = rng.random((64, 64))  # every pixel different: any blur of the target would show
    make = ScannerNoise(weights=(0, 0, 0, 0, 1))
    noisy, clean = make(patch, 0.05, np.random.default_rng(2))
    shift = clean - patch
    assert np.ptp(shift) < 1e-12 and -0.02 < shift[0, 0] <= 0  # the target is the patch, only shifted
    # the multi-coil correlated kind's target is the filtered reconstruction: blurred
    _, blurred = ScannerNoise(weights=(0, 0, 0, 1, 0))(patch, 0.05, np.random.default_rng(2))
    assert np.ptp(blurred - patch) > 0.1
