"""``biodae beats``: score every beat of ECG records with a beat model; flag the abnormal ones."""

from __future__ import annotations

from ._common import add_io_arguments, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "beats",
        help="score the beats of ECG records with an autoencoder: anomaly score, flag, AAMI class, latent code",
        description=(
            "For each record (WFDB or EDF): the R peaks from an annotation file (--annotator) or detected (XQRS), "
            "each beat scored by a beat model (default ecg-beats: anomaly score from its reconstruction error; "
            "ecg-beats-aami also gives the AAMI class). Writes OUT/<record>.beats.csv (sample, symbol, score, flag, "
            "class, z0..) and WFDB annotations at the flagged beats, OUT/<record>.EXT (default .anom; never the "
            "input annotator's), and prints a line per record (beats, flagged, classes)."
        ),
    )
    add_io_arguments(p, images=False, out_dir_required=True)
    p.add_argument("--model", metavar="NAME|PATH", default="ecg-beats",
                   help="a shipped beat model (ecg-beats, ecg-beats-aami; 'biodae models' lists them) or an .onnx "
                        "file written by biodae.latent.Autoencoder.save (default: ecg-beats)")
    p.add_argument("--annotator", metavar="EXT",
                   help="take R peaks and symbols from this WFDB annotation file (e.g. atr); default: detect the beats")
    p.add_argument("--ext", default="anom", metavar="EXT",
                   help="extension of the WFDB annotation file written at the flagged beats (default: anom)")
    p.set_defaults(run=run)


def run(args) -> int:
    import re
    from pathlib import Path

    from .._batch import BEATS_SUFFIX, Beats, written_by_biodae
    from .._errors import InputError
    from ..beats import beat_scorer

    if not re.fullmatch(r"[A-Za-z0-9_]+", args.ext):
        raise InputError(f"--ext {args.ext}: an annotation extension is letters, digits or _", "e.g. --ext anom")
    if args.annotator is not None and args.annotator == args.ext:
        raise InputError(f"--ext {args.ext} is the input's annotator: the flags would replace its annotations",
                         "choose another --ext")
    model = str(Path(args.model).absolute()) if Path(args.model).is_file() else args.model
    beat_scorer(model)  # a wrong --model is one line before any work
    step = Beats(model, annotator=args.annotator, extension=args.ext)
    others = [model] if Path(model).is_file() else []

    def ours(path: Path) -> bool:
        """Whether a file named like an output beside an input record is an earlier ``biodae beats``
        output (a rerun may replace it) and not the record's own annotation file of that extension
        (its reference beats, say), which is never replaced, --force or not."""
        return not path.name.endswith(f".{args.ext}") or written_by_biodae(path)

    return run_batch(args, step, tag="", named=(BEATS_SUFFIX, f".{args.ext}"), also_inputs=others,
                     ours=ours).exit_status
