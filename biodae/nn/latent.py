"""Torch side of :class:`biodae.latent.Autoencoder`: the networks and their training loop.

:class:`biodae.latent.Autoencoder` calls :func:`train_latent` from ``fit`` and never
imports torch itself: it hands over standardised float32 arrays and gets back the
trained network as a *spec* (:func:`latent_spec`), plain numpy weights in a list of
simple operations that :mod:`biodae.latent._onnx` turns into an ONNX graph. Inference
then runs that graph in onnxruntime.

The networks (:class:`LatentNet`) are an encoder, a bottleneck (the code), a decoder
and, for ``kind="supervised"``, a linear classifier head on the code:

* ``arch="dense"``: ``n_features -> hidden[0] -> ... -> hidden[-1] -> latent_dim`` and the
  mirror image back (the classic 784 -> 500 -> 300 -> 100 -> k shape), ``activation``
  after every hidden layer, a linear output.
* ``arch="conv1d"``: the row (a signal window of ``n_features`` samples, one channel) is
  zero-padded on the right to a multiple of ``2 ** len(hidden)``; one convolution per
  entry of ``hidden`` (that many channels, kernel 5, stride 2), flattened into a linear
  layer to the code; the decoder is a linear layer, transposed convolutions (kernel 4,
  stride 2) back to one channel, and a crop to ``n_features``.

Per ``kind`` (all reconstruction terms are mean squared errors over the features, in
the standardised units the estimator trains in):

* ``undercomplete``: reconstruction only; linear code.
* ``denoising``: the encoder sees ``x + noise_std * N(0, 1)``, the loss compares with ``x``.
* ``sparse-l1``: the code goes through a ReLU; ``+ l1 * mean |code|`` (the L1 penalty on the
  bottleneck activity). On a linear code the penalty mostly shrinks every unit and lets the
  decoder scale back up (the codes get smaller, hardly sparser); below a ReLU it drives units
  to exactly zero.
* ``sparse-kl``: the code goes through a sigmoid; ``+ beta * mean_j KL(rho || rho_hat_j)``,
  ``rho_hat_j`` the mean activation of unit ``j`` over the batch (Ng's sparse autoencoder).
* ``variational``: the encoder gives ``mu`` and ``log sigma^2``; the decoder sees
  ``z = mu + sigma * eps``; the loss is the negative ELBO of a unit-variance Gaussian
  likelihood, ``0.5 * sum (x - x_hat)^2 + beta * w * KL(q(z|x) || N(0, I))`` divided by
  ``n_features``, ``w`` rising linearly from ``1 / (kl_warmup * steps)`` to 1 over the first
  ``kl_warmup`` epochs (1 throughout when ``kl_warmup = 0``). ``log sigma^2`` is clipped to
  [-30, 20] inside ``exp`` only, so the KL term is never switched off. The code of a row
  (``transform``) is ``mu``.
* ``supervised``: ``w_rec * reconstruction + w_cls * cross-entropy`` of a linear head on
  the code, with its own dropout (``dropout``) and class weights.

**Linear path** (``linear=True``, the estimator's ``linear_path``): a linear map from the row
to the code is added to the encoder's output and a linear map from the code to the row to the
decoder's, both initialised from PCA of the training rows (the code's first ``latent_dim``
principal components, centred on the training mean), while the last layers of the nonlinear
encoder and decoder start at zero. The untrained network is then exactly PCA, and training
only has the nonlinear parts (and the linear maps) to improve on it.

**Determinism.** The weights are initialised under ``torch.manual_seed(seed)`` inside
``torch.random.fork_rng`` (the caller's global RNG state is left as it was); batch order,
input noise, dropout masks and the VAE's ``eps`` come from one ``torch.Generator`` seeded
from ``seed``; deterministic algorithms are switched on for the call. Two calls with the
same seed, data, thread count and machine give bit-identical weights.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import InputError
from .train import _deterministic, _resolve_device

__all__ = ["ACTIVATIONS", "LatentNet", "train_latent", "latent_spec", "latent_forward"]

#: Hidden-layer activations, by name (also the names :mod:`biodae.latent._onnx` translates).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,  # negative slope 0.01
    "elu": nn.ELU,  # alpha 1
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}

_KERNEL, _TKERNEL = 5, 4  # encoder convolution (stride 2, padding 2); decoder transposed (stride 2, padding 1)
_LOGVAR_RANGE = (-30.0, 20.0)


class _PadRight(nn.Module):
    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = int(amount)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, (0, self.amount)) if self.amount else x


class _Reshape(nn.Module):
    """Reshape every row to ``shape`` (the batch axis is kept)."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class _Crop(nn.Module):
    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = int(length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.length]


