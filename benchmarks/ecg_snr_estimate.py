"""How well ``biodae info`` / the batch report estimate the SNR of a noisy ECG: real NSTDB noise
mixed at a known SNR into clean leads, the estimate against the truth.

    BIODAE_DATA=../shared/data python benchmarks/ecg_snr_estimate.py [--seconds 60] [--out docs/benchmarks]

Clean leads: every third QT Database record not used while designing the estimator (sel100, the
quick-start record, among them) and 14 MIT-BIH DS1 records, both leads, a clip from 5:00. The
clip is high-passed at 0.5 Hz (zero phase) so that the reference holds no baseline wander of its
own; the noise (NSTDB ``em``, ``bw``, ``ma``, test split) is scaled to the SNR as
``biodae.noise.mix_at_snr(..., remove_mean=True)`` defines it (variance over variance, as
``examples/make_examples.py``). Compared: ``biodae.noise.estimate_noise`` (the beat-template
estimate) and ``biodae.noise.estimate_snr_db`` (the white-noise estimate ``info`` used before).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import markdown_table, progress, write_text  # noqa: E402

#: QT Database records looked at while the estimator was designed (and the quick-start record)
DESIGN = {"sel100", "sel102", "sel117", "sel14157", "sel16273", "sel16795", "sel221", "sel302", "sel33", "sel45",
          "sel811", "sel871", "sele0107", "sele0122", "sele0210", "sele0406", "sele0606"}
MITDB = ["108", "109", "112", "114", "115", "122", "124", "203", "205", "207", "208", "215", "220", "230"]
LEVELS = (-6.0, 0.0, 6.0, 12.0, 24.0)
KINDS = ("em", "bw", "ma")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="clip length (default 60 s)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = ap.parse_args(argv)

    from scipy import signal as sps

    from biodae import io, noise
    from biodae.datasets._ecg import _mitdb_dir
    from biodae.datasets._paths import cache_root, data_root

    ecg = data_root(None, "ecg", "ecg/qtdb")
    data = ecg.parent
    mit = _mitdb_dir(ecg, cache_root())
    if mit is None:
        raise SystemExit("MIT-BIH DS1 not found: set BIODAE_DATA to the data folder holding ecg/mitdb-ds1.tar.xz")
    qt = [r for r in (ecg / "qtdb" / "RECORDS").read_text().split() if r not in DESIGN][::3]
    rng = np.random.default_rng(2026)
    new, old, floors, times = [], [], [], []
    for name in qt + MITDB:
        rec = io.read(ecg / "qtdb" / name if name.startswith("sel") else mit / name)
        fs = rec.sampling_rate
        a, n = int(300 * fs), int(args.seconds * fs)
        progress(f"{name}: {rec.n_channels} leads at {fs:g} Hz")
        for c in range(min(2, rec.n_channels)):
            x = rec.data[a:a + n, c]
            clean = sps.sosfiltfilt(sps.butter(2, 0.5, btype="highpass", fs=fs, output="sos"), x - x.mean())

            def estimate(y: np.ndarray) -> float:
                t0 = time.perf_counter()
                (e,) = noise.estimate_noise(io.Signal(y[:, None], fs, [rec.channel_names[c]], ["mV"]))
                times.append(time.perf_counter() - t0)
                return e.snr_db

            floor = estimate(clean)
            for kind in KINDS:
                seg = noise.nstdb_segment(kind, "test", length=n, rng=rng, sampling_rate=fs, data_dir=data)
                mixed = [noise.mix_at_snr(clean, seg, s, remove_mean=True).noisy for s in LEVELS]
                new.append((kind, [estimate(y) for y in mixed]))
                old.append((kind, [float(noise.estimate_snr_db(y, sampling_rate=fs)) for y in mixed]))
                floors.append(floor)
    floors = np.array(floors)

    def table(results: list, adjusted: bool) -> str:
        rows = []
        for kind in KINDS:
            est = np.array([e for k, e in results if k == kind])
            fl = np.array([f for (k, _), f in zip(results, floors) if k == kind])
            for j, s in enumerate(LEVELS):
                err = est[:, j] - s
                row = [kind, f"{s:g}", np.median(err), np.mean(np.abs(err)), np.percentile(err, 10),
                       np.percentile(err, 90), f"{np.mean(np.abs(err) <= 3):.0%}"]
                if adjusted:  # the truth counting the clean lead's own non-repeating content as noise
                    truth = -10 * np.log10(10 ** (-s / 10) + 10 ** (-fl / 10))
                    row.append(np.median(est[:, j] - truth))
                rows.append(row)
        head = ["noise", "true SNR (dB)", "median error", "mean abs error", "p10", "p90", "within 3 dB"]
        return markdown_table(head + (["median error vs floor-adjusted truth"] if adjusted else []), rows,
                              floatfmt=".2f")

    def monotone(results: list) -> str:
        e = np.array([v for _, v in results])
        return (f"{np.mean(np.all(np.diff(e[:, :4], axis=1) > 0, axis=1)):.1%} of the series rise strictly "
                f"over -6..12 dB, {np.mean(np.all(np.diff(e, axis=1) > 0, axis=1)):.1%} over -6..24 dB")

    text = "\n".join([
        "# ECG SNR estimate against real noise at a known SNR",
        "",
        f"Produced by `benchmarks/ecg_snr_estimate.py` (biodae {__import__('biodae').__version__}): {len(qt)} QT "
        f"Database records (250 Hz) not looked at while designing the estimator and {len(MITDB)} MIT-BIH DS1 "
        f"records (360 Hz), both leads, {args.seconds:g}-s clips from 5:00 high-passed at 0.5 Hz; real NSTDB noise "
        f"(test split) mixed at each SNR; {len(new)} series. Error = estimate minus true SNR, in dB.",
        "",
        "## `estimate_noise` (beat template: what `biodae info`, `denoise` and the batch report print)",
        "",
        table(new, True),
        "",
        f"Monotone: {monotone(new)}. The clean leads themselves read {np.median(floors):.1f} dB (median; "
        f"10-90 %: {np.percentile(floors, 10):.1f} to {np.percentile(floors, 90):.1f} dB): beat-to-beat changes of "
        "the ECG (ectopic beats, respiration) and the noise the recordings already hold count as noise, so the "
        "estimate saturates there and reads low at 12 dB and above. Counting that floor in the truth (last column), "
        "the median error is a fraction of a dB: the noise the estimate measures adds to what the lead holds.",
        "",
        f"Time: {1000 * np.mean(times):.1f} ms per {args.seconds:g}-s clip (a record longer than ten minutes is "
        "estimated on ten 1-minute stretches).",
        "",
        "## `estimate_snr_db` (white noise at the finest wavelet scale: what `biodae info` printed before)",
        "",
        table(old, False),
        "",
        f"Monotone: {monotone(old)}.",
        "",
    ])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "ecg_snr_estimate.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
