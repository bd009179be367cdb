"""Model registry: every paper model builds for 3/9/27 channels; ImageNet first-layer adaptation."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from hephaestus.train.config import PAPER_MODELS, SEGMENTATION_MODELS, GridConfig, RunConfig, paper_grid
from hephaestus.train.models import (
    MissingWeightsError,
    WeightsError,
    build_model,
    count_parameters,
    find_weights,
    require_weights,
)

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
@pytest.mark.parametrize("name", [*PAPER_MODELS, "convnext_base"])
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
    assert built.weights == f"file:{path}"
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


def _no_cached_imagenet(*names: str) -> None:
    if any(find_weights(n) is not None for n in names):
        pytest.skip("this machine has ImageNet weights cached; the missing-weights path cannot be shown")


def test_imagenet_weights_from_a_pth_state_dict_in_weights_dir(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import timm

    monkeypatch.delenv("HMC_WEIGHTS_DIR", raising=False)
    torch.manual_seed(3)
    state = timm.create_model("resnet50", pretrained=False, num_classes=1000).state_dict()
    torch.save(state, tmp_path / "resnet50.pth")  # read back with torch.load(weights_only=True)
    built = build_model("resnet50", 3, weights="imagenet", weights_dir=str(tmp_path))
    assert built.weights == f"imagenet:{tmp_path / 'resnet50.pth'}"
    torch.testing.assert_close(built.module.state_dict()["conv1.weight"], state["conv1.weight"])
    # Segmenters take the ImageNet weights of their ResNet-50 encoder from the same file.
    unet = build_model("unet", 3, weights="imagenet", weights_dir=str(tmp_path))
    torch.testing.assert_close(
        unet.module.state_dict()["encoder.layer4.2.conv3.weight"], state["layer4.2.conv3.weight"]
    )
    require_weights([RunConfig(model="resnet50", weights_dir=str(tmp_path))])  # found: no error


def test_missing_imagenet_weights_never_fall_back_to_random(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HMC_WEIGHTS_DIR", raising=False)
    _no_cached_imagenet("resnet50")
    with pytest.raises(
        MissingWeightsError, match=r"resnet50.*--weights-dir.*HF_HUB_OFFLINE=0.*--weights random"
    ):
        build_model("resnet50", 3, weights="imagenet", weights_dir=str(tmp_path))
    with pytest.raises(ValueError, match="auto"):
        RunConfig(weights="auto")  # the old silent fallback is refused outright
    assert build_model("resnet50", 3, weights="random").weights == "random"  # only when asked for


def test_paper_grid_names_every_missing_weights_file_before_training(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HMC_WEIGHTS_DIR", raising=False)
    # Paper: ImageNet weights for ResNet-50 (also the segmenters' encoder), MobileNetV3, ConvNeXt, ViT;
    # EfficientNetV2 from scratch as in the authors' code.
    needed = ["resnet50", "mobilenetv3_large_100", "convnext_small", "vit_small_patch16_224"]
    _no_cached_imagenet(*needed, "tf_efficientnetv2_s")
    grid = paper_grid().with_base(weights_dir=str(tmp_path))
    with pytest.raises(MissingWeightsError) as caught:
        require_weights(grid.runs())
    message = str(caught.value)
    for name in needed:
        assert f"{name} (hub timm/{name}." in message
    assert "tf_efficientnetv2_s" not in message
    assert {r.weights for r in grid.runs() if r.model == "tf_efficientnetv2_s"} == {"random"}
    require_weights(grid.with_base(weights="random").runs())  # explicit random: nothing to find


def test_paper_grid_fails_before_ray_and_before_the_store(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ray

    from hephaestus.train.benchmark import run_benchmark

    monkeypatch.delenv("HMC_WEIGHTS_DIR", raising=False)
    _no_cached_imagenet("resnet50")
    grid = GridConfig(name="one", models=("resnet50",), series=(False,), atmosphere=(True,), seeds=(0,))
    was_up = ray.is_initialized()
    # The store does not exist: a check of the store would fail differently; weights fail first.
    with pytest.raises(MissingWeightsError, match="resnet50"):
        run_benchmark(str(tmp_path / "no-store"), grid, str(tmp_path / "out"))
    assert ray.is_initialized() == was_up
    assert not (tmp_path / "out" / "runs").exists()


# Tables 6 and 7 of the paper, trainable parameters in millions (single-image, time-series). The paper
# prints one number per setup; they match the with-atmosphere inputs: 9 channels for one pair, 27 for a
# series of three (without atmosphere, 3 and 9 channels, ViT would count 21.7 M and 22.3 M).
PAPER_PARAMS_M = {
    "resnet50": (23.5, 23.6),
    "mobilenetv3_large_100": (4.2, 4.2),
    "tf_efficientnetv2_s": (20.2, 20.2),
    "convnext_base": (87.6, 87.6),  # Table 6 says "ConvNeXt (Small)" but 87.6 M is ConvNeXt-Base
    "vit_small_patch16_224": (22.3, 24.0),
    "deeplabv3": (26.7, 26.8),  # smp.DeepLabV3Plus, as the authors build it
    "unet": (32.5, 32.6),
    "segformer": (24.9, 24.9),
}


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS_M))
def test_trainable_parameters_match_tables_6_and_7(name: str) -> None:
    single, series = PAPER_PARAMS_M[name]
    assert count_parameters(name, 9) / 1e6 == pytest.approx(single, rel=0.02)
    assert count_parameters(name, 27) / 1e6 == pytest.approx(series, rel=0.02)


def test_convnext_small_is_not_the_87_6_m_of_table_6() -> None:
    # ConvNeXt-Small (the paper's text, our default) has about 49.5 M parameters.
    assert count_parameters("convnext_small", 9) / 1e6 == pytest.approx(49.5, rel=0.02)
    # smp.DeepLabV3 (without "Plus") would be 39.7 M, far from Table 7's 26.7 M.
    assert count_parameters("deeplabv3", 9) / 1e6 != pytest.approx(39.7, rel=0.02)


def test_meta_count_equals_a_real_build() -> None:
    module = build_model("mobilenetv3_large_100", 27, weights="random").module
    assert count_parameters("mobilenetv3_large_100", 27) == sum(p.numel() for p in module.parameters())


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
