"""Convolutional denoising autoencoders for signals (1D) and images (2D).

Every model here maps a noisy input **in physical units** to the denoised output **in
the same units**, with the same shape:

* 1D models: ``[batch, channels, length]`` (e.g. mV at 360 Hz, µV at 256 Hz);
* 2D models: ``[batch, channels, height, width]`` (intensities as stored).

Three things happen inside ``forward``, so that an exported ONNX graph needs no
pre- or post-processing and accepts any length or size:

1. **Channels.** A model built with ``in_channels=1`` (the default) folds the channel
   axis into the batch: every channel (ECG lead, EEG electrode) is denoised on its own
   with shared weights, so any number of channels is accepted.
2. **Normalisation** (``norm=``, see :data:`NORMS`).

   ``"std"``
       Per window (1D) or per image (2D) and per channel, subtract the mean ``m`` and
       divide by ``s = max(std, eps)`` (population standard deviation over the length
       or over height × width); the network sees ``z = (x - m) / s`` and its output
       ``y`` is mapped back as ``m + s * y``. The model is therefore amplitude- and
       offset-equivariant, ``f(a x + b) = a f(x) + b`` for ``a > 0`` (up to float
       rounding, whenever ``std >= eps``), and works in any physical unit. ``eps``
       is in the input's units (default ``1e-8``), far below any real signal's
       spread; an all-constant window gives ``z = 0`` and comes back as
       ``m + eps * f(0)``, i.e. unchanged up to ``eps``.
   ``"rms"``
       Per window/image and channel, divide by ``s = max(rms, eps)`` (root mean
       square, offset included) and multiply the output back: amplitude-equivariant,
       ``f(a x) = a f(x)`` for ``a > 0``, but **not** offset-equivariant. Use it when
       the noise has an offset or a slow drift the model must remove (baseline
       wander, electrode offset): ``"std"`` subtracts the window mean, after which the
       network cannot know where the baseline was.
   ``"center"``
       Subtract the window mean ``m``, divide by ``s = max(std, eps)``, multiply the
       output by ``s`` and do **not** add ``m`` back: the output is offset-free. Used at
       export for models trained with ``"rms"`` on zero-mean windows (the continuous ECG
       and EEG models, whose clean targets are high-passed): on such windows it equals
       ``"rms"``, and on a real record with a DC offset it removes the offset instead of
       feeding the network a level it never saw.
   ``"none"``
       The network sees the raw values. Use it to reproduce a protocol whose data
       have one fixed scale (DeepFilter: mV, zero-padded 512-sample beats, where the
       window mean carries no information and ``"none"`` may train better). The model
       is then tied to the training unit.
3. **Padding.** Strided architectures need the length (or height and width) to be a
   multiple of ``2**levels``. The input is replicate-padded (centred) to the next
   multiple and the output cropped back, so any length >= 1 works; ONNX graphs do not
   carry such a constraint, so the model must handle it itself.

Models carry ``name`` (the registry key) and ``config`` (a plain ``dict`` of
constructor arguments): ``build_model(model.name, **model.config)`` rebuilds it, which
is how checkpoints are restored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NORMS",
    "MODELS",
    "Denoiser",
    "FCNDAE",
    "ResUNet1d",
    "DnCNN2d",
    "ResUNet2d",
    "build_model",
    "count_parameters",
    "receptive_field",
]

NORMS = ("std", "rms", "center", "none")
"""Valid values of every model's ``norm`` option."""

