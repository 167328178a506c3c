"""Batch cleaning speed: hours of 2-lead ECG that ``biodae denoise`` cleans per minute on this
machine, one worker and two, in worker processes and on a local Dask cluster.

    BIODAE_DATA=../shared/data python benchmarks/batch_speed.py [--records 20] [--repeats 1] [--out docs/benchmarks]

The archive: ``--records`` full 30-minute 2-lead 360 Hz records, copies under new names
(``rec01``...) of the MIT-BIH Arrhythmia DS1 records in ``BIODAE_DATA`` (20 of them; more
records repeat them), built once in the cache folder (``$BIODAE_CACHE`` or
``~/.cache/biodae``), never in the repository. Each configuration runs the real command in a
fresh process (``biodae denoise ARCHIVE --out-dir OUT ...``) and is timed from start to exit,
so interpreter, worker and Dask start-up are included. All configurations must write the
same bytes; the script fails if they do not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import CPU_FLAGS_COMMAND, cpu_flags, markdown_table, progress, save_figure, write_text  # noqa: E402

#: (label, extra command-line flags, workers)
CONFIGS = [
    ("serial", [], 1),
    ("processes", ["--jobs", "2"], 2),
    ("dask (local cluster)", ["--backend", "dask", "--jobs", "1"], 1),
    ("dask (local cluster)", ["--backend", "dask", "--jobs", "2"], 2),
]


def build_archive(n: int, dest: Path) -> list[Path]:
    """``n`` full MIT-BIH DS1 records copied byte for byte under the names rec01, rec02, ..."""
    from biodae.datasets._ecg import _mitdb_dir
    from biodae.datasets._paths import cache_root, data_root

    mit = _mitdb_dir(data_root(None, "ecg", "ecg/mitdb-ds1.tar.xz"), cache_root())
    if mit is None:
        raise SystemExit("MIT-BIH DS1 not found: set BIODAE_DATA to the data folder holding ecg/mitdb-ds1.tar.xz")
    sources = sorted(p.with_suffix("") for p in mit.glob("*.hea"))
    dest.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        src = sources[i % len(sources)]
        name = f"rec{i + 1:02d}"
        records.append(dest / name)
        if (dest / f"{name}.hea").is_file():
            continue
        shutil.copyfile(f"{src}.dat", dest / f"{name}.dat")
        shutil.copyfile(f"{src}.atr", dest / f"{name}.atr")
        lines = Path(f"{src}.hea").read_text().splitlines()
        first = lines[0].split()
        first[0] = name
        body = [ln.replace(f"{src.name}.dat", f"{name}.dat", 1) if not ln.startswith("#") else ln for ln in lines[1:]]
        body.append(f"# biodae batch benchmark: a copy of MIT-BIH Arrhythmia record {src.name}")
        (dest / f"{name}.hea.tmp").write_text("\n".join([" ".join(first)] + body) + "\n")
        os.replace(dest / f"{name}.hea.tmp", dest / f"{name}.hea")
    return records


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.endswith(".json")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20, help="records in the archive (at least 20)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per configuration; the fastest is kept")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = ap.parse_args(argv)

    import wfdb

    from biodae.datasets._paths import cache_root

    archive = cache_root() / "batch_speed" / f"archive{args.records}"
    progress(f"building the archive of {args.records} records in {archive}")
    records = build_archive(args.records, archive)
    hours = 0.0
    for r in records:
        h = wfdb.rdheader(str(r))
        if h.n_sig != 2 or h.sig_len / h.fs < 29 * 60:
            raise SystemExit(f"{r.name}: expected a full 30-minute 2-lead record, got {h.n_sig} x {h.sig_len / h.fs:.0f} s")
        hours += h.sig_len / h.fs / 3600
    size_mb = sum(p.stat().st_size for p in archive.iterdir()) / 1e6
    progress(f"{len(records)} records, {hours:.2f} h of 2-lead ECG, {size_mb:.0f} MB")

    exe = shutil.which("biodae")
    base = [exe] if exe else [sys.executable, "-m", "biodae.cli"]
    work = Path(tempfile.mkdtemp(prefix="biodae-batch-speed-", dir=cache_root()))
    load_before = os.getloadavg()
    rows, reference, results = [], None, []
    try:
        for label, flags, workers in CONFIGS:
            best = None
            for rep in range(args.repeats):
                out = work / f"out-{len(results)}-{rep}"
                cmd = base + ["denoise", str(archive), "--out-dir", str(out)] + flags
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
                report = json.loads((out / "biodae-denoise-report.json").read_text())
                if report["totals"]["done"] != len(records):
                    raise SystemExit(f"{label}: {report['totals']}")
                got = digest(out)
                if reference is None:
                    reference = got
                elif got != reference:
                    raise SystemExit(f"{label} --jobs {workers}: outputs differ from the serial run")
                shutil.rmtree(out)
                progress(f"{label}, {workers} worker(s): {wall:.1f} s ({hours / (wall / 60):.2f} h/min)")
                if best is None or wall < best[0]:
                    best = (wall, report["seconds"], report["threads"])
            results.append((label, workers, *best))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    serial_wall = results[0][2]
    for label, workers, wall, engine, threads in results:
        rows.append([label, workers, threads, f"{wall:.1f}", f"{engine:.1f}", f"{hours / (wall / 60):.2f}",
                     f"{serial_wall / wall:.2f}x"])
    table = markdown_table(["backend", "workers", "ORT threads / worker", "wall time (s)", "engine time (s)",
                            "h of ECG / min", "vs serial"], rows)

    out = Path(args.out)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        labels = [f"{lab.split(' ')[0]}\n{w} worker{'s' if w > 1 else ''}" for lab, w, *_ in results]
        values = [hours / (wall / 60) for _, _, wall, _, _ in results]
        ax.bar(labels, values, color=["#4c72b0", "#4c72b0", "#dd8452", "#dd8452"])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom")
        ax.set_ylim(0, 1.15 * max(values))  # room for the labels above the bars
        ax.set_ylabel("hours of 2-lead ECG per minute")
        ax.set_title(f"biodae denoise, {len(records)} x 30-min MIT-BIH records, {os.cpu_count()} cores")
        save_figure(fig, out / "batch_speed.png")
        plot = "\n![hours of ECG per minute by backend](batch_speed.png)\n"
    except ImportError:
        plot = ""

    cpu = platform.processor() or platform.machine()
    doc = f"""# Batch cleaning speed

