"""Self-supervised denoising of one scan (``biodae denoise --self-supervised``): Noise2Self and Patch2Self.

1. **Simulated** (a clean reference): 8 axial slices of the MNI152 template (1 mm, 197 x 233, very high
   SNR), 8 simulated coils with smooth sensitivities, root-sum-of-squares, Hamming-apodised k-space in
   the slice plane (noise correlated 0.625 / 0.133 at lags 1 / 2), σ = 5 % of the brain maximum
   (:func:`biodae.noise.mri_coil_noise`). Masked RMSE and PSNR against the noise-free reconstruction inside
   the head (:func:`biodae._arrays.foreground_mask`): the noisy input, the shipped ``mri`` model alone,
   ``biodae denoise``'s path (:func:`biodae.denoise_image`: the noise floor of N > 1 coils removed, then
   the model), and ``noise2self`` (the ``mri`` weights adapted to this volume, default settings).
2. **Real scans** (no reference): DIPY ``test_piesno`` (real 8-coil noise, 96 x 96 x 14) with noise2self,
   and DIPY ``small_64D`` (a real diffusion series, 10 x 10 x 10 voxels, 65 volumes, with its b-values)
   with patch2self: before, after and removed images side by side, and the noise estimate before and after
   (:func:`biodae.noise.estimate_noise`).
3. **Time** of noise2self on a 256 x 256 x 100 volume (the MNI template resampled), torch on 2 threads.

    BIODAE_DATA=../shared/data python benchmarks/mri_self_supervised.py

writes ``docs/benchmarks/mri_self_supervised.png`` and prints the tables quoted in
``docs/benchmarks/mri_self_supervised.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import biodae
from biodae._arrays import foreground_mask
from biodae.nn.adapt import noise2self
from biodae.noise import estimate_noise, mri_coil_noise

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import cpu_flags  # noqa: E402


def _rmse(a, b, m):
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b)[m] ** 2)))


def simulated(data: Path, threads: int) -> None:
    t1 = biodae.read(data / "mri/nilearn-mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz").data
    clean_in = np.asarray(t1[:, :, 76:84], dtype=np.float64)
    res = mri_coil_noise(clean_in, 0.05 * float(clean_in.max()), coils=8, kspace_filter="hamming",
                         kspace_axes=(0, 1), rng=2026)
    clean, noisy = res.clean, res.noisy.astype(np.float32)
    mask = foreground_mask(clean)
    peak = float(clean[mask].max())
    model = biodae.runtime.load_model("mri", threads=threads)
    base = model.denoise_image(noisy, axis=2)
    # what `biodae denoise` does: the noise floor of N > 1 coils removed first where the air shows one, then the model
    cli, cli_rep = biodae.denoise_image(biodae.io.Image(noisy, (1.0, 1.0, 1.0), "nifti", "mri"), model, axis=2)
    floor = cli_rep["noise_floor"]
    t0 = time.perf_counter()
    n2s = noise2self(noisy, axis=2, threads=threads, progress=False)
    took = time.perf_counter() - t0
    print(f"simulated: MNI152 z=76..83, 8 coils RSS, Hamming, sigma 5 %: blind spot radius {n2s.radius} "
          f"(measured correlation {np.round(n2s.correlation, 3).tolist()}), {n2s.steps} steps, {took:.0f} s")
    print("| method | masked RMSE | masked PSNR (dB) |\n|---|---|---|")
    cli_name = (f"biodae denoise (noise floor of N = {floor:.2f} coils removed, then mri {model.version})"
                if floor else f"biodae denoise (no noise floor removed, mri {model.version})")
    for name, y in (("noisy input", noisy), (f"mri {model.version} (shipped, blind)", base), (cli_name, cli.data),
                    (f"noise2self (mri {model.version} adapted)", n2s.denoised)):
        e = _rmse(y, clean, mask)
        print(f"| {name} | {e:.2f} | {20 * np.log10(peak / e):.2f} |")


def real(data: Path, threads: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    piesno = biodae.read(data / "mri/dipy/test_piesno.nii.gz")
    t0 = time.perf_counter()
    a, rep = biodae.denoise_self_supervised(piesno, "noise2self", threads=threads)
    took = time.perf_counter() - t0
    print(f"test_piesno noise2self: {rep['model']}, {took:.0f} s; noise sigma (est.) "
          f"{rep['sigma_before']:.4g} -> {rep['sigma_after']:.4g}")
    z = piesno.data.shape[2] // 2
    rows.append(("test_piesno, noise2self", piesno.data[:, :, z], a.data[:, :, z]))
    dwi = biodae.read(data / "mri/dipy/small_64D.nii")
    bvals = np.loadtxt(data / "mri/dipy/small_64D.bval")
    t0 = time.perf_counter()
    b, rep2 = biodae.denoise_self_supervised(dwi, "patch2self", bvals=bvals)
    took = time.perf_counter() - t0
    (est,) = estimate_noise(dwi)
    print(f"small_64D patch2self: {rep2['model']}, {took:.1f} s; noise sigma (est., first volume) "
          f"{rep2['sigma_before']} -> {rep2['sigma_after']} ({est.how}); removed RMS per volume "
          f"{float(np.sqrt(np.mean((dwi.data - b.data) ** 2))):.4g}, "
          f"data RMS {float(np.sqrt(np.mean(dwi.data ** 2))):.4g}")
    v = int(np.flatnonzero(bvals > 50)[0])
    rows.append((f"small_64D volume {v} (b={bvals[v]:.0f}), patch2self", dwi.data[:, :, 5, v], b.data[:, :, 5, v]))
    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 3.2 * len(rows)))
    for (title, x, y), ax in zip(rows, axes):
        lo, hi = np.percentile(x, [0.5, 99.5])
        r = x - y
        lim = float(np.percentile(np.abs(r), 99.5)) or 1.0
        for k, (img, name, kw) in enumerate(((x, "before", {"vmin": lo, "vmax": hi}),
                                             (y, "after", {"vmin": lo, "vmax": hi}),
                                             (r, "removed (before - after)", {"vmin": -lim, "vmax": lim,
                                                                              "cmap": "RdBu_r"}))):
            ax[k].imshow(np.rot90(img), cmap=kw.pop("cmap", "gray"), **kw)
            ax[k].set_title(f"{title}\n{name}" if k == 0 else name, fontsize=8)
            ax[k].axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out.relative_to(ROOT)}")


def timing(data: Path, threads: int) -> None:
    from scipy import ndimage

    t1 = biodae.read(data / "mri/nilearn-mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz").data
    vol = ndimage.zoom(np.asarray(t1, np.float32)[:, :, 40:140], (256 / t1.shape[0], 256 / t1.shape[1], 1), order=1)
    vol = vol + np.random.default_rng(0).normal(0, 5, vol.shape).astype(np.float32)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = noise2self(vol, axis=2, threads=threads, progress=False)
    print(f"time: noise2self on {' x '.join(map(str, vol.shape))}, torch threads {threads}, {res.steps} steps: "
          f"{time.perf_counter() - t0:.0f} s (load average before: {load:.1f}; CPU: {cpu_flags()})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", nargs="*", default=[], choices=["simulated", "real", "timing"])
    args = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear as they are printed, also into a file
    data = Path(os.environ.get("BIODAE_DATA", ROOT.parent / "shared" / "data"))
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared)")
    if "simulated" not in args.skip:
        simulated(data, args.threads)
    if "real" not in args.skip:
        real(data, args.threads, ROOT / "docs" / "benchmarks" / "mri_self_supervised.png")
    if "timing" not in args.skip:
        timing(data, args.threads)


if __name__ == "__main__":
    main()
