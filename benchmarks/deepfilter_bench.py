"""Benchmark 1: the DeepFilter protocol (QT Database + NSTDB baseline wander), reproduced exactly.

    BIODAE_DATA=../shared/data python benchmarks/deepfilter_bench.py [--out docs/benchmarks]

Rows: the published results (ANCHORS.md, Romero et al. 2021 and later work), DeepFilter's
own FIR and IIR filters (faithful copies), our tuned median / Butterworth / wavelet filters
(grid-searched on the protocol's validation beats), our FCN-DAE (Chiang et al. 2019
re-trained here) and our model (``ecg-qtdb-bw``). Following the protocol, one model is
trained per noise version (v1: NSTDB channel 1 first half for training, channel 2 second
half for testing; v2 the other way round) and the metrics pool both test sets.

Metrics per beat over all 512 samples, mean (std) over beats: SSD = sum (y - yhat)^2 [mV^2],
MAD = max |y - yhat| [mV], PRD as DeepFilter codes it (denominator about the mean of the
whole test array; non-standard), standard PRD, cosine similarity (no mean removal).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import markdown_table, progress  # noqa: E402

from biodae import filters, metrics  # noqa: E402
from biodae.datasets import deepfilter_protocol, validation_split  # noqa: E402

FS = 360.0
PUBLISHED = [  # ANCHORS.md (journal version; DRNN and FCN-DAE rows corrected)
    ("FIR filter (published)", 47.46, 0.676, 66.16, 0.692, "-"),
    ("IIR filter (published)", 35.65, 0.594, 61.13, 0.736, "-"),
    ("DRNN (published)", 10.63, 0.598, 94.50, 0.770, "25k"),
    ("FCN-DAE (published)", 6.70, 0.480, 50.04, 0.878, "80k"),
    ("DeepFilter (published)", 5.20, 0.386, 50.45, 0.897, "69k"),
    ("DeScoD-ECG (published)", 3.80, 0.329, 39.9, 0.926, "1.9M"),
    ("MECG-E (published)", 3.45, 0.319, 37.6, 0.936, "-"),
]
TARGET = {"SSD": 5.20, "MAD": 0.386, "PRD": 50.45, "cos": 0.897}
BUCKETS = [(0.2, 0.6), (0.6, 1.0), (1.0, 1.5), (1.5, 2.0)]


def per_beat(clean: np.ndarray, est: np.ndarray, mean_all: float) -> dict[str, np.ndarray]:
    return {
        "SSD": metrics.ssd(clean, est, axis=1),
        "MAD": metrics.mad(clean, est, axis=1),
        "PRD": metrics.prd_deepfilter(clean, est, mean_all=mean_all, axis=1),
        "PRD_std": metrics.prd(clean, est, axis=1),
        "cos": metrics.cosine_similarity(clean, est, axis=1),
    }


def run_filter(fn, x: np.ndarray) -> np.ndarray:
    return np.stack([fn(b.astype(np.float64)) for b in x])


def onnx_runner(path: Path):
    from biodae.runtime import create_session

    sess = create_session(path)

    def run(x: np.ndarray) -> np.ndarray:
        out = [sess.run(None, {"input": x[i : i + 512, None, :].astype(np.float32)})[0][:, 0] for i in range(0, len(x), 512)]
        return np.concatenate(out)

    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"), help="folder for deepfilter.md and figures")
    ap.add_argument("--models", default=str(ROOT / "models"), help="folder with ecg-qtdb-bw.onnx, ecg-qtdb-bw-v2.onnx")
    ap.add_argument("--runs", default=None, help="folder with fcn-dae-qtdb-bw-v{1,2}.onnx (reference, not shipped)")
    ap.add_argument("--tune-beats", type=int, default=1500, help="validation beats used to tune each filter")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    ours = {1: Path(args.models) / "ecg-qtdb-bw.onnx", 2: Path(args.models) / "ecg-qtdb-bw-v2.onnx"}
    runs = Path(args.runs) if args.runs else None
    fcn = {v: runs / f"fcn-dae-qtdb-bw-v{v}.onnx" for v in (1, 2)} if runs else {}

    results: dict[str, dict[str, list[np.ndarray]]] = {}
    r_all: list[np.ndarray] = []
    tuned_params: dict[str, dict[int, dict]] = {}
    example = None
    for v in (1, 2):
        progress(f"version {v}: building the protocol data")
        d = deepfilter_protocol(version=v)
        _, va = validation_split(d, fraction=0.3, method="last")
        rng = np.random.default_rng(v)
        pick = np.sort(rng.choice(va, size=min(args.tune_beats, va.size), replace=False))
        xv, yv = d.x_train[pick].astype(np.float64), d.y_train[pick].astype(np.float64)
        x, y = d.x_test.astype(np.float64), d.y_test.astype(np.float64)
        mean_all = float(y.mean())
        r_all.append(d.r_test)
        methods = {
            "FIR filter (DeepFilter's, faithful)": lambda a: run_filter(lambda b: filters.deepfilter_fir(b, sampling_rate=FS), a),
            "IIR filter (DeepFilter's, faithful)": lambda a: run_filter(lambda b: filters.deepfilter_iir(b, sampling_rate=FS), a),
        }
        for name in ("butterworth", "median", "wavelet"):
            progress(f"version {v}: tuning {name} on {len(pick)} validation beats")
            res = filters.tune(name, list(xv), list(yv), sampling_rate=FS, modality="ecg",
                               metric=lambda c, e: float(np.sum((c - e) ** 2)))
            tuned_params.setdefault(name, {})[v] = res.params
            methods[f"{name.capitalize()} (tuned)"] = (
                lambda a, p=res.params, n=name: run_filter(lambda b: filters.apply(n, b, sampling_rate=FS, **p), a)
            )
        if fcn.get(v) and fcn[v].is_file():
            methods["FCN-DAE (ours, re-trained)"] = onnx_runner(fcn[v])
        if ours[v].is_file():
            methods["biodae ecg-qtdb-bw (ours)"] = onnx_runner(ours[v])
        for name, fn in methods.items():
            progress(f"version {v}: {name} on {len(x)} test beats")
            est = fn(x)
            m = per_beat(y, est, mean_all)
            for k, val in m.items():
                results.setdefault(name, {}).setdefault(k, []).append(val)
            if v == 1:
                example = example or {"x": x, "y": y, "est": {}}
                example["est"][name] = est[:2000]
        results.setdefault("noisy input", {})
        for k, val in per_beat(y, x, mean_all).items():
            results["noisy input"].setdefault(k, []).append(val)

    r = np.concatenate(r_all)
    rows, keys = [], ["SSD", "MAD", "PRD", "PRD_std", "cos"]
    for name, ssd_, mad_, prd_, cos_, params in PUBLISHED:
        rows.append([name, f"{ssd_:.2f}", f"{mad_:.3f}", f"{prd_:.2f}", "-", f"{cos_:.3f}", params])
    pooled = {name: {k: np.concatenate(v) for k, v in m.items()} for name, m in results.items()}
    n_params = {"biodae ecg-qtdb-bw (ours)": "94k", "FCN-DAE (ours, re-trained)": "80k"}
    for name, m in pooled.items():
        rows.append([name] + [f"{m[k].mean():.{3 if k in ('MAD', 'cos') else 2}f} ({m[k].std():.{3 if k in ('MAD', 'cos') else 2}f})"
                              for k in keys] + [n_params.get(name, "-")])
    head = ["method", "SSD mV² ↓", "MAD mV ↓", "PRD % (DeepFilter) ↓", "PRD % (standard) ↓", "cos ↑", "params"]
    table = markdown_table(head, rows)

    brows = []
    for name, m in pooled.items():
        cells = [name]
        for lo, hi in BUCKETS:
            sel = (r >= lo) & (r < hi) if hi < 2.0 else (r >= lo)
            cells.append(f"{m['SSD'][sel].mean():.2f}")
        brows.append(cells)
    brows.insert(0, ["DeepFilter (published)", "2.40", "3.82", "5.72", "8.08"])
    btable = markdown_table(["method", "SSD r 0.2-0.6", "0.6-1.0", "1.0-1.5", "1.5-2.0"], brows)
    counts = ", ".join(f"{lo}-{hi}: {int(((r >= lo) & ((r < hi) if hi < 2.0 else True)).sum())}" for lo, hi in BUCKETS)

    check = []
    mine = pooled.get("biodae ecg-qtdb-bw (ours)")
    if mine is not None:
        for k, target in TARGET.items():
            val = mine[k].mean()
            ok = val > target if k == "cos" else val < target
            check.append(f"- {k}: {val:.4g} vs DeepFilter {target} -> {'beats' if ok else 'does NOT beat'}")
    tuned = "\n".join(f"- {k}: " + "; ".join(f"v{v}: {p}" for v, p in d.items()) for k, d in tuned_params.items())

    doc = f"""# Benchmark 1: the DeepFilter protocol

