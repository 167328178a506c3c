"""MRI benchmark: Rician noise at 3, 5, 7, 9 % on held-out real head slices.

Clean references: the MRI *test* split of :func:`biodae.datasets.load_image_slices`
(scikit-image ``brain.tiff``, 10 real head slices, and DIPY ``t1_coronal_slice``),
never seen in training. Each slice is scaled to [0, 1] by the 0.5/99.5th percentiles
of its volume; Rician σ = p % of the maximum inside the foreground mask
(:func:`biodae._arrays.foreground_mask` of the clean slice). PSNR and SSIM use
``data_range`` = that foreground maximum, inside the mask ("masked") and over the whole
slice.

Methods: the noisy input; median, Butterworth and wavelet filters tuned per noise level
on *validation* slices (MNI152 axial slices and DIPY ``aniso_vox``, not the test
slices) for masked PSNR; DIPY non-local means with its Rician correction and the TRUE σ
(an oracle advantage the blind DAE does not have); BM3D with the true σ where the
``bm3d`` package is installed (non-commercial licence: a reference only, never a
dependency); the DnCNN reference (``--reference``) and biodae's ``mri`` model, both
blind.

    BIODAE_DATA=../shared/data python benchmarks/mri_bench.py

writes ``docs/benchmarks/mri.md`` and ``docs/benchmarks/mri.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Progress, markdown_table, save_figure, timed, write_text  # noqa: E402

LEVELS = (3.0, 5.0, 7.0, 9.0)


def _val_slices(data_dir):
    from biodae.datasets import load_image_slices

    val = load_image_slices("mri", "val", data_dir=data_dir)
    mni = [s for s in load_image_slices("mri", "train", data_dir=data_dir, step=1)
           if "mni152" in s.source and s.axis == 2 and s.index in (60, 80, 100)]
    aniso = [s for s in val if s.index in (8, 12, 16)]
    return [s.image for s in mni + aniso]


def _noisy(clean: np.ndarray, mask: np.ndarray, percent: float, seed: int) -> tuple[np.ndarray, float]:
    from biodae.noise import rician, rician_sigma_from_percent

    sigma = rician_sigma_from_percent(clean, percent, mask=mask)
    return rician(clean, sigma, rng=seed).astype(np.float32), sigma


def _nlmeans(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from dipy.denoise.nlmeans import nlmeans

    vol = noisy.astype(np.float64)[:, :, None]
    return np.asarray(nlmeans(vol, sigma=sigma, patch_radius=1, block_radius=5, rician=True), dtype=np.float32)[:, :, 0]


def _bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return np.asarray(bm3d.bm3d(noisy.astype(np.float64), sigma_psd=sigma), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/mri.onnx", help="the biodae MRI model")
    p.add_argument("--reference", default=None, help="DnCNN reference ONNX (biodae train dncnn-mri --export ...)")
    p.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="Rician σ in %% of the foreground max")
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

    methods: dict[str, object] = {}
    model = load_model(args.model, threads=args.threads)
    ref = load_model(args.reference, threads=args.threads) if args.reference else None
    have_bm3d = False
    if not args.no_bm3d:
        try:
            import bm3d  # noqa: F401

            have_bm3d = True
        except ImportError:
            log("bm3d is not installed: no BM3D rows (pip install bm3d; non-commercial licence, reference only)")

    rows_by_level: dict[float, dict[str, list[tuple[float, float, float, float]]]] = {}
    timings: dict[str, float] = {}
    tuned: dict[float, dict[str, dict]] = {}
    example: dict[str, np.ndarray] = {}
    for level in args.levels:
        # tune the filters on the validation slices at this level, for masked PSNR
        vnoisy = [_noisy(c, m, level, 1000 + i)[0] for i, (c, m) in enumerate(zip(val, val_masks))]
        tuned[level] = {}
        for method in ("median", "butterworth", "wavelet"):
            res = filters.tune(method, vnoisy, val, metric=score, greater_is_better=True, modality="mri")
            tuned[level][method] = res.params
        log(f"{level:g} %: tuned " + "; ".join(f"{k} {v}" for k, v in tuned[level].items()))
        per: dict[str, list[tuple[float, float, float, float]]] = {}
        for i, (c, m) in enumerate(zip(clean, masks)):
            noisy, sigma = _noisy(c, m, level, args.seed * 1000 + i)
            outs: dict[str, np.ndarray] = {"noisy": noisy}
            for method in ("median", "butterworth", "wavelet"):
                outs[f"{method} (tuned)"] = timed(timings, f"{method} (tuned)", filters.apply, method, noisy,
                                                  **tuned[level][method]).astype(np.float32)
            outs["DIPY NLM (Rician, true σ)"] = timed(timings, "DIPY NLM (Rician, true σ)", _nlmeans, noisy, sigma)
            if have_bm3d and (args.bm3d_levels is None or level in args.bm3d_levels):
                outs["BM3D (true σ, reference)"] = timed(timings, "BM3D (true σ, reference)", _bm3d, noisy, sigma)
            if ref is not None:
                outs["DnCNN (ours, reference)"] = timed(timings, "DnCNN (ours, reference)", ref.denoise_image, noisy)
            outs["biodae mri"] = timed(timings, "biodae mri", model.denoise_image, noisy)
            dr = float(c[m].max())
            for k, y in outs.items():
                per.setdefault(k, []).append((
                    psnr(c, y, data_range=dr, mask=m), ssim(c, y, data_range=dr, mask=m),
                    psnr(c, y, data_range=dr), ssim(c, y, data_range=dr),
                ))
            if level == 5.0 and i == 0:
                example = {"clean": c, **outs}
        rows_by_level[level] = per
        log(f"{level:g} %: masked PSNR " + ", ".join(f"{k} {np.mean([r[0] for r in v]):.2f}" for k, v in per.items()))

    # ---------------------------------------------------------------- report
    out = Path(args.out) / "benchmarks"
    lines = [
        "# MRI: Rician noise on held-out real head slices",
        "",
        f"`BIODAE_DATA=../shared/data python benchmarks/mri_bench.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
        f" ({time.strftime('%Y-%m-%d')}). "
        f"Test slices (never trained on): {len(clean)} = scikit-image `brain.tiff` (10 real head slices; described by "
        "its source as MRI, its contrast with bright bone looks CT-like) + DIPY `t1_coronal_slice`, each scaled to [0, 1] by the 0.5/99.5th percentiles of its volume. Rician σ = p % of "
        "the foreground maximum; PSNR/SSIM with `data_range` = that maximum, *masked* = inside the foreground "
        "mask (Otsu, holes filled, dilated), *whole* = every pixel. Mean over slices. Filters tuned per level on "
        "validation slices (MNI152 axial 60/80/100, DIPY aniso_vox), not on the test slices. DIPY non-local means and "
        "BM3D get the true σ (an oracle); the DnCNN reference (`biodae train dncnn-mri`: DnCNN 10 x 32, plain MSE "
        "loss, 5 epochs of 4000 patches, a smaller budget than `mri`) and biodae's model are blind. The data are few: "
        "11 slices of 2 subjects; treat differences under ~0.3 dB as noise.",
        "",
    ]
    check = []
    for level, per in rows_by_level.items():
        lines += [f"## σ = {level:g} %", ""]
        rows = [[k, *(float(np.mean([r[j] for r in v])) for j in range(4))] for k, v in per.items()]
        lines.append(markdown_table(["method", "masked PSNR dB", "masked SSIM", "whole PSNR dB", "whole SSIM"], rows))
        lines.append("")
        lines.append("Tuned: " + "; ".join(f"{k} `{v}`" for k, v in tuned[level].items()))
        lines.append("")
        mean = {k: float(np.mean([r[0] for r in v])) for k, v in per.items()}
        best_filter = max(("median (tuned)", "butterworth (tuned)", "wavelet (tuned)"), key=mean.get)
        nlm = mean["DIPY NLM (Rician, true σ)"]
        dae = mean["biodae mri"]
        check.append((level, dae - mean[best_filter], dae - nlm, best_filter))
    lines += ["## Targets", ""]
    ok_filter = all(c[1] >= 2.0 for c in check)
    ok_nlm = all(c[2] > 0 for c in check)
    lines.append("- DAE at least 2 dB above the best tuned filter in masked PSNR at every level: "
                 + ("MET" if ok_filter else "NOT MET") + " ("
                 + ", ".join(f"{lv:g} %: {d:+.2f} dB vs {bf}" for lv, d, _, bf in check) + ")")
    lines.append("- DAE above DIPY non-local means (true σ) in masked PSNR at every level: "
                 + ("MET" if ok_nlm else "NOT MET") + " (" + ", ".join(f"{lv:g} %: {d:+.2f} dB" for lv, _, d, _ in check)
                 + ")")
    n_runs = len(clean) * len(args.levels)
    lines += ["", "## Time per 2D slice (mean, this machine, 2 cores)", ""]
    bm3d_runs = len(clean) * (len(args.levels) if args.bm3d_levels is None else
                              len([lv for lv in args.levels if lv in args.bm3d_levels]))
    lines.append(markdown_table(["method", "s per slice"], [
        [k, v / (bm3d_runs if k.startswith("BM3D") else n_runs)] for k, v in timings.items()]))
    lines += ["", "![slices](mri.png)", "",
              "Real noise (no clean reference, a visual check): DIPY `test_piesno`, multi-coil diffusion data, "
              "denoised as a volume by `biodae denoise` and by DIPY non-local means with σ estimated from the "
              "background (`biodae.noise.estimate_sigma_rician`):", "", "![real noise](mri_real_noise.png)", ""]
    text = "\n".join(lines) + "\n"
    write_text(out / "mri.md", text)
    print(text)
    if example:
        _figure(example, out / "mri.png", names[0])
    _real_noise_figure(model, args.data_dir, out / "mri_real_noise.png")
    log(f"wrote {out / 'mri.md'}")
    return 0


def _figure(ex: dict[str, np.ndarray], path: Path, name: str) -> None:
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
    fig.suptitle(f"{name}, Rician 5 %: output (top) and absolute error against the clean slice (bottom, 0-15 %)",
                 fontsize=9)
    save_figure(fig, path)


def _real_noise_figure(model, data_dir, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from dipy.denoise.nlmeans import nlmeans

    from biodae import io
    from biodae.datasets._paths import data_root
    from biodae.noise import estimate_sigma_rician
    from biodae._arrays import slice_axis

    im = io.read(data_root(data_dir, "mri", "the mri/ folder") / "dipy" / "test_piesno.nii.gz")
    vol = np.asarray(im.data, dtype=np.float32)
    axis = slice_axis(im.spacing, vol.shape)
    ours = model.denoise_image(vol, axis=axis)
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
