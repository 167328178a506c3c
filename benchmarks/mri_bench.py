"""MRI benchmark: white Rician, 8-coil and k-space-correlated 8-coil noise on held-out real head slices.

Clean references: the MRI *test* split of :func:`biodae.datasets.load_image_slices`
(scikit-image ``brain.tiff``, 10 real head slices, and DIPY ``t1_coronal_slice``),
never seen in training. Each slice is scaled to [0, 1] by the 0.5/99.5th percentiles
of its volume; σ = p % (3, 5, 7, 9) of the maximum inside the foreground mask
(:func:`biodae._arrays.foreground_mask` of the clean slice). Three noise settings:

- ``rician``: white Rician noise (one coil);
- ``rss8``: 8 coils with smooth sensitivities (:func:`biodae.noise.coil_sensitivities`),
  white coil noise, root-sum-of-squares: non-central χ, the level varying across the slice
  (σ is its median inside the mask);
- ``rss8-hamming``: the same, k-space apodised with a Hamming window: noise correlated
  between neighbouring pixels (0.625 at lag 1). The clean reference is the same
  reconstruction without noise (:attr:`biodae.noise.MRINoise.clean`, its blur kept).

PSNR and SSIM use ``data_range`` = the foreground maximum, inside the mask ("masked") and
over the whole slice.

Methods: the noisy input; median, Butterworth and wavelet filters tuned per setting and
level on *validation* slices (MNI152 axial slices and DIPY ``aniso_vox``, not the test
slices) for masked PSNR; DIPY non-local means with its Rician correction and the TRUE σ
(an oracle advantage the blind DAE does not have); BM3D given the true σ and, for the
correlated setting, the true noise power spectrum, where the ``bm3d`` package is
installed (non-commercial licence: a reference only, never a dependency); the DnCNN
reference (``--reference``) and biodae's ``mri`` model, both blind, the latter as ``biodae
denoise`` runs it (:func:`biodae.denoise_image`: the noise floor of N > 1 coils, measured
on the noisy slice, removed before the model).

The real scans of ``BIODAE_DATA/mri`` (no clean reference) are denoised as ``biodae
denoise`` does (:func:`biodae.denoise_image`): before, after and removed images side by
side, the noise estimate before and after, and the correlation of the removed component's
magnitude with the output's edges (gradient magnitude) inside the foreground.

    BIODAE_DATA=../shared/data python benchmarks/mri_bench.py --bm3d-levels 5

writes ``docs/benchmarks/mri.md``, ``mri.png``, ``mri_correlated.png``, ``mri_real_noise.png`` and
``mri_real_scans.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Progress, markdown_table, save_figure, timed, write_text  # noqa: E402

LEVELS = (3.0, 5.0, 7.0, 9.0)
SETTINGS = ("rician", "rss8", "rss8-hamming")
SETTING_TEXT = {
    "rician": "white Rician noise",
    "rss8": "8 coils, root-sum-of-squares, white (non-central χ, level varying)",
    "rss8-hamming": "8 coils, root-sum-of-squares, Hamming-apodised k-space (correlated)",
}


def _val_slices(data_dir):
    from biodae.datasets import load_image_slices

    val = load_image_slices("mri", "val", data_dir=data_dir)
    mni = [s for s in load_image_slices("mri", "train", data_dir=data_dir, step=1)
           if "mni152" in s.source and s.axis == 2 and s.index in (60, 80, 100)]
    aniso = [s for s in val if s.index in (8, 12, 16)]
    return [s.image for s in mni + aniso]


class Noisy(NamedTuple):
    noisy: np.ndarray
    target: np.ndarray  # what a denoiser should return (the clean slice, or its k-space-filtered reconstruction)
    sigma: float  # the noise level (median over the mask for the coil settings)
    psd: np.ndarray | None  # the noise power spectrum for BM3D (None: white)


def _noisy(clean: np.ndarray, mask: np.ndarray, percent: float, seed: int, setting: str = "rician") -> Noisy:
    from biodae.noise import coil_sensitivities, mri_coil_noise, rician, rician_sigma_from_percent

    sigma = rician_sigma_from_percent(clean, percent, mask=mask)
    if setting == "rician":
        return Noisy(rician(clean, sigma, rng=seed).astype(np.float32), clean, sigma, None)
    sens = coil_sensitivities(clean.shape, coils=8)  # mri_coil_noise's default maps, made once here
    # the combined level is sigma / RSS(S) per pixel: scale so that its median in the mask is sigma
    level = float(np.median(1.0 / np.sqrt(np.sum(np.abs(sens) ** 2, axis=0))[mask]))
    res = mri_coil_noise(clean, sigma / level, rng=seed, sensitivities=sens,
                         kspace_filter="hamming" if setting == "rss8-hamming" else None)
    psd = None
    if setting == "rss8-hamming":  # bm3d's convention: |FFT|^2 of a unit-energy kernel x variance x pixels
        psd = res.noise_power_spectrum * sigma**2 * clean.size
    return Noisy(res.noisy.astype(np.float32), res.clean.astype(np.float32), sigma, psd)


def _nlmeans(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from dipy.denoise.nlmeans import nlmeans

    vol = noisy.astype(np.float64)[:, :, None]
    return np.asarray(nlmeans(vol, sigma=sigma, patch_radius=1, block_radius=5, rician=True), dtype=np.float32)[:, :, 0]


def _bm3d(noisy: np.ndarray, sigma: float, psd: np.ndarray | None = None) -> np.ndarray:
    import bm3d

    if not hasattr(np, "trapz"):  # bm4d 4.2.5 (bm3d's coloured-noise path) calls np.trapz, gone in numpy 2.4
        np.trapz = np.trapezoid

    return np.asarray(bm3d.bm3d(noisy.astype(np.float64), sigma_psd=sigma if psd is None else psd),
                      dtype=np.float32)


def _biodae(model, noisy: np.ndarray) -> np.ndarray:
    """A slice denoised as ``biodae denoise`` does it (:func:`biodae.denoise_image`: the noise
    floor of N > 1 coils removed first where the air shows one, then the model)."""
    from biodae import denoise_image
    from biodae.io import Image

    out, _ = denoise_image(Image(noisy, (1.0, 1.0), "png", "mri"), model)
    return out.data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/mri.onnx", help="the biodae MRI model")
    p.add_argument("--reference", default=None, help="DnCNN reference ONNX (biodae train dncnn-mri --export ...)")
    p.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="σ in %% of the foreground max")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS, help="noise settings")
    p.add_argument("--no-bm3d", action="store_true", help="skip BM3D even where it is installed")
    p.add_argument("--bm3d-levels", type=float, nargs="+", default=None,
                   help="run BM3D (about 12 s per slice here) only at these levels (default: every level)")
    p.add_argument("--out", default="docs", help="docs folder; files go to <out>/benchmarks/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    log = Progress("mri_bench", sys.stdout)

    from biodae import filters
    from biodae.datasets import load_image_slices
    from biodae.metrics import psnr, ssim
    from biodae._arrays import foreground_mask
    from biodae.runtime import load_model

    test = load_image_slices("mri", "test", data_dir=args.data_dir)
    clean = [s.image.astype(np.float32) for s in test]
    names = [f"{Path(s.source).name}[{s.index}]" for s in test]
    masks = [foreground_mask(c) for c in clean]
    val = _val_slices(args.data_dir)
    val_masks = [foreground_mask(c) for c in val]

    def score(c, e):  # masked PSNR of a validation pair (tune passes copies: the mask is found again)
        m = foreground_mask(c)
        return psnr(c, e, data_range=float(c[m].max()), mask=m)
    log(f"{len(clean)} test slices ({', '.join(sorted({Path(s.source).name for s in test}))}), "
        f"{len(val)} validation slices for tuning the filters")

    model = load_model(args.model, threads=args.threads)
    ref = load_model(args.reference, threads=args.threads) if args.reference else None
    have_bm3d = False
    if not args.no_bm3d:
        try:
            import bm3d  # noqa: F401

            have_bm3d = True
        except ImportError:
            log("bm3d is not installed: no BM3D rows (pip install bm3d; non-commercial licence, reference only)")

    settings = args.settings
    results: dict[tuple[str, float], dict[str, list[tuple[float, float, float, float]]]] = {}
    timings: dict[str, float] = {}
    runs: dict[str, int] = {}
    tuned: dict[tuple[str, float], dict[str, dict]] = {}
    examples: dict[str, dict[str, np.ndarray]] = {}
    for setting in settings:
        for level in args.levels:
            key = (setting, level)
            # tune the filters on the validation slices in this setting, for masked PSNR
            vpairs = [_noisy(c, m, level, 1000 + i, setting) for i, (c, m) in enumerate(zip(val, val_masks))]
            tuned[key] = {}
            for method in ("median", "butterworth", "wavelet"):
                res = filters.tune(method, [v.noisy for v in vpairs], [v.target for v in vpairs], metric=score,
                                   greater_is_better=True, modality="mri")
                tuned[key][method] = res.params
            log(f"{setting} {level:g} %: tuned " + "; ".join(f"{k} {v}" for k, v in tuned[key].items()))
            per: dict[str, list[tuple[float, float, float, float]]] = {}
            for i, (c, m) in enumerate(zip(clean, masks)):
                case = _noisy(c, m, level, args.seed * 1000 + i, setting)
                noisy, target = case.noisy, case.target
                outs: dict[str, np.ndarray] = {"noisy": noisy}

                def run(name, fn, *a, outs=outs, **kw):
                    runs[name] = runs.get(name, 0) + 1
                    outs[name] = np.asarray(timed(timings, name, fn, *a, **kw), dtype=np.float32)

                for method in ("median", "butterworth", "wavelet"):
                    run(f"{method} (tuned)", filters.apply, method, noisy, **tuned[key][method])
                run("DIPY NLM (Rician, true σ)", _nlmeans, noisy, case.sigma)
                if have_bm3d and (args.bm3d_levels is None or level in args.bm3d_levels):
                    run("BM3D (true σ" + (", true noise spectrum" if case.psd is not None else "") + ", reference)",
                        _bm3d, noisy, case.sigma, case.psd)
                if ref is not None:
                    run("DnCNN (ours, reference)", ref.denoise_image, noisy)
                run("biodae mri", _biodae, model, noisy)
                dr = float(target[m].max())
                for k, y in outs.items():
                    per.setdefault(k, []).append((
                        psnr(target, y, data_range=dr, mask=m), ssim(target, y, data_range=dr, mask=m),
                        psnr(target, y, data_range=dr), ssim(target, y, data_range=dr),
                    ))
                if level == 5.0 and i == 0:
                    examples[setting] = {"clean": target, **outs}
            results[key] = per
            log(f"{setting} {level:g} %: masked PSNR "
                + ", ".join(f"{k} {np.mean([r[0] for r in v]):.2f}" for k, v in per.items()))

    log("real scans")
    scans = _real_scans(model, args.data_dir, log)

    # ---------------------------------------------------------------- report
    out = Path(args.out) / "benchmarks"
    lines = [
        "# MRI: white, multi-coil and correlated noise on held-out real head slices; real scans",
        "",
        f"`BIODAE_DATA=../shared/data python benchmarks/mri_bench.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
        f" ({time.strftime('%Y-%m-%d')}), model `{Path(args.model).name}` {model.version}. "
        f"Test slices (never trained on): {len(clean)} = scikit-image `brain.tiff` (10 real head slices; described by "
        "its source as MRI, its contrast with bright bone looks CT-like) + DIPY `t1_coronal_slice`, each scaled to "
        "[0, 1] by the 0.5/99.5th percentiles of its volume. σ = p % of the foreground maximum (for the coil settings "
        "the median of the varying level inside the mask). Settings: "
        + "; ".join(f"`{k}` = {SETTING_TEXT[k]}" for k in settings) + ". "
        "The clean reference of `rss8-hamming` is the same reconstruction without noise (the window's blur kept). "
        "PSNR/SSIM with `data_range` = the foreground maximum, *masked* = inside the foreground "
        "mask (Otsu, holes filled, dilated), *whole* = every pixel. Mean over slices. Filters tuned per setting and "
        "level on validation slices (MNI152 axial 60/80/100, DIPY aniso_vox) with the same noise, not on the test "
        "slices. DIPY non-local means and BM3D get the true σ (an oracle; NLM's Rician model is wrong for the "
        "8-coil χ noise) and BM3D also the true noise power spectrum of the correlated setting; "
        + ("the DnCNN reference (`biodae train dncnn-mri`: DnCNN 10 x 32, plain MSE loss, 5 epochs of 4000 patches, "
           "Rician noise only) and " if ref is not None else "")
        + "biodae's model " + ("are" if ref is not None else "is") + " blind (no σ goes in). *biodae mri* is the "
        "slice denoised as `biodae denoise` does it (`biodae.denoise_image`): where the air fits the noise of N > 1 "
        "coils, the noise floor of N - 1 of them is removed first (`biodae.noise.remove_noise_floor`, with N and the "
        "level estimated from the noisy slice itself, `biodae.noise.level_in_object`), so the Rician-trained model "
        "sees the floor it knows; white Rician slices fit N = 1 and go to the model as they are. The data are few: "
        "11 slices of 2 "
        "subjects; treat differences under ~0.3 dB as noise.",
        "",
    ]
    check = []
    for (setting, level), per in results.items():
        lines += [f"## {setting}, σ = {level:g} %", ""]
        rows = [[k, *(float(np.mean([r[j] for r in v])) for j in range(4))] for k, v in per.items()]
        lines.append(markdown_table(["method", "masked PSNR dB", "masked SSIM", "whole PSNR dB", "whole SSIM"], rows))
        lines.append("")
        lines.append("Tuned: " + "; ".join(f"{k} `{v}`" for k, v in tuned[(setting, level)].items()))
        lines.append("")
        mean = {k: float(np.mean([r[0] for r in v])) for k, v in per.items()}
        best_filter = max(("median (tuned)", "butterworth (tuned)", "wavelet (tuned)"), key=mean.get)
        bm3d_row = next((k for k in mean if k.startswith("BM3D")), None)
        dae = mean["biodae mri"]
        check.append((setting, level, dae - mean[best_filter], best_filter, dae - mean["DIPY NLM (Rician, true σ)"],
                      None if bm3d_row is None else dae - mean[bm3d_row]))
    lines += ["## Targets", ""]

    def verdict(ok):
        return "MET" if ok else "NOT MET"

    lines.append("- Issue #20: DAE at least 1.5 dB above the best tuned filter in masked PSNR in every setting and "
                 f"level: {verdict(all(c[2] >= 1.5 for c in check))} ("
                 + ", ".join(f"{st} {lv:g} %: {d:+.2f} dB vs {bf}" for st, lv, d, bf, _, _ in check) + ")")
    with_bm3d = [c for c in check if c[5] is not None]
    lines.append("- Issue #20: DAE above BM3D (true σ and noise spectrum) in masked PSNR: "
                 + (verdict(all(c[5] > 0 for c in with_bm3d)) + " (" + ", ".join(
                     f"{st} {lv:g} %: {d:+.2f} dB" for st, lv, _, _, _, d in with_bm3d) + ")" if with_bm3d
                    else "not measured (bm3d not installed or --no-bm3d)"))
    rician = [c for c in check if c[0] == "rician"]
    if rician:
        lines.append("- Earlier target, white Rician: DAE at least 2 dB above the best tuned filter at every level: "
                     + verdict(all(c[2] >= 2.0 for c in rician)) + " ("
                     + ", ".join(f"{lv:g} %: {d:+.2f} dB" for _, lv, d, _, _, _ in rician) + ")")
    lines.append("- DAE above DIPY non-local means (true σ) in masked PSNR in every setting and level: "
                 + verdict(all(c[4] > 0 for c in check)) + " ("
                 + ", ".join(f"{st} {lv:g} %: {d:+.2f} dB" for st, lv, _, _, d, _ in check) + ")")
    lines += ["", "## Time per 2D slice (mean, this machine, 2 cores)", ""]
    lines.append(markdown_table(["method", "s per slice"], [[k, v / runs[k]] for k, v in timings.items()]))
    lines += ["", "Examples at 5 % (white Rician; correlated 8-coil):", "", "![slices](mri.png)", "",
              "![correlated](mri_correlated.png)", ""]
    lines += _real_scans_section(scans)
    lines += ["Real multi-coil noise, DIPY `test_piesno`, denoised as a volume by `biodae denoise` and by DIPY "
              "non-local means with σ estimated from the background (`biodae.noise.estimate_sigma_rician`):", "",
              "![real noise](mri_real_noise.png)", ""]
    text = "\n".join(lines) + "\n"
    write_text(out / "mri.md", text)
    print(text)
    if "rician" in examples:
        _figure(examples["rician"], out / "mri.png", names[0], SETTING_TEXT["rician"])
    if "rss8-hamming" in examples:
        _figure(examples["rss8-hamming"], out / "mri_correlated.png", names[0], SETTING_TEXT["rss8-hamming"])
    _real_scans_figure(scans, out / "mri_real_scans.png")
    _real_noise_figure(model, args.data_dir, out / "mri_real_noise.png")
    log(f"wrote {out / 'mri.md'}")
    return 0


def _figure(ex: dict[str, np.ndarray], path: Path, name: str, setting: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in ex if k != "clean"]
    clean = ex["clean"]
    vmax = float(np.percentile(clean, 99.5))
    fig, ax = plt.subplots(2, len(keys) + 1, figsize=(2.2 * (len(keys) + 1), 4.8))
    ax[0, 0].imshow(clean, cmap="gray", vmin=0, vmax=vmax)
    ax[0, 0].set_title("clean", fontsize=8)
    ax[1, 0].axis("off")
    for j, k in enumerate(keys, start=1):
        ax[0, j].imshow(ex[k], cmap="gray", vmin=0, vmax=vmax)
        ax[0, j].set_title(k, fontsize=7)
        ax[1, j].imshow(np.abs(ex[k] - clean), cmap="magma", vmin=0, vmax=0.15 * vmax)
        ax[1, j].set_title("|error|", fontsize=7)
    for a in ax.ravel():
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"{name}, {setting}, 5 %: output (top) and absolute error against the clean slice (bottom, 0-15 %)",
                 fontsize=9)
    save_figure(fig, path)


#: the real MR scans of BIODAE_DATA/mri (relative path, its role in training)
REAL_SCANS = (
    ("nibabel/example4d.nii.gz", "never used (first volume of an fMRI series)"),
    ("nibabel/anatomical.nii", "never used"),
    ("nibabel/0.dcm", "never used"),
    ("dicom/MR_small.dcm", "never used"),
    ("dicom/emri_small.dcm", "never used"),
    ("dipy/test_piesno.nii.gz", "never used (8-coil)"),
    ("dipy/small_64D.nii", "never used (first volume of a diffusion series)"),
    ("skimage/brain.tiff", "test"),
    ("dipy/aniso_vox.nii.gz", "validation"),
    ("dicom/MR2_UNCR.dcm", "training"),
    ("dicom/MR-SIEMENS-DICOM-WithOverlays.dcm", "training"),
    ("dipy/S0_10slices.nii.gz", "training"),
)


def _real_scans(model, data_dir, log) -> list[dict]:
    """Every real scan denoised as ``biodae denoise`` does; what was removed, and how much it follows edges."""
    from scipy import ndimage

    from biodae import denoise_image, io
    from biodae._arrays import foreground_mask
    from biodae.datasets._paths import data_root

    root = data_root(data_dir, "mri", "the mri/ folder")
    scans = []
    for rel, role in REAL_SCANS:
        path = root / rel
        if not path.exists():
            log(f"{rel}: not there, skipped")
            continue
        image = io.read(path)
        if image.data.ndim == 4:  # a series: its first volume
            image = image.replace(data=np.ascontiguousarray(image.data[..., 0]))
        out, rep = denoise_image(image, model, progress=False)
        x, y, r = np.asarray(image.data, np.float32), np.asarray(out.data, np.float32), np.asarray(rep["noise"])
        axis = rep["axis"]
        k = None if axis is None else x.shape[axis] // 2
        xs, ys, rs = ((v if axis is None else np.take(v, k, axis=axis)) for v in (x, y, r))
        fg = foreground_mask(ys)
        edges = np.hypot(ndimage.sobel(ys, 0), ndimage.sobel(ys, 1))
        corr = float(np.corrcoef(np.abs(rs[fg]), edges[fg])[0, 1]) if fg.sum() > 10 else float("nan")
        hi = float(np.percentile(x, 99.5))
        scans.append({
            "name": rel, "role": role, "shape": "x".join(map(str, x.shape)), "slice": xs, "out": ys, "removed": rs,
            "sigma_before": rep["sigma_before"], "sigma_after": rep["sigma_after"],
            "removed_rms": float(np.sqrt(np.mean(r.astype(np.float64) ** 2))) / hi * 100.0,
            "removed_max": float(np.abs(r).max()) / hi * 100.0, "edge_corr": corr,
            "where": "" if axis is None else f"slice {k} of axis {axis}",
        })
        log(f"{rel}: sigma {rep['sigma_before']:.4g} -> {rep['sigma_after']:.4g}, removed rms "
            f"{scans[-1]['removed_rms']:.2f} % of p99.5, edge correlation {corr:.3f}")
    return scans


def _fmt_sigma(v) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _real_scans_section(scans: list[dict]) -> list[str]:
    rows = [[f"`{s['name']}`", s["role"], s["shape"], _fmt_sigma(s["sigma_before"]), _fmt_sigma(s["sigma_after"]),
             s["removed_rms"], s["removed_max"], s["edge_corr"]] for s in scans]
    return [
        "## Real scans (no clean reference)", "",
        "Each scan denoised as `biodae denoise` does it (`biodae.denoise_image`, the default slicing axis; a series: "
        "its first volume). σ before and after: the estimate `biodae info` and `biodae denoise` print "
        "(`biodae.estimate_noise`, in the file's units). Removed: input minus output over the whole volume, RMS and "
        "maximum in % of the input's 99.5th percentile. Edge correlation: Pearson correlation, inside the output's "
        "foreground on the slice shown, between |removed| and the output's gradient magnitude (Sobel): near 0 when "
        "what was removed does not follow the anatomy's edges.", "",
        markdown_table(["scan", "role", "shape", "σ before", "σ after", "removed RMS %", "removed max %",
                        "edge correlation"], rows),
        "", "![real scans: input, output, removed](mri_real_scans.png)", "",
    ]


def _real_scans_figure(scans: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(len(scans), 3, figsize=(7.5, 2.4 * len(scans)))
    ax = np.atleast_2d(ax)
    for i, sc in enumerate(scans):
        vmax = float(np.percentile(sc["slice"], 99.5)) or 1.0
        lim = max(float(np.percentile(np.abs(sc["removed"]), 99.5)), 1e-6)
        for j, (title, v, kw) in enumerate((
                ("input", sc["slice"], {"cmap": "gray", "vmin": 0, "vmax": vmax}),
                ("output", sc["out"], {"cmap": "gray", "vmin": 0, "vmax": vmax}),
                (f"removed (±{lim:.3g})", sc["removed"], {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}))):
            ax[i, j].imshow(np.asarray(v).T if v.ndim == 2 and "nii" in sc["name"] else v, origin="lower"
                            if "nii" in sc["name"] else "upper", **kw)
            ax[i, j].set_title(f"{sc['name'].split('/')[-1]}: {title}" if j == 0 else title, fontsize=7)
            ax[i, j].set_xticks([])
            ax[i, j].set_yticks([])
    fig.suptitle("Real MR scans: input, biodae mri output, removed component (input - output)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the first row
    save_figure(fig, path)


def _real_noise_figure(model, data_dir, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from dipy.denoise.nlmeans import nlmeans

    from biodae import denoise_image, io
    from biodae.datasets._paths import data_root
    from biodae.noise import estimate_sigma_rician

    im = io.read(data_root(data_dir, "mri", "the mri/ folder") / "dipy" / "test_piesno.nii.gz")
    vol = np.asarray(im.data, dtype=np.float32)
    out, rep = denoise_image(im, model)  # as biodae denoise: the 8 coils' noise floor removed first
    ours, axis = np.asarray(out.data, dtype=np.float32), rep["axis"]
    sigma = estimate_sigma_rician(vol)
    nlm = np.asarray(nlmeans(vol.astype(np.float64), sigma=sigma, rician=True), dtype=np.float32)
    k = vol.shape[axis] // 2
    take = lambda v: np.take(v, k, axis=axis)  # noqa: E731
    vmax = float(np.percentile(vol, 99.5))
    fig, ax = plt.subplots(2, 3, figsize=(9, 6.2))
    for j, (name, v) in enumerate((("input (real noise)", vol), ("biodae mri", ours),
                                   (f"DIPY NLM (Rician, σ est. {sigma:.3g})", nlm))):
        ax[0, j].imshow(take(v).T, cmap="gray", vmin=0, vmax=vmax, origin="lower")
        ax[0, j].set_title(name, fontsize=8)
        if j:
            ax[1, j].imshow(np.abs(take(v - vol)).T, cmap="magma", vmin=0, vmax=0.3 * vmax, origin="lower")
            ax[1, j].set_title("|removed|", fontsize=8)
    ax[1, 0].axis("off")
    for a in ax.ravel():
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"DIPY test_piesno, slice {k} of axis {axis}: real multi-coil noise, no clean reference", fontsize=9)
    save_figure(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
