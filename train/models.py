"""Model registry: the paper's classifiers (timm) and segmenters (segmentation-models-pytorch).

Every model takes the channel count of the run's input (3 or 9 per step, times the series length)
and predicts two classes (no deformation / deformation). `deeplabv3` is smp.DeepLabV3Plus, the model
the authors' code builds (the paper names it DeepLabv3; its Table 7 counts DeepLabV3+'s 26.7 M).

Pretrained weights never fall back silently: 'imagenet' finds a local file (`--weights-dir`,
HMC_WEIGHTS_DIR, the Hugging Face cache) or downloads it where the machine is online
(HF_HUB_OFFLINE=0), else fails naming the weights; 'random' must be asked for. Runs are reproducible
offline once the files are there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub unless the caller turns it off

import torch  # noqa: E402
from torch import nn  # noqa: E402

from hephaestus.platform.errors import InputError  # noqa: E402
from hephaestus.train.config import (  # noqa: E402
    CLASSIFICATION_MODELS,
    EXTRA_MODELS,
    SEGMENTATION_MODELS,
    RunConfig,
    Task,
    task_of,
)

NUM_CLASSES = 2
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
WEIGHTS_DIR_ENV = "HMC_WEIGHTS_DIR"


class WeightsError(InputError):
    """A weights file is missing, unreadable or does not fit the model: names the file."""


class MissingWeightsError(WeightsError):
    """ImageNet weights were asked for and no file holds them: names them and how to supply them."""


@dataclass(frozen=True)
class BuiltModel:
    """A model and where its initial weights came from ('imagenet:<path>', 'file:<path>' or 'random')."""

    module: nn.Module
    task: Task
    weights: str


def _timm_model(name: str, in_channels: int) -> nn.Module:
    import timm

    kwargs: dict[str, object] = {}
    if name.startswith("vit"):
        kwargs["dynamic_img_size"] = True  # 512 px crops on a 224 px architecture
    module = timm.create_model(
        name, pretrained=False, in_chans=in_channels, num_classes=NUM_CLASSES, **kwargs
    )
    zero_head(module.get_classifier())
    return module


def zero_head(head: nn.Module) -> None:
    """Start the new two-class head at zero logits (loss ln 2), whatever timm's init would draw.

    timm's EfficientNet/MobileNet init draws a Linear head from U(+-1/sqrt(fan_out)): sized for 1000
    ImageNet classes, it is U(+-0.71) for two, so an untrained MobileNetV3 starts with logits of std
    ~4 in training mode and ~19 in eval mode (BatchNorm at its initial running statistics): a first
    loss of 4 and validation losses near 10 that select a near-random epoch as the best. A zero head
    still learns (its gradient is the pooled features) and leaves the backbone's init untouched.
    """
    for module in head.modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            nn.init.zeros_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _smp_model(name: str, in_channels: int, encoder: str) -> nn.Module:
    import segmentation_models_pytorch as smp

    cls = {"unet": smp.Unet, "deeplabv3": smp.DeepLabV3Plus, "segformer": smp.Segformer}[name]
    return cls(encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=NUM_CLASSES)


def model_names() -> tuple[str, ...]:
    return CLASSIFICATION_MODELS + EXTRA_MODELS + SEGMENTATION_MODELS


def _architecture(name: str, in_channels: int, encoder: str) -> nn.Module:
    if name in SEGMENTATION_MODELS:
        return _smp_model(name, in_channels, encoder)
    if name in CLASSIFICATION_MODELS + EXTRA_MODELS:
        return _timm_model(name, in_channels)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}")


def count_parameters(name: str, in_channels: int, encoder: str = "resnet50") -> int:
    """Trainable parameters of a registered model (built on the meta device: no memory, no init)."""
    with torch.device("meta"):
        module = _architecture(name, in_channels, encoder)
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def weights_name(name: str, encoder: str = "resnet50") -> str:
    """The timm architecture whose ImageNet weights a model starts from (the encoder for segmenters)."""
    return encoder if task_of(name) == "segmentation" else name


def _pretrained_target(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    """(module that takes the ImageNet state dict, the key prefix of its first conv)."""
    if task_of(name) == "segmentation":
        return module.encoder, "conv1"  # type: ignore[return-value]
    cfg = getattr(module, "pretrained_cfg", {}) or {}
    return module, str(cfg.get("first_conv", "conv1"))


def hub_id(weights: str) -> str | None:
    """The Hugging Face repository of timm's default ImageNet weights for an architecture."""
    try:
        import timm

        cfg = timm.models.get_pretrained_cfg(weights)
    except Exception:  # not a timm architecture
        return None
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def hub_online() -> bool:
    """Downloads only where the caller said the machine is online (HF_HUB_OFFLINE=0)."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() in ("0", "false", "no", "off")


def find_weights(weights: str, weights_dir: str | None = None) -> Path | None:
    """A local ImageNet weights file for a timm architecture: `weights_dir` first, then the HF hub cache."""
    for folder in (weights_dir, os.environ.get(WEIGHTS_DIR_ENV)):
        if not folder:
            continue
        for suffix in WEIGHT_SUFFIXES:
            candidate = Path(folder).expanduser() / f"{weights}{suffix}"
            if candidate.is_file():
                return candidate
    repo = hub_id(weights)
    if repo is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(repo, filename)
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None


def _download(weights: str) -> Path | None:
    repo = hub_id(weights)
    if repo is None or not hub_online():
        return None
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, "model.safetensors"))
    except Exception as exc:
        raise MissingWeightsError(f"ImageNet weights {weights}: download from {repo} failed ({exc})") from exc


def _how_to_supply(missing: dict[str, str | None], weights_dir: str | None) -> str:
    searched = ", ".join(f"{folder}" for folder in (weights_dir, os.environ.get(WEIGHTS_DIR_ENV)) if folder)
    names = "; ".join(f"{w} (hub {repo or 'none'})" for w, repo in missing.items())
    return (
        f"missing ImageNet weights: {names}; searched {searched or 'no --weights-dir'} and the Hugging Face "
        f"cache. Supply them: put <name>.safetensors (or .pth/.pt/.bin, a state dict of tensors) in a folder "
        f"and pass --weights-dir DIR (or set {WEIGHTS_DIR_ENV}); or, where the machine is online, set "
        f"HF_HUB_OFFLINE=0 to download them into the cache; or pass --weights random to train from scratch "
        f"(recorded as 'random')"
    )


def resolve_weights(
    name: str, weights: str = "imagenet", weights_dir: str | None = None, encoder: str = "resnet50"
) -> tuple[str, Path | None]:
    """(kind, file) of a run's initial weights: ('random', None), ('imagenet', path) or ('file', path).

    Raises MissingWeightsError when ImageNet weights are asked for and none can be found or downloaded.
    """
    if weights == "random":
        return "random", None
    if weights == "imagenet":
        wname = weights_name(name, encoder)
        path = find_weights(wname, weights_dir) or _download(wname)
        if path is None:
            raise MissingWeightsError(f"{name}: " + _how_to_supply({wname: hub_id(wname)}, weights_dir))
        return "imagenet", path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"{weights}: weights file not found")
    return "file", path


def require_weights(runs: Iterable[RunConfig]) -> None:
    """Fail before any training when a run needs ImageNet weights that are not here, naming all of them."""
    missing: dict[str, str | None] = {}
    weights_dir = None
    for run in runs:
        if run.weights != "imagenet":
            resolve_weights(run.model, run.weights, run.weights_dir, run.encoder)  # a named file must exist
            continue
        wname = weights_name(run.model, run.encoder)
        if wname not in missing and find_weights(wname, run.weights_dir) is None and _download(wname) is None:
            missing[wname] = hub_id(wname)
            weights_dir = weights_dir or run.weights_dir
    if missing:
        raise MissingWeightsError(_how_to_supply(missing, weights_dir))


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


def load_pretrained(module: nn.Module, name: str, path: str | os.PathLike[str], in_channels: int) -> None:
    """Load ImageNet weights into `module`, adapting the first conv and skipping the 1000-class head."""
    target, first_conv = _pretrained_target(module, name)
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
    weights: str = "imagenet",
    weights_dir: str | None = None,
    encoder: str = "resnet50",
) -> BuiltModel:
    """Build a registered model for `in_channels` inputs and two classes.

    `weights`: 'imagenet' (a local or downloadable file, else MissingWeightsError), 'random' or a file path.
    """
    kind, path = resolve_weights(name, weights, weights_dir, encoder)
    module = _architecture(name, in_channels, encoder)
    if path is not None:
        load_pretrained(module, name, path, in_channels)
    source = "random" if path is None else f"{kind}:{path}"
    return BuiltModel(module=module, task=task_of(name), weights=source)
