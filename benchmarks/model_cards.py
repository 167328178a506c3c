"""Write the model card of each shipped model (models/NAME.md) from its recipe, its ONNX
metadata and the benchmark reports in docs/benchmarks/.

    python benchmarks/model_cards.py [NAME ...]     # every shipped denoiser's card, or these
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "benchmarks"

# model -> (benchmark report, sections of it to quote)
REPORTS = {
    "ecg-qtdb-bw": ("deepfilter.md", ["All beats, mean (std)", "SSD by noise amplitude bucket", "Target check"]),
    "ecg": ("ecg_continuous.md", [None, "Target check", "Clean input"]),
    "ecg-small": ("ecg_continuous.md", [None, "Target check", "Clean input"]),
    "eeg": ("eeg.md", ["S001 test runs", "other subject", "Clean input"]),
    "mri": ("mri.md", [None, "rician, σ = 5 %", "rss8, σ = 5 %", "rss8-hamming, σ = 5 %", "Targets",
                       "Real scans"]),
    "xray": ("xray.md", [None, "Target"]),
}
#: extra reports quoted in a card (speed, clean-scan checks)
EXTRA_REPORTS = {"mri": ("mri_speed.md", [None, "Compute"]),
                 "ecg-small": ("ecg_speed.md", ["Every model and precision"])}
#: the environment a recipe's shipped weights were trained with, when not the default (2 torch threads)
TRAIN_ENV = {"ecg-small": "OMP_NUM_THREADS=1 "}
CITATIONS = {
    "ecg": ["Laguna P, Mark RG, Goldberger AL, Moody GB. A database for evaluation of algorithms for measurement of QT "
            "and other waveform intervals in the ECG. Computers in Cardiology 24:673-676 (1997).",
            "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE EMB Mag 20(3):45-50 (2001).",
            "Moody GB, Muldrow WE, Mark RG. A noise stress test for arrhythmia detectors. Computers in Cardiology "
            "11:381-384 (1984)."],
    "eeg": ["Schalk G, McFarland DJ, Hinterberger T, Birbaumer N, Wolpaw JR. BCI2000: A General-Purpose "
            "Brain-Computer Interface (BCI) System. IEEE TBME 51(6):1034-1043 (2004).",
            "Delorme A, Makeig S. EEGLAB (tutorial data, EOG channels). J Neurosci Methods 134:9-21 (2004).",
            "Moody GB, Muldrow WE, Mark RG. A noise stress test for arrhythmia detectors. Computers in Cardiology "
            "11:381-384 (1984)."],
}
CITATIONS["mri"] = [
    "Fonov V, Evans AC, Botteron K, Almli CR, McKinstry RC, Collins DL. Unbiased average age-appropriate atlases for "
    "pediatric studies. NeuroImage 54(1):313-327 (2011) (MNI ICBM152 2009a template).",
    "Garyfallidis E et al. Dipy, a library for the analysis of diffusion MRI data. Front Neuroinform 8:8 (2014).",
    "pydicom-data test images (MIT; NEMA WG04 samples).",
]
CITATIONS["xray"] = ["pydicom-data test images (MIT; NEMA WG04 compression samples: RG1, RG3, 693, CT_small).",
                     CITATIONS["mri"][0]]
CITATIONS["ecg-small"] = CITATIONS["ecg"]
CITATIONS["ecg-qtdb-bw"] = [CITATIONS["ecg"][0], CITATIONS["ecg"][2],
                            "Romero FP et al. DeepFilter: an ECG baseline wander removal filter using deep learning "
                            "techniques. Biomed Signal Process Control 70:102992 (2021)."]
PHYSIONET = ("Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000).")


#: hand-written sections of a card (what each version changed, variants tried and not shipped): carried over
#: from the existing card when it is rewritten
KEPT_SECTIONS = ("## int8 variant", "## Versions", "## Tried and not shipped")

_SCHEDULE = {"plateau": "halved after 2 epochs without improvement", "cosine": "cosine decay to 1/100",
             "constant": "constant"}


def sections(text: str, wanted: list[str | None] | None) -> str:
    """The named '## ' sections of a report (None: the text before the first '## ' heading)."""
    if wanted is None:
        return text.split("\n", 1)[1] if text.startswith("# ") else text
    parts = re.split(r"(?m)^## ", text)
    out = []
    for w in wanted:
        if w is None:
            out.append(parts[0].split("\n", 1)[1].strip() if parts[0].startswith("# ") else parts[0].strip())
            continue
        for p in parts[1:]:
            if p.startswith(w):
                out.append("### " + p.strip())
    return "\n\n".join(out)


def kept_sections(card: Path) -> str:
    """The :data:`KEPT_SECTIONS` of an existing card, each followed by a blank line ("" if none)."""
    if not card.is_file():
        return ""
    parts = re.split(r"(?m)^(?=## )", card.read_text())
    return "".join(p.rstrip("\n") + "\n\n" for p in parts if p.startswith(KEPT_SECTIONS))


def main(argv: list[str] | None = None) -> int:
    from biodae.nn import build_model, count_parameters, receptive_field
    from biodae.nn.recipes import get_recipe
    from biodae.nn.train import LOSSES
    from biodae.runtime import available_models, load_model, load_onnx, variant_path

    only = set(sys.argv[1:] if argv is None else argv)
    for onnx_path in sorted((ROOT / "models").glob("*.onnx")):
        name = onnx_path.stem
        if name not in available_models():  # a biodae.latent model or a variant file: not written here
            continue
        if only and name not in only:
            continue
        base = "ecg-qtdb-bw" if name.startswith("ecg-qtdb-bw") else name
        recipe = get_recipe(name)
        m = load_model(onnx_path)
        net = build_model(recipe.model, **recipe.model_config)
        image = m.spatial_dims == 2
        rf = receptive_field(net, size=1024 if image else 8192)[0]
        report, wanted = REPORTS[base]
        rpath = BENCH / report
        metrics = sections(rpath.read_text(), wanted) if rpath.is_file() else "(benchmark report not generated yet)"
        if base in EXTRA_REPORTS:
            extra, extra_wanted = EXTRA_REPORTS[base]
            if (BENCH / extra).is_file():
                metrics += f"\n\nFrom `docs/benchmarks/{extra}`:\n\n" + sections((BENCH / extra).read_text(), extra_wanted)
        v2 = (f"\nThe protocol trains one model per noise version; `ecg-qtdb-bw-v2.onnx` is the version-2 model "
              f"(`biodae train ecg-qtdb-bw-v2 ...`), shipped so that the benchmark table can be reproduced.\n"
              if name == "ecg-qtdb-bw" else
              "\nThis is the version-2 model of the DeepFilter protocol (see `ecg-qtdb-bw.md`).\n" if name == "ecg-qtdb-bw-v2"
              else "")
        exported = (f"\n\nTrained with `norm={recipe.model_config.get('norm')}`, exported with "
                    f"{', '.join(f'`{k}={v}`' for k, v in recipe.export_config.items())} (same weights; "
                    "`biodae train ... --export` does this): identical on the zero-mean windows it was trained on, "
                    "and a record's DC offset is removed rather than fed to the network."
                    if recipe.export_config else "")
        if not recipe.restore_best:
            exported += ("\n\nThe exported weights are those of the last epoch, not of the best validation epoch "
                         "(`restore_best=False` in the recipe): the validation images are real scans with noise of "
                         "their own in their targets, a poor judge of how much noise a model should remove.")
        cites = "\n".join(f"- {c}" for c in CITATIONS[base] + ([] if image else [PHYSIONET]))
        if image:
            io_row = ("float32 `[batch, 1, height, width]`, any size; intensities scaled by the caller to the "
                      f"{m.metadata.get('biodae.percentiles')} percentiles of the whole image or volume (`docs/onnx.md`)")
            arch = (f"`{recipe.model}` {json.dumps(recipe.model_config)}: {count_parameters(net):,} parameters, "
                    f"receptive field {rf} x {rf} pixels")
            inference = (f"slices along the coarsest voxel axis (NIfTI) or frame by frame; slices larger than "
                         f"{recipe.inference_window}² in tiles of {recipe.inference_window}, {recipe.inference_overlap} "
                         "pixels overlap, tapered blend (no seams); output clipped to the input's range")
            if recipe.modality == "mri":
                inference += ("; in `biodae denoise` / `biodae.denoise_image`, where the air fits the noise of N > 1 "
                              "coils, the noise floor of N - 1 of them is removed first (`biodae.noise."
                              "remove_noise_floor`, N and the level estimated from the scan itself; "
                              "`--keep-noise-floor` turns it off; dark voxels get at least the magnitude mapped as "
                              "if it were noise alone, so the subtraction makes no zeros). Where the tissue's signal "
                              "is near or below the floor, as in DIPY's low-SNR `test_piesno`, some dark speckle "
                              "stays in the tissue and the removed image shows the anatomy's dark parts "
                              "(`docs/benchmarks/mri.md`, real noise figure)")
            unit = "patches of"
            size = f"{recipe.train_window}x{recipe.train_window} pixels"
        else:
            io_row = f"float32 `[batch, 1, length]`, {m.units}, any length; {recipe.sampling_rate:g} Hz"
            arch = (f"`{recipe.model}` {json.dumps(recipe.model_config)}: {count_parameters(net):,} parameters, "
                    f"receptive field {rf} samples ({rf / recipe.sampling_rate:.1f} s)")
            inference = (f"windows of {recipe.inference_window} samples, {recipe.inference_overlap} overlap, "
                         "tapered blend (no seams)")
            unit = "windows of"
            size = f"{recipe.train_window} samples"
        kept = kept_sections(ROOT / "models" / f"{name}.md")
        int8_row = ""
        if variant_path(onnx_path, "int8").is_file():
            v = variant_path(onnx_path, "int8")
            sha = {p.key: p.value for p in load_onnx(v).metadata_props}.get("biodae.weights_sha256", "")
            int8_row = (f"\n| int8 variant | `models/{v.name}` (CPUs with VNNI; `--precision int8`, or `auto`): weights "
                        f"sha256 `{sha}`, made from the weights above; rows below |")
        command = (f"BIODAE_DATA=../shared/data {TRAIN_ENV.get(name, '')}biodae train {name} --out-dir runs/{name} "
                   f"--export models/{name}.onnx")
        start = ""
        if recipe.init_from:
            init = recipe.init_from
            command = f"{init['get']}\n{command} --init {init['file']}"
            start = (f"Fine-tuned: training starts from the weights of {init['model']} (weights sha256 "
                     f"`{init['weights_sha256'][:16]}...`, checked), which the first line writes from git history.")
        if recipe.teacher:
            teach = recipe.teacher
            command = f"{teach['get']}\n{command} --teacher {teach['file']}"
            start += (f"Distilled: the training targets are the outputs of {teach['model']} (weights sha256 "
                      f"`{teach['weights_sha256'][:16]}...`, checked; the first line writes it from git history) on "
                      f"the same noisy windows (teacher weight {teach.get('weight', 1.0):g}: "
                      "`biodae.nn.recipes.TeacherTargets`); validation, early stopping and the kept epoch use the "
                      "clean targets. Trained with one torch thread (`OMP_NUM_THREADS=1`).")
        where = ("images and volumes never used in training" if image else
                 "patients/records and noise segments never used in training")
        card = f"""# Model card: `{name}` {m.version}

