"""A reusable, deterministic, resumable training loop for the denoisers.

>>> from biodae.nn import FCNDAE, NoisyWindows, ArrayPairs, fit
>>> train = NoisyWindows(clean_train, add_noise, seed=1)        # doctest: +SKIP
>>> val = NoisyWindows(clean_val, add_noise, seed=2)            # doctest: +SKIP
>>> result = fit(FCNDAE(), train, val, loss="ssd_mad", epochs=50,
...              patience=10, checkpoint_dir="runs/fcn")        # doctest: +SKIP

**Data.** ``train_data`` and ``val_data`` are *batch sources*: any object with
``__len__`` and ``batch(indices, *, epoch) -> (noisy, clean)``, returning arrays or
tensors shaped like the model's input (``[n, channels, length]`` or
``[n, channels, height, width]``, physical units). :class:`ArrayPairs` wraps fixed
arrays; :class:`NoisyWindows` mixes fresh noise into clean windows each epoch, from a
generator seeded by ``(seed, epoch, index)`` so that a window's noise depends neither
on the batch it lands in nor on the order of the epochs run. A map-style
``torch.utils.data.Dataset`` whose items are ``(noisy, clean)`` pairs is accepted too
(its ``set_epoch(epoch)`` is called when it has one), and so is a plain
``(noisy, clean)`` tuple of arrays. Training epochs are numbered from 1; validation
always asks for ``epoch=0``, so on-the-fly validation noise is the same every epoch.

**Determinism.** With the same seed, data and machine, two runs give identical weights:
the batch order is drawn from ``(seed, epoch)``, torch's generator is reseeded from
``(seed, epoch)`` at each epoch, and ``torch.use_deterministic_algorithms`` is switched
on for the duration of the call (``warn_only``; the previous setting is restored).
Torch's global RNG state is restored when :func:`fit` returns. The model's own
initialisation is the caller's: seed before building it.

**Checkpoints.** With ``checkpoint_dir``, every epoch writes ``last.pt`` and, when the
validation loss improves, ``best.pt``, each atomically (temporary file + rename). Both
are plain dictionaries that load with ``torch.load(path, weights_only=True)``:

``format`` (str), ``model`` (``{"name", "config"}``), ``state_dict``, ``optimizer``,
``scheduler`` (or ``None``), ``epoch`` (epochs completed), ``best_val_loss``,
``best_epoch``, ``bad_epochs`` (epochs since the last improvement), ``stopped_early``,
``history`` (``{"train_loss", "val_loss", "lr"}`` lists), ``rng`` (torch CPU and CUDA
generator states as uint8 tensors), ``train_config`` (the options of the call, no
paths) and ``distributed`` (``None``, or the world size, backend and the sha256 of every
rank's weights). ``resume=True`` continues from ``last.pt`` exactly: 4 epochs straight
and 2 + 2 resumed give the same weights.

**Several processes.** Launched by ``torchrun --nproc_per_node=N``, :func:`fit` trains
data-parallel (DDP; gloo on the CPU, NCCL on GPUs) with the same global batches as one
process; rank 0 alone writes checkpoints and logs. See :mod:`biodae.nn.distributed`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .._errors import InputError, OutputExistsError
from ..io import atomic_path
from . import distributed as _dist
from .models import Denoiser

__all__ = [
    "LOSSES",
    "BatchSource",
    "ArrayPairs",
    "NoisyWindows",
    "FitResult",
    "fit",
    "mse_loss",
    "ssd_loss",
    "ssd_mad_loss",
]

CHECKPOINT_FORMAT = "biodae.nn.checkpoint/1"
#: The checkpoints :func:`fit` writes in its ``checkpoint_dir``: after every epoch, and at the best one.
LAST_CHECKPOINT, BEST_CHECKPOINT = "last.pt", "best.pt"
LR_SCHEDULES = ("plateau", "cosine", "constant")
# options that must match between a run and the run it resumes
_RESUME_KEYS = ("loss", "batch_size", "lr", "weight_decay", "seed", "lr_schedule", "n_train", "n_val")


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------


def _spatial(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, t.dim()))


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element.

    Parameters
    ----------
    pred, target : torch.Tensor, shape [batch, channels, *size]
        Output and clean reference, physical units.

    Returns
    -------
    torch.Tensor, scalar
        In squared units.
    """
    return torch.mean((pred - target) ** 2)


