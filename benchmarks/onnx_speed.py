"""onnxruntime against torch eager for every shipped model, in the same run, and the FP16
variants' parity on real recordings.

    python benchmarks/onnx_speed.py [--device cpu|cuda|tensorrt] [--seconds 2] [--models NAME ...] [--out docs/benchmarks]

For each model in ``models/``: the torch model is rebuilt from the ONNX file's own weights
(:func:`biodae.nn.torch_from_onnx`), so both runtimes compute the same function. Throughput
is measured on batches of 64 windows of ``biodae.window`` samples, or 2
tiles of ``biodae.tile`` pixels, onnxruntime, torch and the FP16 variant taking turns in short
blocks (:func:`rates`) and each one's median call time kept, so that a load change on the machine
hits all alike. For the 1D models also as biodae runs the channels of a record on the CPU: one
one-thread stream per core, about 16k samples per call, for both runtimes (:func:`streams`). The
target is onnxruntime at least 2x torch eager, each runtime in its faster way. The FP16 variant
(:func:`biodae.runtime.write_fp16_variant`) is timed too: float16 is for GPUs, and on a CPU it is not expected to be faster.
On the CPU a "Compute" section sets each runtime's FLOP rate (convolutions only) against a float32
matrix multiply in the same run: how much of the machine a 2x speed-up would take (:func:`compute_text`).

With ``--device cuda`` or ``tensorrt`` onnxruntime runs on that provider (with biodae's
shape buckets and IO binding) and torch on CUDA when this torch has it (else on the CPU,
which the table says). Writes ``onnx_speed.md`` (``onnx_speed_cuda.md``, ...) in ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    CPU_FLAGS_COMMAND, cpu_flags, markdown_table, matmul_gflops, model_flops, progress, rates, write_text,
)


def real_signal(modality: str, fs: float) -> np.ndarray:
    """A real recording of the modality at ``fs``, (n_channels, n_samples)."""
    import biodae
    from biodae._arrays import resample

    if modality == "ecg":
        rec = biodae.read(ROOT / "examples" / "ecg" / "sel100_em6")  # 30 s, 2 leads, electrode motion at 6 dB
    else:
        rec = biodae.read(ROOT / "tests" / "data" / "signals" / "S001R03_5s_8ch.edf")  # 5 s, 8 EEG channels
    return resample(rec.data, rec.sampling_rate, fs).T


def real_images(modality: str) -> list[tuple[np.ndarray, int | None]]:
    import biodae

    images = ROOT / "tests" / "data" / "images"
    if modality == "mri":
        return [(biodae.read(images / "mni152_t1_crop.nii.gz").data, 2), (biodae.read(images / "brain_slice16.png").data, None)]
    return [(biodae.read(images / "RG1_crop.dcm").data, None), (biodae.read(images / "CT_small.dcm").data, None)]


def fp16_error(m32, m16) -> tuple[float, float, str]:
    """max |fp16 - fp32| / max |fp32| and RMS(fp16 - fp32) / RMS(fp32) on real data, and what data."""
    if m32.spatial_dims == 1:
        x = real_signal(m32.modality, m32.sampling_rate)
        a = np.stack([m32.denoise_signal(c, sampling_rate=m32.sampling_rate) for c in x])
        b = np.stack([m16.denoise_signal(c, sampling_rate=m32.sampling_rate) for c in x])
        what = f"{x.shape[0]} x {x.shape[1] / m32.sampling_rate:g} s"
    else:
        pairs = [(m32.denoise_image(np.asarray(i, np.float32), axis=ax), m16.denoise_image(np.asarray(i, np.float32), axis=ax))
                 for i, ax in real_images(m32.modality)]
        a = np.concatenate([p[0].ravel() for p in pairs])
        b = np.concatenate([p[1].ravel() for p in pairs])
        what = f"{len(pairs)} images"
    d = b - a
    return float(np.abs(d).max() / np.abs(a).max()), float(np.sqrt(np.mean(d**2)) / np.sqrt(np.mean(a**2))), what


def streams(name: str, net, x: np.ndarray, n: int, seconds: float) -> tuple[float, float, int]:
    """Throughput of ``n`` concurrent one-thread streams, onnxruntime and torch, as biodae runs the
    channels of a record on the CPU (:func:`biodae._record._denoise_channels`): each stream calls
    the model on batches of about 16k samples (the batch biodae picks for a one-thread session)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from biodae.runtime import load_model

    m1 = load_model(name, threads=1)
    bs = m1.signal_batch_size(x.shape[-1])
    xs = np.ascontiguousarray(x[:bs])
    xt = torch.from_numpy(xs)
    calls = 2  # per stream and timed call

    def ort_stream(_):
        for _ in range(calls):
            m1.run(xs)

    def torch_stream(_):
        with torch.inference_mode():
            for _ in range(calls):
                net(xt)

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # process-wide: each torch stream computes on its own thread
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            r = rates({"ort": lambda: list(pool.map(ort_stream, range(n))),
                       "torch": lambda: list(pool.map(torch_stream, range(n)))}, n * calls * xs.size, seconds)
    finally:
        torch.set_num_threads(before)
    return r["ort"], r["torch"], bs


