"""Model registry: every paper model builds for 3/9/27 channels; ImageNet first-layer adaptation."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from hephaestus.train.config import PAPER_MODELS, SEGMENTATION_MODELS
from hephaestus.train.models import WeightsError, build_model

# Every model at one channel count (the three counts spread over the heavy models), and the light
# ones at all three; the full 8 x 3 matrix runs with -m slow.
DEFAULT_CASES = [
    ("resnet50", 27),
    ("vit_small_patch16_224", 9),
    ("convnext_small", 3),
    ("mobilenetv3_large_100", 3),
    ("mobilenetv3_large_100", 9),
    ("mobilenetv3_large_100", 27),
    ("tf_efficientnetv2_s", 27),
    ("unet", 9),
    ("deeplabv3", 3),
    ("segformer", 27),
]


def _check_forward(name: str, channels: int, size: int = 64) -> None:
    built = build_model(name, channels, weights="random")
    assert built.weights == "random"
    model = built.module.eval()
    with torch.no_grad():
        out = model(torch.randn(2, channels, size, size))
    if name in SEGMENTATION_MODELS:
        assert built.task == "segmentation"
        assert tuple(out.shape) == (2, 2, size, size)
    else:
        assert built.task == "classification"
        assert tuple(out.shape) == (2, 2)
    assert torch.isfinite(out).all()


def test_every_model_builds_and_runs_at_64px() -> None:
    for name, channels in DEFAULT_CASES:
        _check_forward(name, channels)
    assert {n for n, _ in DEFAULT_CASES} == set(PAPER_MODELS)
    assert {c for _, c in DEFAULT_CASES} == {3, 9, 27}


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER_MODELS)
@pytest.mark.parametrize("channels", [3, 9, 27])
def test_full_matrix(name: str, channels: int) -> None:
    _check_forward(name, channels)


def test_vit_takes_other_sizes_than_224() -> None:
    model = build_model("vit_small_patch16_224", 9, weights="random").module.eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 9, 96, 96)).shape) == (1, 2)


def _imagenet_like_resnet50(path, seed: int = 0) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """A 3-channel, 1000-class resnet50 state dict written like a downloaded ImageNet file."""
    import timm

    torch.manual_seed(seed)
    state = timm.create_model("resnet50", pretrained=False, num_classes=1000).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return state


def test_first_layer_adaptation_repeats_rgb_scaled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "resnet50.safetensors"
    state = _imagenet_like_resnet50(path)
    rgb = state["conv1.weight"]  # [64, 3, 7, 7]
    built = build_model("resnet50", 9, weights=str(path))
    assert built.weights == f"imagenet:{path}"
    got = built.module.state_dict()["conv1.weight"]
    # Independent expectation: RGB kernel tiled three times, each copy scaled by 3/9.
    expected = torch.cat([rgb, rgb, rgb], dim=1) * (3.0 / 9.0)
    torch.testing.assert_close(got, expected)
    # Deeper layers copied unchanged; the 1000-class head is not (ours has 2 classes).
    torch.testing.assert_close(
        built.module.state_dict()["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"]
    )
    assert built.module.state_dict()["fc.weight"].shape == (2, 2048)


def test_segmentation_encoder_takes_imagenet_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "resnet50.safetensors"
    state = _imagenet_like_resnet50(path, seed=1)
    built = build_model("unet", 27, weights=str(path))
    got = built.module.state_dict()["encoder.conv1.weight"]
    expected = torch.cat([state["conv1.weight"]] * 9, dim=1) / 9.0
    torch.testing.assert_close(got, expected)


def test_auto_weights_found_in_weights_dir_else_random(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert build_model("resnet50", 3, weights="auto", weights_dir=str(tmp_path)).weights == "random"
    _imagenet_like_resnet50(tmp_path / "resnet50.safetensors")
    built = build_model("resnet50", 3, weights="auto", weights_dir=str(tmp_path))
    assert built.weights == f"imagenet:{tmp_path / 'resnet50.safetensors'}"


def test_bad_weights_are_refused_with_the_file_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pth"):
        build_model("resnet50", 3, weights=str(junk))
    other = tmp_path / "other.safetensors"
    save_file({"a.weight": torch.zeros(3, 3)}, str(other))
    with pytest.raises(WeightsError, match="fit resnet50"):
        build_model("resnet50", 3, weights=str(other))
    with pytest.raises(WeightsError, match="not found"):
        build_model("resnet50", 3, weights=str(tmp_path / "missing.pt"))