def ssd_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences per window and channel, averaged over both.

    DeepFilter's ``ssd_loss`` (used there for FCN-DAE and DRNN).

    Parameters
    ----------
    pred, target : torch.Tensor, shape [batch, channels, *size]
        Output and clean reference, physical units (mV for the benchmark).

    Returns
    -------
    torch.Tensor, scalar
        In squared units (mV²).
    """
    return torch.sum((pred - target) ** 2, dim=_spatial(pred)).mean()


def ssd_mad_loss(pred: torch.Tensor, target: torch.Tensor, *, mad_weight: float = 50.0) -> torch.Tensor:
    """DeepFilter's combined loss: ``SSD + mad_weight × max(e²)`` per window and channel.

    Averaged over windows and channels, as Keras reduces a per-window loss.

    Notes
    -----
    DeepFilter's code (``deepFilter/dl_pipeline.py``, ``combined_ssd_mad_loss``) takes
    the maximum of the **squared** error, ``K.max(K.square(y - ŷ), axis=-2) * 50``,
    although the term is called MAD; the metric MAD is the maximum *absolute* error.
    We follow the code. This keeps the loss homogeneous of degree 2 in amplitude, so
    the balance between the terms does not depend on the unit, only on the window
    length (SSD grows with it, the maximum does not). The weight 50 fits the
    benchmark's 512-sample windows in mV: at DeepFilter's reported errors
    (SSD ≈ 5.2 mV², MAD ≈ 0.39 mV) the two terms are of one order, 5.2 against
    50 × 0.39² ≈ 7.4; with the literal max-abs term (50 × 0.39 ≈ 19) the peak error
    would dominate. Retune ``mad_weight`` in proportion for other window lengths.

    Parameters
    ----------
    pred, target : torch.Tensor, shape [batch, channels, *size]
        Output and clean reference, physical units (mV for the benchmark).
    mad_weight : float, default 50
        Weight of the peak squared error.

    Returns
    -------
    torch.Tensor, scalar
        In squared units (mV²).

    References
    ----------
    .. [1] F. P. Romero et al., "DeepFilter: an ECG baseline wander removal filter
       using deep learning techniques", Biomed. Signal Process. Control 70:102992, 2021.
    """
    sq = (pred - target) ** 2
    dims = _spatial(pred)
    return (sq.sum(dim=dims) + mad_weight * sq.amax(dim=dims)).mean()


def snr_loss(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-8) -> torch.Tensor:
    """Negative output SNR in dB, averaged over windows and channels.

    ``mean(10 log10((Σ e² + eps) / (Σ y² + eps)))`` with ``e = ŷ - y`` per window. Unlike
    the MSE, which high-amplitude, low-SNR windows dominate, every window counts in
    decibels: a clean window must come out nearly untouched as much as a noisy one must
    be cleaned, which is what an SNR-improvement benchmark over -6...24 dB asks.

    Parameters
    ----------
    pred, target : torch.Tensor, shape [batch, channels, *size]
    eps : float
        Floor in squared units times samples (guards all-zero windows).

    Returns
    -------
    torch.Tensor, scalar, in dB (lower is better)
    """
    dims = _spatial(pred)
    err = ((pred - target) ** 2).sum(dim=dims)
    ref = (target**2).sum(dim=dims)
    return (10.0 * torch.log10((err + eps) / (ref + eps))).mean()


def snr_psd_loss(
    pred: torch.Tensor, target: torch.Tensor, *, segment: int = 256, weight: float = 0.5, eps: float = 1e-8
) -> torch.Tensor:
    """:func:`snr_loss` plus ``weight`` × the error of the Welch power spectrum in dB.

    The spectral term is ``mean(10 log10((Σ_f (P̂_f - P_f)² + eps) / (Σ_f P_f² + eps)))``
    with ``P`` the Welch estimate of each window (Hann segments of ``segment`` samples,
    50 % overlap, each segment's mean removed, the periodograms averaged), i.e. ``20 log10`` of the window's
    RRMSE_s. A time-domain loss alone lets a model leave a small, broadband residue
    that costs little in RMS but shows in the spectrum (EEG at mild EMG); this term
    counts it. ``segment`` 256 is 1 s at the EEG recipe's 256 Hz, as in the benchmark.

    Parameters
    ----------
    pred, target : torch.Tensor, shape [batch, channels, length]
        ``length >= segment``.
    segment : int, default 256
    weight : float, default 0.5
    eps : float
        Floor (guards all-zero windows).

    Returns
    -------
    torch.Tensor, scalar, in dB (lower is better)
    """
    if pred.dim() != 3 or pred.shape[-1] < segment:
        raise ValueError(f"snr_psd_loss needs [batch, channels, length >= {segment}]; got {tuple(pred.shape)}")
    window = torch.hann_window(segment, periodic=True, dtype=pred.dtype, device=pred.device)

    def welch(x: torch.Tensor) -> torch.Tensor:
        seg = x.unfold(-1, segment, segment // 2)
        seg = (seg - seg.mean(dim=-1, keepdim=True)) * window  # detrend="constant", as the metric
        return (torch.fft.rfft(seg, dim=-1).abs() ** 2).mean(dim=-2)

    p_hat, p = welch(pred), welch(target)
    spec = 10.0 * torch.log10((((p_hat - p) ** 2).sum(dim=-1) + eps) / ((p**2).sum(dim=-1) + eps))
    return snr_loss(pred, target, eps=eps) + weight * spec.mean()


def log_mse_loss(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    """Per-patch mean squared error in decibels, averaged: ``mean(10 log10(mse_i + eps))``.

    For blind denoisers trained over a wide range of noise levels: with a plain MSE the
    noisiest patches dominate the gradient and the network learns to leave faint noise
    (and to alter clean images); in decibels halving the error of a nearly clean patch
    counts as much as halving that of a very noisy one. ``eps`` (in squared intensity
    units; 1e-5 is an error of 0.3 % of the [0, 1] range) bounds the reward for
    reproducing a clean patch exactly.
    """
    mse = ((pred - target) ** 2).mean(dim=_spatial(pred))
    return (10.0 * torch.log10(mse + eps)).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "log_mse": log_mse_loss,
    "mse": mse_loss,
    "snr": snr_loss,
    "snr_psd": snr_psd_loss,
    "ssd": ssd_loss,
    "ssd_mad": ssd_mad_loss,
}
"""Loss name -> function ``(pred, target) -> scalar``."""


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@runtime_checkable
class BatchSource(Protocol):
    """What :func:`fit` draws batches from."""

    def __len__(self) -> int: ...

    def batch(self, indices: np.ndarray, *, epoch: int) -> tuple[Any, Any]:
        """Return ``(noisy, clean)`` for ``indices``, shape ``[len(indices), ...]``."""
        ...


def _as_float_array(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} must be [n, channels, length] or [n, channels, height, width]; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


class ArrayPairs:
    """Fixed ``(noisy, clean)`` arrays as a batch source.

    Parameters
    ----------
    noisy, clean : array_like, shape [n, channels, length] or [n, channels, height, width]
        Same shape, physical units; stored as float32.
    """

    def __init__(self, noisy: Any, clean: Any) -> None:
        self.noisy = _as_float_array(noisy, "noisy")
        self.clean = _as_float_array(clean, "clean")
        if self.noisy.shape != self.clean.shape:
            raise ValueError(f"noisy and clean shapes differ: {self.noisy.shape} vs {self.clean.shape}")

    def __len__(self) -> int:
        return len(self.clean)

    def batch(self, indices: np.ndarray, *, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the stored pairs at ``indices`` (``epoch`` is ignored)."""
        return self.noisy[indices], self.clean[indices]


class NoisyWindows:
    """Clean windows with noise mixed in on the fly, fresh each epoch, reproducibly.

    Window ``i`` of epoch ``e`` is ``mix(clean[i], rng)`` with
    ``rng = numpy.random.default_rng([seed, e, i])``: it does not depend on the batch
    composition, the order of epochs, or on resuming.

    Parameters
    ----------
    clean : array_like, shape [n, channels, length] or [n, channels, height, width]
        Clean windows, physical units; stored as float32.
    mix : callable ``(clean_window, rng) -> noisy_window``
        Adds noise to one window (shape ``[channels, ...]``, same shape back), drawing
        every random number from ``rng`` (a :class:`numpy.random.Generator`).
    seed : int
        Non-negative seed of this source; use different seeds for training and
        validation sources.
    """

    def __init__(self, clean: Any, mix: Callable[[np.ndarray, np.random.Generator], np.ndarray], *, seed: int) -> None:
        self.clean = _as_float_array(clean, "clean")
        if seed < 0:
            raise ValueError(f"seed must be >= 0; got {seed}")
        self.mix = mix
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.clean)

    def batch(self, indices: np.ndarray, *, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(noisy, clean)`` at ``indices`` with the noise of ``epoch``."""
        clean = self.clean[indices]
        noisy = np.empty_like(clean)
        for k, i in enumerate(indices):
            rng = np.random.default_rng([self.seed, int(epoch), int(i)])
            out = np.asarray(self.mix(clean[k].copy(), rng), dtype=np.float32)
            if out.shape != clean[k].shape:
                raise ValueError(f"mix returned shape {out.shape} for a window of shape {clean[k].shape}")
            noisy[k] = out
        return noisy, clean


class _DatasetSource:
    """Adapter: a map-style dataset of ``(noisy, clean)`` items."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def batch(self, indices: np.ndarray, *, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
        items = [self.dataset[int(i)] for i in indices]
        noisy = torch.stack([torch.as_tensor(np.asarray(a, dtype=np.float32)) for a, _ in items])
        clean = torch.stack([torch.as_tensor(np.asarray(b, dtype=np.float32)) for _, b in items])
        return noisy, clean


def _as_source(data: Any, name: str) -> BatchSource:
    if isinstance(data, tuple) and len(data) == 2:
        return ArrayPairs(*data)
    if callable(getattr(data, "batch", None)) and hasattr(data, "__len__"):
        return data
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return _DatasetSource(data)
    raise TypeError(
        f"{name} must be a batch source (__len__ and batch(indices, *, epoch)), a map-style "
        f"Dataset of (noisy, clean) pairs, or a (noisy, clean) tuple; got {type(data).__name__}"
    )


def _to_tensor(a: Any, device: torch.device) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.to(device=device, dtype=torch.float32)


# --------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model, in eval mode, holding the best weights when
        ``restore_best`` (the default), else those of the last epoch.
    epochs_run : int
        Epochs completed in total, including those before a resume.
    best_epoch : int
        Epoch of the lowest validation loss (0 if none was run).
    best_val_loss : float
        That loss, in the loss's units.
    stopped_early : bool
        Whether early stopping ended the run.
    resumed_from : int
        Epochs already done in the checkpoint resumed from (0 for a fresh run).
    history : dict of str to list of float
        Per-epoch ``train_loss``, ``val_loss`` and ``lr`` (from epoch 1).
    checkpoint_dir : pathlib.Path or None
        Where ``last.pt`` and ``best.pt`` are.
    """

    model: nn.Module
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    resumed_from: int
    history: dict[str, list[float]] = field(default_factory=dict)
    checkpoint_dir: Path | None = None


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device; use device='cpu' or 'auto'")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")
    return torch.device(device)


@contextlib.contextmanager
def _deterministic(enabled: bool, device: torch.device) -> Iterator[None]:
    """Switch on deterministic algorithms for the block; restore the previous settings."""
    prev = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if enabled:
        if device.type == "cuda":
            # cuBLAS needs a fixed workspace for reproducible results; read at CUDA init
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _rng_states() -> dict[str, Any]:
    cuda = [s.clone() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state().clone(), "cuda": cuda}


def _set_rng_states(states: Mapping[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if torch.cuda.is_available() and states.get("cuda"):
        torch.cuda.set_rng_state_all(list(states["cuda"]))


def _save(obj: Mapping[str, Any], path: Path) -> None:
    with atomic_path(path, force=True) as tmp:
        torch.save(dict(obj), tmp)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _model_identity(model: nn.Module) -> dict[str, Any]:
    name = getattr(model, "name", None)
    config = getattr(model, "config", None)
    if not isinstance(model, Denoiser) and (not isinstance(name, str) or not isinstance(config, dict)):
        return {"name": type(model).__name__, "config": {}}
    return {"name": name, "config": config}


def fit(
    model: nn.Module,
    train_data: Any,
    val_data: Any,
    *,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "mse",
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    patience: int | None = None,
    min_delta: float = 0.0,
    lr_schedule: str = "plateau",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    restore_best: bool = True,
    device: str | torch.device = "auto",
    deterministic: bool = True,
    progress: bool = True,
    log: Callable[[str], Any] | None = None,
) -> FitResult:
    """Train ``model`` to map noisy to clean windows; early-stop on validation loss.

    Parameters
    ----------
    model : torch.nn.Module
        Usually a :class:`~biodae.nn.models.Denoiser` (its ``name`` and ``config`` go
        into the checkpoints so :func:`~biodae.nn.export.load_checkpoint` can rebuild
        it). Trained in place and moved to ``device``.
    train_data, val_data : BatchSource, Dataset or (noisy, clean) tuple
        See the module docstring. Shapes ``[n, channels, length]`` or
        ``[n, channels, height, width]``, physical units.
    loss : {"mse", "ssd", "ssd_mad"} or callable, default "mse"
        Training and validation loss (:data:`LOSSES`); a callable
        ``(pred, target) -> scalar`` is recorded by its name.
    epochs : int, default 100
        Epochs to reach in total (a resumed run counts those already done).
    batch_size : int, default 32
    lr : float, default 1e-3
        Learning rate of AdamW (Adam when ``weight_decay`` is 0).
    weight_decay : float, default 0
        Decoupled weight decay.
    seed : int, default 0
        Seeds batch order and torch's generator, per epoch.
    patience : int, optional
        Stop after this many epochs without a validation loss lower than the best by
        more than ``min_delta``. ``None``: never stop early.
    min_delta : float, default 0
        Improvement threshold, in the loss's units.
    lr_schedule : {"plateau", "cosine", "constant"}, default "plateau"
        ``"plateau"``: halve the rate after 2 epochs without validation improvement
        (DeepFilter's ``ReduceLROnPlateau``, down to 1e-10). ``"cosine"``: cosine decay
        per epoch from ``lr`` to ``lr / 100`` at ``epochs`` (Loshchilov & Hutter 2017,
        without restarts).
    checkpoint_dir : path, optional
        Folder for ``last.pt`` and ``best.pt`` (created). Without it nothing is written.
    resume : bool, default True
        Continue from ``checkpoint_dir/last.pt`` when it exists. With ``False`` an
        existing ``last.pt`` is an error (it is never overwritten silently).
    restore_best : bool, default True
        Load the best epoch's weights into ``model`` before returning.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        ``"auto"`` uses CUDA when torch sees it.
    deterministic : bool, default True
        Use deterministic algorithms during the call (previous setting restored).
    progress : bool, default True
        A tqdm bar per epoch on stderr, with the running training loss.
    log : callable ``(str) -> Any``, optional
        Receives one line per epoch (and one on resuming).

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        Bad options, empty or mismatched data, a checkpoint from another model or
        other options, or a non-finite loss.
    OutputExistsError
        ``resume=False`` and ``checkpoint_dir`` already holds ``last.pt``.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)} (or pass a callable)")
        loss_fn, loss_name = LOSSES[loss], loss
    elif callable(loss):
        loss_fn, loss_name = loss, getattr(loss, "__qualname__", type(loss).__name__)
    else:
        raise ValueError(f"loss must be a name or a callable; got {loss!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {lr_schedule!r}")
    if epochs < 0 or batch_size < 1 or lr <= 0 or weight_decay < 0 or seed < 0:
        raise ValueError("need epochs >= 0, batch_size >= 1, lr > 0, weight_decay >= 0 and seed >= 0")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 or None; got {patience}")
    train_src, val_src = _as_source(train_data, "train_data"), _as_source(val_data, "val_data")
    n_train, n_val = len(train_src), len(val_src)
    if n_train == 0 or n_val == 0:
        raise ValueError(f"training and validation data must not be empty (got {n_train} and {n_val} windows)")
    config = _FitConfig(
        loss=loss_name, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), weight_decay=float(weight_decay),
        seed=int(seed), patience=None if patience is None else int(patience), min_delta=float(min_delta),
        lr_schedule=lr_schedule, deterministic=bool(deterministic), n_train=int(n_train), n_val=int(n_val),
    )
    dev = _dist.local_device(_resolve_device(device))
    with _dist.world(dev) as world:
        state = _TrainingState(model, config, dev, world)
        return _train(state, train_src, val_src, loss_fn, checkpoint_dir=checkpoint_dir, resume=resume,
                      restore_best=restore_best, progress=progress, log=log)


