"""Architecture tests: sizes, parameter counts, normalisation, registry."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from biodae.nn import (  # noqa: E402
    FCNDAE,
    MODELS,
    DnCNN2d,
    ResUNet1d,
    ResUNet2d,
    build_model,
    count_parameters,
    receptive_field,
)

LENGTHS = [1, 7, 511, 513, 1000, 3601]
SIZES = [(1, 1), (31, 45), (64, 64), (65, 97)]
SMALL_2D = {"dncnn2d": {"depth": 4, "width": 8}, "dncnn2d_small": {}, "resunet2d": {}}


def _perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random non-zero weights (the U-Nets start as the identity) and eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def test_parameter_counts():
    assert count_parameters(FCNDAE()) == 80_223  # 79,659 conv + 564 BatchNorm affine
    assert 70_000 <= count_parameters(FCNDAE()) <= 90_000
    assert count_parameters(ResUNet1d()) <= 100_000
    assert count_parameters(ResUNet1d()) == 94_481
    assert count_parameters(DnCNN2d()) == 556_097  # Zhang et al. 2017: 556k
    assert 100_000 <= count_parameters(ResUNet2d()) <= 300_000
    assert count_parameters(build_model("dncnn2d_small")) == 74_849


def test_fcn_dae_keras_same_shapes():
    """Keras 'same': stride 2 halves exactly, stride-1 layers keep the length."""
    m = FCNDAE(norm="none").eval()
    z = torch.randn(3, 1, 512)
    for conv, bn in zip(m.encoder, m.enc_bn):
        z = bn(torch.nn.functional.elu(conv(z)))
    assert z.shape == (3, 40, 16)
    assert m(torch.randn(3, 1, 512)).shape == (3, 1, 512)
    assert m.multiple == 32


def test_receptive_fields():
    # at 360 Hz baseline wander needs >= ~1.5 s = 540 samples
    assert receptive_field(ResUNet1d()) == (1782,)
    assert receptive_field(FCNDAE()) == (1906,)
    assert receptive_field(build_model("dncnn2d", depth=5, width=4), size=64) == (11, 11)
    assert receptive_field(ResUNet2d()) == (164, 164)


@pytest.mark.parametrize("name", ["fcn_dae", "resunet1d"])
@pytest.mark.parametrize("norm", ["std", "none"])
def test_1d_any_length(name, norm):
    model = _perturbed(build_model(name, norm=norm))
    with torch.no_grad():
        for n in LENGTHS:
            x = torch.randn(2, 3, n)
            y = model(x)
            assert y.shape == x.shape and y.dtype == x.dtype
            assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", sorted(SMALL_2D))
@pytest.mark.parametrize("norm", ["std", "none"])
def test_2d_any_size(name, norm):
    model = _perturbed(build_model(name, norm=norm, **SMALL_2D[name]))
    with torch.no_grad():
        for h, w in SIZES:
            x = torch.randn(2, 1, h, w)
            y = model(x)
            assert y.shape == x.shape
            assert torch.isfinite(y).all()


def test_default_dncnn_odd_size():
    model = _perturbed(DnCNN2d())
    with torch.no_grad():
        assert model(torch.randn(1, 1, 31, 45)).shape == (1, 1, 31, 45)


@pytest.mark.parametrize(
    "name,shape,cfg",
    [
        ("fcn_dae", (2, 2, 1000), {}),
        ("resunet1d", (2, 2, 1001), {}),
        ("dncnn2d", (2, 1, 33, 47), {"depth": 5, "width": 8}),
        ("resunet2d", (2, 1, 33, 47), {}),
    ],
)
def test_amplitude_and_offset_equivariance(name, shape, cfg):
    model = _perturbed(build_model(name, **cfg)).double()
    x = torch.randn(*shape, dtype=torch.float64) * 0.8
    with torch.no_grad():
        y = model(x)
        assert not torch.allclose(y, x)  # the model does something
        for a, b in [(3.0, 0.0), (1e-3, 0.0), (250.0, -40.0)]:
            torch.testing.assert_close(model(a * x + b), a * y + b, rtol=1e-9, atol=1e-9 * (abs(b) + a))


def test_norm_none_is_not_equivariant():
    model = _perturbed(build_model("resunet1d", norm="none"))
    x = torch.randn(1, 1, 300)
    with torch.no_grad():
        assert not torch.allclose(model(3 * x), 3 * model(x), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", ["fcn_dae", "resunet1d", "dncnn2d_small", "resunet2d"])
def test_constant_input_unchanged(name):
    """A flat window has zero spread: it must come back flat, finite, unchanged."""
    model = _perturbed(build_model(name))
    shape = (1, 1, 100) if model.spatial_dims == 1 else (1, 1, 20, 30)
    with torch.no_grad():
        for value in (0.0, 3.5):
            x = torch.full(shape, value)
            torch.testing.assert_close(model(x), x, rtol=0, atol=1e-6)


def test_channels_are_denoised_independently():
    model = _perturbed(build_model("resunet1d"))
    x = torch.randn(2, 3, 400)
    with torch.no_grad():
        y = model(x)
        for c in range(3):
            torch.testing.assert_close(y[:, c : c + 1], model(x[:, c : c + 1]), rtol=1e-5, atol=1e-6)


def test_multichannel_model_checks_channels():
    model = build_model("resunet1d", in_channels=2, widths=[4, 8])
    assert model(torch.randn(1, 2, 50)).shape == (1, 2, 50)
    with pytest.raises(ValueError, match="built for 2 channels"):
        model(torch.randn(1, 3, 50))


def test_wrong_rank_is_an_error():
    with pytest.raises(ValueError, match=r"3-D input \[batch, channels, length\]"):
        FCNDAE()(torch.randn(10))
    with pytest.raises(ValueError, match="4-D input"):
        ResUNet2d()(torch.randn(1, 20, 20))


def test_untrained_unets_are_identity():
    x = torch.randn(2, 1, 333)
    with torch.no_grad():
        torch.testing.assert_close(ResUNet1d().eval()(x), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_config_rebuilds_model(name):
    model = build_model(name)
    again = build_model(model.name, **model.config)
    assert type(again) is type(model) and again.config == model.config
    again.load_state_dict(model.state_dict())
    cfg = model.config
    cfg["norm"] = "bogus"  # config is a copy
    assert model.config["norm"] == "std"
    assert all(isinstance(v, (int, float, str, list)) for v in model.config.values())


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown model 'unet'.*dncnn2d.*fcn_dae.*resunet1d"):
        build_model("unet")
    with pytest.raises(ValueError, match="invalid configuration"):
        build_model("fcn_dae", widths=[1, 2])
    with pytest.raises(ValueError, match="norm must be one of std, rms, center, none"):
        build_model("resunet1d", norm="batch")
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        build_model("resunet1d", kernel_size=4)


def test_rms_norm_is_amplitude_but_not_offset_equivariant():
    """``norm="rms"`` keeps the window level visible (needed to remove baseline offsets)."""
    import torch

    from biodae.nn import build_model

    torch.manual_seed(0)
    m = build_model("resunet1d", norm="rms").double().eval()
    for p in m.parameters():
        p.data.normal_(0, 0.05)
    x = torch.randn(2, 1, 300, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(m(3.0 * x), 3.0 * m(x))
        shifted = m(x + 5.0) - 5.0
    assert not torch.allclose(shifted, m(x), atol=1e-3)


def test_center_norm_removes_offsets_and_matches_rms_on_zero_mean_windows():
    import torch

    from biodae.nn import build_model

    torch.manual_seed(1)
    a = build_model("resunet1d", norm="rms").double().eval()
    for p in a.parameters():
        p.data.normal_(0, 0.05)
    b = build_model("resunet1d", norm="center").double().eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 1, 640, dtype=torch.float64)
    x = x - x.mean(dim=2, keepdim=True)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))  # zero-mean windows: the same model
        torch.testing.assert_close(b(x + 7.0), b(x))  # an offset is removed, not passed on
        torch.testing.assert_close(b(2.5 * x), 2.5 * b(x))