Generated by `python benchmarks/deepfilter_bench.py` ({time.strftime('%Y-%m-%d')}, {time.perf_counter() - t0:.0f} s on this machine).
Data: QT Database (105 records) beats and NSTDB `bw` noise exactly as in DeepFilter's preparation
(`biodae.datasets.deepfilter_protocol`, checked bit for bit against the reference code); test records
sel123 sel233 sel302 sel307 sel820 sel853 sel16420 sel16795 sele0106 sele0121 sel32 sel49 sel14046 sel15814;
pooled test beats of versions 1 and 2: {len(r)} (r buckets {counts}).
One model per version, as in the protocol. Published rows are quoted from the papers (ANCHORS.md), not re-run.
Our FCN-DAE rows (reference, not shipped) come from `biodae train fcn-dae-qtdb-bw-v1|v2 --out-dir runs/NAME
--export runs/NAME.onnx` (8 epochs each, SSD loss, no normalisation, as DeepFilter trained it) and
`--runs runs` here.

## All beats, mean (std)

{table}

## SSD by noise amplitude bucket r (peak-to-peak noise / beat)

{btable}

## Target check (ours vs DeepFilter, all four metrics, at most 100k parameters, one forward pass)

{chr(10).join(check) if check else '(no model found)'}

## Tuned filter parameters (grid search on {args.tune_beats} validation beats per version, metric SSD)

