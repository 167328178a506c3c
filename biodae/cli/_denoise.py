"""``biodae denoise``: clean files with a shipped (or given) ONNX model."""

from __future__ import annotations

from ._common import add_io_arguments, run_batch
from ._flags import threads
from ._plot import check_plot


def add_parser(sub) -> None:
    p = sub.add_parser(
        "denoise",
        help="clean files with a denoising autoencoder (ONNX, CPU by default)",
        description=(
            "Denoise a file or every file in a directory with biodae's models. WFDB and EDF inputs pick "
            "the ECG or EEG model per channel from signal names, units and content; other channels are copied (the detail line says why). "
            "NIfTI and MR DICOM use the mri model, slice by slice; CT and X-ray DICOM, PNG and TIFF the "
            "xray model. "
            "Outputs keep the input's format, header and bit depth; without --out-dir they are written "
            "beside the input with '_denoised' added."
        ),
    )
    add_io_arguments(p)
    p.add_argument("--model", metavar="NAME|PATH",
                   help="a shipped model name (ecg, eeg, mri, xray...; 'biodae models' lists them) or an .onnx file "
                        "(default: chosen per channel or per image)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"],
                   help="where to run; a GPU that is asked for and missing is an error, never a silent CPU run")
    p.add_argument("--threads", type=threads, metavar="N",
                   help="onnxruntime threads per worker (default: the cores shared among the --jobs workers)")
    g = p.add_argument_group("images (NIfTI, DICOM, PNG, TIFF)")
    g.add_argument("--axis", type=int, choices=[0, 1, 2], metavar="{0,1,2}",
                   help="slice NIfTI volumes along this axis (default: the axis with the coarsest voxel size)")
    g.add_argument("--mask", metavar="FILE",
                   help="a NIfTI mask on the scan's voxel grid: denoise inside (non-zero), copy the input outside")
    g.add_argument("--save-noise", action="store_true",
                   help="also write the removed component (input minus output) as NAME_noise.nii.gz, float32")
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from .._batch import Denoise

    model = args.model
    if model is not None:
        model = _check_model(model)
    mask = str(Path(args.mask).absolute()) if args.mask else None
    if mask is not None and not Path(mask).is_file():
        from .._errors import InputError

        raise InputError(f"--mask {args.mask}: no such file", "pass a NIfTI mask on the scan's voxel grid")
    extra = ("_noise",) if args.save_noise else ()
    check_plot(args, tag="_denoised", extra_suffixes=extra)
    step = Denoise(model, device=args.device, threads=args.threads, axis=args.axis, mask=mask,
                   save_noise=args.save_noise)
    others = [p for p in (mask, model) if p is not None and Path(p).is_file()]  # no output may land on these either
    return run_batch(args, step, tag="_denoised", extra_suffixes=extra, also_inputs=others).exit_status


def _check_model(model: str) -> str:
    """``--model``: a shipped name, or an existing file (made absolute: workers, on Dask other
    machines, resolve it the same way); anything else is refused before any work."""
    from pathlib import Path

    from .._errors import InputError
    from ..runtime import available_models

    p = Path(model)
    if p.is_file():
        return str(p.absolute())
    if p.suffix.lower() == ".onnx" or p.exists() or len(p.parts) > 1:
        raise InputError(f"--model {model}: no such model file", "check the path, or name a shipped model "
                         "('biodae models' lists them)")
    if model not in available_models():
        names = ", ".join(available_models()) or "(none installed)"
        raise InputError(f"--model {model}: no shipped model of that name",
                         f"shipped models: {names} ('biodae models' says what each is for); or pass an .onnx file")
    return model
