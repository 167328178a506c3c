"""How the PRD column of ``latent_bench.py`` was chosen: 4-fold record-wise cross-validation on the
14 training records only (the test records 106 114 209 223 and validation records 116 220 are not
used), median PRD of the pooled held-out beats at k = 2, 4, 8, 16, for PCA and the autoencoder
variants: plain, + linear path (PCA start), each unweighted and weighted by 1 / energy per beat.

    BIODAE_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/latent_prd_cv.py

Prints the table (about 10 minutes on one core); writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import latent_bench as lb  # noqa: E402

from biodae.latent import Autoencoder  # noqa: E402
from biodae.latent.train_beats import TEST_RECORDS, VAL_RECORDS, ds1_beats, stack  # noqa: E402

VARIANTS = {"plain": (False, False), "plain, weighted": (False, True), "linear path": (True, False),
            "linear path, weighted": (True, True)}
KS = (2, 4, 8, 16)


def main() -> int:
    import torch
    from sklearn.decomposition import PCA

    torch.set_num_threads(1)
    beats = ds1_beats()
    recs = sorted(beats)
    n_win = beats[recs[0]].windows.shape[1]
    train = [r for r in recs if r not in TEST_RECORDS + VAL_RECORDS]
    folds = [train[i::4] for i in range(4)]
    prds: dict[tuple[str, int], list[np.ndarray]] = {}
    for fold in folds:
        fit = [r for r in train if r not in fold]
        W = stack(beats, fit)[0][:, :n_win]
        Wh = stack(beats, fold)[0][:, :n_win]
        w = lb.prd_weights(W)
        for k in KS:
            p = PCA(k, random_state=lb.SEED).fit(W)
            prds.setdefault(("PCA", k), []).append(lb.prd(Wh, p.inverse_transform(p.transform(Wh))))
            for name, (lin, weighted) in VARIANTS.items():
                ae = Autoencoder("undercomplete", k, epochs=15, random_state=lb.SEED, standardize=False,
                                 linear_path=lin, **lb.AE_NET).fit(W, sample_weight=w if weighted else None)
                prds.setdefault((name, k), []).append(lb.prd(Wh, ae.reconstruct(Wh)))
        print(f"fold {' '.join(fold)} done", flush=True)
    rows = [[name] + [f"{np.median(np.concatenate(prds[(name, k)])):.1f}" for k in KS]
            + [" / ".join(f"{np.median(a):.1f}" for a in prds[(name, 2)])]
            for name in ["PCA", *VARIANTS]]
    print(lb.table(["method", *(f"k={k}" for k in KS), "k=2 per fold"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