{recipe.description}

| | |
|---|---|
| file | `models/{name}.onnx` (ONNX opset 18, one file, contract in `docs/onnx.md`) |
| input / output | {io_row} |
| architecture | {arch} |
| inference | {inference} |
| weights sha256 | `{m.metadata.get('biodae.weights_sha256', '')}` |{int8_row}

## Training data

{recipe.training_data}.

## Noise model

{recipe.noise_model}.

## Command

```bash
{command}
```
{start}
Seed {recipe.seed} (fixed in the recipe, `biodae/nn/recipes.py`): data split, noise drawn for every window of
every epoch, and batch order derive from it; {recipe.epochs} epochs at most, early stopping after {recipe.patience}
epochs without validation improvement, loss `{recipe.loss}` (`biodae.nn.train.{LOSSES[recipe.loss].__name__}`), AdamW lr {recipe.lr:g} ({_SCHEDULE[recipe.lr_schedule]}), batch {recipe.batch_size},
{recipe.windows_per_epoch} {unit} {size} per epoch.{v2}{exported}

Float sums depend on how many CPU threads torch uses (`OMP_NUM_THREADS`; this project trains on a 2-core
machine), so the same command with another thread count, and possibly on another CPU, gives a slightly different
model: `eeg` 1.3.0 reached validation loss -14.147 with 2 threads and -14.167 with 1. With the same thread count
on the same machine the run repeats exactly (`eeg` 1.3.0 trained twice with 2 threads: identical weights).

## Metrics

Quoted from `docs/benchmarks/{report}` (regenerate with the script named there); all on {where}.

{metrics}

## Intended use

{recipe.intended_use}

## Limits

{recipe.limits}

{kept}## Licence and citation

{recipe.licence}. Cite the data:

{cites}
"""
        (ROOT / "models" / f"{name}.md").write_text(card)
        print(f"wrote models/{name}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