def compute_text(compute: list[tuple[str, float, float, float]], threads: int) -> str:
    """The "Compute" section: the FLOP rate each runtime reached, against this CPU's float32
    matrix multiply measured now, and what a 2x speed-up over torch would need. ``compute`` holds
    (model, convolution FLOPs per sample or pixel, onnxruntime and torch values per second)."""
    mm_threads = matmul_gflops(threads)
    mm_streams = matmul_gflops(1, streams=threads)
    mm = max(mm_threads, mm_streams)
    progress(f"float32 matmul 2048²: {mm_threads:.1f} GFLOP/s ({threads} threads), {mm_streams:.1f} GFLOP/s "
             f"({threads} one-thread streams)")
    rows, out_of_reach = [], []
    for name, per_value, o, t in compute:
        need = 2 * t * per_value / 1e9
        rows.append([f"`{name}`", f"{per_value / 1e3:.1f} k", f"{o * per_value / 1e9:.1f}", f"{t * per_value / 1e9:.1f}",
                     f"{need:.1f}", f"{need / mm:.0%}"])
        if need > mm:
            out_of_reach.append(f"`{name}`")
    verdict = ("For " + ", ".join(out_of_reach) + " twice torch's rate is more than the matrix multiply reaches: no "
               "runtime can be 2x torch eager on this CPU for " + ("that model" if len(out_of_reach) == 1 else "those models")
               + " without computing less.") if out_of_reach else "Every model's 2x rate is below the matrix multiply's."
    table = markdown_table(["model", "conv FLOPs per sample or pixel", "onnxruntime GFLOP/s", "torch eager GFLOP/s",
                            "2x torch needs GFLOP/s", "of the matmul rate"], rows)
    return f"""## Compute: how far 2x is from this CPU's limit

Both runtimes compute the same convolutions, so onnxruntime at 2x torch eager must reach twice torch's FLOP rate.
FLOPs are 2 x the multiply-adds of every convolution on the timed window or tile (`_common.model_flops`;
elementwise operations not counted); rates from each runtime's faster figure above. The ceiling: a float32
2048 x 2048 matrix multiply through onnxruntime in the same run, {mm_threads:.1f} GFLOP/s with {threads} threads and
{mm_streams:.1f} GFLOP/s as {threads} one-thread streams (the larger, {mm:.1f}, is the reference).

{table}

{verdict}
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"])
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per measurement (default 2)")
    ap.add_argument("--threads", type=int, help="onnxruntime and torch threads (default: all cores this process may use)")
    ap.add_argument("--models", nargs="+", metavar="NAME", help="shipped models to run (default: all)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    from biodae.nn import torch_from_onnx
    from biodae.runtime import available_models, default_threads, load_model, write_fp16_variant

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    torch_device = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    gpu_name = torch.cuda.get_device_name(0) if torch_device == "cuda" else ""
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="biodae-onnx-speed-"))
    rows, parity_rows, ratios, stream_rows, best_rows, compute = [], [], [], [], [], []
    try:
        names = args.models or available_models()
        unknown = sorted(set(names) - set(available_models()))
        if unknown:
            ap.error(f"not shipped: {', '.join(unknown)} (shipped: {', '.join(available_models())})")
        for name in names:
            m = load_model(name, device=args.device, threads=threads)
            rng = np.random.default_rng(0)
            if m.spatial_dims == 1:
                shape, unit = (64, 1, m.window or 4096), "samples"
                x = (np.cumsum(rng.standard_normal(shape), axis=-1) * 0.02 + 0.3 * rng.standard_normal(shape)).astype(np.float32)
            else:
                t = m.tile or 256
                shape, unit = (2, 1, t, t), "pixels"
                x = rng.random(shape).astype(np.float32)
            net = torch_from_onnx(m.path).to(torch_device)
            xt = torch.from_numpy(x).to(torch_device)
            with torch.inference_mode():
                ref = net(xt).cpu().numpy()
            err = float(np.abs(m.run(x) - ref).max() / np.abs(ref).max())
            f16_path, f16_parity = write_fp16_variant(m.path, tmp / f"{name}-fp16.onnx")
            m16 = load_model(f16_path, device=args.device, threads=threads)

            def torch_run():
                with torch.inference_mode():
                    net(xt)
                if torch_device == "cuda":
                    torch.cuda.synchronize()

            r = rates({"ort": lambda: m.run(x), "torch": torch_run, "fp16": lambda: m16.run(x)}, x.size, args.seconds)
            o, tt, h = r["ort"], r["torch"], r["fp16"]
            progress(f"{name}: onnxruntime {o / 1e6:.2f} M {unit}/s, torch {tt / 1e6:.2f} M/s ({o / tt:.2f}x), "
                     f"fp16 {h / 1e6:.2f} M/s; |ort - torch| / max = {err:.1e}")
            rows.append([f"`{name}`", f"[{', '.join(map(str, shape))}]", f"{o / 1e6:.2f} M", f"{tt / 1e6:.2f} M",
                         f"**{o / tt:.2f}x**", f"{h / 1e6:.2f} M", f"{err:.1e}"])
            best_o, best_t = o, tt
            if m.spatial_dims == 1 and args.device == "cpu" and threads > 1:
                so, st, bs = streams(name, net, x, threads, args.seconds)
                progress(f"{name}: {threads} one-thread streams of {bs} windows: onnxruntime {so / 1e6:.2f} M/s, "
                         f"torch {st / 1e6:.2f} M/s ({so / st:.2f}x)")
                stream_rows.append([f"`{name}`", f"{threads} x [{bs}, 1, {shape[-1]}]", f"{so / 1e6:.2f} M",
                                    f"{st / 1e6:.2f} M", f"**{so / st:.2f}x**"])
                best_o, best_t = max(o, so), max(tt, st)
                best_rows.append([f"`{name}`", f"{best_o / 1e6:.2f} M", f"{best_t / 1e6:.2f} M",
                                  f"**{best_o / best_t:.2f}x**"])
            ratios.append(best_o / best_t)
            if args.device == "cpu":
                per_value = model_flops(net, (1, *shape[1:])) / int(np.prod(shape[1:]))  # net is on the CPU
                compute.append((name, per_value, best_o, best_t))
            mx, rms, what = fp16_error(load_model(m.path, threads=threads), load_model(f16_path, threads=threads))
            parity_rows.append([f"`{name}`", f"{f16_parity:.1e}", f"{mx:.1e}", f"{rms:.1e}", what])
    finally:
        for p in tmp.glob("*"):
            p.unlink()
        tmp.rmdir()

    compute_section = "" if not compute else compute_text(compute, threads)
    where = {"cpu": "CPU", "cuda": "CUDA", "tensorrt": "TensorRT"}[args.device]
    cpu = platform.processor() or platform.machine()
    machine = f"{os.cpu_count()} CPU cores ({cpu}), {threads} threads" + (f", GPU {gpu_name}" if gpu_name else "")
    load = f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    target = "met" if min(ratios) >= 2.0 else f"NOT met (lowest {min(ratios):.2f}x)"
    streams_section = "" if not stream_rows else f"""**Channels at once.** biodae runs the channels of a record concurrently on the CPU, each on a one-thread
