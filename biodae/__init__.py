"""biodae: convolutional denoising autoencoders for biomedical signals and images.

The public API is flat; the implementation modules behind it are private.

>>> import biodae
>>> rec = biodae.read("sel100.hea")                    # doctest: +SKIP
>>> out, report = biodae.filter_record(rec, "wavelet") # doctest: +SKIP
>>> biodae.write(out, "clean/sel100")                  # doctest: +SKIP

Subpackages: :mod:`biodae.io` (files), :mod:`biodae.noise` (noise models),
:mod:`biodae.filters` (classical baselines), :mod:`biodae.metrics`,
:mod:`biodae.runtime` (onnxruntime). Torch is only imported by :mod:`biodae.nn`
(training and export). Names are imported on first use, so ``import biodae`` and
the command line start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import BiodaeError, DependencyError, InputError, OutputExistsError
from ._version import __version__

_SUBMODULES = {"io", "noise", "filters", "metrics", "runtime", "datasets"}
_ATTRS = {
    "Signal": ".io",
    "Image": ".io",
    "read": ".io",
    "write": ".io",
    "filter_record": "._pipeline",
    "denoise": "._denoise",
    "denoise_record": "._denoise",
    "denoise_files": "._batch",
    "modality_of": "._modality",
    "channel_modality": "._modality",
}

__all__ = [
    "__version__",
    "io",
    "noise",
    "filters",
    "metrics",
    "runtime",
    "Signal",
    "Image",
    "read",
    "write",
    "filter_record",
    "denoise",
    "denoise_record",
    "denoise_files",
    "modality_of",
    "channel_modality",
    "BiodaeError",
    "InputError",
    "OutputExistsError",
    "DependencyError",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _ATTRS:
        return getattr(importlib.import_module(_ATTRS[name], __name__), name)
    raise AttributeError(f"module 'biodae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