@dataclass(frozen=True)
class _FitConfig:
    """The training options of one :func:`fit` call, as checkpoints record them (``train_config``).

    No paths, device or process count: a run can be resumed elsewhere. The field order is the
    key order of ``train_config``.
    """

    loss: str  # the name in LOSSES, or a callable's qualified name
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    patience: int | None
    min_delta: float
    lr_schedule: str
    deterministic: bool
    n_train: int  # windows per training epoch
    n_val: int

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint's ``train_config``."""
        return asdict(self)


#: a run's counters, saved under these keys in every checkpoint and restored on resuming
_COUNTERS = ("epoch", "best_val_loss", "best_epoch", "bad_epochs", "stopped_early")


class _TrainingState:
    """What one run carries from epoch to epoch: model, optimiser, schedule, counters and history.

    A checkpoint is this state written down (:meth:`save_checkpoint`); :meth:`resume` reads it
    back. ``model`` is moved to ``device`` and, in a run of several processes, wrapped in
    DistributedDataParallel as ``net`` (the module trained; ``model`` is the one evaluated and
    saved).
    """

    def __init__(self, model: nn.Module, config: _FitConfig, device: torch.device, world: _dist.World) -> None:
        self.config, self.device, self.world = config, device, world
        self.identity = _model_identity(model)
        self.model = model.to(device)
        # DDP broadcasts rank 0's weights at construction and averages gradients in backward
        device_ids = [device.index] if device.type == "cuda" else None
        self.net = nn.parallel.DistributedDataParallel(model, device_ids=device_ids) if world.active else model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler: Any = None
        if config.lr_schedule == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="min", factor=0.5,
                                                                        patience=2, min_lr=1e-10)
        elif config.lr_schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(config.epochs, 1),
                                                                        eta_min=config.lr / 100)
        self.epoch = 0  # epochs completed
        self.best_val_loss = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0  # epochs since the last improvement
        self.stopped_early = False
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": []}
        self.best_weights: dict[str, torch.Tensor] | None = None  # on the CPU
        self.resumed_from = 0

    @property
    def lr(self) -> float:
        """The optimiser's current learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def patience_spent(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.config.patience is not None and self.bad_epochs >= self.config.patience

    def end_epoch(self, epoch: int, train_loss: float, val_loss: float, lr: float) -> bool:
        """Step the schedule, count the epoch and keep the best weights; return whether it improved."""
        if self.config.lr_schedule == "plateau":
            self.scheduler.step(val_loss)
        elif self.scheduler is not None:
            self.scheduler.step()
        improved = val_loss < self.best_val_loss - self.config.min_delta
        if improved:
            self.best_val_loss, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_weights = _cpu_state(self.model)
        else:
            self.bad_epochs += 1
        self.epoch = epoch
        self.stopped_early = self.patience_spent and epoch < self.config.epochs
        self.history["train_loss"].append(train_loss)
        self.history["val_loss"].append(val_loss)
        self.history["lr"].append(lr)
        return improved

    def save_checkpoint(self, path: Path, *, distributed: dict[str, Any] | None = None) -> None:
        """Write the state to ``path`` atomically (its folder created); ``distributed`` as
        :func:`~biodae.nn.distributed.check_in_sync` returns it. The keys are in the module docstring."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _save({
            "format": CHECKPOINT_FORMAT,
            "model": self.identity,
            "state_dict": _cpu_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            **{key: getattr(self, key) for key in _COUNTERS},
            "history": self.history,
            "rng": _rng_states(),
            "train_config": self.config.as_dict(),
            "distributed": distributed,
        }, path)

    def resume(self, path: Path) -> None:
        """Continue from the checkpoint at ``path`` (a ``last.pt``) exactly, torch's RNG included;
        the best weights come from ``best.pt`` beside it, when there is one.

        Raises
        ------
        InputError
            ``path`` holds another model, or a run with other options (:data:`_RESUME_KEYS`).
        """
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        _check_resumable(ckpt, self.identity, self.config.as_dict(), path)
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        for key in _COUNTERS:
            setattr(self, key, ckpt[key])
        self.history = {k: list(v) for k, v in ckpt["history"].items()}
        _set_rng_states(ckpt["rng"])
        best = path.with_name(BEST_CHECKPOINT)
        if best.exists():
            self.best_weights = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        self.resumed_from = int(self.epoch)

    def result(self, *, restore_best: bool, checkpoint_dir: Path | None) -> FitResult:
        """The model (best weights when ``restore_best``, in eval mode) and the run's summary."""
        if restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        self.model.eval()
        return FitResult(
            model=self.model,
            epochs_run=int(self.epoch),
            best_epoch=int(self.best_epoch),
            best_val_loss=float(self.best_val_loss),
            stopped_early=bool(self.stopped_early),
            resumed_from=self.resumed_from,
            history=self.history,
            checkpoint_dir=checkpoint_dir,
        )


