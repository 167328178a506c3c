"""How the PRD column of ``latent_bench.py`` was chosen: 4-fold record-wise cross-validation on the
14 training records only (the test records 106 114 209 223 and validation records 116 220 are not
used), median PRD of the pooled held-out beats at k = 2, 4, 8, 16, for PCA and the autoencoder
variants: plain, + linear path (PCA start), each unweighted and weighted by 1 / energy per beat, and
the weighted linear-path one fitted on time-stretched copies of the training windows
(``biodae.beats.stretch_windows``; ``--stretch MAX:COPIES[:SEED]``, each as many steps as 15 epochs
of the windows alone).

    BIODAE_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/latent_prd_cv.py
    BIODAE_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/latent_prd_cv.py --no-baselines \
        --stretch 0.15:2 0.25:2 0.25:4 0.35:2 0.35:4 0.5:2 --ks 2 4

Prints the table (the first about 15 minutes on one core); writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import latent_bench as lb  # noqa: E402

from biodae.latent.train_beats import TEST_RECORDS, VAL_RECORDS, ds1_beats, stack  # noqa: E402

VARIANTS = {"plain": (False, False), "plain, weighted": (False, True), "linear path": (True, False),
            "linear path, weighted": (True, True)}
KS = (2, 4, 8, 16)
EPOCHS = 15


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stretch", nargs="*", default=[f"{lb.STRETCH}:{lb.STRETCH_COPIES}"], metavar="MAX:COPIES[:SEED]",
                    help="time-stretched variants (default: latent_bench.py's)")
    ap.add_argument("--ks", nargs="+", type=int, default=list(KS))
    ap.add_argument("--no-baselines", action="store_true", help="only PCA and the time-stretched variants")
    args = ap.parse_args(argv)
    import torch
    from sklearn.decomposition import PCA

    torch.set_num_threads(1)
    beats = ds1_beats()
    recs = sorted(beats)
    b0 = beats[recs[0]]
    n_win = b0.windows.shape[1]
    variants = {} if args.no_baselines else dict(VARIANTS)
    for spec in args.stretch:
        m, c, seed = ([*spec.split(":"), str(lb.SEED)])[:3]
        variants[f"linear path, weighted, stretch {m} x {c} (seed {seed})"] = (True, True, float(m), int(c), int(seed))
    train = [r for r in recs if r not in TEST_RECORDS + VAL_RECORDS]
    folds = [train[i::4] for i in range(4)]
    prds: dict[tuple[str, int], list[np.ndarray]] = {}
    for fold in folds:
        fit = [r for r in train if r not in fold]
        W = stack(beats, fit)[0][:, :n_win]
        Wh = stack(beats, fold)[0][:, :n_win]
        for k in args.ks:
            p = PCA(k, random_state=lb.SEED).fit(W)
            prds.setdefault(("PCA", k), []).append(lb.prd(Wh, p.inverse_transform(p.transform(Wh))))
            for name, (lin, weighted, *stretch) in variants.items():
                m, c, seed = stretch or (None, None, lb.SEED)
                ae = lb.prd_autoencoder(W, k, linear_path=lin, weighted=weighted, epochs=EPOCHS, seed=seed,
                                        stretch=(m, c) if stretch else None, r_index=b0.r_index)
                prds.setdefault((name, k), []).append(lb.prd(Wh, ae.reconstruct(Wh)))
        print(f"fold {' '.join(fold)} done", flush=True)
    k0 = args.ks[0]
    rows = [[name] + [f"{np.median(np.concatenate(prds[(name, k)])):.1f}" for k in args.ks]
            + [" / ".join(f"{np.median(a):.1f}" for a in prds[(name, k0)])]
            for name in ["PCA", *variants]]
    print(lb.table(["method", *(f"k={k}" for k in args.ks), f"k={k0} per fold"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