{tuned}

Notes: the classical filters are handicapped by the zero-padded 512-sample windows, which is why
the faithful FIR/IIR copies score as published while tuned filters do better. PRD (DeepFilter) uses
DeepFilter's own formula, whose denominator is taken about the mean of the whole test array; the
standard PRD is given beside it.
"""
    (out / "deepfilter.md").write_text(doc)
    print(doc)
    _figures(out, example, pooled, r)
    progress(f"done in {time.perf_counter() - t0:.0f} s; wrote {out / 'deepfilter.md'}")
    return 0


def _figures(out: Path, example, pooled, r) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if example:
        x, y = example["x"], example["y"]
        best_filter = min((n for n in example["est"] if "tuned" in n),
                          key=lambda n: pooled[n]["SSD"].mean(), default=None)
        shown = [n for n in (best_filter, "biodae ecg-qtdb-bw (ours)") if n in example["est"]]
        idx = [int(np.argmin(np.abs(np.ptp(x[:2000] - y[:2000], axis=1) / np.ptp(y[:2000], axis=1) - q))) for q in (0.5, 1.5)]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=False)
        t = np.arange(512) / FS
        for ax, i in zip(axes, idx):
            ax.plot(t, x[i], color="0.7", lw=1, label="noisy")
            ax.plot(t, y[i], "k", lw=1.5, label="clean")
            for n, c in zip(shown, ("tab:orange", "tab:blue")):
                ax.plot(t, example["est"][n][i], color=c, lw=1, label=n)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("mV")
        axes[0].legend(fontsize=8)
        fig.suptitle("DeepFilter protocol, test beats (version 1)")
        fig.tight_layout()
        fig.savefig(out / "deepfilter_examples.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    centres = [0.4, 0.8, 1.25, 1.75]
    for name, m in pooled.items():
        if name == "noisy input":
            continue
        vals = []
        for lo, hi in BUCKETS:
            sel = (r >= lo) & ((r < hi) if hi < 2.0 else True)
            vals.append(m["SSD"][sel].mean())
        ax.plot(centres, vals, marker="o", label=name)
    ax.plot(centres, [2.40, 3.82, 5.72, 8.08], "k--", marker="s", label="DeepFilter (published)")
    ax.set_yscale("log")
    ax.set_xlabel("noise amplitude r (peak-to-peak, x beat)")
    ax.set_ylabel("SSD (mV², mean over beats)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "deepfilter_buckets.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