Generated by `BIODAE_DATA=../shared/data python benchmarks/batch_speed.py --records {args.records} --repeats {args.repeats}`
({time.strftime('%Y-%m-%d')}) on {os.cpu_count()} CPU cores ({cpu}), model `ecg`, onnxruntime on the CPU.
CPU flags (`{CPU_FLAGS_COMMAND}` and the model name): `{cpu_flags()}`; speeds hold for this CPU only.

The archive: {len(records)} full 30-minute 2-lead 360 Hz records ({hours:.2f} h of ECG, {size_mb:.0f} MB, WFDB format
212 with beat annotations), byte copies under new names of the MIT-BIH Arrhythmia DS1 records. Each row is one
`biodae denoise ARCHIVE --out-dir OUT ...` in a fresh process, timed from start to exit (interpreter, worker-process
and Dask-cluster start-up included; *engine time* is the batch engine's own clock, without the interpreter start).
Every configuration wrote the same bytes as the serial run (checked). Fastest of {args.repeats} run(s) per row.

{table}
{plot}
The machine was shared while this ran (1-minute load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on
{os.cpu_count()} cores): other work competed for the same cores, so read the figures as a lower bound and compare the
rows with each other rather than with other machines. `docs/scaling.md` discusses when more workers pay.
"""
    write_text(out / "batch_speed.md", doc)
    print(table)
    print(f"({hours:.2f} h of ECG in {len(records)} records; load average {load_before[0]:.1f} -> {load_after[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
