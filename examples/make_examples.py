"""Rebuild the shipped examples from the real data folder (BIODAE_DATA).

    BIODAE_DATA=../shared/data python examples/make_examples.py

ecg/sel100_em6: 30 s of QT Database record sel100 (both leads, 250 Hz, from 5:00),
with real electrode-motion noise from the MIT-BIH Noise Stress Test Database ('em',
the test split: channel 2, last 20 %, never used for training) added at 6 dB SNR per
lead. The clean excerpt is kept beside it (sel100_clean) so the result can be checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import biodae
from biodae import io, noise

HERE = Path(__file__).resolve().parent


def make_ecg(data_dir: Path, force: bool = False) -> None:
    rec = io.read_wfdb(data_dir / "ecg" / "qtdb" / "sel100")
    fs = rec.sampling_rate
    start, n = int(300 * fs), int(30 * fs)
    clean = rec.data[start : start + n]
    rng = np.random.default_rng(20261122)
    noisy = np.empty_like(clean)
    for c in range(clean.shape[1]):
        seg = noise.nstdb_segment("em", "test", length=n, rng=rng, sampling_rate=fs, data_dir=data_dir)
        noisy[:, c] = noise.mix_at_snr(clean[:, c], seg, 6.0, remove_mean=True).noisy
    meta = dict(rec.meta)
    meta.update(
        fmt=["16"] * rec.n_channels,
        annotation_files=[],
        comments=[
            "biodae example: QT Database sel100 (Laguna et al. 1997, PhysioNet, ODC-By 1.0), 30 s from 5:00",
        ],
    )
    out = HERE / "ecg"
    clean_meta = dict(meta, comments=meta["comments"] + ["clean reference for sel100_em6"])
    io.write_wfdb(rec.replace(data=clean, meta=clean_meta), out / "sel100_clean", force=force)
    noisy_meta = dict(
        meta,
        comments=meta["comments"]
        + ["+ NSTDB 'em' electrode-motion noise (Moody et al. 1984), test split, 6 dB SNR per lead, seed 20261122"],
    )
    io.write_wfdb(rec.replace(data=noisy, meta=noisy_meta), out / "sel100_em6", force=force)


if __name__ == "__main__":
    import os

    data = Path(os.environ.get("BIODAE_DATA", HERE.parent.parent / "shared" / "data"))
    make_ecg(data, force="--force" in sys.argv)
    print(f"examples written under {HERE} (biodae {biodae.__version__})")
