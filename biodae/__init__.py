"""biodae: convolutional denoising autoencoders for biomedical signals and images.

The public API is flat and listed once, in ``__init__.pyi``; the implementation modules
behind it are private and can move without breaking it.

>>> import biodae
>>> rec = biodae.read("examples/ecg/sel100_em6.hea")    # doctest: +SKIP
>>> out, report = biodae.filter_record(rec, "wavelet")   # doctest: +SKIP
>>> biodae.write(out, "clean/sel100_em6")                # doctest: +SKIP

Where things live: :mod:`biodae.io` (files), :mod:`biodae.noise` (noise models and the
noise estimate), :mod:`biodae.filters` (classical baselines), :mod:`biodae.metrics`,
:mod:`biodae.runtime` (onnxruntime, no torch), :mod:`biodae.latent` (autoencoder
estimators); ``biodae._record`` cleans one record or image, ``biodae._batch`` an archive.
Torch is only imported by :mod:`biodae.nn` (training and export). Names are imported on
first use, so ``import biodae`` and the command line start fast.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
