"""Benchmark 3: EEG artefact removal under the EEGdenoiseNet protocol (rebuilt on our data).

Run from the project root (``BIODAE_DATA`` names the data folder)::

    python benchmarks/eeg_bench.py --model models/eeg.onnx [--out docs/]
    python benchmarks/eeg_bench.py --model none --out /tmp/eeg   # classical filters only

On the clean test epochs of :mod:`biodae.datasets` (S001 runs R09-R10, and separately the
second subject ``test_other_subject``), each epoch gets one fixed EOG and one fixed EMG
segment from the *test* ranges of the artefact sources, mixed at every SNR of two grids:
true dB −5…5 and EEGdenoiseNet's nominal −7…2 (a true −14…4 dB). RRMSE_t, RRMSE_s and
CC are reported for the noisy input, the DAE (an ONNX model, µV in and out) and the
Butterworth, median and wavelet filters, each tuned by grid search on the *validation*
split (RRMSE_t, one setting per artefact type over all SNRs of both grids).

Writes ``<out>/benchmarks/eeg.md``, ``eeg_examples.png``, ``eeg_snr.png`` and
``eeg_clean_psd.png`` (every method on the clean test epochs, no artefact added).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from _common import Progress, markdown_table, save_figure, write_text  # noqa: E402
from biodae import filters, metrics  # noqa: E402
from biodae.datasets._eeg import (  # noqa: E402
    EEG_EPOCH,
    EEG_SAMPLING_RATE,
    EEGNoiseMixer,
    eeg_artifact_split,
    eeg_recordings,
    load_eeg_epochs,
)
from biodae.noise import mix_at_snr, nominal_to_true_db  # noqa: E402

FS = float(EEG_SAMPLING_RATE)
KINDS = ("eog", "emg")
FILTERS = ("butterworth", "median", "wavelet")
METRICS = ("RRMSE_t", "RRMSE_s", "CC")
LOWER_IS_BETTER = {"RRMSE_t": True, "RRMSE_s": True, "CC": False}
TRUE_GRID = tuple(float(s) for s in range(-5, 6))
NOMINAL_GRID = tuple(float(s) for s in range(-7, 3))
TEST_SETS = ("test", "test_other_subject")
_CHUNK = 256  # epochs per filter call (the filters want time on the longer axis)


def rrmse_t(clean: np.ndarray, estimate: np.ndarray) -> float:
    """RRMSE_t of one epoch (the tuning metric)."""
    return float(metrics.rrmse_temporal(clean, estimate))


def score(clean: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """Mean RRMSE_t, RRMSE_s and CC over epochs (rows)."""
    return {
        "RRMSE_t": float(np.mean(metrics.rrmse_temporal(clean, estimate, axis=-1))),
        "RRMSE_s": float(np.mean(metrics.rrmse_spectral(clean, estimate, sampling_rate=FS, axis=-1))),
        "CC": float(np.mean(metrics.pearson_cc(clean, estimate, axis=-1))),
    }


def apply_filter(method: str, params: dict, noisy: np.ndarray) -> np.ndarray:
    """Filter every epoch (rows of ``noisy``) with one setting."""
    out = np.empty(noisy.shape, dtype=np.float64)
    for s in range(0, noisy.shape[0], _CHUNK):
        out[s : s + _CHUNK] = filters.apply(method, noisy[s : s + _CHUNK].T, sampling_rate=FS, **params).T
    return out


class DAE:
    """An ONNX denoiser, ``[batch, 1, 512]`` float32 µV in and out."""

    def __init__(self, path: str, threads: int | None) -> None:
        from biodae.runtime import create_session

        self.path = path
        self.session = create_session(path, threads=threads)
        self.input = self.session.get_inputs()[0].name

    def __call__(self, noisy: np.ndarray, batch: int = 256) -> np.ndarray:
        out = []
        for s in range(0, noisy.shape[0], batch):
            x = noisy[s : s + batch, None, :].astype(np.float32)
            y = self.session.run(None, {self.input: x})[0]
            out.append(np.asarray(y, dtype=np.float64).reshape(x.shape[0], EEG_EPOCH))
        return np.concatenate(out)


def artifact_bank(mixer: EEGNoiseMixer, kind: str, n: int, seed: int) -> np.ndarray:
    """``n`` fixed artefact segments (random channel, start and sign), reproducible by seed."""
    rng = np.random.default_rng(seed)
    return np.stack([mixer.artifact(rng, kind=kind) for _ in range(n)])


def tune_filters(val: np.ndarray, args, log: Progress) -> dict[str, dict[str, filters.TuneResult]]:
    """One tuned setting per (artefact type, filter) on validation mixtures at every SNR of both grids."""
    levels = sorted(set(TRUE_GRID) | {float(nominal_to_true_db(s)) for s in NOMINAL_GRID})
    rng = np.random.default_rng(args.seed + 1)
    n = min(args.val_epochs, val.shape[0])
    idx = np.sort(rng.choice(val.shape[0], n, replace=False))
    mixer = EEGNoiseMixer(val, artifact_split="val")
    tuned: dict[str, dict[str, filters.TuneResult]] = {}
    for k, kind in enumerate(KINDS):
        arts = artifact_bank(mixer, kind, n, args.seed + 10 + k)
        clean = np.repeat(val[idx].astype(np.float64), len(levels), axis=0)
        snr = np.tile(np.asarray(levels), n)
        noisy = mix_at_snr(clean, np.repeat(arts, len(levels), axis=0), snr, axis=-1).noisy
        tuned[kind] = {}
        for method in FILTERS:
            grid = filters.default_grid(method, sampling_rate=FS, modality="eeg", shape=(EEG_EPOCH,))
            log(f"tuning {method} for {kind.upper()}: {len(grid)} grid points x {n} val epochs x {len(levels)} SNRs")
            r = filters.tune(method, noisy, clean, sampling_rate=FS, modality="eeg", metric=rrmse_t)
            tuned[kind][method] = r
            log(f"  {kind.upper()} {method}: {fmt_params(r.params)} (val RRMSE_t {r.score:.3f})")
    return tuned


def fmt_params(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def evaluate(clean: np.ndarray, arts: np.ndarray, grid: tuple[float, ...], definition: str,
             tuned: dict[str, filters.TuneResult], dae: DAE | None) -> dict:
    """``results[snr][method][metric]`` and one example per SNR (epoch 0's traces)."""
    results, examples = {}, {}
    for snr in grid:
        noisy = mix_at_snr(clean, arts, snr, axis=-1, definition=definition).noisy
        est = {"noisy": noisy}
        if dae is not None:
            est["DAE"] = dae(noisy)
        for method in FILTERS:
            est[method] = apply_filter(method, tuned[method].params, noisy)
        results[snr] = {m: score(clean, e) for m, e in est.items()}
        examples[snr] = {m: e[0] for m, e in est.items()} | {"clean": clean[0]}
    return {"results": results, "examples": examples}


BANDS = ((1.0, 4.0, "delta"), (4.0, 8.0, "theta"), (8.0, 13.0, "alpha"), (13.0, 30.0, "beta"), (30.0, 45.0, "gamma"))


def clean_pass(clean: np.ndarray, tuned: dict[str, dict[str, filters.TuneResult]],
               dae: DAE | None) -> tuple[list[list], dict[str, np.ndarray]]:
    """Each method on the clean epochs themselves (no artefact added): how much real EEG it changes.

    Returns the table rows (method, RRMSE_t, RRMSE_s, CC, then the power kept in each band
    of :data:`BANDS`: output over input, Welch PSDs with 1-s Hann segments summed over all
    epochs; 1.00 is untouched; filters with their EOG and with their EMG setting) and the
    mean PSDs for the figure (``f``, ``clean`` and one per method).
    """
    from scipy.signal import welch

    f, p_in = welch(clean, fs=FS, nperseg=int(FS), axis=-1)
    runs = {"DAE": dae(clean)} if dae is not None else {}
    for kind in KINDS:
        for method in FILTERS:
            runs[f"{method} ({kind.upper()} setting)"] = apply_filter(method, tuned[kind][method].params, clean)
    rows, psd = [], {"f": f, "clean": p_in.mean(axis=0)}
    for name, est in runs.items():
        s = score(clean, est)
        _, p_out = welch(est, fs=FS, nperseg=int(FS), axis=-1)
        kept = [float(p_out[:, (f >= lo) & (f < hi)].sum() / p_in[:, (f >= lo) & (f < hi)].sum())
                for lo, hi, _ in BANDS]
        rows.append([name, s["RRMSE_t"], s["RRMSE_s"], s["CC"], *kept])
        psd[name] = p_out.mean(axis=0)
    return rows, psd


def figure_clean_psd(psds: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    """Mean PSD of the clean test epochs and of what the DAE and two EOG-tuned filters make of them."""
    import matplotlib.pyplot as plt

    titles = {"test": "S001 test runs", "test_other_subject": "other subject (EEGLAB)"}
    fig, axes = plt.subplots(1, len(psds), figsize=(6 * len(psds), 3.8), sharey=True)
    for ax, (split, psd) in zip(np.atleast_1d(axes), psds.items()):
        f = psd["f"]
        band = (f >= 0.5) & (f <= 50)
        ax.semilogy(f[band], psd["clean"][band], color="k", lw=1.6, label="clean input")
        for name, color in (("DAE", "tab:red"), ("butterworth (EOG setting)", "tab:blue"),
                            ("wavelet (EOG setting)", "tab:purple")):
            if name in psd:
                ax.semilogy(f[band], psd[name][band], color=color, lw=1.0, label=f"{name} output")
        ax.set_title(f"{titles[split]}: clean epochs, no artefact added")
        ax.set_xlabel("frequency (Hz)")
        ax.grid(alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel("mean PSD (µV²/Hz)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return save_figure(fig, path)


def clean_table(rows: list[list]) -> str:
    header = ["method", "RRMSE_t", "RRMSE_s", "CC"] + [f"{n} {lo:g}-{hi:g} Hz kept" for lo, hi, n in BANDS]
    return markdown_table(header, rows, align="l" + "r" * (len(header) - 1))


def methods_of(dae: DAE | None) -> list[str]:
    return ["noisy", *(["DAE"] if dae is not None else []), *FILTERS]


def table(runs: dict, grid: tuple[float, ...], methods: list[str], snr_label: str) -> str:
    header = ["artefact", snr_label] + [f"{m} {k}" for m in methods for k in METRICS]
    rows = []
    for kind in KINDS:
        res = runs[kind]["results"]
        for snr in grid:
            rows.append([kind.upper(), f"{snr:+.0f}"] + [res[snr][m][k] for m in methods for k in METRICS])
        rows.append([f"**{kind.upper()} mean**", "all"]
                    + [float(np.mean([res[s][m][k] for s in grid])) for m in methods for k in METRICS])
    return markdown_table(header, rows)


def target_check(runs: dict, grid: tuple[float, ...]) -> list[str]:
    """Does the DAE beat the best tuned filter at every (artefact, SNR), per metric?"""
    lines = []
    for k in METRICS:
        wins, losses = 0, []
        for kind in KINDS:
            for snr in grid:
                r = runs[kind]["results"][snr]
                vals = [r[f][k] for f in FILTERS]
                best = min(vals) if LOWER_IS_BETTER[k] else max(vals)
                ok = r["DAE"][k] < best if LOWER_IS_BETTER[k] else r["DAE"][k] > best
                wins += ok
                if not ok:
                    losses.append(f"{kind.upper()} {snr:+.0f}")
        n = len(KINDS) * len(grid)
        verdict = "yes" if wins == n else "no"
        lines.append(f"{k}: {verdict} ({wins}/{n} levels)" + (f"; not at {', '.join(losses)}" if losses else ""))
    return lines


def best_filter(tuned: dict[str, filters.TuneResult]) -> str:
    """The filter with the lowest validation RRMSE_t (chosen on validation, not on test)."""
    return min(FILTERS, key=lambda f: tuned[f].score)


def figure_examples(runs: dict, tuned: dict, path: Path, has_dae: bool) -> Path:
    import matplotlib.pyplot as plt

    t = np.arange(EEG_EPOCH) / FS
    fig, axes = plt.subplots(len(KINDS), 1, figsize=(10, 3.2 * len(KINDS)), sharex=True)
    for ax, kind in zip(np.atleast_1d(axes), KINDS):
        ex = runs[kind]["examples"][0.0]
        bf = best_filter(tuned[kind])
        ax.plot(t, ex["noisy"], color="0.7", lw=0.8, label="noisy (0 dB)")
        ax.plot(t, ex["clean"], color="k", lw=1.2, label="clean")
        ax.plot(t, ex[bf], color="tab:blue", lw=1.0, label=f"{bf} (tuned)")
        if has_dae:
            ax.plot(t, ex["DAE"], color="tab:red", lw=1.0, label="DAE")
        ax.set_title(f"{kind.upper()}, test epoch, true SNR 0 dB")
        ax.set_ylabel("µV")
        ax.legend(loc="upper right", fontsize=8, ncol=4)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    return save_figure(fig, path)


def figure_snr(all_runs: dict, path: Path, methods: list[str]) -> Path:
    import matplotlib.pyplot as plt

    colors = {"noisy": "0.6", "DAE": "tab:red", "butterworth": "tab:blue", "median": "tab:green",
              "wavelet": "tab:purple"}
    fig, axes = plt.subplots(len(KINDS), len(METRICS), figsize=(13, 3.4 * len(KINDS)), sharex=True)
    x = np.asarray(TRUE_GRID)
    for i, kind in enumerate(KINDS):
        for j, k in enumerate(METRICS):
            ax = axes[i, j]
            for split, style in (("test", "-"), ("test_other_subject", "--")):
                res = all_runs[(split, "true")][kind]["results"]
                for m in methods:
                    ax.plot(x, [res[s][m][k] for s in TRUE_GRID], style, color=colors[m], marker=".",
                            label=m if split == "test" else None)
            ax.set_title(f"{kind.upper()}: {k}")
            ax.grid(alpha=0.3)
            if i == len(KINDS) - 1:
                ax.set_xlabel("input SNR (true dB)")
    axes[0, 0].legend(fontsize=8, title="solid: S001 test, dashed: other subject", title_fontsize=7)
    return save_figure(fig, path)


def report(args, counts: dict, tuned: dict, all_runs: dict, methods: list[str], checks: dict,
           n_val: int, clean_rows: dict) -> str:
    md = ["# Benchmark 3: EEG artefact removal (EEGdenoiseNet protocol, rebuilt)", ""]
    md += [
        "Generated by `python benchmarks/eeg_bench.py"
        f" --model {args.model} --seed {args.seed} --val-epochs {args.val_epochs}`. "
        "Do not edit by hand.",
        "",
        "## Data and protocol",
        "",
        "- **Epochs**: 2 s at 256 Hz (512 samples), single channel, µV; one fixed artefact segment per epoch"
        " and artefact type, mixed as `y = x + λ·n` with λ set per epoch for the target SNR"
        " (`biodae.noise.mix_at_snr`).",
        "- **Clean EEG** (`biodae.datasets`): channels away from the eyes and temporal muscles, band-pass"
        " 1–45 Hz, common average reference over those channels, resampled to 256 Hz, epochs with"
        " peak-to-peak > 150 µV, variance or 20–45 Hz power outliers (> 3 robust z) or a frontal blink"
        " (> 200 µV, 1–8 Hz) rejected.",
        "- **Splits** (by run or recording, never by epoch): tuning on `val` = S001 R08; `test` = S001"
        " R09–R10; `test_other_subject` = the EEGLAB tutorial recording (another person, 128 Hz, held out"
        " whole). Training (not used here) is S001 R01–R07.",
        "- **Few subjects**: all clean EEG comes from **two people** (S001 of PhysioNet eegmmidb, and the"
        " EEGLAB tutorial subject). `test` differs from training by run only; `test_other_subject` is one"
        " person. EEGLAB's `test.edf`/`test.bdf` are synthetic test signals, not EEG, so they are unused.",
        "- **Artefacts**: EOG = EEGLAB `EOG1`/`EOG2` (0.3–10 Hz), EMG = NSTDB `ma` high-passed at 20 Hz,"
        " both resampled to 256 Hz; test mixtures use only the test ranges (last 20%) of each source,"
        " tuning only the validation ranges. The EOG source is the same recording as `test_other_subject`"
        " (different time ranges, and its frontal channels are excluded).",
        "- **SNR grids**: true dB (10·log10 of a power ratio) −5…5; and **EEGdenoiseNet-nominal** −7…2,"
        " whose “dB” is 10·log10 of an RMS ratio, i.e. a true −14…4 dB.",
        "- **Metrics** (`biodae.metrics`), mean over epochs: RRMSE_t = RMS(ŷ−x)/RMS(x);"
        " RRMSE_s = the same on Welch PSDs (1-s Hann segments, 50% overlap); CC = Pearson correlation.",
        f"- **Classical filters** tuned with `biodae.filters.tune` (default EEG grid, metric RRMSE_t) on"
        f" {n_val} randomly chosen validation epochs (a subsample, to keep tuning quick) × every SNR of both"
        " grids, once per artefact type (not per SNR). The mean over those 16 levels weighs the low-SNR end"
        " most (the noisy input's RRMSE_t is 10^(−SNR/20)), so the filter best on validation need not be"
        " best on the −5…5 dB grid.",
        f"- **Seed** {args.seed} (artefact draws and the validation subsample); the run is deterministic.",
        "",
        "**Not comparable with EEGdenoiseNet's numbers.** Their clean EEG, EOG and EMG epochs could not be"
        " obtained; ours are other recordings, preprocessed differently (our clean EEG is band-limited to"
        " 1–45 Hz, which makes a low-pass filter a strong baseline against EMG). Compare methods within"
        " this page only.",
        "",
        "### Epoch counts",
        "",
    ]
    rows = []
    for split, c in counts.items():
        rows.append([split, ", ".join(Path(r).stem for r in eeg_recordings(split)), c["candidates"],
                     c["candidates"] - c["kept"], c["kept"]])
    md += [markdown_table(["split", "recordings", "candidate epochs", "rejected", "kept"], rows, align="llrrr"), ""]
    md += ["### Tuned filter settings (validation, RRMSE_t)", ""]
    rows = [[kind.upper(), m, fmt_params(tuned[kind][m].params), tuned[kind][m].score]
            for kind in KINDS for m in FILTERS]
    md += [markdown_table(["artefact", "filter", "parameters", "val RRMSE_t"], rows, align="lllr"), ""]
    if "DAE" in methods:
        md += [f"DAE: `{args.model}` run with onnxruntime on the CPU.", ""]
    else:
        md += ["No DAE model given (`--model none`): classical filters only.", ""]
    titles = {"test": "S001 test runs (R09–R10)", "test_other_subject": "other subject (EEGLAB recording)"}
    for split in TEST_SETS:
        md += [f"## {titles[split]}", ""]
        md += [f"### True-dB SNR grid (−5…5 dB), {counts[split]['kept']} epochs", ""]
        md += [table(all_runs[(split, "true")], TRUE_GRID, methods, "SNR (true dB)"), ""]
        md += ["### EEGdenoiseNet-nominal SNR grid (−7…2 nominal “dB” = −14…4 true dB)", ""]
        md += [table(all_runs[(split, "nominal")], NOMINAL_GRID, methods, "SNR (nominal)"), ""]
        if split in checks:
            md += ["**Target check** (DAE better than the best tuned filter at every artefact × SNR):", ""]
            for grid_name, lines in checks[split].items():
                md += [f"- {grid_name} grid: " + "; ".join(lines)]
            md += [""]
    md += [
        "## Clean input: how much real EEG each method changes",
        "",
        "Every method applied to the clean test epochs themselves, with no artefact added. A denoiser run on"
        " EEG that is already clean (or only mildly contaminated) should leave it alone; RRMSE_t and"
        " RRMSE_s here are what it removes or adds on its own, and the band columns the share of each"
        " band's power that comes out (Welch PSDs, 1-s Hann segments, summed over epochs; 1.00 = untouched).",
        "",
    ]
    for split in TEST_SETS:
        md += [f"### {titles[split]}", "", clean_table(clean_rows[split]), ""]
    md += ["Mean PSD of the clean test epochs and of what the DAE and two EOG-tuned filters make of them:", "",
           "![clean input](eeg_clean_psd.png)", ""]
    md += [
        "## Figures",
        "",
        "One S001 test epoch per artefact at a true 0 dB: noisy, clean, the tuned filter with the lowest"
        " validation RRMSE_t" + (" and the DAE." if "DAE" in methods else "."),
        "",
        "![examples](eeg_examples.png)",
        "",
        "Metrics versus true-dB SNR; solid: S001 test runs, dashed: the other subject.",
        "",
        "![metrics versus SNR](eeg_snr.png)",
        "",
    ]
    md += [
        "## Sources",
        "",
        "- Zhang H. et al., EEGdenoiseNet, J. Neural Eng. 18:056057 (2021).",
        "- Schalk G. et al., BCI2000, IEEE TBME 51(6):1034-1043 (2004); PhysioNet eegmmidb (ODC-By 1.0).",
        "- Delorme A., Makeig S., EEGLAB, J. Neurosci. Methods 134:9-21 (2004) (tutorial data).",
        "- Moody G. B. et al., MIT-BIH Noise Stress Test Database, Computers in Cardiology 11:381-384 (1984).",
        "",
    ]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/eeg.onnx", help="ONNX model, or 'none' for filters only")
    p.add_argument("--out", default="docs", help="docs folder; files go to <out>/benchmarks/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-epochs", type=int, default=400, help="validation epochs per artefact for tuning")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.add_argument("--data-dir", default=None, help="data folder (default $BIODAE_DATA)")
    args = p.parse_args(argv)
    log = Progress("eeg_bench", sys.stdout)

    dae = None if args.model.lower() == "none" else DAE(args.model, args.threads)
    methods = methods_of(dae)
    log("loading clean epochs (val, test, test_other_subject)")
    epochs, counts = {}, {}
    for split in ("val", *TEST_SETS):
        x, info = load_eeg_epochs(split, data_dir=args.data_dir, return_info=True)
        epochs[split], counts[split] = x, info.counts
        names = ", ".join(Path(r).stem for r in eeg_recordings(split))
        log(f"  {split} ({names}): {x.shape[0]} epochs kept of {info.counts['candidates']}")

    tuned = tune_filters(epochs["val"], args, log)

    all_runs, checks, clean_rows, clean_psds = {}, {}, {}, {}
    for si, split in enumerate(TEST_SETS):
        clean = epochs[split].astype(np.float64)
        log(f"clean {split} epochs through every method (no artefact added)")
        clean_rows[split], clean_psds[split] = clean_pass(clean, tuned, dae)
        mixer = EEGNoiseMixer(epochs[split], artifact_split=eeg_artifact_split(split), data_dir=args.data_dir)
        arts = {kind: artifact_bank(mixer, kind, clean.shape[0], args.seed + 100 * (si + 1) + k)
                for k, kind in enumerate(KINDS)}
        for grid_name, grid, definition in (("true", TRUE_GRID, "standard"),
                                            ("nominal", NOMINAL_GRID, "eegdenoisenet")):
            log(f"evaluating {split}, {grid_name} grid ({len(grid)} SNRs x {clean.shape[0]} epochs x 2 artefacts)")
            all_runs[(split, grid_name)] = {
                kind: evaluate(clean, arts[kind], grid, definition, tuned[kind], dae) for kind in KINDS
            }
        if dae is not None:
            checks[split] = {name: target_check(all_runs[(split, name)], grid)
                             for name, grid in (("true", TRUE_GRID), ("nominal", NOMINAL_GRID))}

    print()
    for split in TEST_SETS:
        print(f"## {split}: true-dB grid\n")
        print(table(all_runs[(split, "true")], TRUE_GRID, methods, "SNR (true dB)") + "\n")
        print(f"## {split}: EEGdenoiseNet-nominal grid (nominal -7..2 = true -14..4 dB)\n")
        print(table(all_runs[(split, "nominal")], NOMINAL_GRID, methods, "SNR (nominal)") + "\n")
    for split in TEST_SETS:
        print(f"## {split}: clean input (no artefact added)\n")
        print(clean_table(clean_rows[split]) + "\n")
    print("Target check (DAE beats the best tuned filter at every level, per metric):")
    if dae is None:
        print("  skipped: no model (--model none)")
    for split, by_grid in checks.items():
        for name, lines in by_grid.items():
            for line in lines:
                print(f"  {split}, {name} grid: {line}")

    out = Path(args.out) / "benchmarks"
    log(f"writing {out / 'eeg.md'} and figures")
    write_text(out / "eeg.md", report(args, counts, tuned, all_runs, methods, checks,
                                      min(args.val_epochs, epochs["val"].shape[0]), clean_rows))
    figure_examples(all_runs[("test", "true")], tuned, out / "eeg_examples.png", dae is not None)
    figure_snr(all_runs, out / "eeg_snr.png", methods)
    figure_clean_psd(clean_psds, out / "eeg_clean_psd.png")
    log("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