_DEFAULT_EPS = 1e-8


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Denoiser(nn.Module):
    """Base class: channel folding, in-graph normalisation, padding to a multiple.

    Subclasses set ``name``, ``spatial_dims`` (1 or 2) and ``multiple`` (the size
    divisor the core network needs) and implement :meth:`core`, which maps a
    normalised, padded tensor ``[n, in_channels, *size]`` to its denoised version.

    Parameters
    ----------
    in_channels : int
        Channels the core network sees. ``1`` folds any number of input channels
        into the batch (each denoised independently).
    norm : {"std", "none"}
        In-graph normalisation, see the module docstring.
    eps : float
        Floor of the normalisation scale, in the input's physical units.
    """

    name: ClassVar[str] = ""
    spatial_dims: ClassVar[int] = 1

    def __init__(self, *, in_channels: int, norm: str, eps: float, multiple: int) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {norm!r}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1; got {in_channels}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0; got {eps}")
        self.in_channels = int(in_channels)
        self.norm = norm
        self.eps = float(eps)
        self.multiple = int(multiple)
        self._config: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments as plain Python values (``build_model(name, **config)``)."""
        return copy.deepcopy(self._config)

    @property
    def folds_channels(self) -> bool:
        """Whether any number of channels is accepted (each denoised on its own)."""
        return self.in_channels == 1

    def core(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise ``x``.

        Parameters
        ----------
        x : torch.Tensor, shape [batch, channels, length] or [batch, channels, height, width]
            Noisy input in physical units (float32 or float64).

        Returns
        -------
        torch.Tensor, same shape and dtype as ``x``
            Denoised output in the same physical units.
        """
        nd = self.spatial_dims
        if x.dim() != 2 + nd:
            layout = "[batch, channels, length]" if nd == 1 else "[batch, channels, height, width]"
            raise ValueError(f"{type(self).__name__} expects a {2 + nd}-D input {layout}; got shape {tuple(x.shape)}")
        shape = x.shape
        if self.folds_channels:
            x = x.reshape(-1, 1, *shape[2:])
        elif shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} was built for {self.in_channels} channels; got {shape[1]}")
        dims = tuple(range(2, 2 + nd))
        if self.norm == "center":
            loc = x.mean(dim=dims, keepdim=True)
            centred = x - loc
            scale = torch.sqrt((centred * centred).mean(dim=dims, keepdim=True).clamp_min(self.eps * self.eps))
            z = centred / scale
        elif self.norm == "rms":
            # scale only: the level of the window stays visible to the network, which
            # must see an offset (baseline wander, DC) to remove it
            loc = torch.zeros_like(x.mean(dim=dims, keepdim=True))
            scale = torch.sqrt((x * x).mean(dim=dims, keepdim=True).clamp_min(self.eps * self.eps))
            z = x / scale
        elif self.norm == "std":
            loc = x.mean(dim=dims, keepdim=True)
            centred = x - loc
            # max(std, eps) as a clamp, not sqrt(var + eps**2): the ONNX exporter's
            # optimiser drops an Add of a constant below ~1e-8 as if it were zero,
            # which turns a constant window into 0/0 in the exported graph.
            var = (centred * centred).mean(dim=dims, keepdim=True)
            scale = torch.sqrt(var.clamp_min(self.eps * self.eps))
            z = centred / scale
        else:
            z = x
        z, crop = _pad_to_multiple(z, self.multiple, nd)
        y = self.core(z)
        y = y[crop]
        if self.norm == "std":
            y = loc + scale * y
        elif self.norm in ("rms", "center"):
            y = scale * y
        return y.reshape(shape)


def _pad_to_multiple(x: torch.Tensor, multiple: int, nd: int) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Replicate-pad the last ``nd`` axes (centred) to a multiple; return the crop back."""
    if multiple == 1:
        return x, (slice(None),)
    pads: list[int] = []
    crop: list[slice] = []
    for axis in range(x.dim() - nd, x.dim()):
        n = x.shape[axis]
        total = (multiple - n % multiple) % multiple
        left = total // 2
        pads = [left, total - left, *pads]  # F.pad lists the last axis first
        crop.append(slice(left, left + n))
    return F.pad(x, pads, mode="replicate"), (slice(None), slice(None), *crop)


def _check_channels(value: Any, name: str) -> list[int]:
    widths = [int(w) for w in value]
    if len(widths) < 1 or min(widths) < 1:
        raise ValueError(f"{name} must be a non-empty list of positive ints; got {value!r}")
    return widths


# --------------------------------------------------------------------------------------
# FCN-DAE (Chiang et al. 2019), as in DeepFilter's Keras code
# --------------------------------------------------------------------------------------


class _KerasBN1d(nn.BatchNorm1d):
    """BatchNorm with Keras defaults (``momentum=0.99`` there, ``eps=1e-3``)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-3, momentum=0.01)