onnxruntime session with about 16k samples per call (`biodae._record._denoise_channels`; a record with fewer
channels than cores keeps as many calls of one channel in flight): onnxruntime's
threads synchronise after every layer, which costs more than it gains on short windows. The same for torch:
{threads} Python threads, `torch.set_num_threads(1)`, the same batches. Throughput of all streams together:

{markdown_table(['model', 'streams x batch', 'onnxruntime / s', 'torch eager / s', 'speed-up'], stream_rows)}

Each runtime in its faster way (the larger of the two figures for each):

{markdown_table(['model', 'onnxruntime / s', 'torch eager / s', 'speed-up'], best_rows)}
"""
    doc = f"""# onnxruntime vs torch eager ({where})

Generated by `python benchmarks/onnx_speed.py {' '.join(sys.argv[1:] if argv is None else argv)}` ({time.strftime('%Y-%m-%d')}) on {machine};
CPU flags (`{CPU_FLAGS_COMMAND}` and the model name): `{cpu_flags()}`; speeds hold for this CPU only;
onnxruntime {ort.__version__} ({where} provider), torch {torch.__version__.split('+')[0]} eager on {torch_device.upper()},
the same weights (the torch model is rebuilt from each ONNX file). Throughput in samples (1D) or pixels (2D)
per second on the batch shown, from the median call time; the runtimes take turns in blocks of about 0.3 s
(the first call of each block untimed, so that one runtime's spinning threads do not slow the next) until each
has run about {args.seconds:g} s.
The last column is the largest difference of the two outputs on that batch, relative to the output's peak.
Load average (1 min) {load}: with other processes on the cores the absolute figures drop
and vary between runs (torch's threads suffer more from sharing cores than onnxruntime's); the ratios in one run compare like with like.

{markdown_table(['model', 'batch', 'onnxruntime / s', 'torch eager / s', 'speed-up', 'onnxruntime FP16 / s', 'ort vs torch'], rows)}

{streams_section}
Target: onnxruntime at least 2x torch eager for every model (for the 1D models, each runtime in the faster of the
two ways above): **{target}**.
{'The FP16 variant is meant for GPUs; on a CPU it is timed only to show it runs (it is not expected to be faster).' if args.device == 'cpu' else ''}

{compute_section}
## FP16 variants: parity with the float32 model

`biodae export MODEL.onnx -o MODEL-fp16.onnx --fp16` (float16 weights and network between the first and last
convolution; input, output and in-graph normalisation float32). Errors relative to the float32 model's output,
both run with onnxruntime on the CPU: "export check" is the figure stored in the variant's `biodae.fp16_parity`
(seeded synthetic batches); the others are on real recordings (ECG: `examples/ecg/sel100_em6`, EEG:
`tests/data/signals/S001R03_5s_8ch.edf`, resampled to the model's rate; images from `tests/data/images`)
denoised end to end (windows or tiles and blending).

{markdown_table(['model', 'export check max', 'real data: max abs / peak', 'real data: RMS / RMS', 'data'], parity_rows)}
"""
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    path = write_text(Path(args.out) / f"onnx_speed{suffix}.md", doc)
    print(doc)
    progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