def _train(
    state: _TrainingState,
    train_src: BatchSource,
    val_src: BatchSource,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    checkpoint_dir: str | os.PathLike[str] | None,
    resume: bool,
    restore_best: bool,
    progress: bool,
    log: Callable[[str], Any] | None,
) -> FitResult:
    """The epoch loop of :func:`fit`: resume if asked, then train, validate and checkpoint each epoch."""
    config, world, dev = state.config, state.world, state.device
    emit = log if log is not None and world.main else (lambda line: None)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    last_path = ckpt_dir / LAST_CHECKPOINT if ckpt_dir is not None else None  # best.pt beside it
    cuda_devices = [dev.index or 0] if dev.type == "cuda" else []

    with torch.random.fork_rng(devices=cuda_devices), _deterministic(config.deterministic, dev):
        torch.manual_seed(config.seed)
        if last_path is not None and last_path.exists():
            if not resume:
                raise OutputExistsError(
                    f"{last_path} already exists",
                    "pass resume=True to continue that run, or choose an empty checkpoint_dir",
                )
            state.resume(last_path)
            emit(f"resumed from {last_path} after epoch {state.resumed_from}")

        for epoch in range(int(state.epoch) + 1, config.epochs + 1):
            if state.patience_spent:
                state.stopped_early = True
                break
            t0 = time.perf_counter()
            torch.manual_seed(_derived_seed(config.seed, epoch))
            train_loss = _run_epoch(
                state.net, train_src, loss_fn, state.optimizer, epoch=epoch, seed=config.seed,
                batch_size=config.batch_size, device=dev, progress=progress and world.main,
                desc=f"epoch {epoch}/{config.epochs}", world=world,
            )
            val_loss = _evaluate(state.model, val_src, loss_fn, batch_size=config.batch_size, device=dev, world=world)
            lr_now = state.lr
            improved = state.end_epoch(epoch, train_loss, val_loss, lr_now)
            replicas = _dist.check_in_sync(state.model, world)
            if last_path is not None and world.main:
                if improved:
                    state.save_checkpoint(last_path.with_name(BEST_CHECKPOINT), distributed=replicas)
                state.save_checkpoint(last_path, distributed=replicas)
            emit(
                f"epoch {epoch}/{config.epochs}  train {train_loss:.6g}  val {val_loss:.6g}  lr {lr_now:.3g}"
                f"  {time.perf_counter() - t0:.1f}s" + ("  *best" if improved else "")
                + ("  early stop" if state.stopped_early else "")
            )

    return state.result(restore_best=restore_best, checkpoint_dir=ckpt_dir)


