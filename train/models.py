"""Model registry: the paper's classifiers (timm) and segmenters (segmentation-models-pytorch).

Every model takes the channel count of the run's input (3 or 9 per step, times the series length)
and predicts two classes (no deformation / deformation). ImageNet weights come only from local
files or caches: nothing downloads at run time, so runs are reproducible offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub unless the caller turns it off

import torch  # noqa: E402
from torch import nn  # noqa: E402

from hephaestus.platform.errors import InputError
from hephaestus.train.config import CLASSIFICATION_MODELS, SEGMENTATION_MODELS, Task, task_of  # noqa: E402

NUM_CLASSES = 2
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


class WeightsError(InputError):
    """A weights file is missing, unreadable or does not fit the model: names the file."""


@dataclass(frozen=True)
class BuiltModel:
    """A model and where its initial weights came from ('imagenet:<path>' or 'random')."""

    module: nn.Module
    task: Task
    weights: str


def _timm_model(name: str, in_channels: int) -> nn.Module:
    import timm

    kwargs: dict[str, object] = {}
    if name.startswith("vit"):
        kwargs["dynamic_img_size"] = True  # 512 px crops on a 224 px architecture
    return timm.create_model(name, pretrained=False, in_chans=in_channels, num_classes=NUM_CLASSES, **kwargs)


def _smp_model(name: str, in_channels: int, encoder: str) -> nn.Module:
    import segmentation_models_pytorch as smp

    cls = {"unet": smp.Unet, "deeplabv3": smp.DeepLabV3, "segformer": smp.Segformer}[name]
    return cls(encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=NUM_CLASSES)


def model_names() -> tuple[str, ...]:
    return CLASSIFICATION_MODELS + SEGMENTATION_MODELS


def _pretrained_target(module: nn.Module, name: str, encoder: str) -> tuple[nn.Module, str, str]:
    """(module that takes the ImageNet state dict, its weights name, the key prefix of its first conv)."""
    if task_of(name) == "segmentation":
        return module.encoder, encoder, "conv1"  # type: ignore[return-value]
    cfg = getattr(module, "pretrained_cfg", {}) or {}
    return module, name, str(cfg.get("first_conv", "conv1"))


def find_weights(weights_name: str, weights_dir: str | None = None) -> Path | None:
    """A local ImageNet weights file for a timm architecture: `weights_dir` first, then the HF hub cache."""
    folders = [weights_dir, os.environ.get("HMC_WEIGHTS_DIR")]
    for folder in folders:
        if not folder:
            continue
        for suffix in WEIGHT_SUFFIXES:
            candidate = Path(folder).expanduser() / f"{weights_name}{suffix}"
            if candidate.is_file():
                return candidate
    try:
        import timm
        from huggingface_hub import try_to_load_from_cache

        hub_id = timm.models.get_pretrained_cfg(weights_name).hf_hub_id  # type: ignore[union-attr]
        for filename in ("model.safetensors", "pytorch_model.bin"):
            hit = try_to_load_from_cache(hub_id, filename)
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
    except Exception:  # no timm config for that name, or no cache: random initialisation
        return None
    return None


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors only: safetensors, or torch.load(weights_only=True) (never unpickles objects)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read weights ({exc.__class__.__name__}: {exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a state dict of tensors")
    return state


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """RGB kernel repeated over `in_channels` and scaled by 3 / C, so activations keep their scale (timm)."""
    from timm.models import adapt_input_conv

    return adapt_input_conv(in_channels, weight)


def load_pretrained(
    module: nn.Module, name: str, path: str | os.PathLike[str], in_channels: int, encoder: str = "resnet50"
) -> None:
    """Load ImageNet weights into `module`, adapting the first conv and skipping the 1000-class head."""
    target, _, first_conv = _pretrained_target(module, name, encoder)
    state = read_state_dict(path)
    own = target.state_dict()
    key = f"{first_conv}.weight"
    if key in state and state[key].ndim == 4 and state[key].shape[1] != in_channels:
        state[key] = adapt_first_conv(state[key], in_channels)
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(fitting) < 0.5 * len(own):
        raise WeightsError(
            f"{path}: only {len(fitting)} of {len(own)} tensors fit {name}; is it the right architecture?"
        )
    target.load_state_dict(fitting, strict=False)


def build_model(
    name: str,
    in_channels: int,
    *,
    weights: str = "auto",
    weights_dir: str | None = None,
    encoder: str = "resnet50",
) -> BuiltModel:
    """Build a registered model for `in_channels` inputs and two classes.

    `weights`: 'random', 'auto' (a local ImageNet file when one is found, else random) or a file path.
    """
    builders: dict[str, Callable[[], nn.Module]] = {
        **{m: (lambda m=m: _timm_model(m, in_channels)) for m in CLASSIFICATION_MODELS},
        **{m: (lambda m=m: _smp_model(m, in_channels, encoder)) for m in SEGMENTATION_MODELS},
    }
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(builders)}")
    module = builders[name]()
    source = "random"
    if weights != "random":
        if weights == "auto":
            _, weights_name, _ = _pretrained_target(module, name, encoder)
            path = find_weights(weights_name, weights_dir)
        else:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise WeightsError(f"{weights}: weights file not found")
        if path is not None:
            load_pretrained(module, name, path, in_channels, encoder)
            source = f"imagenet:{path}"
    return BuiltModel(module=module, task=task_of(name), weights=source)
