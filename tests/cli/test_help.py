"""Help on every option, the recipes in ``biodae train --help``, and errors told in CLI flags."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pytest

from biodae import InputError
from biodae.cli import build_parser, main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def usage_error(capsys, *argv) -> str:
    """An argparse refusal: exit status 2, the message on stderr."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2
    return capsys.readouterr().err


def one_line_error(err: str) -> None:
    assert err.startswith("biodae: error: "), err
    assert err.count("\n") == 1, err


def _parsers(parser: argparse.ArgumentParser, name: str = "biodae"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for sub, p in action.choices.items():
                assert helps.get(sub), f"'{name} {sub}' has no help line in '{name} --help'"
                yield from _parsers(p, f"{name} {sub}")


# --------------------------------------------------------------------------- help text
def test_every_option_of_every_command_has_help():
    missing, seen = [], 0
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            seen += 1
            if not (action.help and action.help.strip()) or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert seen > 60, "the walk found too few options"
    assert not missing, f"options without help: {', '.join(missing)}"


@pytest.mark.parametrize("command", ["info", "filter", "denoise", "models", "train", "export"])
def test_help_of_every_command_exits_cleanly(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: biodae {command}")


def test_train_help_lists_the_recipes(capsys):
    recipes = pytest.importorskip("biodae.nn.recipes")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(recipes.RECIPES) >= 5
    for r in recipes.RECIPES.values():
        row = next((line for line in lines if line.split()[:2] == [r.name, r.version]), None)
        assert row is not None, f"recipe {r.name} {r.version} not listed"
        assert r.modality.upper() in row and r.model in row
        # what it trains: the start of its description, on the next line
        nxt = lines[lines.index(row) + 1].strip()
        assert r.description.startswith(nxt.split(" (")[0][:20])


def test_train_help_without_torch_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    for mod in [m for m in sys.modules if m == "biodae.nn" or m.startswith("biodae.nn.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--out-dir" in out
    assert "needs torch" in out and "pip install -c constraints.txt 'biodae[train]'" in out


# --------------------------------------------------------------------------- errors in flags
def test_train_without_data_names_the_flag(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    code, out, err = run(capsys, "train", "ecg", "--out-dir", tmp_path / "run")
    assert code == 2
    one_line_error(err)
    assert "--data" in err and "data_dir" not in err
    assert not (tmp_path / "run").exists(), "nothing is written before the data folder is known"
    code, out, err = run(capsys, "train", "ecg", "--out-dir", tmp_path / "run", "--data", tmp_path / "nope")
    assert code == 2 and "--data" in err and "data_dir" not in err


def test_train_data_errors_from_the_library_name_the_flag(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.delenv("BIODAE_DATA", raising=False)
    empty = tmp_path / "data"
    empty.mkdir()
    code, out, err = run(capsys, "train", "eeg", "--out-dir", tmp_path / "run", "--data", empty)
    assert code == 2
    one_line_error(err)
    assert "data_dir" not in err and "--data" in err


def test_denoise_model_errors_name_the_flag(capsys, tmp_path, test_data):
    src = test_data / "signals" / "sel100_10s"
    for bad, what in (("nosuch", "no shipped model"), (tmp_path / "gone.onnx", "no such model file")):
        code, out, err = run(capsys, "denoise", src, "--model", bad, "--out-dir", tmp_path / "out")
        assert code == 2
        one_line_error(err)
        assert f"--model {bad}" in err and what in err
    assert "biodae models" in err
    assert not (tmp_path / "out").exists()


def test_denoise_threads_must_not_be_negative(capsys, test_data, tmp_path):
    err = usage_error(capsys, "denoise", test_data / "signals" / "sel100_10s", "--threads", "-1",
                      "--out-dir", tmp_path)
    assert "argument --threads" in err


@pytest.mark.parametrize("argv, flag", [
    (["--method", "median", "--window", "-1"], "--window"),
    (["--method", "median", "--window", "nan"], "--window"),
    (["--method", "butterworth", "--order", "0"], "--order"),
    (["--method", "butterworth", "--cutoff", "2"], "--cutoff"),
    (["--method", "median", "--size", "4"], "--size"),
    (["--method", "wavelet", "--level", "0"], "--level"),
])
def test_filter_option_values_are_checked_by_flag(capsys, test_data, tmp_path, argv, flag):
    err = usage_error(capsys, "filter", test_data / "signals" / "sel100_10s", *argv, "--out-dir", tmp_path)
    assert f"argument {flag}" in err
    assert "window_s" not in err


@pytest.mark.parametrize("argv, says, never", [
    (["--method", "median", "--size", "3"], "--size applies to images", "sampling_rate"),
    (["--method", "butterworth", "--high", "200"], "--high 200 Hz is at or above the Nyquist", "high="),
    (["--method", "butterworth", "--low", "40", "--high", "10"], "--low 40 Hz must be below --high 10 Hz", "low="),
    (["--method", "wavelet", "--wavelet", "foo"], "--wavelet foo", "wavelet="),
])
def test_filter_errors_name_flags(capsys, test_data, tmp_path, argv, says, never):
    code, out, err = run(capsys, "filter", test_data / "signals" / "sel100_10s", *argv, "--out-dir", tmp_path / "o")
    assert code == 2
    one_line_error(err)
    assert says in err and never not in err
    assert "sampling_rate" not in err


def test_filter_image_options_on_an_image_only(capsys, test_data, tmp_path):
    code, out, err = run(capsys, "filter", test_data / "images" / "brain_slice16.png", "--method", "butterworth",
                         "--low", "3", "--out-dir", tmp_path / "o")
    assert code == 2
    one_line_error(err)
    assert "--low applies to signals" in err and "sampling_rate" not in err


def test_filter_errors_name_flags_in_a_batch_too(capsys, test_data, tmp_path):
    """In a batch each file's failure goes to the table and the report: in flags there too."""
    d = tmp_path / "in"
    d.mkdir()
    for f in (test_data / "signals").glob("sel100_10s.*"):
        shutil.copy2(f, d / f.name)
    shutil.copy2(test_data / "signals" / "test_3s.edf", d / "test_3s.edf")
    code, out, err = run(capsys, "filter", d, "--method", "butterworth", "--high", "200", "--out-dir", tmp_path / "o")
    assert code == 1
    assert "--high 200" in out and "high=" not in out and "sampling_rate" not in out


def test_in_flags_rewrites_parameters_only():
    from biodae.cli._flags import in_flags

    exc = InputError("low=3 Hz must be below high=1 Hz", "low is the high-pass edge, high the low-pass edge")
    got = in_flags(exc, {"low": "--low", "high": "--high"})
    assert isinstance(got, InputError)
    assert str(got) == "--low 3 Hz must be below --high 1 Hz: --low is the high-pass edge, --high the low-pass edge"
    exc = InputError("median has nothing to do: neither baseline=True nor window_s was given",
                     "pass baseline=True and/or window_s=<seconds>; image mode")
    got = in_flags(exc, {"baseline": "--baseline", "window_s": "--window", "mode": "--threshold"},
                   assigned_only=("mode",))
    assert str(got) == ("median has nothing to do: neither --baseline nor --window was given: "
                        "pass --baseline and/or --window <seconds>; image mode")
    got = in_flags(InputError("remove_baseline=False"), {"remove_baseline": "--remove-baseline"},
                   negated={"remove_baseline": "--no-remove-baseline"})
    assert str(got) == "--no-remove-baseline"


def test_readme_usage_shows_every_command_and_the_plot():
    """Every subcommand, and --plot, show up in the README's Usage block."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    usage = readme.split("## Usage", 1)[1].split("```", 2)[1]
    for name, _ in list(_parsers(build_parser()))[1:]:
        assert f"\n{name} " in usage or f"\n{name}\n" in usage, name
    assert " --plot " in usage


def test_existing_output_advice_names_the_flag_only(capsys, tmp_path):
    models = Path(__file__).resolve().parents[2] / "models"
    out = tmp_path / "eeg16.onnx"
    out.write_bytes(b"keep me")
    code, _, err = run(capsys, "export", models / "eeg.onnx", "-o", out, "--fp16")
    assert code == 2
    one_line_error(err)
    assert "--force" in err and "force=True" not in err
    assert out.read_bytes() == b"keep me"


def test_python_dash_m_biodae_is_the_command():
    """``python -m biodae`` runs the CLI (when the ``biodae`` script is not on PATH), exit codes included."""
    import subprocess

    ok = subprocess.run([sys.executable, "-m", "biodae", "--version"], capture_output=True, text=True, timeout=120,
                        check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("biodae ")
    bad = subprocess.run([sys.executable, "-m", "biodae", "denoise", "no-such-file.nii"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "no-such-file.nii" in bad.stderr and "Traceback" not in bad.stderr
