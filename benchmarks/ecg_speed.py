"""ECG speed: onnxruntime vs torch eager on the same weights, each model and precision against the first in
the same run, and 24 h of 2-lead 360 Hz ECG cleaned end to end by ``biodae denoise`` (read, denoise, write)
with each of them, on this machine; the CPU's instruction sets printed beside the figures.

    BIODAE_DATA=../shared/data python benchmarks/ecg_speed.py [--models ecg ecg:int8 ecg-small]
                                                              [--repeats 2] [--out docs/benchmarks]

A model is a shipped name or an .onnx path, ``:int8`` its int8 variant (``biodae denoise --precision int8``).

Also checks that windowed inference has no seams: the overlap-added output over 10 minutes is
compared with one forward pass over the whole 5-minute stretch (the model takes any length).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import CPU_FLAGS_COMMAND, cpu_flags, markdown_table, progress, rates  # noqa: E402


def _variant(spec: str) -> tuple[str, str, Path]:
    """``NAME[:PRECISION]`` -> (name, precision, the ONNX file that precision runs)."""
    from biodae.runtime import model_path, variant_path

    name, _, precision = spec.partition(":")
    precision = precision or "fp32"
    path = model_path(name)
    return name, precision, (path if precision == "fp32" else variant_path(path, precision))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["ecg", "ecg:int8", "ecg-small"],
                    help="NAME[:int8] each; the first is the reference of the ratios and of the torch comparison")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--repeats", type=int, default=2, help="end-to-end runs per model, taking turns")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [_variant(m) for m in args.models]
    args.model = str(variants[0][2])
    flags = cpu_flags()
    progress(f"CPU: {flags}")

    import torch

    from biodae import io, noise
    from biodae.datasets import load_ecg_records
    from biodae.nn import torch_from_onnx
    from biodae.runtime import default_threads, load_model, overlap_add_1d

    threads = default_threads()
    torch.set_num_threads(threads)
    model = load_model(args.model, threads=threads)
    net = torch_from_onnx(args.model)
    w = model.window
    batch = np.random.default_rng(0).standard_normal((64, 1, w)).astype(np.float32) * 0.5
    progress(f"throughput on [64, 1, {w}] windows, {threads} threads")
    tb = torch.from_numpy(batch)

    def torch_run():
        with torch.inference_mode():
            net(tb)

    speed = rates({"ort": lambda: model.run(batch), "torch": torch_run}, batch.size, seconds=3.0)
    ort_sps, torch_sps = speed["ort"], speed["torch"]
    progress(f"onnxruntime {ort_sps / 1e6:.2f} M samples/s, torch eager {torch_sps / 1e6:.2f} M samples/s")

    # every model and precision against the first, taking turns; as biodae denoise runs a lead (1 thread,
    # its batch) and on two threads with 64 windows
    labels = [f"`{n}` {p}" for n, p, _ in variants]
    per = {}
    for n_threads, rows_per_call in ((1, None), (2, 64)):
        ms = [load_model(f, threads=n_threads) for *_, f in variants]
        b = rows_per_call or ms[0].signal_batch_size(w)
        xb = np.ascontiguousarray(batch[:b])
        per[n_threads] = (b, rates({lab: (lambda m=m: m.run(xb)) for lab, m in zip(labels, ms)}, xb.size, seconds=3.0))
        progress(f"{n_threads} thread(s), {b} windows: "
                 + ", ".join(f"{k} {v / 1e6:.2f} M/s" for k, v in per[n_threads][1].items()))

    # seams: windowed vs one pass over 5 minutes of a test record with em noise at 6 dB
    rec = load_ecg_records("test")[0]
    x = rec.data[: int(300 * 360), 0].astype(np.float64)
    x = noise.mix_at_snr(x, noise.nstdb_segment("em", "test", length=x.size, rng=1), 6.0, remove_mean=True).noisy
    windowed = overlap_add_1d(model.run, x, window=w, overlap=model.overlap)
    whole = model.run(x[None, None, :].astype(np.float32))[0, 0]
    rms = np.sqrt(np.mean(whole**2))
    seam = float(np.max(np.abs(windowed - whole)) / rms)
    seam_rms = float(np.sqrt(np.mean((windowed - whole) ** 2)) / rms)
    # a seam is a step at a window boundary: the largest sample-to-sample change of the
    # windowed output there, against the largest anywhere in the one-pass output
    hop = w - model.overlap
    edges = np.arange(hop - model.overlap, x.size, hop)
    edges = edges[(edges > 0) & (edges < x.size - 1)]
    step = float(np.max(np.abs(np.diff(windowed)[edges])) / np.max(np.abs(np.diff(whole))))
    progress(f"windowed vs one pass: max {seam:.3f} x RMS, RMS {seam_rms:.3f} x RMS; boundary step ratio {step:.3f}")

    # 24 h, 2 leads, 360 Hz, WFDB format 16, built from the test records + em noise at 6 dB
    n = int(args.hours * 3600 * 360)
    tmp = Path(tempfile.mkdtemp(prefix="biodae-speed-"))
    try:
        progress(f"building a {args.hours:g}-h 2-lead record ({n} samples per lead)")
        pool = np.concatenate([r.data for r in load_ecg_records("test")])
        reps = int(np.ceil(n / pool.shape[0]))
        data = np.tile(pool, (reps, 1))[:n].astype(np.float64)
        for c in range(2):
            seg = noise.nstdb_split("em", "test")
            nz = np.tile(seg, int(np.ceil(n / seg.size)))[:n]
            data[:, c] += nz * np.sqrt(np.mean(data[:, c] ** 2) / np.mean(nz**2) / 10 ** 0.6)
        template = io.read_wfdb(ROOT / "examples" / "ecg" / "sel100_em6")
        sig = template.replace(data=data, sampling_rate=360.0,
                               meta=dict(template.meta, annotation_files=[], comments=["biodae speed test"], fmt=["16", "16"]))
        io.write_wfdb(sig, tmp / "holter24h")
        size_mb = sum(p.stat().st_size for p in tmp.glob("holter24h.*")) / 1e6
        progress(f"record written ({size_mb:.0f} MB); running biodae denoise")
        exe = shutil.which("biodae") or f"{sys.executable} -m biodae.cli"
        e2e = {lab: [] for lab in labels}
        for rep in range(args.repeats):
            for lab, (name, precision, _) in zip(labels, variants):
                dst = tmp / "out"
                shutil.rmtree(dst, ignore_errors=True)
                cmd = exe.split() + ["denoise", str(tmp / "holter24h"), "--model", name, "--precision", precision,
                                     "--out-dir", str(dst)]
                t = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                e2e[lab].append(time.perf_counter() - t)
                progress(f"end to end, {lab}, run {rep + 1}: {e2e[lab][-1]:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = platform.processor() or platform.machine()
    rows = [
        ["onnxruntime (CPU)", f"{ort_sps / 1e6:.2f} M", f"{ort_sps / torch_sps:.2f}x"],
        ["torch eager (CPU)", f"{torch_sps / 1e6:.2f} M", "1.00x"],
    ]
    ref = labels[0]
    versions = {lab: load_model(f, threads=1) for lab, (*_, f) in zip(labels, variants)}
    cmp_rows = []
    for lab in labels:
        m = versions[lab]
        cells = [f"{m.name} {m.version}"]
        for n_threads in (1, 2):
            r = per[n_threads][1]
            cells += [f"{r[lab] / 1e6:.2f} M", f"{r[lab] / r[ref]:.2f}x"]
        times = e2e[lab]
        cells += [" / ".join(f"{t:.1f}" for t in times), f"**{float(np.median(times)):.1f}**",
                  f"{float(np.median(e2e[ref])) / float(np.median(times)):.2f}x"]
        cmp_rows.append([lab, *cells])
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    doc = f"""# ECG model speed