class FCNDAE(Denoiser):
    """Fully convolutional denoising autoencoder (FCN-DAE), the ECG reference.

    Layer for layer the Keras model of DeepFilter (``deepFilter/dl_models.py``,
    ``FCN_DAE``): six ``Conv1D`` (kernel 16; 40, 20, 20, 20, 40 filters with stride 2,
    then 1 filter with stride 1), each ELU + BatchNorm; then seven transposed
    convolutions (1 filter stride 1, then 40, 20, 20, 20, 40 with stride 2, ELU +
    BatchNorm, and a final linear 1-filter stride-1 layer). Keras ``'same'`` padding
    is reproduced exactly: stride 2 pads 7 + 7 (output ``L/2``), stride 1 with the even
    kernel pads 7 left and 8 right; the transposed layers crop the same amounts.
    Glorot-uniform weights and zero biases, BatchNorm with Keras' momentum and eps.
    79,659 convolution weights + 564 BatchNorm affine parameters = 80,223 trainable.

    The input is replicate-padded to a multiple of 32 (five stride-2 stages) and
    cropped back; the benchmark's 512-sample windows need no padding. Receptive field
    1,906 samples (5.3 s at 360 Hz; :func:`receptive_field`).

    Parameters
    ----------
    norm : {"std", "none"}, default "std"
        In-graph normalisation (module docstring). DeepFilter trained on raw mV:
        ``norm="none"`` reproduces it.
    eps : float, default 1e-8
        Scale floor of ``norm="std"``, in input units.

    References
    ----------
    .. [1] H.-T. Chiang et al., "Noise reduction in ECG signals using fully convolutional
       denoising autoencoders", IEEE Access 7:60806-60813, 2019.
    .. [2] F. P. Romero et al., "DeepFilter: an ECG baseline wander removal filter using
       deep learning techniques", Biomed. Signal Process. Control 70:102992, 2021.
    """

    name = "fcn_dae"
    spatial_dims = 1
    _ENCODER = (40, 20, 20, 20, 40)
    _KERNEL = 16

    def __init__(self, *, norm: str = "std", eps: float = _DEFAULT_EPS) -> None:
        super().__init__(in_channels=1, norm=norm, eps=eps, multiple=2 ** len(self._ENCODER))
        self._config = {"norm": norm, "eps": float(eps)}
        k = self._KERNEL
        enc: list[nn.Module] = []
        c_in = 1
        for c in self._ENCODER:
            enc.append(nn.Conv1d(c_in, c, k, stride=2, padding=(k - 2) // 2))  # 7 + 7
            c_in = c
        self.encoder = nn.ModuleList(enc)
        self.enc_bn = nn.ModuleList(_KerasBN1d(c) for c in self._ENCODER)
        self.bottleneck = nn.Conv1d(c_in, 1, k)  # stride 1, padded 7 + 8 in forward
        self.bottleneck_bn = _KerasBN1d(1)
        self.dec_in = nn.ConvTranspose1d(1, 1, k)  # stride 1, cropped 7 + 8
        self.dec_in_bn = _KerasBN1d(1)
        dec: list[nn.Module] = []
        c_in = 1
        for c in reversed(self._ENCODER):
            dec.append(nn.ConvTranspose1d(c_in, c, k, stride=2, padding=(k - 2) // 2))  # out 2L
            c_in = c
        self.decoder = nn.ModuleList(dec)
        self.dec_bn = nn.ModuleList(_KerasBN1d(c) for c in reversed(self._ENCODER))
        self.head = nn.ConvTranspose1d(c_in, 1, k)  # stride 1, cropped 7 + 8, linear
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.xavier_uniform_(m.weight)  # Keras glorot_uniform
                nn.init.zeros_(m.bias)

    def core(self, z: torch.Tensor) -> torch.Tensor:
        lo, hi = (self._KERNEL - 1) // 2, self._KERNEL // 2  # Keras 'same', stride 1: 7, 8
        for conv, bn in zip(self.encoder, self.enc_bn):
            z = bn(F.elu(conv(z)))
        z = self.bottleneck_bn(F.elu(self.bottleneck(F.pad(z, (lo, hi)))))
        z = self.dec_in_bn(F.elu(_crop(self.dec_in(z), lo, hi)))
        for conv, bn in zip(self.decoder, self.dec_bn):
            z = bn(F.elu(conv(z)))
        return _crop(self.head(z), lo, hi)


def _crop(x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    return x[..., lo : x.shape[-1] - hi]


# --------------------------------------------------------------------------------------
# Residual U-Nets (1D and 2D share one implementation)
# --------------------------------------------------------------------------------------


def _conv(nd: int) -> type[nn.Module]:
    return nn.Conv1d if nd == 1 else nn.Conv2d


def _convT(nd: int) -> type[nn.Module]:
    return nn.ConvTranspose1d if nd == 1 else nn.ConvTranspose2d


class _ResBlock(nn.Module):
    """Pre-activation residual block ``x + conv2(act(conv1(act(x))))``.

    ``conv2`` starts at zero, so every block starts as the identity (no normalisation
    layer is needed for stable training, and nothing depends on statistics over the
    whole window, which would make outputs depend on the tiling).
    """

    def __init__(self, nd: int, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        conv = _conv(nd)
        d1, d2 = dilations
        self.conv1 = conv(channels, channels, kernel_size, padding=d1 * (kernel_size - 1) // 2, dilation=d1)
        self.conv2 = conv(channels, channels, kernel_size, padding=d2 * (kernel_size - 1) // 2, dilation=d2)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class _ResUNet(Denoiser):
    """Residual U-Net predicting the noise: ``output = input - noise(input)``.

    Encoder level ``i`` (width ``widths[i]``): a residual block, then a stride-2
    convolution to ``widths[i + 1]``. Bottleneck: residual blocks with growing
    dilations. Decoder: stride-2 transposed convolution, the encoder's skip added,
    a residual block. A zero-initialised head maps to the noise estimate, so an
    untrained model is the identity.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        widths: Sequence[int],
        kernel_size: int,
        dilations: Sequence[int],
        bottleneck_dilations: Sequence[int],
        down_kernel: int,
        norm: str,
        eps: float,
    ) -> None:
        widths = _check_channels(widths, "widths")
        dilations = [int(d) for d in dilations]
        bottleneck_dilations = [int(d) for d in bottleneck_dilations]
        if len(dilations) != 2 or len(bottleneck_dilations) % 2 or min(dilations + bottleneck_dilations, default=1) < 1:
            raise ValueError("dilations needs 2 values and bottleneck_dilations an even number of values, all >= 1")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {kernel_size}")
        depth = len(widths) - 1
        super().__init__(in_channels=in_channels, norm=norm, eps=eps, multiple=2**depth)
        self._config = {
            "in_channels": int(in_channels),
            "widths": widths,
            "kernel_size": int(kernel_size),
            "dilations": dilations,
            "bottleneck_dilations": bottleneck_dilations,
            "norm": norm,
            "eps": float(eps),
        }
        nd = self.spatial_dims
        conv, convT = _conv(nd), _convT(nd)
        k = int(kernel_size)
        self.stem = conv(in_channels, widths[0], k, padding=k // 2)
        self.enc = nn.ModuleList(_ResBlock(nd, w, k, dilations) for w in widths[:-1])
        self.down = nn.ModuleList(
            conv(widths[i], widths[i + 1], down_kernel, stride=2, padding=(down_kernel - 2) // 2) for i in range(depth)
        )
        pairs = [bottleneck_dilations[i : i + 2] for i in range(0, len(bottleneck_dilations), 2)]
        self.mid = nn.Sequential(*(_ResBlock(nd, widths[-1], 3, p) for p in pairs))
        self.up = nn.ModuleList(convT(widths[i + 1], widths[i], 2, stride=2) for i in range(depth))
        self.dec = nn.ModuleList(_ResBlock(nd, w, k, dilations) for w in widths[:-1])
        self.head = conv(widths[0], in_channels, k, padding=k // 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def core(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z)
        skips = []
        for block, down in zip(self.enc, self.down):
            h = block(h)
            skips.append(h)
            h = down(F.silu(h))
        h = self.mid(h)
        for i in reversed(range(len(self.up))):
            h = self.dec[i](self.up[i](F.silu(h)) + skips[i])
        return z - self.head(F.silu(h))


class ResUNet1d(_ResUNet):
    """Residual 1D U-Net with dilated convolutions for ECG and EEG (< 100k parameters).

    Predicts the noise and subtracts it (``output = input - noise``). Defaults:
    widths 16-20-24-28-32-32 (five stride-2 stages, input padded to a multiple of 32),
    kernel 5 with dilations 1 and 2 in each level's residual block, and a bottleneck
    at 1/32 resolution of two kernel-3 blocks with dilations 1, 2, 4, 8. No
    normalisation layers (zero-initialised residual branches instead), so the output
    at a sample depends only on the input within the receptive field (apart from the
    window-level ``norm="std"`` scale). 94,481 parameters; receptive field 1,782
    samples (4.9 s at 360 Hz, 7.0 s at 256 Hz): baseline wander is slow, and the
    network must see several beats to tell it from the ST segment.

    Parameters
    ----------
    in_channels : int, default 1
        ``1`` denoises each channel on its own (any number of channels); ``C > 1``
        builds a joint multichannel model for exactly ``C`` channels.
    widths : sequence of int, default (16, 20, 24, 28, 32, 32)
        Channels per level; ``len(widths) - 1`` stride-2 stages (the depth), so the
        input is padded to a multiple of ``2 ** (len(widths) - 1)``.
    kernel_size : int, default 5
        Odd kernel of the level blocks.
    dilations : pair of int, default (1, 2)
        Dilations of the two convolutions in each level block.
    bottleneck_dilations : sequence of int, default (1, 2, 4, 8)
        Dilations of the bottleneck's kernel-3 convolutions, two per block.
    norm : {"std", "none"}, default "std"
        In-graph normalisation (module docstring).
    eps : float, default 1e-8
        Scale floor of ``norm="std"``, in input units.
    """

    name = "resunet1d"
    spatial_dims = 1

    def __init__(
        self,
        *,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 20, 24, 28, 32, 32),
        kernel_size: int = 5,
        dilations: Sequence[int] = (1, 2),
        bottleneck_dilations: Sequence[int] = (1, 2, 4, 8),
        norm: str = "std",
        eps: float = _DEFAULT_EPS,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            widths=widths,
            kernel_size=kernel_size,
            dilations=dilations,
            bottleneck_dilations=bottleneck_dilations,
            down_kernel=4,
            norm=norm,
            eps=eps,
        )


class ResUNet2d(_ResUNet):
    """Small residual 2D U-Net for MRI slices and X-ray/CT images.

    Same design as :class:`ResUNet1d` in 2D: widths 16-32-64 (two stride-2 stages,
    image padded to a multiple of 4 in height and width, replicate), 3 × 3 kernels with
    dilations 1 and 2, a bottleneck of two blocks with dilations 1, 2, 4, 8, 2 × 2
    stride-2 down and up convolutions, additive skips, noise prediction. Normalisation
    ``norm="std"`` is per image and channel (mean and spread over height × width).
    214,913 parameters; receptive field 164 × 164 pixels.

    Parameters
    ----------
    in_channels : int, default 1
        ``1`` denoises each channel (or slice stacked as a channel) on its own.
    widths : sequence of int, default (16, 32, 64)
        Channels per level; ``len(widths) - 1`` stride-2 stages.
    kernel_size : int, default 3
    dilations : pair of int, default (1, 2)
    bottleneck_dilations : sequence of int, default (1, 2, 4, 8)
    norm : {"std", "none"}, default "std"
    eps : float, default 1e-8
        Scale floor of ``norm="std"``, in intensity units.
    """

    name = "resunet2d"
    spatial_dims = 2

    def __init__(
        self,
        *,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 32, 64),
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2),
        bottleneck_dilations: Sequence[int] = (1, 2, 4, 8),
        norm: str = "std",
        eps: float = _DEFAULT_EPS,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            widths=widths,
            kernel_size=kernel_size,
            dilations=dilations,
            bottleneck_dilations=bottleneck_dilations,
            down_kernel=2,
            norm=norm,
            eps=eps,
        )


# --------------------------------------------------------------------------------------
# DnCNN (Zhang et al. 2017)
# --------------------------------------------------------------------------------------


class DnCNN2d(Denoiser):
    """DnCNN: a plain stack of 3 × 3 convolutions predicting the noise.

    ``depth`` layers: Conv + ReLU, ``depth - 2`` × (Conv without bias + BatchNorm +
    ReLU), Conv; ``output = input - noise``. The default 17 × 64 is the paper's
    DnCNN-S (556,097 parameters, receptive field 35 × 35); the registry's
    ``"dncnn2d_small"`` is 10 × 32 (74,849 parameters, 21 × 21). Any image size
    works (no striding). ``norm="std"`` normalises per image and channel, so the
    network always sees unit-spread input whatever the intensity unit; the paper's
    fixed ``[0, 1]`` scaling is ``norm="none"`` with inputs divided by 255.

    Parameters
    ----------
    in_channels : int, default 1
        ``1`` denoises each channel on its own.
    depth : int, default 17
        Number of convolution layers (>= 2).
    width : int, default 64
        Channels of the hidden layers.
    norm : {"std", "none"}, default "std"
    eps : float, default 1e-8
        Scale floor of ``norm="std"``, in intensity units.

    References
    ----------
    .. [1] K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian denoiser:
       residual learning of deep CNN for image denoising", IEEE Trans. Image Process.
       26(7):3142-3155, 2017.
    """

    name = "dncnn2d"
    spatial_dims = 2

    def __init__(
        self,
        *,
        in_channels: int = 1,
        depth: int = 17,
        width: int = 64,
        norm: str = "std",
        eps: float = _DEFAULT_EPS,
    ) -> None:
        super().__init__(in_channels=in_channels, norm=norm, eps=eps, multiple=1)
        if depth < 2 or width < 1:
            raise ValueError(f"DnCNN2d needs depth >= 2 and width >= 1; got depth={depth}, width={width}")
        self._config = {
            "in_channels": int(in_channels),
            "depth": int(depth),
            "width": int(width),
            "norm": norm,
            "eps": float(eps),
        }
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width, eps=1e-4), nn.ReLU()]
        layers.append(nn.Conv2d(width, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def core(self, z: torch.Tensor) -> torch.Tensor:
        return z - self.body(z)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def _small_dncnn(**config: Any) -> DnCNN2d:
    return DnCNN2d(**{"depth": 10, "width": 32, **config})


MODELS: dict[str, Callable[..., Denoiser]] = {
    "fcn_dae": FCNDAE,
    "resunet1d": ResUNet1d,
    "dncnn2d": DnCNN2d,
    "dncnn2d_small": _small_dncnn,
    "resunet2d": ResUNet2d,
}
"""Model name -> constructor. ``"dncnn2d_small"`` is a preset of :class:`DnCNN2d`
(``depth=10, width=32``); the model it builds reports ``name == "dncnn2d"``."""


def build_model(name: str, **config: Any) -> Denoiser:
    """Build a model from its registry name and keyword configuration.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    **config
        Constructor keywords (e.g. ``norm="none"``, ``widths=[8, 16, 24]``).

    Returns
    -------
    Denoiser
        ``model.name`` and ``model.config`` rebuild the same architecture.

    Raises
    ------
    ValueError
        ``name`` is not in :data:`MODELS` (the message lists the valid names), or a
        configuration value is invalid.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}") from None
    try:
        return factory(**config)
    except TypeError as exc:
        raise ValueError(f"invalid configuration for model {name!r}: {exc}") from None


@torch.no_grad()
def _randomise(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1)


def receptive_field(model: Denoiser, *, size: int | None = None) -> tuple[int, ...]:
    """Measure the receptive field of ``model``, in samples (1D) or pixels (2D).

    The span of input positions on which one central output depends, found from the
    gradient of that output on a copy of the model with random weights (so that
    zero-initialised layers do not hide paths), ``norm="none"``, in eval mode and
    float64. Exact for these convolutional models: outside the span the gradient is
    exactly zero.

    Parameters
    ----------
    model : Denoiser
        The model (not modified).
    size : int, optional
        Length (1D) or side (2D) of the probe input; default 8192 (1D) or 256 (2D).
        Must exceed the receptive field.

    Returns
    -------
    tuple of int
        ``(length,)`` for 1D models, ``(height, width)`` for 2D models.
    """
    nd = model.spatial_dims
    size = size or (8192 if nd == 1 else 256)
    probe = copy.deepcopy(model).double().eval()
    probe.norm = "none"
    _randomise(probe, 0)
    x = torch.randn(1, probe.in_channels, *([size] * nd), dtype=torch.float64, requires_grad=True)
    y = probe(x)
    centre = (0, 0, *([size // 2] * nd))
    (grad,) = torch.autograd.grad(y[centre], x)
    support = grad.abs().sum(dim=(0, 1)) > 0
    spans = []
    for axis in range(nd):
        other = tuple(a for a in range(nd) if a != axis)
        idx = torch.nonzero(support.any(dim=other) if other else support).flatten()
        first, last = int(idx.min()), int(idx.max())
        if first == 0 or last == size - 1:
            raise ValueError(f"receptive field reaches the probe's edge; pass a larger size than {size}")
        spans.append(last - first + 1)
    return tuple(spans)

