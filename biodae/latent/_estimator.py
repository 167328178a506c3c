"""The :class:`Autoencoder` estimator: scikit-learn conventions, torch to fit, onnxruntime to run."""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._errors import DependencyError, InputError
from .._version import __version__
from . import _onnx

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.3 - 1.5
    def _sk_validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)

__all__ = ["Autoencoder", "KINDS", "ARCHS", "ACTIVATIONS"]

#: ``kind=`` choices.
KINDS = ("undercomplete", "sparse-l1", "sparse-kl", "denoising", "variational", "supervised")
#: ``arch=`` choices.
ARCHS = ("dense", "conv1d")
#: ``activation=`` choices (the hidden layers').
ACTIVATIONS = _onnx.ACTIVATIONS
#: ``hidden=None`` means these.
DEFAULT_HIDDEN = {"dense": (500, 300, 100), "conv1d": (16, 32, 64)}

_PARITY_TOL = 1e-4  # onnxruntime against torch, relative to the output's largest magnitude
_SCORE_TEXT = ("mean over the features of (standardised x - standardised reconstruction)^2, in float32; "
               "higher = more abnormal; flagged when score > biodae.threshold")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}={value!r} is not known", f"choose one of {', '.join(choices)}")


def _check_number(name: str, value: Any, *, low: float, high: float = np.inf, low_open: bool = False,
                  integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if np.isfinite(high) else "")
        raise InputError(f"{name}={value!r} is out of range", f"give {what} {bound}")


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    """``sample_weight`` as a float64 vector of ``n`` finite, non-negative weights, not all zero."""
    try:
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    except ValueError as exc:
        raise InputError(f"sample_weight: {exc}", "give one finite, non-negative number per row of X") from exc
    if w.ndim != 1 or len(w) != n:
        raise InputError(f"sample_weight has shape {w.shape}, but X has {n} rows",
                         f"give a 1D array of {n} weights, one per row")
    if np.any(w < 0) or not np.any(w > 0):
        raise InputError("sample_weight has negative weights or no positive one",
                         "give non-negative weights with at least one above zero")
    return w


def _json_params(params: dict[str, Any]) -> str:
    """Constructor arguments as JSON; a ``class_weight`` dict becomes a list of pairs (its keys may be
    class labels of any type), a ``random_state`` that is not an int becomes null."""
    out = dict(params)
    if isinstance(out.get("class_weight"), dict):
        out["class_weight"] = {"pairs": [[_plain(k), float(v)] for k, v in out["class_weight"].items()]}
    if not isinstance(out.get("random_state"), (numbers.Integral, type(None))):
        out["random_state"] = None
    if out.get("hidden") is not None:
        out["hidden"] = [int(h) for h in out["hidden"]]
    return json.dumps({k: _plain(v) for k, v in out.items()}, sort_keys=True)


def _params_from_json(text: str) -> dict[str, Any]:
    params = json.loads(text)
    cw = params.get("class_weight")
    if isinstance(cw, dict) and "pairs" in cw:
        params["class_weight"] = {k: v for k, v in cw["pairs"]}
    if params.get("hidden") is not None:
        params["hidden"] = tuple(params["hidden"])
    return params