Generated by `python benchmarks/ecg_speed.py --models {' '.join(args.models)} --repeats {args.repeats}`
({time.strftime('%Y-%m-%d')}), {os.cpu_count()} CPU cores ({cpu}); load average {load} at the end.
CPU flags (`{CPU_FLAGS_COMMAND}` and the model name): `{flags}`. Speeds hold for this CPU only: on a CPU
without AVX-512 (AVX2 only) the same command takes longer (issue #23: 80 s for `ecg` 1.4.0 float32 there,
against 53.7 s on an AVX-512 CPU); no AVX2-only machine was measured for this page.

## Every model and precision, same run

Throughput: samples per second through onnxruntime on batches of {w}-sample windows, the models taking turns
in blocks of 0.3 s for 3 s each (`benchmarks/_common.py: rates`); 1 thread with {per[1][0]} windows per call
(how `biodae denoise` runs each lead), and 2 threads with 64. Ratios against the first row, same run.
End to end: `biodae denoise` on a {args.hours:g}-hour 2-lead 360 Hz WFDB record ({size_mb:.0f} MB, format 16):
read, resample check, {w}-sample windows with {model.overlap}-sample tapered overlap, write; the two leads at
the same time, each on one onnxruntime thread (`biodae._record._denoise_channels`). Each run in turn,
{args.repeats} times; the median. Target (issue #23): at most 30 s on 2 cores without AVX-512.

{markdown_table(['model, precision', 'version', '1 thread / s', 'vs first', '2 threads / s', 'vs first',
                 'end to end, each run s', 'median s', 'vs first'], cmp_rows)}

Quality of each: `docs/benchmarks/ecg_continuous.md` (float32 models) and `docs/benchmarks/int8.md` (int8
against float32).

## onnxruntime against torch, `{model.name}` {model.version}

{threads} threads, batches of 64 windows of {w} samples;
median call time, the two runtimes taking turns in blocks of 0.3 s for 3 s each.

{markdown_table(['runtime', 'samples / s', 'speed-up'], rows)}

Windowed vs one pass (5 minutes of a test record with electrode-motion noise at 6 dB): the windowed
output differs from a single forward pass over the whole stretch by {seam_rms:.3f} x the signal RMS (RMS
over samples; at most {seam:.3f} x). The two are not expected to agree exactly: the in-graph normalisation
(mean and scale) is per window, so each window is normalised by its own context. No seam: at window
boundaries the largest sample-to-sample step of the windowed output is {step:.3f} x the largest step anywhere
in the one-pass output (tapered blending leaves no discontinuity).
"""
    (out / "ecg_speed.md").write_text(doc)
    print(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
