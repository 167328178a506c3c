"""``biodae denoise``: clean files with a shipped (or given) ONNX model."""

from __future__ import annotations

from ._common import add_io_arguments, run_batch
from ._flags import positive_int, threads
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
    p.add_argument("--precision", default="fp32", choices=["fp32", "int8", "auto"],
                   help="number format on the CPU: fp32 (default), int8 (the model's int8 variant, models/NAME.int8.onnx; "
                        "an error for a model without one), or auto: int8 only where the variant's metadata record that "
                        "it stayed within its quality limit against float32 and ran faster, it was made from these "
                        "float32 weights, and this CPU has int8 dot-product instructions (AVX-512 VNNI or AVX-VNNI in "
                        "/proc/cpuinfo; on other systems and on GPUs auto is fp32). A precision other than fp32 is "
                        "named in the output's provenance")
    g = p.add_argument_group("images (NIfTI, DICOM, PNG, TIFF)")
    g.add_argument("--axis", type=int, choices=[0, 1, 2], metavar="{0,1,2}",
                   help="slice NIfTI volumes along this axis (default: the axis with the coarsest voxel size)")
    g.add_argument("--mask", metavar="FILE",
                   help="a NIfTI mask on the scan's voxel grid: denoise inside (non-zero), copy the input outside")
    g.add_argument("--keep-noise-floor", action="store_true",
                   help="MRI: give the model the magnitude as it is; by default, where the scan's air fits the noise "
                        "of N > 1 receive coils (root-sum-of-squares), the noise floor of N - 1 of them is removed "
                        "first (N and the level estimated from the scan), which brightens less in dark tissue but can "
                        "leave dark speckle where the tissue's signal is below the floor")
    g.add_argument("--save-noise", action="store_true",
                   help="also write the removed component (input minus output) as NAME_noise.nii.gz, float32")
    g.add_argument("--self-supervised", choices=["noise2self", "patch2self"], metavar="METHOD",
                   help="when no model fits the scan's noise: fit to the scan itself. noise2self (2D/3D; needs torch) "
                        "fine-tunes the model (--model, default mri) on the scan's slices with a blind spot, assuming "
                        "the noise independent beyond it (minutes on a CPU); patch2self (4D series) regresses each "
                        "volume on the others, assuming the noise independent between volumes (b-values from "
                        "NAME.bval beside it). The output's provenance names the method")
    g.add_argument("--blind-spot", type=int, choices=range(5), metavar="{0..4}",
                   help="noise2self: the blind spot's radius in pixels (0: one pixel, for white noise; default: from "
                        "the noise's correlation measured on the scan)")
    g.add_argument("--adapt-steps", type=positive_int, default=300, metavar="N",
                   help="noise2self: training steps of 8 crops of 64 x 64 pixels (default 300; seed fixed)")
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from .._batch import Denoise

    model = args.model
    if model is not None:
        model = _check_model(model)
        if args.precision == "int8":
            _check_int8(model, args.device)
    mask = str(Path(args.mask).absolute()) if args.mask else None
    if mask is not None and not Path(mask).is_file():
        from .._errors import InputError

        raise InputError(f"--mask {args.mask}: no such file", "pass a NIfTI mask on the scan's voxel grid")
    extra = ("_noise",) if args.save_noise else ()
    check_plot(args, tag="_denoised", extra_suffixes=extra)
    step = Denoise(model, device=args.device, threads=args.threads, axis=args.axis, mask=mask,
                   save_noise=args.save_noise, precision=args.precision, noise_floor=not args.keep_noise_floor)
    if args.self_supervised or args.blind_spot is not None or args.adapt_steps != 300:
        step = _self_supervised(args, model, mask)
    others = [p for p in (mask, model) if p is not None and Path(p).is_file()]  # no output may land on these either
    return run_batch(args, step, tag="_denoised", extra_suffixes=extra, also_inputs=others).exit_status


def _self_supervised(args, model: str | None, mask: str | None):
    """The ``--self-supervised`` step, after refusing what it does not take."""
    from .._batch._self_supervised import SelfSupervised
    from .._errors import InputError

    if not args.self_supervised:
        raise InputError("--blind-spot and --adapt-steps apply to --self-supervised noise2self",
                         "add --self-supervised noise2self")
    if args.keep_noise_floor:
        raise InputError("--keep-noise-floor applies to the shipped models' path; --self-supervised never removes "
                         "the noise floor", "leave out --keep-noise-floor")
    if args.self_supervised != "noise2self" and (args.blind_spot is not None or args.adapt_steps != 300):
        raise InputError("--blind-spot and --adapt-steps apply to noise2self, not patch2self",
                         "leave them out")
    if args.device != "cpu" or getattr(args, "precision", "fp32") != "fp32":
        raise InputError(f"--self-supervised {args.self_supervised} runs on the CPU in float32",
                         "leave out --device and --precision")
    return SelfSupervised(args.self_supervised, model=model, radius=args.blind_spot, steps=args.adapt_steps,
                          threads=args.threads,
                          axis=args.axis, mask=mask, save_noise=args.save_noise)


def _check_int8(model: str, device: str) -> None:
    """``--precision int8`` with ``--model``: refused before any work when the model has no int8 variant."""
    from ..runtime import int8_models, model_path, resolve_precision

    resolve_precision(model_path(model), "int8", device=device, name=model, shipped=int8_models())


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