class LatentNet(nn.Module):
    """Encoder, code, decoder and (supervised) classifier head of one autoencoder.

    Parameters
    ----------
    n_features : int
        Row length (features, or samples of a signal window for ``conv1d``).
    latent_dim : int
        Size of the code.
    arch : {"dense", "conv1d"}
    hidden : sequence of int
        Layer widths (dense) or channels per convolution (conv1d), from the input inwards.
    activation : str
        One of :data:`ACTIVATIONS`.
    kind : str
        ``undercomplete``, ``sparse-l1``, ``sparse-kl``, ``denoising``, ``variational`` or
        ``supervised`` (what changes is said in the module docstring).
    n_classes : int
        Classes of the supervised head (0: no head).
    """

    def __init__(self, *, n_features: int, latent_dim: int, arch: str, hidden: Sequence[int], activation: str,
                 kind: str, n_classes: int = 0, linear: bool = False) -> None:
        super().__init__()
        self.n_features, self.latent_dim, self.kind = int(n_features), int(latent_dim), kind
        act = ACTIVATIONS[activation]
        hidden = [int(h) for h in hidden]
        if arch == "dense":
            enc: list[nn.Module] = []
            prev = self.n_features
            for h in hidden:
                enc += [nn.Linear(prev, h), act()]
                prev = h
            dec: list[nn.Module] = []
            back = self.latent_dim
            for h in reversed(hidden):
                dec += [nn.Linear(back, h), act()]
                back = h
            dec.append(nn.Linear(back, self.n_features))
        elif arch == "conv1d":
            depth = len(hidden)
            if depth == 0:
                raise ValueError("arch='conv1d' needs at least one convolution in hidden")
            multiple = 2 ** depth
            padded = -(-self.n_features // multiple) * multiple
            reduced = padded // multiple
            enc = [_PadRight(padded - self.n_features), _Reshape((1, padded))]
            ch = 1
            for c in hidden:
                enc += [nn.Conv1d(ch, c, _KERNEL, stride=2, padding=_KERNEL // 2), act()]
                ch = c
            enc.append(nn.Flatten())
            prev = ch * reduced
            dec = [nn.Linear(self.latent_dim, prev), act(), _Reshape((ch, reduced))]
            targets = [*reversed(hidden[:-1]), 1]  # the last one (to one channel) is linear
            for j, c in enumerate(targets):
                dec.append(nn.ConvTranspose1d(ch, c, _TKERNEL, stride=2, padding=1))
                if j < len(targets) - 1:
                    dec.append(act())
                ch = c
            dec += [_Reshape((padded,)), _Crop(self.n_features)]
        else:
            raise ValueError(f"arch must be 'dense' or 'conv1d'; got {arch!r}")
        self.encoder = nn.Sequential(*enc)
        self.code = nn.Linear(prev, self.latent_dim)
        self.logvar = nn.Linear(prev, self.latent_dim) if kind == "variational" else None
        self.decoder = nn.Sequential(*dec)
        self.head = nn.Linear(self.latent_dim, int(n_classes)) if n_classes else None
        self.code_linear = nn.Linear(self.n_features, self.latent_dim) if linear else None
        self.decoder_linear = nn.Linear(self.latent_dim, self.n_features) if linear else None

    def init_linear_from_pca(self, x: np.ndarray) -> None:
        """Start the linear path at PCA of the rows ``x`` and the nonlinear code and output at zero."""
        if self.code_linear is None or self.decoder_linear is None:
            raise ValueError("the network has no linear path (linear=False)")
        x64 = np.asarray(x, dtype=np.float64)
        mean = x64.mean(axis=0)
        _, _, vt = np.linalg.svd(x64 - mean, full_matrices=False)
        comp = np.zeros((self.latent_dim, self.n_features))
        k = min(self.latent_dim, len(vt))
        comp[:k] = vt[:k]
        comp *= np.where(comp.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # a fixed sign per component
        last = [m for m in self.decoder if isinstance(m, (nn.Linear, nn.ConvTranspose1d))][-1]
        with torch.no_grad():
            self.code_linear.weight.copy_(torch.as_tensor(comp, dtype=torch.float32))
            self.code_linear.bias.copy_(torch.as_tensor(-comp @ mean, dtype=torch.float32))
            self.decoder_linear.weight.copy_(torch.as_tensor(comp.T, dtype=torch.float32))
            self.decoder_linear.bias.copy_(torch.as_tensor(mean, dtype=torch.float32))
            for m in (self.code, last):
                m.weight.zero_()
                m.bias.zero_()

    @property
    def code_activation(self) -> str | None:
        """Non-linearity on the code: ReLU (``sparse-l1``), sigmoid (``sparse-kl``) or none."""
        return {"sparse-l1": "relu", "sparse-kl": "sigmoid"}.get(self.kind)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The code (VAE: ``mu``) and, for the VAE, ``log sigma^2``."""
        h = self.encoder(x)
        code = self.code(h)
        if self.code_linear is not None:
            code = code + self.code_linear(x)
        if self.code_activation == "relu":
            code = torch.relu(code)
        elif self.code_activation == "sigmoid":
            code = torch.sigmoid(code)
        return code, (self.logvar(h) if self.logvar is not None else None)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rows (standardised units) from codes: the decoder, plus the linear path if there is one."""
        out = self.decoder(z)
        return out + self.decoder_linear(z) if self.decoder_linear is not None else out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Deterministic pass (as the ONNX graph): code, reconstruction and class logits (or None)."""
        code, _ = self.encode(x)
        logits = self.head(code) if self.head is not None else None
        return code, self.decode(code), logits


def _kl_sparse(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def _kl_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per row, summed over the code."""
    var = torch.exp(logvar.clamp(*_LOGVAR_RANGE))
    return 0.5 * torch.sum(mu * mu + var - 1.0 - logvar, dim=1)


def _dropout(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    if p <= 0:
        return x
    keep = torch.rand(x.shape, generator=gen, device=x.device) >= p
    return x * keep / (1.0 - p)


def _row_mean(values: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Mean over the batch of per-row values, weighted by the rows' ``sample_weight`` when given."""
    return torch.mean(values) if w is None else torch.sum(w * values) / torch.sum(w).clamp_min(1e-12)


def _loss(model: LatentNet, x: torch.Tensor, y: torch.Tensor | None, *, cfg: dict[str, Any], kl_weight: float,
          gen: torch.Generator, class_weight: torch.Tensor | None, w: torch.Tensor | None = None) -> torch.Tensor:
    kind = model.kind
    x_in = x + cfg["noise_std"] * torch.randn(x.shape, generator=gen, device=x.device) if kind == "denoising" else x
    code, logvar = model.encode(x_in)
    if kind == "variational":
        assert logvar is not None
        eps = torch.randn(code.shape, generator=gen, device=x.device)
        z = code + torch.exp(0.5 * logvar.clamp(*_LOGVAR_RANGE)) * eps
        recon = model.decode(z)
        nll = 0.5 * torch.sum((recon - x) ** 2, dim=1)
        kl = _kl_gaussian(code, logvar)
        return _row_mean(nll + cfg["beta"] * kl_weight * kl, w) / model.n_features
    if w is None:  # not _row_mean of the row means: the same value summed in another order, and the shipped
        mse = torch.mean((model.decode(code) - x) ** 2)  # models must retrain bit for bit
    else:
        mse = _row_mean(torch.mean((model.decode(code) - x) ** 2, dim=1), w)
    if kind == "sparse-l1":
        return mse + cfg["l1"] * _row_mean(torch.mean(torch.abs(code), dim=1), w)
    if kind == "sparse-kl":
        return mse + cfg["beta"] * torch.mean(_kl_sparse(cfg["rho"], code.mean(dim=0)))
    if kind == "supervised":
        assert model.head is not None and y is not None
        logits = model.head(_dropout(code, cfg["dropout"], gen))
        if w is None:
            ce = nn.functional.cross_entropy(logits, y, weight=class_weight)
        else:  # as scikit-learn: each row's loss times its class weight and its sample weight
            per_row = nn.functional.cross_entropy(logits, y, reduction="none")
            cw = class_weight[y] if class_weight is not None else torch.ones_like(per_row)
            ce = torch.sum(w * cw * per_row) / torch.sum(w * cw).clamp_min(1e-12)
        return cfg["w_rec"] * mse + cfg["w_cls"] * ce
    return mse


def train_latent(
    x_train: np.ndarray,
    y_train: np.ndarray | None = None,
    x_val: np.ndarray | None = None,
    *,
    kind: str,
    latent_dim: int,
    arch: str,
    hidden: Sequence[int],
    activation: str,
    n_classes: int = 0,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    noise_std: float = 0.0,
    l1: float = 0.0,
    rho: float = 0.05,
    beta: float = 1.0,
    kl_warmup: int = 0,
    w_rec: float = 1.0,
    w_cls: float = 1.0,
    class_weight: np.ndarray | None = None,
    dropout: float = 0.0,
    linear: bool = False,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
    device: str = "cpu",
    verbose: bool = False,
) -> tuple[LatentNet, dict[str, list[float]]]:
    """Build and train one :class:`LatentNet` (AdamW, mini-batches, fixed number of epochs).

    Parameters
    ----------
    x_train : ndarray, shape (n, n_features), float32
        Training rows, already standardised.
    y_train : ndarray of int, shape (n,), optional
        Class indices ``0 .. n_classes - 1`` (``kind="supervised"``).
    x_val : ndarray, shape (m, n_features), optional
        Rows whose mean reconstruction error is recorded after every epoch.
    kind, latent_dim, arch, hidden, activation, n_classes
        The network (:class:`LatentNet`).
    epochs, batch_size, lr, weight_decay
        Optimisation (AdamW; a last, smaller batch is kept).
    noise_std, l1, rho, beta, kl_warmup, w_rec, w_cls, class_weight, dropout
        The ``kind``'s loss terms (module docstring); ``class_weight`` has one weight per class.
    linear : bool
        Add the linear path initialised from PCA of ``x_train`` (module docstring).
    sample_weight : ndarray, shape (n,), optional
        Non-negative weight of each training row in every per-row term of the loss (the
        reconstruction, the L1 activity, the VAE's ELBO, the cross-entropy); the batch's loss is
        the weighted mean over its rows. The sparse-KL term works on the batch's mean activation
        and is not weighted. None: every row counts the same (the unweighted code path).
    seed : int
        Makes the call repeat exactly (module docstring).
    device : {"cpu", "cuda", "auto"}
        Where to train; the returned model is on the CPU.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    model : LatentNet
        In eval mode, on the CPU.
    history : dict
        ``"loss"`` (mean training loss per epoch) and ``"val_error"`` (mean squared
        reconstruction error on ``x_val`` per epoch; empty without ``x_val``).
    """
    try:
        dev = _resolve_device(device)
    except ValueError as exc:  # CUDA asked for but absent
        raise InputError(f"device={device!r}: torch sees no CUDA device", "use device='cpu' or 'auto'") from exc
    cfg = {"noise_std": float(noise_std), "l1": float(l1), "rho": float(rho), "beta": float(beta),
           "w_rec": float(w_rec), "w_cls": float(w_cls), "dropout": float(dropout)}
    history: dict[str, list[float]] = {"loss": [], "val_error": []}
    gpus = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus), _deterministic(True, dev):
        torch.manual_seed(int(seed))
        model = LatentNet(n_features=x_train.shape[1], latent_dim=latent_dim, arch=arch, hidden=hidden,
                          activation=activation, kind=kind, n_classes=n_classes, linear=linear)
        if linear:
            model.init_linear_from_pca(x_train)
        model = model.to(dev)
        gen = torch.Generator(device=dev).manual_seed(int(seed) + 1)
        xt = torch.as_tensor(np.ascontiguousarray(x_train, dtype=np.float32), device=dev)
        yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64), device=dev) if y_train is not None else None
        xv = torch.as_tensor(np.ascontiguousarray(x_val, dtype=np.float32), device=dev) \
            if x_val is not None and len(x_val) else None
        cw = torch.as_tensor(np.asarray(class_weight, dtype=np.float32), device=dev) \
            if class_weight is not None else None
        sw = torch.as_tensor(np.asarray(sample_weight, dtype=np.float32), device=dev) \
            if sample_weight is not None else None
        optimiser = torch.optim.AdamW(model.parameters(), lr=float(lr), weight_decay=float(weight_decay))
        n = xt.shape[0]
        bs = max(1, min(int(batch_size), n))
        steps = math.ceil(n / bs)
        warmup_steps = int(kl_warmup) * steps
        step = 0
        for epoch in range(1, int(epochs) + 1):
            model.train()
            order = torch.randperm(n, generator=gen, device=dev)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                step += 1
                kl_weight = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
                loss = _loss(model, xt[idx], yt[idx] if yt is not None else None, cfg=cfg, kl_weight=kl_weight,
                             gen=gen, class_weight=cw, w=sw[idx] if sw is not None else None)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(idx)
            history["loss"].append(total / n)
            if xv is not None:
                model.eval()
                with torch.no_grad():
                    _, recon, _ = model(xv)
                    history["val_error"].append(float(torch.mean((recon - xv) ** 2)))
            if verbose:
                val = f", validation error {history['val_error'][-1]:.5g}" if history["val_error"] else ""
                print(f"epoch {epoch}/{epochs}: loss {history['loss'][-1]:.5g}{val}", file=sys.stdout, flush=True)
    return model.cpu().eval(), history


def _act_name(module: nn.Module) -> str | None:
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


def _ops(seq: nn.Module, prefix: str) -> list[dict[str, Any]]:
    """The modules of ``seq`` as plain operations with numpy weights (see :mod:`biodae.latent._onnx`)."""

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32, copy=True)

    out: list[dict[str, Any]] = []
    modules = seq if isinstance(seq, nn.Sequential) else [seq]
    for i, m in enumerate(modules):
        name = f"{prefix}.{i}" if isinstance(seq, nn.Sequential) else prefix
        if isinstance(m, nn.Linear):
            out.append({"op": "linear", "name": name, "weight": arr(m.weight), "bias": arr(m.bias)})
        elif isinstance(m, nn.ConvTranspose1d):
            out.append({"op": "conv_transpose1d", "name": name, "weight": arr(m.weight), "bias": arr(m.bias),
                        "stride": int(m.stride[0]), "padding": int(m.padding[0])})
        elif isinstance(m, nn.Conv1d):
            out.append({"op": "conv1d", "name": name, "weight": arr(m.weight), "bias": arr(m.bias),
                        "stride": int(m.stride[0]), "padding": int(m.padding[0])})
        elif _act_name(m):
            out.append({"op": "act", "name": name, "activation": _act_name(m)})
        elif isinstance(m, _PadRight):
            out.append({"op": "pad_right", "name": name, "amount": m.amount})
        elif isinstance(m, _Reshape):
            out.append({"op": "reshape", "name": name, "shape": list(m.shape)})
        elif isinstance(m, nn.Flatten):
            out.append({"op": "flatten", "name": name})
        elif isinstance(m, _Crop):
            out.append({"op": "crop", "name": name, "length": m.length})
        else:  # pragma: no cover - LatentNet builds only the modules above
            raise TypeError(f"no ONNX translation for {type(m).__name__}")
    return out


def latent_spec(model: LatentNet, members: Sequence[LatentNet] = ()) -> dict[str, Any]:
    """The trained network as plain operations and numpy weights, for :func:`biodae.latent._onnx.build_graph`.

    Keys: ``n_features``, ``latent_dim``, ``encoder`` (ops from a standardised row to the last
    hidden layer), ``code`` (one linear op), ``code_activation`` (``None``, ``"relu"`` or ``"sigmoid"``),
    ``decoder`` (ops from a code to a standardised row), ``head`` (one linear op, or ``None``),
    ``code_linear`` and ``decoder_linear`` (the linear path: one linear op each, added to the code
    and to the decoder's output, or ``None``), ``members`` (a list, empty but for an ensemble).
    Op names are the torch module paths, so the ONNX initializers carry the parameter names.

    ``members`` are the other networks of a supervised ensemble: each enters ``members`` as its
    encoder, code, linear code path and head only (its decoder is not needed: the ensemble's code and
    reconstruction are ``model``'s), with op names prefixed ``member{i}.``.
    """
    return {
        "n_features": model.n_features,
        "latent_dim": model.latent_dim,
        **_encoder_spec(model),
        "decoder": _ops(model.decoder, "decoder"),
        "head": _ops(model.head, "head") if model.head is not None else None,
        "decoder_linear": _ops(model.decoder_linear, "decoder_linear") if model.decoder_linear is not None else None,
        "members": [{**_encoder_spec(m, f"member{i}."), "head": _ops(m.head, f"member{i}.head")}
                    for i, m in enumerate(members, start=1)],
    }


def _encoder_spec(net: LatentNet, prefix: str = "") -> dict[str, Any]:
    """The ops from a standardised row to the code: ``encoder``, ``code``, ``code_activation``, ``code_linear``."""
    return {
        "encoder": _ops(net.encoder, f"{prefix}encoder"),
        "code": _ops(net.code, f"{prefix}code"),
        "code_activation": net.code_activation,
        "code_linear": _ops(net.code_linear, f"{prefix}code_linear") if net.code_linear is not None else None,
    }


def latent_forward(model: LatentNet, x: np.ndarray, members: Sequence[LatentNet] = ()) -> dict[str, np.ndarray]:
    """Torch reference of the ONNX outputs on standardised rows: ``code``, ``recon`` (standardised)
    and ``proba`` (supervised: the mean over ``model`` and the ensemble's other ``members``)."""
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
        code, recon, logits = model.eval()(xt)
        out = {"code": code.numpy(), "recon": recon.numpy()}
        if logits is not None:
            probas = [torch.softmax(logits, dim=1)] + [torch.softmax(m.eval()(xt)[2], dim=1) for m in members]
            out["proba"] = torch.stack(probas).mean(dim=0).numpy()
    return out