def _check_resumable(
    ckpt: Mapping[str, Any], identity: Mapping[str, Any], config: Mapping[str, Any], path: Path
) -> None:
    # the user's own mistakes (a checkpoint folder reused for another run): InputError, so the
    # CLI prints the reason and what to do instead of an "internal error"
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a biodae checkpoint ({CHECKPOINT_FORMAT})",
                         "use another --out-dir / checkpoint_dir")
    if dict(ckpt["model"]) != dict(identity):
        raise InputError(
            f"{path} holds model {ckpt['model']['name']} {ckpt['model']['config']}, not "
            f"{identity['name']} {identity['config']}",
            "use another --out-dir / checkpoint_dir",
        )
    old = ckpt["train_config"]
    diff = [f"{k}: {old.get(k)!r} -> {config[k]!r}" for k in _RESUME_KEYS if old.get(k) != config[k]]
    if diff:
        raise InputError(f"cannot resume {path} with different options ({'; '.join(diff)})",
                         "use another --out-dir / checkpoint_dir")
    if config["lr_schedule"] == "cosine" and old.get("epochs") != config["epochs"]:
        raise InputError(
            f"cannot resume {path} with {config['epochs']} epochs: its cosine schedule decays over "
            f"{old.get('epochs')} epochs",
            f"resume with {old.get('epochs')} epochs (--epochs {old.get('epochs')}), or start a new run in another "
            "--out-dir / checkpoint_dir",
        )


