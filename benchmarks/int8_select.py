"""Which int8 settings keep a 1D model's quality: measured on VALIDATION data, never on the benchmarks' test data.

    BIODAE_DATA=../shared/data python benchmarks/int8_select.py ecg one        # quantise one inner Conv at a time
    BIODAE_DATA=../shared/data python benchmarks/int8_select.py ecg options    # onnxruntime's options, all inner Convs
    BIODAE_DATA=../shared/data python benchmarks/int8_select.py ecg "speed:;A,B;A,B,C"  # keep these Convs float32 too,
                                                                                # with the int8/fp32 speed (1 thread)

``ecg``: the 9 validation records x 2 leads, one 30-s stretch each, validation-split NSTDB bw/em/ma at -6..24 dB,
end to end; ``eeg``: 100 validation epochs per artefact (EOG, EMG) and level (-5, 0, 5 dB). Prints the SNR
improvement of each setting minus float32's, per noise type and level, and the worst. The choice goes into
``biodae.runtime._int8.INT8_KEEP_FLOAT``; ``benchmarks/int8_ship.py`` then checks it on test data. Prints only
(a search, not a report); the figures it gave are quoted in ``docs/benchmarks/int8.md``.
"""
import contextlib
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from biodae import metrics
from biodae.datasets import calibration_inputs
from biodae.runtime import load_model, model_path

logging.getLogger().setLevel(logging.ERROR)
MODEL = sys.argv[1]
SRC = str(model_path(MODEL))
proto = onnx.load(SRC)
CONVS = [n.name for n in proto.graph.node if n.op_type == "Conv"]
TCONVS = [n.name for n in proto.graph.node if n.op_type == "ConvTranspose"]
CAL = calibration_inputs(MODEL).batches

class R(CalibrationDataReader):
    def __init__(self): self.it = iter(CAL)
    def get_next(self):
        x = next(self.it, None); return None if x is None else {"input": x}

def quant(nodes, fmt="QDQ", per_channel=True, method="MinMax", reduce_range=False, act=QuantType.QUInt8, ops=("Conv",), extra=None):
    tmp = tempfile.mkdtemp()
    dst = Path(tmp) / "q.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        quantize_static(SRC, str(dst), R(), quant_format=getattr(QuantFormat, fmt), op_types_to_quantize=list(ops),
                        per_channel=per_channel, activation_type=act, weight_type=QuantType.QInt8, reduce_range=reduce_range,
                        nodes_to_quantize=list(nodes), calibrate_method=getattr(CalibrationMethod, method),
                        calibration_providers=["CPUExecutionProvider"], extra_options=extra or {})
    return str(dst)

if MODEL in ("ecg", "ecg-small"):
    import ecg_bench

    from biodae.datasets import load_ecg_records
    val = [s[: int(30 * ecg_bench.FS)] for s in ecg_bench.stretches(load_ecg_records("val"), 1, 77)]
    SET = []
    for kind in ecg_bench.KINDS:
        for snr in (-6, 0, 6, 12, 18, 24):
            rng = np.random.default_rng([77, ecg_bench.KINDS.index(kind), snr + 100])
            SET.append((f"{kind}{snr:+d}", [(c, ecg_bench.mix(c, kind, float(snr), "val", rng)) for c in val]))
    def evaluate(path):
        m = load_model(path, threads=1)
        return {k: float(np.mean([metrics.snr_improvement_db(c, x, m.denoise_signal(x, sampling_rate=360.0, units="mV")) for c, x in pairs])) for k, pairs in SET}
else:
    from biodae.datasets import EEGNoiseMixer, load_eeg_epochs
    mixer = EEGNoiseMixer(load_eeg_epochs("val"), artifact_split="val")
    SET = []
    for kind in ("eog", "emg"):
        for snr in (-5.0, 0.0, 5.0):
            pairs = [mixer.window(np.random.default_rng([77, int(snr) + 10, i]), kind=kind, snr_db=snr) for i in range(100)]
            SET.append((f"{kind}{snr:+g}", np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs]).astype(np.float64)))
    def evaluate(path):
        m = load_model(path, threads=1)
        out = {}
        for k, x, c in SET:
            y = m.session.run(None, {"input": x})[0]
            out[k] = float(np.mean([metrics.snr_improvement_db(ci, xi, yi) for ci, xi, yi in zip(c, x[:, 0].astype(np.float64), y[:, 0])]))
        return out

t = time.time()
REF = evaluate(SRC)
print("fp32", {k: round(v, 3) for k, v in REF.items()}, f"{time.time()-t:.1f}s", flush=True)

def report(label, path):
    q = evaluate(path)
    d = {k: q[k] - REF[k] for k in REF}
    worst = min(d.values())
    print(f"{label:50s} worst {worst:+.3f} mean {np.mean(list(d.values())):+.3f} | " + " ".join(f"{k}:{v:+.2f}" for k, v in d.items()), flush=True)
    return worst

mode = sys.argv[2]
inner = CONVS[1:-1]
if mode == "one":  # quantise one conv at a time
    for c in inner:
        report(f"only {c}", quant([c]))
elif mode == "options":
    report("base (QDQ per-ch MinMax)", quant(inner))
    report("per-tensor", quant(inner, per_channel=False))
    report("reduce_range", quant(inner, reduce_range=True))
    report("Percentile", quant(inner, method="Percentile"))
    report("Entropy", quant(inner, method="Entropy"))
    report("QOperator", quant(inner, fmt="QOperator"))
    report("QInt8 act symmetric", quant(inner, act=QuantType.QInt8, extra={"ActivationSymmetric": True}))
elif mode.startswith("excl:"):
    for spec in mode[5:].split(";"):
        ex = set(spec.split(","))
        report(f"excl {spec}", quant([c for c in inner if c not in ex]))

if mode.startswith("speed:"):
    from _common import rates

    from biodae.runtime import create_session
    w = 1024 if MODEL in ("ecg", "ecg-small") else 512
    x = np.random.default_rng(0).standard_normal((64, 1, w)).astype(np.float32)
    x = (np.cumsum(x, axis=-1) * 0.02 + x * 0.1).astype(np.float32)
    s32 = create_session(SRC, threads=1)
    for spec in mode[6:].split(";"):
        ex = set(spec.split(",")) if spec else set()
        p = quant([c for c in inner if c not in ex])
        worst = report(f"excl {spec}", p)
        s8 = create_session(p, threads=1)
        r = rates({"fp32": lambda: s32.run(None, {"input": x}),
                   "int8": lambda s8=s8: s8.run(None, {"input": x})}, x.size, 1.5)
        print(f"   speed int8/fp32 {r['int8']/r['fp32']:.2f}x", flush=True)
