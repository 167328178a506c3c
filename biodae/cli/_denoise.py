"""``biodae denoise``: clean files with a shipped (or given) ONNX model."""

from __future__ import annotations

from ._common import add_io_arguments, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "denoise",
        help="clean files with a denoising autoencoder (ONNX, CPU by default)",
        description=(
            "Denoise a file or every file in a directory with biodae's models. WFDB and EDF inputs pick "
            "the ECG or EEG model per channel from signal names and units; other channels are copied. "
            "NIfTI and MR DICOM use the mri model, slice by slice; CT and X-ray DICOM, PNG and TIFF the "
            "xray model. "
            "Outputs keep the input's format, header and bit depth; without --out-dir they are written "
            "beside the input with '_denoised' added."
        ),
    )
    add_io_arguments(p)
    p.add_argument("--model", metavar="NAME|PATH", help="a shipped model name (ecg, eeg, ...) or an .onnx file")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"],
                   help="where to run; a GPU that is asked for and missing is an error, never a silent CPU run")
    p.add_argument("--threads", type=int, metavar="N",
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
    if model is not None and Path(model).is_file():
        model = str(Path(model).absolute())  # workers (Dask: on other machines) resolve it the same way
    mask = str(Path(args.mask).absolute()) if args.mask else None
    if mask is not None and not Path(mask).is_file():
        from .._errors import InputError

        raise InputError(f"--mask {args.mask}: no such file", "pass a NIfTI mask on the scan's voxel grid")
    step = Denoise(model, device=args.device, threads=args.threads, axis=args.axis, mask=mask,
                   save_noise=args.save_noise)
    return run_batch(args, step, tag="_denoised", extra_suffixes=("_noise",) if args.save_noise else ()).exit_status
