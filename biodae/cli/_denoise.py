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
            "Outputs keep the input's format, header and bit depth; without --out-dir they are written "
            "beside the input with '_denoised' added."
        ),
    )
    add_io_arguments(p)
    p.add_argument("--model", metavar="NAME|PATH", help="a shipped model name (ecg, eeg, ...) or an .onnx file")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"],
                   help="where to run; a GPU that is asked for and missing is an error, never a silent CPU run")
    p.add_argument("--threads", type=int, metavar="N", help="onnxruntime threads (default: all cores)")
    p.set_defaults(run=run)


def run(args) -> int:
    from .._denoise import denoise_record

    def process(obj):
        out, rep = denoise_record(obj, args.model, device=args.device, threads=args.threads)
        models = "; ".join(f"{m} on {', '.join(ch)}" for m, ch in rep["models"].items())
        if obj.format == "wfdb":
            out.meta["comments"] = list(out.meta.get("comments", [])) + [f"biodae denoise: {models}"]
        detail = models + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep["copied"] else "")
        return out, detail

    return run_batch(args, process, tag="_denoised").exit_status
