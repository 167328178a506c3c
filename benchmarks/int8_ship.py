"""Build, check and ship the int8 variant of a model: ``models/NAME.int8.onnx`` beside ``models/NAME.onnx``.

    BIODAE_DATA=../shared/data python benchmarks/int8_ship.py ecg [--seconds 1.5] [--dry-run]

The variant is :func:`biodae.runtime.int8_variant` with the model's chosen settings (``INT8_KEEP_FLOAT``, picked
on validation data by ``benchmarks/int8_select.py``), calibrated on training data. It is then measured against
the float32 file on the reduced benchmark of ``benchmarks/int8_bench.py`` (held-out test data) and timed against
it with 1 and 2 threads. It is written only when every benchmark row is within the model's quality limit
(:data:`LIMITS`, from issue #23) and it is faster at both thread counts; what it was measured against goes into
its metadata (``biodae.int8_validation``: the float32 weights' sha256, each row's difference, the limit, the
speed ratios and the CPU flags), which ``precision="auto"`` reads. Prints the rows as measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import progress

#: Issue #23's quality limits: the metric of the model's reduced benchmark and the most int8 may lose.
LIMITS = {"ecg": ("SNR improvement dB", 0.2), "ecg-small": ("SNR improvement dB", 0.2), "mri": ("masked PSNR dB", 0.1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(LIMITS))
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per file and thread count")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dry-run", action="store_true", help="measure and print, write nothing")
    args = ap.parse_args(argv)
    import tempfile

    import int8_bench

    from biodae.datasets import calibration_inputs
    from biodae.runtime import load_onnx, model_path, variant_path
    from biodae.runtime._int8 import int8_variant

    name = args.model
    metric, limit = LIMITS[name]
    src = model_path(name)
    proto = load_onnx(src)
    meta = {p.key: p.value for p in proto.metadata_props}
    progress(f"{name}: building")
    int8, cal_parity = int8_variant(proto, calibration_inputs(name, data_dir=args.data_dir), name=name)
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / f"{name}.int8.onnx"
        dst.write_bytes(int8.SerializeToString(deterministic=True))
        progress(f"{name}: quality on test data")
        rows, parity, data = int8_bench.quality(name, src, dst, args.data_dir)
        x = int8_bench.speed_batch(src)
        speed = {}
        for threads in (1, 2):
            progress(f"{name}: speed, {threads} thread(s)")
            r = int8_bench.speedup(src, {"int8": dst}, x, threads, args.seconds)
            speed[str(threads)] = round(r["int8"] / r["fp32"], 3)
    deltas = {r[0]: round(float(r[4]), 3) for r in rows if r[1] == metric}
    worst = min(deltas.values())
    passed = worst >= -limit
    faster = all(v > 1.0 for v in speed.values())
    for r in rows:
        print(f"{name} | {r[0]} | {r[1]} | fp32 {r[2]:.3f} | int8 {r[3]:.3f} | {r[4]:+.3f}")
    print(f"worst {worst:+.3f} (limit -{limit:g}): {'passed' if passed else 'FAILED'}; "
          f"int8/fp32 speed {speed} (batch {list(x.shape)}): {'faster' if faster else 'NOT faster'}; "
          f"parity calibration {cal_parity:.2e}, test {parity:.2e}")
    if not (passed and faster) or args.dry_run:
        print("not written" + (" (--dry-run)" if args.dry_run else ""))
        return 0 if args.dry_run else 1
    validation = {
        "benchmark": f"benchmarks/int8_bench.py, {data}, {time.strftime('%Y-%m-%d')}",
        "source_weights_sha256": meta["biodae.weights_sha256"],
        "metric": metric, "limit": limit, "deltas": deltas, "worst_delta": worst, "quality_passed": passed,
        "speedup": speed, "speed_batch": list(x.shape), "cpu_flags": int8_bench.cpu_flags(),
        "test_parity": float(f"{parity:.2e}"),
    }
    new = {p.key: p.value for p in int8.metadata_props}
    new["biodae.int8_validation"] = json.dumps(validation, sort_keys=True)
    del int8.metadata_props[:]
    for k in sorted(new):
        int8.metadata_props.add(key=k, value=new[k])
    out = variant_path(src, "int8")
    out.write_bytes(int8.SerializeToString(deterministic=True))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {json.dumps(validation)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