def _batches(n: int, batch_size: int, order: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _run_epoch(
    model: nn.Module,
    source: BatchSource,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    epoch: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    progress: bool,
    desc: str,
    world: _dist.World = _dist.World(),
) -> float:
    model.train()
    n = len(source)
    order = np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)
    total, seen = 0.0, 0
    bar = tqdm(total=n, desc=desc, unit="win", file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)
    with bar:
        for idx in _batches(n, batch_size, order):
            mine, weight = _dist.shard(idx, world)  # all of idx, weight 1, in one process
            noisy, clean = source.batch(mine, epoch=epoch)
            x, y = _to_tensor(noisy, device), _to_tensor(clean, device)
            if x.shape != y.shape or x.shape[0] != len(mine):
                raise ValueError(
                    f"batch shapes differ or do not match the indices: noisy {tuple(x.shape)}, clean {tuple(y.shape)}"
                )
            optimizer.zero_grad(set_to_none=True)
            value = loss_fn(model(x), y)
            step_sum = float(value.detach()) * len(mine) * (weight > 0)
            if world.active:  # every rank stops together on a non-finite loss
                step_sum = _dist.all_sum([step_sum], world, device)[0]
            if not math.isfinite(step_sum):
                raise ValueError(f"non-finite training loss at epoch {epoch}: lower lr or check the data")
            (value * weight if world.active else value).backward()
            optimizer.step()
            total += step_sum
            seen += len(idx)
            bar.update(len(idx))
            bar.set_postfix(loss=f"{total / seen:.4g}", refresh=False)
    return total / seen


@torch.no_grad()
def _evaluate(
    model: nn.Module,
    source: BatchSource,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    batch_size: int,
    device: torch.device,
    world: _dist.World = _dist.World(),
) -> float:
    model.eval()
    n = len(source)
    total = 0.0
    mine = np.array_split(np.arange(n), world.size)[world.rank]  # the whole set in one process
    for idx in _batches(mine.size, batch_size, mine):
        noisy, clean = source.batch(idx, epoch=0)
        total += float(loss_fn(model(_to_tensor(noisy, device)), _to_tensor(clean, device))) * len(idx)
    total = _dist.all_sum([total], world, device)[0]
    if not math.isfinite(total):
        raise ValueError("non-finite validation loss: lower lr or check the data")
    return total / n