def _plain(v: Any) -> Any:
    """numpy scalars to Python ones, for JSON."""
    return v.item() if isinstance(v, np.generic) else v


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An autoencoder for any ``(n_samples, n_features)`` float array, with scikit-learn's conventions.

    It learns codes of ``latent_dim`` numbers per row (``transform``), rows back from codes
    (``inverse_transform``), a reconstruction-error score per row (``score_samples``) with a
    threshold fixed at fit time (``predict`` flags rows above it) and, for
    ``kind="supervised"``, class labels and probabilities. Training needs torch (the ``train``
    extra); after ``fit`` everything runs through onnxruntime on the CPU from an ONNX graph
    kept in the estimator (``onnx_model_``), so a fitted or unpickled estimator predicts
    without torch, and :meth:`save` writes that graph as one self-contained ``.onnx`` file
    (contract: ``docs/onnx.md``, "Latent models").

    Parameters
    ----------
    kind : {"undercomplete", "sparse-l1", "sparse-kl", "denoising", "variational", "supervised"}
        What the network learns (:mod:`biodae.nn.latent` gives each loss):
        ``undercomplete`` reconstructs through a narrow linear code; ``sparse-l1`` passes
        the code through a ReLU and adds ``l1 * mean |code|``; ``sparse-kl`` passes the code
        through a sigmoid and adds ``beta * KL(rho || mean activation)`` per unit (Ng's
        sparse autoencoder); ``denoising`` reconstructs rows from
        rows with Gaussian noise (``noise_std``) added; ``variational`` is a VAE (``beta``,
        ``kl_warmup``); ``supervised`` adds a classifier head on the code (``w_rec``,
        ``w_cls``, ``class_weight``, ``dropout``, ``ensemble``) and needs ``y``.
    latent_dim : int, default 16
        Size of the code.
    hidden : tuple of int, optional
        ``arch="dense"``: widths of the hidden layers from the input inwards (default
        ``(500, 300, 100)``, the classic 784 -> 500 -> 300 -> 100 -> k shape, mirrored in the
        decoder; ``()`` is a linear autoencoder). ``arch="conv1d"``: channels of the
        stride-2 convolutions (default ``(16, 32, 64)``).
    arch : {"dense", "conv1d"}, default "dense"
        ``conv1d`` treats each row as a one-channel signal window of ``n_features`` samples.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "silu"}, default "relu"
        Of the hidden layers (the output is linear; so is the code, but for the sparse kinds).
    epochs : int, default 50
        Passes over the training rows.
    batch_size : int, default 64
    lr : float, default 1e-3
        AdamW learning rate.
    weight_decay : float, default 0.0
        AdamW (decoupled) weight decay.
    noise_std : float, default 0.2
        ``denoising``: standard deviation of the input noise, in standardised units.
    l1 : float, default 0.1
        ``sparse-l1``: weight of the mean absolute code, against the reconstruction's mean
        squared error per standardised feature.
    rho : float, default 0.05
        ``sparse-kl``: target mean activation of each code unit, in (0, 1).
    beta : float, default 1.0
        ``sparse-kl``: weight of the sparsity KL. ``variational``: weight of the KL to
        N(0, I) (1 is the ELBO of a unit-variance Gaussian likelihood in standardised units).
    kl_warmup : int, default 10
        ``variational``: epochs over which the KL weight rises linearly to ``beta``.
    w_rec, w_cls : float, default 1.0
        ``supervised``: weights of the reconstruction and the cross-entropy.
    class_weight : None, "balanced" or dict, optional
        ``supervised``: weight per class in the cross-entropy (as in scikit-learn).
    dropout : float, default 0.2
        ``supervised``: dropout on the code before the classifier head (training only).
    ensemble : int, default 1
        ``supervised``: train this many networks, each with its own seed (initialisation,
        batch order, dropout), on the same rows; ``predict_proba`` (and ``predict``) is the
        mean of their class probabilities, a deep ensemble (Lakshminarayanan et al. 2017),
        which evens out how much a small network's classes on new data depend on its seed.
        The code, reconstruction and score (``transform``, ``inverse_transform``,
        ``score_samples``, the threshold) are the first network's: an embedding is one
        network's. The other networks' encoders and heads are in the ONNX graph too (no
        decoders); fitting takes ``ensemble`` times as long.
    contamination : float in (0, 0.5], optional
        Fix the threshold so that this share of the training rows (all rows given to
        ``fit``) is flagged. If None, the threshold is the ``threshold_quantile`` quantile of
        the scores of the validation rows.
    threshold_quantile : float in (0, 1], default 0.99
    validation_fraction : float in [0, 0.5], default 0.1
        Share of the rows held out of training (stratified for ``supervised``): their
        scores set the threshold and ``history_["val_error"]`` tracks them. With no
        validation row (0, or too few rows), the training rows' scores set the threshold.
    linear_path : bool, default False
        Add a linear encoder and decoder path beside the nonlinear ones, initialised from PCA
        of the (standardised) training rows, with the nonlinear code and output layers
        starting at zero: the untrained autoencoder is PCA with ``latent_dim`` components and
        training improves on it (:mod:`biodae.nn.latent`). Not for the sparse kinds (their
        code non-linearity would undo the PCA start).
    standardize : bool, default True
        Scale each feature to zero mean and unit variance (from the training rows) before
        the network; ``mean_`` and ``scale_`` are in the ONNX graph and its metadata.
    random_state : int, RandomState or None
        Seeds the split, the initialisation, the batch order and every random draw: with an
        int, two fits give bit-identical weights and codes (same data, machine and torch
        thread count).
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where torch trains; inference always runs onnxruntime on the CPU.
    verbose : bool, default False
        Print the loss after every epoch.

    Attributes
    ----------
    n_features_in_ : int
    latent_dim_ : int
        Columns of ``transform``.
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    mean_, scale_ : ndarray, shape (n_features_in_,)
        The input standardisation (zeros and ones without ``standardize``).
    threshold_ : float
        ``predict`` flags a row when ``score_samples`` is above it.
    classes_ : ndarray
        ``supervised`` only.
    history_ : dict
        ``"loss"`` per epoch and ``"val_error"`` (mean squared error on the validation rows); of
        the first network of an ``ensemble``.
    onnx_model_ : bytes
        The ONNX file :meth:`save` writes.

    Notes
    -----
    **Sign of the score.** ``score_samples`` is the reconstruction error, so *higher means
    more abnormal*: the number that is reported, thresholded, and written as ``score`` by the
    ONNX graph. scikit-learn's outlier detectors (``IsolationForest``, ``OneClassSVM``) use
    the opposite sign (higher = more normal): negate theirs, or ours, to compare them.
    ``predict`` likewise gives 1 for a flagged (abnormal) row and 0 otherwise, not their
    -1/+1, and ``decision_function`` is ``score_samples - threshold_`` (positive = flagged).
    For ``supervised`` models ``predict`` gives class labels and ``decision_function`` is
    not defined (a scorer then uses ``predict_proba``); their flags are
    ``score_samples(X) > threshold_``.

    Inference runs in float32. ``transform``, ``inverse_transform`` and
    ``score_samples`` return float32 for float32 input and float64 otherwise.

    Examples
    --------
    >>> from biodae.latent import Autoencoder                      # doctest: +SKIP
    >>> ae = Autoencoder(latent_dim=8, random_state=0).fit(X)      # doctest: +SKIP
    >>> codes = ae.transform(X)                                    # doctest: +SKIP
    >>> abnormal = ae.predict(X_new)                               # doctest: +SKIP
    >>> ae.save("beats.onnx")                                      # doctest: +SKIP
    """

    def __init__(
        self,
        kind: str = "undercomplete",
        latent_dim: int = 16,
        *,
        hidden: tuple[int, ...] | None = None,
        arch: str = "dense",
        activation: str = "relu",
        epochs: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        noise_std: float = 0.2,
        l1: float = 0.1,
        rho: float = 0.05,
        beta: float = 1.0,
        kl_warmup: int = 10,
        w_rec: float = 1.0,
        w_cls: float = 1.0,
        class_weight: str | dict | None = None,
        dropout: float = 0.2,
        ensemble: int = 1,
        contamination: float | None = None,
        threshold_quantile: float = 0.99,
        validation_fraction: float = 0.1,
        linear_path: bool = False,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.kind = kind
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.arch = arch
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.noise_std = noise_std
        self.l1 = l1
        self.rho = rho
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.w_rec = w_rec
        self.w_cls = w_cls
        self.class_weight = class_weight
        self.dropout = dropout
        self.ensemble = ensemble
        self.contamination = contamination
        self.threshold_quantile = threshold_quantile
        self.validation_fraction = validation_fraction
        self.linear_path = linear_path
        self.standardize = standardize
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn plumbing

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        if self.kind == "supervised":
            from sklearn.utils import ClassifierTags

            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
            tags.target_tags.required = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # pragma: no cover - scikit-learn < 1.6
        return {"preserves_dtype": [np.float64, np.float32], "requires_y": self.kind == "supervised"}

    @property
    def _estimator_type(self) -> str | None:  # pragma: no cover - scikit-learn < 1.6 reads this
        return "classifier" if self.kind == "supervised" else "transformer"

    @property
    def _n_features_out(self) -> int:
        """Columns of ``transform`` (for ``get_feature_names_out``: autoencoder0, autoencoder1, ...)."""
        check_is_fitted(self, "onnx_model_")
        return int(self.latent_dim_)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it may be self.__dict__ itself
        state.pop("_session_cache", None)  # onnxruntime sessions do not pickle; rebuilt from onnx_model_
        return state

    def _is_supervised(self) -> bool:
        return self.kind == "supervised"

    def _is_unsupervised(self) -> bool:
        return self.kind != "supervised"

    # ------------------------------------------------------------------ validation

    def _resolved_hidden(self) -> tuple[int, ...]:
        hidden = DEFAULT_HIDDEN[self.arch] if self.hidden is None else self.hidden
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise InputError(f"hidden={hidden!r} is not a sequence of layer sizes", "give e.g. hidden=(500, 300, 100)")
        hidden = tuple(hidden)
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden):
            raise InputError(f"hidden={hidden!r} must hold positive integers", "give e.g. hidden=(500, 300, 100)")
        if self.arch == "conv1d" and not hidden:
            raise InputError("arch='conv1d' with hidden=() has no convolution", "give channels, e.g. hidden=(16, 32)")
        return tuple(int(h) for h in hidden)

    def _check_params(self) -> None:
        _check_choice("kind", self.kind, KINDS)
        _check_choice("arch", self.arch, ARCHS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_number("latent_dim", self.latent_dim, low=1, integer=True)
        _check_number("epochs", self.epochs, low=1, integer=True)
        _check_number("batch_size", self.batch_size, low=1, integer=True)
        _check_number("lr", self.lr, low=0, low_open=True)
        _check_number("weight_decay", self.weight_decay, low=0)
        _check_number("noise_std", self.noise_std, low=0)
        _check_number("l1", self.l1, low=0)
        _check_number("rho", self.rho, low=0, high=1, low_open=True)
        if self.rho >= 1:
            raise InputError(f"rho={self.rho!r} is out of range", "give a target activation in (0, 1)")
        _check_number("beta", self.beta, low=0)
        _check_number("kl_warmup", self.kl_warmup, low=0, integer=True)
        _check_number("w_rec", self.w_rec, low=0)
        _check_number("w_cls", self.w_cls, low=0)
        _check_number("dropout", self.dropout, low=0, high=0.95)
        _check_number("ensemble", self.ensemble, low=1, integer=True)
        if self.ensemble > 1 and self.kind != "supervised":
            raise InputError(f"ensemble={self.ensemble!r} needs kind='supervised' (the ensemble averages class "
                             f"probabilities); kind is {self.kind!r}", "use ensemble=1, or kind='supervised'")
        _check_number("threshold_quantile", self.threshold_quantile, low=0, high=1, low_open=True)
        _check_number("validation_fraction", self.validation_fraction, low=0, high=0.5)
        if self.contamination is not None:
            _check_number("contamination", self.contamination, low=0, high=0.5, low_open=True)
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise InputError(f"class_weight={self.class_weight!r} is not known",
                             "give None, 'balanced' or a dict {class label: weight}")
        if not isinstance(self.linear_path, (bool, np.bool_)):
            raise InputError(f"linear_path={self.linear_path!r} is not a bool", "give True or False")
        if self.linear_path and self.kind in ("sparse-l1", "sparse-kl"):
            raise InputError(f"linear_path=True does not go with kind={self.kind!r} (its code non-linearity "
                             "would undo the PCA start)", "use linear_path=False, or another kind")
        dev = self.device
        if not (isinstance(dev, str) and (dev in ("cpu", "cuda", "auto") or dev.startswith("cuda:"))):
            raise InputError(f"device={dev!r} is not known", "choose 'cpu', 'cuda' (or 'cuda:N') or 'auto'")
        self._resolved_hidden()

    def _validate(self, X: Any, y: Any = None, *, reset: bool) -> Any:
        """scikit-learn's input validation (dtype, NaN, shape, ``n_features_in_``, feature names) with
        its errors raised as :class:`~biodae.InputError`."""
        kw: dict[str, Any] = {"dtype": (np.float64, np.float32), "ensure_min_samples": 2 if reset else 1}
        try:
            if y is None:
                return _sk_validate_data(self, X, reset=reset, **kw)
            return _sk_validate_data(self, X, y, reset=reset, **kw)
        except InputError:
            raise
        except ValueError as exc:
            raise InputError(str(exc), "give a finite float array of shape (n_samples, n_features) "
                                       "with the features the model was fitted on") from exc

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Autoencoder:
        """Train the network on ``X`` (and ``y`` for ``kind="supervised"``) and fix the threshold.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Rows to learn from, at least 2, finite.
        y : array-like, shape (n_samples,), optional
            Class labels, needed by ``kind="supervised"`` and ignored otherwise.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weight of each row in the training loss: each batch's loss is the
            weighted mean of its rows' losses (reconstruction, L1 activity, ELBO,
            cross-entropy times ``class_weight``; not the sparse-KL term, which is on the
            batch's mean activation). These are loss weights, not frequencies: a weight of 2
            is not the same fit as the row given twice (mini-batches, the validation split).
            Example: ``1 / sum(x ** 2)`` per row makes the loss each row's error relative to
            its own energy, the quantity PRD measures, so low-amplitude rows count as much as
            large ones. The split, the standardisation, the PCA start of ``linear_path``, the
            validation error and the threshold do not use the weights. None: equal weights.

        Returns
        -------
        self : Autoencoder

        Raises
        ------
        InputError
            A parameter is out of range, ``X`` is not a finite 2D array, or ``y`` is missing
            or has fewer than two classes for ``kind="supervised"``.
        DependencyError
            torch is not installed.
        """
        self._check_params()
        supervised = self._is_supervised()
        if supervised:
            if y is None:
                raise InputError("Autoencoder(kind='supervised') requires y to be passed, but the target y is None",
                                 "call fit(X, y) with one class label per row")
            X, y = self._validate(X, y, reset=True)
            check_classification_targets(y)
            classes, y_idx = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise InputError(f"y has only 1 class ({classes[0]!r})",
                                 "a supervised autoencoder needs rows of at least two classes")
        else:
            X = self._validate(X, reset=True)
            classes, y_idx = None, None
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, len(X))
        try:
            from ..nn import latent as nn_latent
        except ImportError as exc:
            if getattr(exc, "name", None) not in ("torch", "torch.nn"):
                raise
            raise DependencyError("fitting an Autoencoder needs torch",
                                  "pip install 'biodae[train]' -c constraints.txt (inference needs only onnxruntime)"
                                  ) from exc
        from ..runtime import create_session

        rng = check_random_state(self.random_state)
        train_idx, val_idx = self._split(len(X), y_idx, rng)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        X64 = np.asarray(X, dtype=np.float64)
        if self.standardize:
            mean = X64[train_idx].mean(axis=0)
            scale = X64[train_idx].std(axis=0)
            scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0  # constant features
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        mean32, scale32 = mean.astype(np.float32), scale.astype(np.float32)
        Xs = ((X64 - mean32) / scale32).astype(np.float32)  # what the graph computes (float32 constants)

        seeds = [seed] + [int(rng.randint(np.iinfo(np.int32).max)) for _ in range(int(self.ensemble) - 1)]
        cw = self._class_weights(classes, y) if supervised else None
        nets = []
        for i, member_seed in enumerate(seeds):
            if self.verbose and len(seeds) > 1:
                print(f"ensemble member {i + 1}/{len(seeds)}", flush=True)
            nets.append(nn_latent.train_latent(
                Xs[train_idx], y_idx[train_idx] if supervised else None, Xs[val_idx] if len(val_idx) else None,
                kind=self.kind, latent_dim=int(self.latent_dim), arch=self.arch, hidden=self._resolved_hidden(),
                activation=self.activation, n_classes=len(classes) if supervised else 0, epochs=int(self.epochs),
                batch_size=int(self.batch_size), lr=float(self.lr), weight_decay=float(self.weight_decay),
                noise_std=float(self.noise_std), l1=float(self.l1), rho=float(self.rho), beta=float(self.beta),
                kl_warmup=int(self.kl_warmup), w_rec=float(self.w_rec), w_cls=float(self.w_cls), class_weight=cw,
                dropout=float(self.dropout), linear=bool(self.linear_path),
                sample_weight=sw[train_idx] if sw is not None else None, seed=member_seed, device=self.device,
                verbose=bool(self.verbose),
            ))
        (model, history), members = nets[0], [m for m, _ in nets[1:]]
        proto = _onnx.build_graph(nn_latent.latent_spec(model, members), mean32, scale32)
        self._session_cache = create_session(proto.SerializeToString(deterministic=True), device="cpu")
        self.n_features_in_ = int(X.shape[1])
        self.latent_dim_ = int(self.latent_dim)
        self.mean_, self.scale_ = mean32, scale32
        self.history_ = history
        if supervised:
            self.classes_ = classes
        elif hasattr(self, "classes_"):  # refitted after set_params(kind=...)
            del self.classes_
        self._check_parity(nn_latent.latent_forward(model, Xs[train_idx[:256]], members), X64[train_idx[:256]])

        if self.contamination is not None:
            scores = self._run(X64, "score")
            self.threshold_ = float(np.quantile(scores.astype(np.float64), 1.0 - float(self.contamination)))
            rule = f"contamination={self.contamination:g}: quantile {1 - self.contamination:g} of the training scores"
        else:
            rows = val_idx if len(val_idx) else train_idx
            scores = self._run(X64[rows], "score")
            self.threshold_ = float(np.quantile(scores.astype(np.float64), float(self.threshold_quantile)))
            where = "validation" if len(val_idx) else "training (no validation rows)"
            rule = f"quantile {self.threshold_quantile:g} of the {where} scores"
        self.onnx_model_ = _onnx.serialize(proto, self._metadata(rule))
        return self

    def _split(self, n: int, y_idx: np.ndarray | None, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        n_val = int(np.floor(n * float(self.validation_fraction)))
        if n_val < 1 or n - n_val < 1:
            return np.arange(n), np.arange(0)
        if y_idx is not None:
            counts = np.bincount(y_idx)
            if counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts):
                from sklearn.model_selection import train_test_split

                tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=y_idx,
                                          random_state=rng.randint(np.iinfo(np.int32).max))
                return np.sort(tr), np.sort(va)
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _class_weights(self, classes: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        from sklearn.utils.class_weight import compute_class_weight

        try:
            return compute_class_weight(self.class_weight, classes=classes, y=y).astype(np.float32)
        except ValueError as exc:
            raise InputError(f"class_weight: {exc}", "give a weight for every class, or 'balanced'") from exc

    def _check_parity(self, ref: dict[str, np.ndarray], X: np.ndarray) -> None:
        """onnxruntime must give torch's code, reconstruction and probabilities (a graph-building bug otherwise)."""
        if not len(X):
            return
        got = self._runner().outputs(X)
        pairs = [("code", got["code"], ref["code"]),
                 ("reconstruction", (got["reconstruction"] - self.mean_) / self.scale_, ref["recon"])]
        if "proba" in ref:
            pairs.append(("proba", got["proba"], ref["proba"]))
        for name, a, b in pairs:
            err = float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(b))))
            if not err <= _PARITY_TOL:
                raise RuntimeError(f"the ONNX graph disagrees with torch on {name}: {err:.2e} > {_PARITY_TOL:.0e} "
                                   "(a bug in biodae.latent: please report it)")

    def _metadata(self, threshold_rule: str) -> dict[str, str]:
        meta = {
            "biodae.schema_version": "1",
            "biodae.task": "latent",
            "biodae.name": "autoencoder",
            "biodae.version": "0.0.0",
            "producer": f"biodae {__version__} (biodae.latent, onnx opset {_onnx.OPSET})",
            "biodae.kind": self.kind,
            "biodae.arch": self.arch,
            "biodae.latent_dim": str(self.latent_dim_),
            "biodae.n_features": str(self.n_features_in_),
            "biodae.threshold": repr(float(self.threshold_)),
            "biodae.threshold_rule": threshold_rule,
            "biodae.score": _SCORE_TEXT,
            "biodae.standardisation": json.dumps({"mean": [float(v) for v in self.mean_],
                                                  "std": [float(v) for v in self.scale_]}),
            "biodae.inputs": "x: float32 [batch, n_features], raw units; z: float32 [batch_z, latent_dim] codes; "
                             "feed both (one row of zeros to the one not needed)",
            "biodae.outputs": "from x: code [batch, latent_dim], reconstruction [batch, n_features] (raw units), "
                              "score [batch]" + (", proba [batch, n_classes]" if self._is_supervised() else "")
                              + (f" (the mean of the {self.ensemble} ensemble members' probabilities; code, "
                                 "reconstruction, score and decoded are the first member's)"
                                 if self._is_supervised() and self.ensemble > 1 else "")
                              + "; from z: decoded [batch, n_features] (raw units)",
            "biodae.params": _json_params(self.get_params(deep=False)),
            "biodae.history": json.dumps(self.history_),
        }
        if self._is_supervised():
            meta["biodae.classes"] = json.dumps([_plain(c) for c in self.classes_.tolist()])
        if hasattr(self, "feature_names_in_"):
            meta["biodae.feature_names"] = json.dumps([str(c) for c in self.feature_names_in_])
        return meta

    # ------------------------------------------------------------------ inference

    def _runner(self) -> _onnx.LatentRunner:
        sess = getattr(self, "_session_cache", None)
        if sess is None:
            from ..runtime import create_session

            sess = self._session_cache = create_session(self.onnx_model_, device="cpu")
        return _onnx.LatentRunner(sess, self.n_features_in_, self.latent_dim_)

    def outputs(self, X: Any) -> dict[str, np.ndarray]:
        """Every output of the model for ``X`` in one pass: ``code``, ``reconstruction`` (standardised
        units), ``score`` and, for ``supervised``, ``proba`` (as the ONNX file's outputs, ``docs/onnx.md``).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        dict of ndarray (float32)
        """
        check_is_fitted(self, "onnx_model_")
        X = self._validate(X, reset=False)
        return self._runner().outputs(np.ascontiguousarray(X, dtype=np.float32))

    def _run(self, rows: np.ndarray, output: str, *, name: str = "x") -> np.ndarray:
        """One output, from rows of input ``name``, in chunks."""
        return self._runner().run(rows, output, name=name)

    def _infer(self, X: Any, output: str) -> np.ndarray:
        check_is_fitted(self, "onnx_model_")
        X = self._validate(X, reset=False)
        out = self._run(X, output)
        return out.astype(X.dtype if X.dtype == np.float32 else np.float64, copy=False)

    def transform(self, X: Any) -> np.ndarray:
        """Latent codes (``variational``: the posterior mean).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples, latent_dim)
        """
        return self._infer(X, "code")

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Rows decoded from codes, in the units of ``X``.

        Parameters
        ----------
        Z : array-like, shape (n_samples, latent_dim)

        Returns
        -------
        ndarray, shape (n_samples, n_features_in_)
        """
        check_is_fitted(self, "onnx_model_")
        try:
            Z = check_array(Z, dtype=(np.float64, np.float32))
        except ValueError as exc:
            raise InputError(str(exc), "give codes as a finite 2D array (n_samples, latent_dim)") from exc
        if Z.shape[1] != self.latent_dim_:
            raise InputError(f"Z has {Z.shape[1]} columns, but this autoencoder's codes have {self.latent_dim_}",
                             "give codes from transform()")
        out = self._run(Z, "decoded", name="z")
        return out.astype(Z.dtype if Z.dtype == np.float32 else np.float64, copy=False)

    def reconstruct(self, X: Any) -> np.ndarray:
        """``X`` through the encoder and the decoder, in the units of ``X`` (the same as
        ``inverse_transform(transform(X))``, in one call).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples, n_features_in_)
        """
        return self._infer(X, "reconstruction")

    def score_samples(self, X: Any) -> np.ndarray:
        """Reconstruction error per row: higher = more abnormal (see Notes on the sign).

        The mean over the features of the squared difference between the standardised row and
        its standardised reconstruction (``variational``: decoded from the posterior mean, so
        the score is deterministic).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return self._infer(X, "score")

    @available_if(_is_unsupervised)
    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - threshold_``: positive for flagged rows (unsupervised kinds).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return self.score_samples(X).astype(np.float64) - self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """Anomaly flags (1 = score above ``threshold_``, 0 otherwise), or class labels for ``supervised``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples,)
            int flags, or labels from ``classes_``.
        """
        check_is_fitted(self, "onnx_model_")
        if self._is_supervised():
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        # in double precision, as biodae.beats.score_beats and the contract (docs/onnx.md) compare: numpy would
        # round the threshold to float32 for float32 scores, and a score between the two roundings would flip
        return (self.score_samples(X).astype(np.float64) > self.threshold_).astype(np.int64)

    @available_if(_is_supervised)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the classifier head (``supervised``), columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        return self._infer(X, "proba").astype(np.float64)

    def score(self, X: Any, y: Any = None) -> float:
        """Accuracy for ``supervised``; otherwise minus the mean reconstruction error (higher is better),
        so that ``GridSearchCV`` works without a ``scoring``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)
        y : array-like, shape (n_samples,), optional
            Class labels (``supervised``); ignored otherwise.

        Returns
        -------
        float
        """
        if self._is_supervised():
            if y is None:
                raise InputError("score of a supervised Autoencoder needs y", "call score(X, y)")
            from sklearn.metrics import accuracy_score

            return float(accuracy_score(y, self.predict(X)))
        return -float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str], *, force: bool = False, name: str | None = None,
             version: str | None = None) -> Path:
        """Write the fitted model as one self-contained ONNX file (``docs/onnx.md``, "Latent models").

        Parameters
        ----------
        path : path
            Output file, conventionally ``.onnx``; written atomically.
        force : bool, default False
            Overwrite an existing file.
        name, version : str, optional
            The model's name and semantic version in the file (``biodae.name``, ``biodae.version``,
            as the denoisers carry theirs); default ``"autoencoder"`` and ``"0.0.0"``, or what a
            loaded file said.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        OutputExistsError
            ``path`` exists and not ``force``.
        """
        check_is_fitted(self, "onnx_model_")
        from ..io import atomic_path

        data = self.onnx_model_
        if name is not None or version is not None:
            meta = _onnx.read_metadata(data)
            meta.update({k: v for k, v in (("biodae.name", name), ("biodae.version", version)) if v is not None})
            meta.pop("biodae.weights_sha256", None)
            import onnx

            data = _onnx.serialize(onnx.load_model_from_string(data), meta)
        path = Path(path)
        with atomic_path(path, force=force) as tmp:
            tmp.write_bytes(data)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Autoencoder:
        """A fitted estimator from a file written by :meth:`save` (no torch needed).

        It gives the same codes, reconstructions, scores, flags and classes as the estimator
        that wrote it, and the same parameters (``get_params``), so ``clone`` and a new ``fit``
        work too.

        Raises
        ------
        InputError
            The file is missing, or not a biodae latent model.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file", "check the path")
        data = path.read_bytes()
        try:
            problems = _onnx.check_latent_file(data)
        except Exception as exc:  # onnx raises its own decode errors
            raise InputError(f"{path} is not an ONNX file ({exc})", "give a file written by Autoencoder.save") from exc
        if problems:
            raise InputError(f"{path} is not a biodae latent model: {problems[0]}",
                             "give a file written by Autoencoder.save")
        meta = _onnx.read_metadata(data)
        known = set(cls._get_param_names())  # a file from another biodae version may name others
        est = cls(**{k: v for k, v in _params_from_json(meta["biodae.params"]).items() if k in known})
        est.n_features_in_ = int(meta["biodae.n_features"])
        est.latent_dim_ = int(meta["biodae.latent_dim"])
        std = json.loads(meta["biodae.standardisation"])
        est.mean_ = np.asarray(std["mean"], dtype=np.float32)
        est.scale_ = np.asarray(std["std"], dtype=np.float32)
        est.threshold_ = float(meta["biodae.threshold"])
        est.history_ = json.loads(meta.get("biodae.history", "{}"))
        if meta["biodae.kind"] == "supervised":
            est.classes_ = np.asarray(json.loads(meta["biodae.classes"]))
        if "biodae.feature_names" in meta:
            est.feature_names_in_ = np.asarray(json.loads(meta["biodae.feature_names"]), dtype=object)
        est.onnx_model_ = data
        return est
