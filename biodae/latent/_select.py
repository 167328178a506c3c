"""Choosing the latent size: held-out reconstruction error of the autoencoder and of PCA."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import check_array, check_random_state

from .._errors import DependencyError, InputError
from ._estimator import Autoencoder

__all__ = ["LatentDimSelection", "select_latent_dim", "elbow"]


def elbow(sizes: Sequence[int], errors: Sequence[float]) -> int:
    """The size at the elbow of a decreasing error curve.

    Sizes go on a log2 axis and errors are scaled to [0, 1]; the elbow is the size farthest
    below the straight line (the chord) from the first to the last point, as the
    difference curve of Kneedle (Satopää et al. 2011) finds it. With fewer than three
    points, or none below the chord, it is the size of the smallest error.

    Parameters
    ----------
    sizes : sequence of int, increasing
    errors : sequence of float

    Returns
    -------
    int

    References
    ----------
    V. Satopää, J. Albrecht, D. Irwin and B. Raghavan, "Finding a 'kneedle' in a haystack:
    detecting knee points in system behavior", ICDCS Workshops 2011, doi:10.1109/ICDCSW.2011.20.
    """
    k = np.asarray(sizes, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if len(k) < 3 or not np.all(np.isfinite(e)):
        return int(k[int(np.nanargmin(e))])
    x = np.log2(k)
    x = (x - x[0]) / (x[-1] - x[0])
    span = float(e.max() - e.min())
    y = (e - e.min()) / span if span > 0 else np.zeros_like(e)
    below = (y[0] + (y[-1] - y[0]) * x) - y
    if not below.max() > 0:
        return int(k[int(np.argmin(e))])
    return int(k[int(np.argmax(below))])


@dataclass(frozen=True)
class LatentDimSelection:
    """What :func:`select_latent_dim` measured.

    Attributes
    ----------
    candidates : tuple of int
        Latent sizes tried.
    ae_error, pca_error : ndarray, shape (len(candidates),)
        Held-out reconstruction error at each size: the mean squared error per feature, in
        the units the autoencoder trains in (standardised with the training rows' mean and
        standard deviation when its ``standardize`` is true).
    explained_variance : ndarray, shape (n_components,)
        PCA's cumulative explained-variance ratio on the training rows, for 1, 2, ...
        components.
    elbow : int
        Elbow of the autoencoder's error curve (:func:`elbow`).
    pca_elbow : int
        Elbow of PCA's held-out error curve at the same sizes.
    k90, k95 : int
        Fewest PCA components that explain 90 % and 95 % of the training variance.
    n_train, n_test : int
        Rows used to fit and to measure.
    """

    candidates: tuple[int, ...]
    ae_error: np.ndarray
    pca_error: np.ndarray
    explained_variance: np.ndarray
    elbow: int
    pca_elbow: int
    k90: int
    k95: int
    n_train: int
    n_test: int

    def table(self) -> str:
        """The measurements as a text table, then the elbows and the variance points."""
        ev = self.explained_variance
        lines = [f"{'latent size':>11} | {'autoencoder':>11} | {'PCA':>9} | {'PCA variance':>12}",
                 f"{'-' * 11}-+-{'-' * 11}-+-{'-' * 9}-+-{'-' * 12}"]
        for k, a, p in zip(self.candidates, self.ae_error, self.pca_error):
            var = f"{100 * ev[min(k, len(ev)) - 1]:.1f} %"
            lines.append(f"{k:>11d} | {a:>11.4g} | {p:>9.4g} | {var:>12}")
        lines += [
            f"elbow: {self.elbow} (autoencoder), {self.pca_elbow} (PCA)",
            f"PCA explains 90 % of the variance with {self.k90} components, 95 % with {self.k95}",
            f"held-out error: mean squared error per feature, {self.n_train} training rows, {self.n_test} test rows",
        ]
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write a figure: held-out error against latent size (elbows marked) and PCA's cumulative
        explained variance (90 % and 95 % marked). Needs matplotlib (the ``plot`` extra).

        Parameters
        ----------
        path : path
            Image file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        force : bool, default False
            Overwrite an existing file.

        Returns
        -------
        pathlib.Path
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise DependencyError("plotting needs matplotlib", "pip install 'biodae[plot]'") from exc
        from ..io import atomic_path

        fig = Figure(figsize=(9, 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(self.candidates, self.ae_error, "o-", label="autoencoder")
        ax1.plot(self.candidates, self.pca_error, "s--", label="PCA")
        ax1.axvline(self.elbow, color="C0", lw=0.8, ls=":", label=f"elbow {self.elbow}")
        if self.pca_elbow != self.elbow:
            ax1.axvline(self.pca_elbow, color="C1", lw=0.8, ls=":", label=f"PCA elbow {self.pca_elbow}")
        ax1.set_xscale("log", base=2)
        ax1.set_xticks(self.candidates, [str(k) for k in self.candidates])
        ax1.set_xlabel("latent size")
        ax1.set_ylabel("held-out MSE per feature")
        ax1.legend()
        comps = np.arange(1, len(self.explained_variance) + 1)
        ax2.plot(comps, 100 * self.explained_variance, "-", color="C1")
        for level, k in ((90, self.k90), (95, self.k95)):
            ax2.axhline(level, color="grey", lw=0.6, ls=":")
            ax2.plot([k], [100 * self.explained_variance[k - 1]], "o", color="C1")
            ax2.annotate(f"{level} %: {k}", (k, 100 * self.explained_variance[k - 1]), textcoords="offset points",
                         xytext=(6, -12))
        ax2.set_xlabel("PCA components")
        ax2.set_ylabel("cumulative explained variance (%)")
        path = Path(path)
        with atomic_path(path, force=force) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
        return path


def select_latent_dim(
    X: Any,
    candidates: Sequence[int] = (2, 4, 8, 16, 32, 64),
    *,
    estimator: Autoencoder | None = None,
    test_size: float = 0.2,
    random_state: int | np.random.RandomState | None = None,
) -> LatentDimSelection:
    """Compare latent sizes on held-out rows: an autoencoder and PCA at each size, and PCA's variance.

    The rows are split once into training and test rows. At each size ``k`` an autoencoder
    (a clone of ``estimator`` with ``latent_dim=k``) and PCA with ``k`` components are fitted
    on the training rows, and both reconstruct the test rows; the errors are measured in the
    same units (standardised by the training rows when ``estimator.standardize``). PCA's
    cumulative explained variance on the training rows gives the 90 % and 95 % points.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    candidates : sequence of int, default (2, 4, 8, 16, 32, 64)
        Latent sizes; those above ``n_features`` (or above the training rows, which PCA
        cannot exceed) are left out.
    estimator : Autoencoder, optional
        The autoencoder to try (its ``latent_dim`` is replaced); default ``Autoencoder()``
        with ``random_state`` drawn from ``random_state``.
    test_size : float, default 0.2
        Share of the rows held out.
    random_state : int, RandomState or None
        Seeds the split (and the default estimator).

    Returns
    -------
    LatentDimSelection
        With ``.table()`` and ``.plot(path)``.

    Raises
    ------
    InputError
        ``X`` is not a finite 2D array with enough rows, or no candidate fits.
    """
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    try:
        X = check_array(X, dtype=(np.float64, np.float32), ensure_min_samples=4)
    except ValueError as exc:
        raise InputError(str(exc), "give a finite float array of shape (n_samples, n_features)") from exc
    if not 0 < test_size < 1:
        raise InputError(f"test_size={test_size!r} is out of range", "give a share in (0, 1), e.g. 0.2")
    rng = check_random_state(random_state)
    if estimator is None:
        estimator = Autoencoder(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    elif not isinstance(estimator, Autoencoder):
        raise InputError(f"estimator must be a biodae.latent.Autoencoder; got {type(estimator).__name__}",
                         "pass Autoencoder(...) or leave estimator out")
    X_train, X_test = train_test_split(np.asarray(X, dtype=np.float64), test_size=test_size,
                                       random_state=rng.randint(np.iinfo(np.int32).max))
    limit = min(X.shape[1], len(X_train))
    ks = sorted({int(k) for k in candidates})
    if not ks or ks[0] < 1:
        raise InputError(f"candidates={tuple(candidates)!r} must be positive sizes", "give e.g. (2, 4, 8, 16)")
    ks = [k for k in ks if k <= limit]
    if not ks:
        raise InputError(f"every candidate is above {limit} (the features or training rows)",
                         "give smaller latent sizes")

    if estimator.standardize:
        mean = X_train.mean(axis=0)
        scale = X_train.std(axis=0)
        scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    else:
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    tr, te = (X_train - mean) / scale, (X_test - mean) / scale

    pca = PCA(n_components=limit, svd_solver="full").fit(tr)
    explained = np.minimum(np.cumsum(pca.explained_variance_ratio_), 1.0)
    centred = te - pca.mean_
    pca_error, ae_error = [], []
    for k in ks:
        comps = pca.components_[:k]
        back = centred @ comps.T @ comps
        pca_error.append(float(np.mean((centred - back) ** 2)))
        ae = clone(estimator).set_params(latent_dim=k).fit(X_train)
        ae_error.append(float(np.mean(((ae.reconstruct(X_test) - mean) / scale - te) ** 2)))

    def reach(level: float) -> int:
        return int(np.searchsorted(explained, level - 1e-12) + 1)

    return LatentDimSelection(
        candidates=tuple(ks), ae_error=np.asarray(ae_error), pca_error=np.asarray(pca_error),
        explained_variance=explained, elbow=elbow(ks, ae_error), pca_elbow=elbow(ks, pca_error),
        k90=min(reach(0.90), len(explained)), k95=min(reach(0.95), len(explained)),
        n_train=len(X_train), n_test=len(X_test),
    )
