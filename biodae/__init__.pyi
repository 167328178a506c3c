# The public API of biodae, listed once. ``__init__.py`` loads these names on first use
# (lazy_loader.attach_stub, as scikit-image does), so ``import biodae`` and the command line
# start fast, while type checkers and IDEs read the names from here.

from . import beats, datasets, filters, io, latent, metrics, noise, plot, runtime, types
from ._batch import denoise_files, filter_files
from ._errors import BiodaeError, DependencyError, InputError, OutputError, OutputExistsError
from ._modality import channel_modality, modality_of
from ._record import denoise, denoise_image, denoise_record, filter_record
from ._self_supervised import denoise_self_supervised, patch2self
from ._version import __version__
from .io import Image, Signal, read, write
from .noise import estimate_noise

__all__ = [
    "__version__",
    # subpackages
    "io", "noise", "filters", "metrics", "runtime", "datasets", "latent", "beats", "plot", "types",
    # files
    "Signal", "Image", "read", "write",
    # cleaning a record or image
    "filter_record", "denoise", "denoise_record", "denoise_image", "estimate_noise",
    # self-supervised: fitted to the scan itself (noise2self needs torch)
    "denoise_self_supervised", "patch2self",
    # cleaning an archive
    "denoise_files", "filter_files",
    # modalities
    "modality_of", "channel_modality",
    # errors
    "BiodaeError", "InputError", "OutputError", "OutputExistsError", "DependencyError",
]
