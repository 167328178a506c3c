"""MRI and X-ray/CT training and test images from ``BIODAE_DATA``, split by volume or image.

The data are few (``../shared/data/README.md``): one MNI152 template volume, a handful
of real MR slices and volumes, two radiographs and two CT slices. Every source belongs
to exactly one split, never split by patch or slice. Images are scaled to ``[0, 1]``
by the same percentiles the shipped models use at inference
(:func:`biodae.runtime.intensity_range` over the whole image or volume).

MRI
    train: MNI152 2009a T1 (slices along all three axes), MR shoulder ``MR2_UNCR``,
    Siemens MR ``MR-SIEMENS-DICOM-WithOverlays``, DIPY ``S0_10slices`` (b0);
    val: DIPY ``aniso_vox`` (4 × 4 × 5 mm); test: scikit-image ``brain.tiff``
    (10 real head slices, another subject and scanner) and DIPY ``t1_coronal_slice``.
X-ray / CT
    train: chest radiograph ``RG1_J2KI``, head CT ``693_UNCR`` and the MRI training
    slices (more anatomy, rescaled); val: CT ``CT_small``; test: tibia/ankle radiograph
    ``RG3_J2KR`` (``RG3_J2KI`` is the same image and is never used).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import noise
from .._errors import InputError
from ._paths import data_root

__all__ = ["IMAGE_SPLITS", "ImageSlice", "load_image_slices", "ImagePatchMixer", "IMAGE_SOURCES", "dead_leaves",
           "ScannerNoise"]

IMAGE_SPLITS = ("train", "val", "test")

#: (modality, split) -> relative paths under BIODAE_DATA
IMAGE_SOURCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("mri", "train"): (
        "mri/nilearn-mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        "mri/dicom/MR2_UNCR.dcm",
        "mri/dicom/MR-SIEMENS-DICOM-WithOverlays.dcm",
        "mri/dipy/S0_10slices.nii.gz",
    ),
    ("mri", "val"): ("mri/dipy/aniso_vox.nii.gz",),
    ("mri", "test"): ("mri/skimage/brain.tiff", "mri/dipy/t1_coronal_slice.npy"),
    ("xray", "train"): ("xray/dicom/RG1_J2KI.dcm", "xray/dicom/693_UNCR.dcm"),
    ("xray", "val"): ("xray/dicom/CT_small.dcm",),
    ("xray", "test"): ("xray/dicom/RG3_J2KR.dcm",),
}


@dataclass
class ImageSlice:
    """One 2D slice scaled to ``[0, 1]`` (float32) and where it came from."""

    image: np.ndarray
    source: str
    index: int
    axis: int | None
    scale: tuple[float, float]  # (lo, hi) of the whole image or volume, in file units


def _read(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    if path.suffix == ".npy":
        a = np.load(path)
        return np.asarray(a, dtype=np.float32), (1.0,) * a.ndim
    from .. import io

    im = io.read(path)
    data = np.asarray(im.data, dtype=np.float32)
    if im.format == "nifti" and data.ndim == 4:
        data = data[..., 0]
    return data, tuple(im.spacing)


def _slices_of(rel: str, data: np.ndarray, spacing, *, step: int, min_foreground: float) -> list[ImageSlice]:
    from ..runtime import intensity_range

    lo, hi = intensity_range(data)
    x = (data - np.float32(lo)) / np.float32(hi - lo)
    if x.ndim == 2:
        return [ImageSlice(x, rel, 0, None, (lo, hi))]
    if rel.endswith((".tiff", ".tif", ".dcm")):  # frames, rows, cols: slices along the frames only
        axes = [0]
    else:
        axes = [0, 1, 2] if min(x.shape) >= 32 else [int(np.argmin(x.shape))]
    out = []
    for a in axes:
        planes = np.moveaxis(x, a, 0)
        for i in range(0, planes.shape[0], step if len(axes) > 1 else 1):
            s = np.ascontiguousarray(planes[i])
            if min(s.shape) < 16 or np.mean(s > 0.1) < min_foreground:
                continue
            out.append(ImageSlice(s, rel, i, a, (lo, hi)))
    return out


def load_image_slices(
    modality: str, split: str, *, data_dir: str | os.PathLike | None = None, step: int = 3,
    min_foreground: float = 0.05,
) -> list[ImageSlice]:
    """The scaled 2D slices of one split.

    Parameters
    ----------
    modality : {"mri", "xray"}
    split : {"train", "val", "test"}
    data_dir : path, optional
        ``BIODAE_DATA`` by default.
    step : int, default 3
        Keep every ``step``-th slice of volumes sliced along all three axes.
    min_foreground : float
        Drop slices with less than this fraction of pixels above 0.1 (mostly air).
    """
    if (modality, split) not in IMAGE_SOURCES:
        raise InputError(f"no image split {modality!r}/{split!r}",
                         f"modality mri or xray, split one of {', '.join(IMAGE_SPLITS)}")
    root = data_root(data_dir, "", "the mri/ and xray/ folders")
    rels = list(IMAGE_SOURCES[modality, split])
    if modality == "xray" and split == "train":
        rels += list(IMAGE_SOURCES["mri", "train"])
    out: list[ImageSlice] = []
    for rel in rels:
        path = root / rel
        if not path.exists():
            raise InputError(f"{path}: missing", "BIODAE_DATA must name the shared data folder (../shared/data)")
        data, spacing = _read(path)
        out.extend(_slices_of(rel, data, spacing, step=step, min_foreground=min_foreground))
    return out


def dead_leaves(rng: np.random.Generator, size: int, *, r_min: float = 2.0,
                leaves: tuple[int, int] = (20, 150)) -> np.ndarray:
    """A synthetic piecewise-smooth image, ``(size, size)`` float64 in ``[0, 1]``: a dead-leaves image.

    ``leaves`` (20-150 by default) ellipses with radii from the scale-invariant law ``p(r) ∝ r**-3`` on
    ``[r_min, size]`` are painted one over the other on a smooth background. Each leaf
    carries its own intensity, drawn around the image's mean with a spread of 0.05-0.3
    (so some images are low-contrast, like soft tissue, others not), with a linear
    gradient, and the whole image is blurred by a Gaussian point-spread function of
    width 0-1.5 pixels (detectors do not draw perfectly sharp edges). Such images share
    the edge and scale statistics of natural and medical images without showing any
    particular anatomy; denoisers trained on them generalise to real images (Achddou,
    Gousseau & Ladjal, "Synthetic images as a regularity prior for image restoration
    neural networks", SSVM 2021).
    """
    from scipy.ndimage import gaussian_filter

    mean, spread = rng.random(), rng.uniform(0.05, 0.3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    gy, gx = rng.normal(0.0, 0.1 / size, 2)
    out = mean + gy * (yy - size / 2) + gx * (xx - size / 2)
    a, b = float(r_min) ** -2, float(size) ** -2
    for _ in range(int(rng.integers(leaves[0], leaves[1] + 1))):
        r = (a - rng.random() * (a - b)) ** -0.5
        r2 = r * rng.uniform(0.3, 1.0)
        cy, cx = rng.uniform(-r, size + r, 2)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, size)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, size)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        t = rng.uniform(0.0, np.pi)
        u, v = dx * np.cos(t) + dy * np.sin(t), -dx * np.sin(t) + dy * np.cos(t)
        inside = (u / r) ** 2 + (v / r2) ** 2 <= 1.0
        ly, lx = rng.normal(0.0, 0.05 / max(r, 4.0), 2)  # the leaf's gradient: about 0.05 across its radius
        level = mean + spread * rng.standard_normal()
        out[y0:y1, x0:x1][inside] = (level + ly * dy + lx * dx)[inside]
    sigma = rng.uniform(0.0, 1.5)
    if sigma > 0.3:
        out = gaussian_filter(out, sigma, mode="reflect")
    return np.clip(out, 0.0, 1.0)


#: Where a training patch counts as air for the noise floor's Rayleigh mapping: under this fraction of its maximum.
_FLOOR_AIR = 0.02


class ScannerNoise:
    """Random magnitude-MR noise as scanners make it, for training patches.

    Each call draws one acquisition and returns ``(noisy, clean)`` for a clean patch scaled
    to about [0, 1]:

    - ``"rician"`` (probability ``weights[0]``): one coil or an adaptive combination,
      ``|x + n1 + i·n2|``, white;
    - ``"rss"`` (``weights[1]``): root-sum-of-squares of N coils (N drawn from ``coils``),
      white in k-space: non-central χ, its level following the coils' sensitivities;
    - ``"sense"`` (``weights[2]``): SENSE combination (no acceleration: a 64-pixel patch is
      too small a field of view to unfold): Rician with a level varying in space;
    - ``"correlated"`` (``weights[3]``): RSS as above whose k-space is also apodised
      (Hamming, Hann or Tukey), in 30 % of draws partially acquired (5/8 or 6/8) and in
      25 % zero-filled 2x: noise correlated between neighbouring pixels;
    - ``"correlated_rician"`` (``weights[4]``): one channel of complex Gaussian noise filtered
      by such a k-space response (noise only: the image keeps its own sharpness), its level
      varying as a coil array's in half of the draws, then the magnitude: Rician (N = 1),
      spatially correlated, the clean patch itself as the target.

    With ``floor=True`` the multi-coil root-sum-of-squares draws (``"rss"``, ``"correlated"``)
    lose the noise floor of all but one coil, with their true level and N
    (:func:`biodae.noise.remove_noise_floor`; the air: the clean patch under 2 % of its
    maximum, an approximation: at inference the air is what lies outside the object grown by
    2 voxels), as :func:`biodae.denoise_image` does before the model with estimated ones.

    The coil sensitivities are those of :func:`biodae.noise.coil_sensitivities` over a
    ``fov`` x ``fov`` field of view, cropped at a random place and turned by a random
    multiple of 90 degrees, so the noise level varies across a patch as it does across a
    small part of a head. ``sigma`` is the median of the noise level
    (:attr:`~biodae.noise.MRINoise.sigma_map`) over the patch. The clean target is the
    same reconstruction without noise (:attr:`~biodae.noise.MRINoise.clean`: the k-space
    filter's blur included), so a model learns to remove the noise and not the blur.
    """

    KINDS = ("rician", "rss", "sense", "correlated", "correlated_rician")

    def __init__(self, *, weights: tuple[float, ...] = (0.25, 0.25, 0.1, 0.4, 0.0),
                 coils: tuple[int, ...] = (4, 8, 12, 16, 24), fov: int = 256, floor: bool = False) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(self.KINDS),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {len(self.KINDS)} non-negative numbers for {self.KINDS}, got {weights!r}")
        self.weights, self.coils, self.fov = w / w.sum(), tuple(int(c) for c in coils), int(fov)
        self.floor = bool(floor)
        self._maps: dict[int, np.ndarray] = {}

    def _sensitivities(self, coils: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if coils not in self._maps:
            self._maps[coils] = noise.coil_sensitivities((self.fov, self.fov), coils=coils).astype(np.complex64)
        maps = self._maps[coils]
        h, w = shape
        y0, x0 = int(rng.integers(0, self.fov - h + 1)), int(rng.integers(0, self.fov - w + 1))
        crop = np.rot90(maps[:, y0 : y0 + h, x0 : x0 + w], int(rng.integers(4)), axes=(1, 2))
        return np.ascontiguousarray(crop, dtype=np.complex128)

    def __call__(self, clean: np.ndarray, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        kind = self.KINDS[int(rng.choice(len(self.KINDS), p=self.weights))]
        if kind == "rician":
            return self._offset(noise.rician(clean, sigma, rng=rng), clean, sigma, 1.0, rng)
        if kind == "correlated_rician":
            return self._offset(self._correlated_rician(clean, sigma, rng), clean, sigma, 1.0, rng)
        coils = self.coils[int(rng.integers(len(self.coils)))]
        sens = self._sensitivities(coils, clean.shape, rng)
        # the level is sigma / RSS(S) per pixel: scale so that its median over the patch is sigma
        level = float(np.median(1.0 / np.sqrt(np.sum(np.abs(sens) ** 2, axis=0))))
        kw: dict = {}
        if kind == "sense":
            kw = {"combine": "sense"}
        elif kind == "correlated":
            k = self._kspace(rng)
            kw = {"kspace_filter": k["kind"], "partial_fourier": k["partial"], "zero_fill": k["zero_fill"]}
        res = noise.mri_coil_noise(clean, sigma / level, rng=rng, sensitivities=sens, **kw)
        target = np.clip(res.clean, 0.0, None)
        if self.floor and res.coils_effective > 1.0:  # what biodae.denoise_image gives the model
            air = target < _FLOOR_AIR * max(float(target.max()), 1e-12)
            floorless = noise.remove_noise_floor(res.noisy, res.sigma_map, res.coils_effective, air=air)
            return self._offset(floorless.astype(np.float64), target, sigma, 1.0, rng)
        return self._offset(res.noisy, target, sigma, res.coils_effective, rng)

    def _kspace(self, rng: np.random.Generator) -> dict:
        kw = {"kind": str(rng.choice(["hamming", "hann", "tukey"])), "zero_fill": 1, "partial": None}
        if rng.random() < 0.3:
            kw["partial"] = float(rng.choice([0.625, 0.75]))
        if rng.random() < 0.25:
            kw["zero_fill"] = 2
        return kw

    def _correlated_rician(self, clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        from ..noise._mri import _kspace_response

        h = _kspace_response(clean.shape, (0, 1), int(rng.integers(2)), **self._kspace(rng))
        h = h / np.sqrt(np.mean(h**2))  # unit noise variance after filtering: sigma is the image's level
        white = rng.standard_normal((2, *clean.shape))
        # real and imaginary parts of unit variance each (the filter keeps the total variance)
        n = np.fft.ifft2(np.fft.fft2(white[0] + 1j * white[1]) * h)
        if rng.random() < 0.5:  # a coil array's level, varying across the patch, median 1
            rss = np.sqrt(np.sum(np.abs(self._sensitivities(8, clean.shape, rng)) ** 2, axis=0))
            n = n * (np.median(rss) / rss)
        return np.abs(clean + sigma * n)

    def _offset(self, noisy: np.ndarray, clean: np.ndarray, sigma: float, coils: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Both minus the low percentile that scaling at inference subtracts.

        At inference an image is scaled by its own 0.5th percentile (:func:`biodae.runtime.intensity_range`),
        which in a noisy scan lies in the lower tail of the background's noise (χ with 2N degrees of
        freedom), not at 0. The patch gets the same shift: a quantile q of that χ, q log-uniform in
        0.1-5 % (how much of the image is background), so the air's level relative to the noise is as
        the model will see it.
        """
        from scipy.stats import chi

        q = float(np.exp(rng.uniform(np.log(1e-3), np.log(5e-2))))
        lo = sigma * float(chi.ppf(q, df=2.0 * coils))
        return noisy - lo, clean - lo


class ImagePatchMixer:
    """Noisy/clean patch pairs from scaled slices, for training and validation.

    Each call draws a slice (weighted by its foreground area), a ``patch × patch``
    crop (centred on a random foreground pixel, or anywhere with probability 0.2, so
    background is learnt too; large images also zoomed out by 2 or 4), per-source
    weights ``source_weights`` (by relative path, default 1), a random flip/rotation by 90°, a contrast change
    ``x ** gamma`` with ``gamma`` log-uniform in ``gamma_range`` (none by default), intensity gain in ``gain_range``,
    then noise. With probability ``synthetic_fraction`` (0 by default, which draws nothing, so older
    recipes are unchanged) the clean patch is a synthetic :func:`dead_leaves` image instead of a real crop
    (``synthetic`` holds its keyword arguments): a generic piecewise-smooth prior for when the real images are few.
    ``scanner`` holds the keyword arguments of :class:`ScannerNoise` for ``noise="mri_scanner"``.

    Noise:

    ``"rician"``
        ``|x + n1 + i·n2|`` with σ uniform in ``sigma_range`` (fractions of the scaled
        intensity 1, i.e. of the 99.5th percentile), and exactly 0 with probability
        ``clean_fraction`` so the model learns to leave clean images alone.
    ``"mri_scanner"``
        Magnitude MR noise as scanners make it (:class:`ScannerNoise`): Rician, multi-coil
        root-sum-of-squares (non-central χ, level varying with the coils' sensitivities),
        SENSE, and k-space apodisation, partial Fourier and zero filling (noise correlated
        between neighbouring pixels); σ, the median noise level over the patch, uniform in
        ``sigma_range``. The target is the same reconstruction without noise (its blur
        included). Noise-free with probability ``clean_fraction``.
    ``"poisson_gaussian"``
        ``Poisson(peak·x)/peak + N(0, (σe/peak)²)`` with ``peak`` (photon count at
        intensity 1) log-uniform in ``peak_range`` and electronic σe (in counts) uniform
        in ``electronic_range``; noise-free with probability ``clean_fraction``.
    """

    def __init__(
        self, slices: list[ImageSlice], *, noise: str, patch: int = 64,
        sigma_range: tuple[float, float] = (0.005, 0.14),
        peak_range: tuple[float, float] = (30.0, 10000.0),
        electronic_range: tuple[float, float] = (0.0, 4.0),
        gain_range: tuple[float, float] = (0.8, 1.2),
        gamma_range: tuple[float, float] | None = None,
        clean_fraction: float = 0.08,
        background_fraction: float = 0.2,
        source_weights: dict[str, float] | None = None,
        synthetic_fraction: float = 0.0,
        synthetic: dict | None = None,
        scanner: dict | None = None,
    ) -> None:
        if noise not in ("rician", "mri_scanner", "poisson_gaussian"):
            raise ValueError(f"noise must be 'rician', 'mri_scanner' or 'poisson_gaussian', got {noise!r}")
        self._scanner = ScannerNoise(**(scanner or {})) if noise == "mri_scanner" else None
        self.slices = [s for s in slices if min(s.image.shape) >= patch]
        if not self.slices:
            raise InputError(f"no slice is at least {patch} pixels on each side")
        self.noise, self.patch = noise, int(patch)
        self.sigma_range, self.peak_range, self.electronic_range = sigma_range, peak_range, electronic_range
        self.gain_range, self.clean_fraction, self.background_fraction = gain_range, clean_fraction, background_fraction
        self.gamma_range = gamma_range
        if not 0.0 <= synthetic_fraction <= 1.0:
            raise ValueError(f"synthetic_fraction must be in [0, 1], got {synthetic_fraction!r}")
        self.synthetic_fraction, self.synthetic = float(synthetic_fraction), dict(synthetic or {})
        fg = [np.flatnonzero(s.image.reshape(-1) > 0.1) for s in self.slices]
        self._fg = fg
        # each source gets its weight (default 1), shared by its slices in proportion to
        # the square root of their foreground area
        area = np.array([max(f.size, 1) for f in fg], dtype=np.float64) ** 0.5
        src = [s.source for s in self.slices]
        w = np.empty(len(src))
        for name in set(src):
            idx = [i for i, n in enumerate(src) if n == name]
            w[idx] = (source_weights or {}).get(name, 1.0) * area[idx] / area[idx].sum()
        self._p = w / w.sum()

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.synthetic_fraction and rng.random() < self.synthetic_fraction:
            clean = dead_leaves(rng, self.patch, **self.synthetic)
        else:
            clean = self._crop(rng)
        clean = np.clip(clean.astype(np.float64), 0.0, None)
        if self.gamma_range is not None:  # other contrasts: draws nothing when off, so older recipes are unchanged
            clean = clean ** np.exp(rng.uniform(np.log(self.gamma_range[0]), np.log(self.gamma_range[1])))
        clean = clean * rng.uniform(*self.gain_range)
        if rng.random() < self.clean_fraction:
            noisy = clean.copy()
        elif self.noise == "rician":
            noisy = noise.rician(clean, rng.uniform(*self.sigma_range), rng=rng)
        elif self._scanner is not None:
            noisy, clean = self._scanner(clean, rng.uniform(*self.sigma_range), rng)
        else:
            peak = float(np.exp(rng.uniform(np.log(self.peak_range[0]), np.log(self.peak_range[1]))))
            se = rng.uniform(*self.electronic_range)
            noisy = noise.poisson_gaussian(clean, peak=peak, sigma_electronic=se, rng=rng, max_intensity=1.0)
        return noisy.astype(np.float32), np.ascontiguousarray(clean, dtype=np.float32)

    def _crop(self, rng: np.random.Generator) -> np.ndarray:
        """A real patch: slice, position, zoom, rotation and flip."""
        k = int(rng.choice(len(self.slices), p=self._p))
        img = self.slices[k].image
        h, w = img.shape
        # large images (radiographs, 1024² MR) are also seen zoomed out by 2 or 4 (area average)
        zooms = [f for f in (1, 2, 4) if f * self.patch <= min(h, w) and (f == 1 or min(h, w) >= 400)]
        f = zooms[int(rng.integers(len(zooms)))]
        p = self.patch * f
        if rng.random() < self.background_fraction or self._fg[k].size == 0:
            y0, x0 = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        else:
            cy, cx = divmod(int(self._fg[k][rng.integers(self._fg[k].size)]), w)
            y0 = int(np.clip(cy - p // 2, 0, h - p))
            x0 = int(np.clip(cx - p // 2, 0, w - p))
        clean = img[y0 : y0 + p, x0 : x0 + p]
        if f > 1:
            clean = clean.reshape(self.patch, f, self.patch, f).mean(axis=(1, 3))
        clean = np.rot90(clean, int(rng.integers(4)))
        if rng.random() < 0.5:
            clean = clean[:, ::-1]
        return clean
