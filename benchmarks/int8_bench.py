"""int8 variants against float32: parity, quality on reduced benchmarks, and speed, in one run.

    BIODAE_DATA=../shared/data python benchmarks/int8_bench.py [--seconds 1.5] [--out docs/benchmarks]

For every shipped denoiser the int8 variant is built (``biodae.runtime.int8_variant``, calibrated on
``calibration_inputs``: training data only) and compared with the float32 model on held-out data:

- ``ecg``: 4 test records x 2 leads, one 60-s stretch each (``ecg_bench.stretches``), NSTDB test-split
  ``bw``/``em``/``ma`` at -6, 0, 6, 12, 18 and 24 dB (the ECG benchmark's levels), run end to end
  (``Model.denoise_signal``); SNR improvement (dB).
- ``ecg-qtdb-bw`` (+ ``-v2``): 2000 test beats of the DeepFilter protocol (every k-th), one 512-sample window each;
  SNR improvement (dB) and SSD (mV^2).
- ``eeg``: 200 test epochs with test-split EOG and EMG at -5, 0, 5 dB; SNR improvement (dB), RRMSE_t.
- ``mri``: the held-out test slices at 5 % Rician (``mri_bench._noisy``); masked PSNR (dB).
- ``xray``: the held-out radiograph at medium dose (``xray_bench``); PSNR (dB).

Where a model ships an int8 variant (``models/NAME.int8.onnx``, written by ``benchmarks/int8_ship.py``), it is
measured too, in the same run, next to the variant this run builds with the default settings.

Parity is max |int8 - fp32| / max |fp32| over all those outputs. Speed: throughput of the two ONNX files through
onnxruntime on the same batch, the two taking turns in blocks (``_common.rates``), with 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (
    CPU_FLAGS_COMMAND,
    cpu_flags,
    markdown_table,
    progress,
    rates,
    write_text,
)

MODELS = ("ecg", "ecg-small", "ecg-qtdb-bw", "ecg-qtdb-bw-v2", "eeg", "mri", "xray")
ECG_LEVELS = (-6, 0, 6, 12, 18, 24)


def _snr_gain(clean, noisy, est) -> float:
    from biodae import metrics

    return float(metrics.snr_improvement_db(clean, noisy, est))


def quality(name: str, fp32, int8, data_dir) -> tuple[list[list], float, str]:
    """Rows [setting, metric, fp32, int8, int8 - fp32], the parity over all outputs, and the data in words."""
    from biodae import metrics
    from biodae.runtime import load_model

    a, b = load_model(fp32, threads=1), load_model(int8, threads=1)
    worst = [0.0]

    def both(fn_a, fn_b, x):
        ya, yb = fn_a(x), fn_b(x)
        worst[0] = max(worst[0], float(np.max(np.abs(yb - ya)) / max(float(np.max(np.abs(ya))), 1e-30)))
        return ya, yb

    rows = []
    if name in ("ecg", "ecg-small"):
        import ecg_bench

        from biodae.datasets import load_ecg_records

        test = ecg_bench.stretches(load_ecg_records("test", data_dir=data_dir)[:4], 1, 2026)
        run = [lambda x, m=m: m.denoise_signal(x, sampling_rate=ecg_bench.FS, units="mV") for m in (a, b)]
        for kind in ecg_bench.KINDS:
            for snr in ECG_LEVELS:
                rng = np.random.default_rng([2026, ecg_bench.KINDS.index(kind), snr + 100])
                g = np.array([[_snr_gain(c, x, y) for y in both(*run, x)]
                              for c, x in ((c, ecg_bench.mix(c, kind, float(snr), "test", rng)) for c in test)])
                rows.append([f"{kind} {snr:+d} dB", "SNR improvement dB", *g.mean(0), g[:, 1].mean() - g[:, 0].mean()])
        return rows, worst[0], f"{len(test)} stretches of 60 s (4 test records x 2 leads)"
    if name.startswith("ecg-qtdb-bw"):
        from biodae.datasets import deepfilter_protocol

        d = deepfilter_protocol(data_dir, version=2 if name.endswith("v2") else 1)
        idx = np.linspace(0, len(d.x_test) - 1, 2000).astype(int)
        x, c = d.x_test[idx].astype(np.float32)[:, None], d.y_test[idx].astype(np.float64)
        ya, yb = both(lambda z: a.session.run(None, {"input": z})[0], lambda z: b.session.run(None, {"input": z})[0], x)
        for label, fn in (("SNR improvement dB", lambda y: np.mean([_snr_gain(ci, xi, yi) for ci, xi, yi in
                                                                   zip(c, x[:, 0].astype(np.float64), y[:, 0])])),
                          ("SSD mV^2", lambda y: float(np.mean(np.sum((y[:, 0] - c) ** 2, axis=-1))))):
            va, vb = fn(ya), fn(yb)
            rows.append(["BW, all test SNRs", label, va, vb, vb - va])
        return rows, worst[0], "2000 test beats (every k-th of the DeepFilter test set), one window each"
    if name == "eeg":
        from biodae.datasets import EEGNoiseMixer, load_eeg_epochs

        mixer = EEGNoiseMixer(load_eeg_epochs("test", data_dir=data_dir), artifact_split="test", data_dir=data_dir)
        for kind in ("eog", "emg"):
            for snr in (-5.0, 0.0, 5.0):
                pairs = [mixer.window(np.random.default_rng([7, int(snr) + 10, i]), kind=kind, snr_db=snr)
                         for i in range(100)]
                x = np.stack([p[0] for p in pairs])[:, None]
                c = np.stack([p[1] for p in pairs]).astype(np.float64)
                ya, yb = both(lambda z: a.session.run(None, {"input": z})[0],
                              lambda z: b.session.run(None, {"input": z})[0], x)
                g = [np.mean([_snr_gain(ci, xi, yi) for ci, xi, yi in zip(c, x[:, 0].astype(np.float64), y[:, 0])])
                     for y in (ya, yb)]
                rows.append([f"{kind} {snr:+g} dB", "SNR improvement dB", *g, g[1] - g[0]])
        return rows, worst[0], "100 test epochs of 512 samples per artefact and level"
    if name == "mri":
        import mri_bench

        from biodae._arrays import foreground_mask
        from biodae.datasets import load_image_slices

        test = [s.image.astype(np.float32) for s in load_image_slices("mri", "test", data_dir=data_dir)]
        vals = []
        for i, c in enumerate(test):
            m = foreground_mask(c)
            noisy = mri_bench._noisy(c, m, 5.0, i)[0]  # the noisy slice (first field of what it returns)
            ys = both(a.denoise_image, b.denoise_image, noisy)
            vals.append([metrics.psnr(c, y, data_range=float(c[m].max()), mask=m) for y in ys])
        v = np.mean(vals, axis=0)
        rows.append(["Rician 5 %", "masked PSNR dB", v[0], v[1], v[1] - v[0]])
        return rows, worst[0], f"{len(test)} held-out test slices"
    import xray_bench

    from biodae.datasets import load_image_slices

    clean = load_image_slices("xray", "test", data_dir=data_dir)[0].image.astype(np.float32)
    peak = dict(xray_bench.DOSES)["medium"]
    noisy = xray_bench._noisy(clean, peak, 1)
    ys = both(a.denoise_image, b.denoise_image, noisy)
    v = [metrics.psnr(clean, y, data_range=1.0) for y in ys]
    rows.append([f"medium dose (peak {peak:g})", "PSNR dB", v[0], v[1], v[1] - v[0]])
    return rows, worst[0], f"the held-out radiograph {clean.shape}, one dose"


def speed_batch(src) -> np.ndarray:
    """The timed batch: 64 windows of a 1D model (a random walk plus noise), two 512 x 512 images of a 2D one."""
    from biodae.runtime import load_onnx

    meta = {p.key: p.value for p in load_onnx(src).metadata_props}
    w = int(meta.get("biodae.window") or 512)
    shape = (64, 1, w) if meta.get("biodae.sampling_rate") else (2, 1, 512, 512)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if len(shape) == 4:
        return np.clip(0.5 + 0.2 * x, 0, 1).astype(np.float32)
    return (np.cumsum(x, axis=-1) * 0.02 + x * 0.1).astype(np.float32)


def speedup(src, variants: dict, x: np.ndarray, threads: int, seconds: float) -> dict[str, float]:
    """Throughput (values per second) of the float32 file ``src`` (key ``"fp32"``) and each of ``variants``
    (label -> file), taking turns in one :func:`_common.rates` call."""
    from biodae.runtime import create_session

    sessions = {"fp32": create_session(src, threads=threads)}
    sessions.update({k: create_session(str(v), threads=threads) for k, v in variants.items()})
    return rates({k: (lambda s=s: s.run(None, {"input": x})) for k, s in sessions.items()}, int(x.size), seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per runtime and setting")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    import tempfile

    import onnxruntime as ort

    from biodae.datasets import calibration_inputs
    from biodae.runtime import load_onnx, model_path, variant_path
    from biodae.runtime._int8 import INT8_TOLERANCE, int8_variant

    flags = cpu_flags()
    load0 = Path("/proc/loadavg").read_text().split()[0]
    t0 = time.perf_counter()
    qual, speed, info, shipped_note = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            src = model_path(name)
            progress(f"{name}: calibrating")
            t = time.perf_counter()
            cal = calibration_inputs(name, data_dir=args.data_dir)
            proto, cal_parity = int8_variant(load_onnx(src), cal, name=name, tolerance=float("inf"), keep_float=())
            dst = Path(tmp) / f"{name}-int8.onnx"
            dst.write_bytes(proto.SerializeToString())
            t_build = time.perf_counter() - t
            variants = {f"`{name}`": dst}
            shipped = variant_path(src, "int8")
            if shipped.is_file():
                variants[f"`{name}` shipped `{shipped.name}`"] = shipped
                kept = {p.key: p.value for p in load_onnx(shipped).metadata_props}.get("biodae.precision_detail", "")
                shipped_note.append(f"`{shipped.name}`: {kept}.")
            for label, file in variants.items():
                progress(f"{name}: quality ({file.name})")
                rows, parity, data = quality(name, src, file, args.data_dir)
                qual += [[label, *r] for r in rows]
                cal_p = cal_parity if file == dst else float(
                    {p.key: p.value for p in load_onnx(file).metadata_props}.get("biodae.int8_parity", "nan"))
                info.append([label, cal.description, f"{cal_p:.2e}", f"{parity:.2e}", data,
                             f"{t_build:.0f} s" if file == dst else "(shipped)"])
            x = speed_batch(src)
            for threads in (1, 2):
                progress(f"{name}: speed, {threads} thread(s)")
                r = speedup(src, variants, x, threads, args.seconds)
                for label in variants:
                    speed.append([label, str(list(x.shape)), threads, f"{r['fp32'] / 1e6:.2f} M",
                                  f"{r[label] / 1e6:.2f} M", f"**{r[label] / r['fp32']:.2f}x**"])
    load1 = Path("/proc/loadavg").read_text().split()[0]
    q = markdown_table(["model", "setting", "metric", "float32", "int8", "int8 - float32"],
                       [[r[0], r[1], r[2], f"{r[3]:.3f}", f"{r[4]:.3f}", f"{r[5]:+.3f}"] for r in qual])
    lines = [
        "# int8 variants against float32 (CPU)", "",
        (f"Generated by `python benchmarks/int8_bench.py --seconds {args.seconds:g}` ({time.strftime('%Y-%m-%d')}) in one "
        f"run of {time.perf_counter() - t0:.0f} s, on a **shared** machine ({platform.machine()}, 2 CPU cores used by "
        f"other engineers at the same time: load average {load0} at the start, {load1} at the end); onnxruntime "
        f"{ort.__version__} (CPU provider)."), "",
        f"CPU flags (`{CPU_FLAGS_COMMAND}`): `{flags}`.", "",
        ("Variant: `biodae export MODEL.onnx -o MODEL-int8.onnx --int8` (`biodae.runtime.int8_variant`): static QDQ "
        "quantisation of every Conv except the first and the last, int8 weights per output channel, uint8 "
        "activations with min/max ranges from the calibration data; input, output, in-graph "
        "normalisation, SiLU, residual additions and ConvTranspose stay float32. Calibration on training data only. "
        "Rows named `NAME` are this variant built in this run with those settings alone (`keep_float=()`); rows "
        "named \"shipped\" are the file shipped beside the float32 model, which keeps more convolutions float32 "
        "(chosen on validation data, `benchmarks/int8_select.py`)."), "", *shipped_note, "",
        "## Parity and calibration", "",
        ("Parity = max |int8 - fp32| / max |fp32|: on the calibration data (stored as `biodae.int8_parity`) and on "
        "the held-out test data of the quality table below, run end to end. `biodae export --int8` refuses a "
        f"variant whose calibration parity exceeds {INT8_TOLERANCE:g} (`INT8_TOLERANCE`); this run builds them all."), "",
        markdown_table(["model", "calibration data", "parity (calibration)", "parity (test data)", "test data",
                        "build time"], info), "",
        "## Quality next to float32 (reduced benchmarks)", "", q, "",
        "## Speed: int8 / float32 throughput, same run", "",
        ("Samples (1D) or pixels (2D) per second on the batch shown, from the median call time; the two files take turns "
        f"in blocks of about 0.3 s until each has run about {args.seconds:g} s (`_common.rates`). The ratio is the "
        "figure to read: absolute rates move with the other processes on the cores."), "",
        markdown_table(["model", "batch", "threads", "float32 / s", "int8 / s", "int8 / float32"], speed), "",
    ]
    write_text(Path(args.out) / "int8.md", "\n".join(lines))
    progress(f"wrote {Path(args.out) / 'int8.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
