"""Typed configuration of one training run and of a benchmark grid (paper section 4, appendix B)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from hephaestus.platform.config import Config
from hephaestus.platform.dataspec import DataSpec

Task = Literal["classification", "segmentation"]
LossName = Literal["auto", "ce", "focal"]
RecipeName = Literal["auto", "paper", "from-scratch"]

RECIPE_LR: dict[str, float] = {"paper": 1e-5, "from-scratch": 2e-3}
"""AdamW learning rate of each recipe. The paper's 1e-5 fine-tunes ImageNet weights; from random weights it
leaves MobileNetV3 at chance after 15 epochs (train loss 0.693, issue 23), while 2e-3 learns within a few
hundred steps (the demo's classifier and segmenter)."""

# In the row order of the paper's Tables 3 and 4.
CLASSIFICATION_MODELS: tuple[str, ...] = (
    "resnet50",
    "mobilenetv3_large_100",
    "tf_efficientnetv2_s",
    "convnext_small",
    "vit_small_patch16_224",
)
SEGMENTATION_MODELS: tuple[str, ...] = ("deeplabv3", "unet", "segformer")
"""`deeplabv3` builds smp.DeepLabV3Plus, as the authors' code does (the paper calls it DeepLabv3)."""
PAPER_MODELS: tuple[str, ...] = CLASSIFICATION_MODELS + SEGMENTATION_MODELS
EXTRA_MODELS: tuple[str, ...] = ("convnext_base",)
"""Offered beside the paper's models: the paper's text says ConvNeXt-Small, its Table 6 counts Base."""
PAPER_NAMES: dict[str, str] = {
    "resnet50": "ResNet-50",
    "mobilenetv3_large_100": "MobileNetV3",
    "tf_efficientnetv2_s": "EfficientNetV2",
    "convnext_small": "ConvNeXt",
    "convnext_base": "ConvNeXt-Base",
    "vit_small_patch16_224": "ViT",
    "deeplabv3": "DeepLabv3",
    "unet": "UNet",
    "segformer": "SegFormer",
}
"""The names the paper's tables print, in their row order."""
PREFETCH_BATCHES = 4
"""Batches each loader worker keeps ready by default (DataLoader's prefetch_factor; torch's default is 2)."""
AUTHORS_SCRATCH_MODELS: tuple[str, ...] = ("tf_efficientnetv2_s",)
"""Trained from random weights in the authors' code (the paper's text says every model is pretrained)."""
AUTHORS_FOCAL_ALPHA = 0.25
"""The authors' FocalLoss alpha: the weight of class 0 (background); class 1 (deformation) gets 1 - alpha."""
DEFORMATION_WEIGHT = 1.0 - AUTHORS_FOCAL_ALPHA
FOCAL_GAMMA = 2.0


def weights_kind(recorded: object) -> str:
    """'imagenet', 'file' or 'random' from a run's recorded weights ('imagenet:<path>', ...), else 'unknown'.

    Runs of different kinds are never averaged together in the tables.
    """
    text = str(recorded) if recorded is not None else ""
    kind = text.split(":", 1)[0]
    return kind if kind in ("imagenet", "file", "random") else "unknown"


def task_of(model: str) -> Task:
    """Classification for timm backbones, segmentation for the smp decoders."""
    if model in SEGMENTATION_MODELS:
        return "segmentation"
    return "classification"


class RunConfig(DataSpec):
    """One training run: model x setup (single/series) x atmosphere x seed, with the paper's optimiser.

    The data settings are the `DataSpec` it extends (flat in YAML: `crop_size: 64`, not nested).
    """

    model: str = "resnet50"
    """Architecture: a timm classifier (resnet50, mobilenetv3_large_100, ...) or an smp segmenter (unet, ...)."""
    encoder: str = "resnet50"
    """Encoder of the segmentation models (the paper: ResNet-50)."""
    epochs: int = Field(90, ge=1)
    """Training epochs (the paper: 90); the best validation epoch's weights meet the test split."""
    batch_size: int = Field(16, ge=1)
    """Samples per batch and Ray Train worker."""
    workers: int | tuple[int, int] = 1
    """Ray Train workers: a count, or an elastic (min, max)."""
    cpus_per_worker: float = Field(0.9, gt=0)
    lr: float | None = Field(None, gt=0)
    """AdamW learning rate; unset: the recipe's (1e-5 the paper's fine-tuning, 2e-3 from scratch)."""
    recipe: RecipeName = "auto"
    """Defaults for settings left unset: "paper" (lr 1e-5, fine-tuning ImageNet weights), "from-scratch"
    (lr 2e-3: the paper's rate leaves random weights at chance), "auto": from-scratch for random weights."""
    weight_decay: float = Field(1e-2, ge=0)
    loss: LossName = "auto"
    """auto: cross-entropy for classifiers (focal for ViT), focal for segmentation, as in the paper."""
    focal_deformation_weight: float = Field(DEFORMATION_WEIGHT, ge=0, le=1)
    """Focal class weight of the deformation class; the background gets 1 minus it. The authors'
    FocalLoss(alpha=0.25) weighs classes [alpha, 1 - alpha] by target: deformation 0.75."""
    focal_gamma: float = Field(FOCAL_GAMMA, ge=0)
    weights: str = "imagenet"
    """'imagenet' (a file in `weights_dir`/HMC_WEIGHTS_DIR or the hub cache; missing fails the run
    before it starts), 'random' (from scratch, recorded as such) or the path of a weights file."""
    weights_dir: str | None = None
    """Folder with <architecture>.safetensors/.pth ImageNet weights (else HMC_WEIGHTS_DIR, HF cache)."""
    amp: bool = True
    """bf16 autocast on CUDA workers (no effect on CPU)."""
    max_failures: int = Field(1, ge=-1)
    num_to_keep: int = Field(2, ge=1)
    loader_workers: Annotated[int, Field(ge=0)] | Literal["auto"] = "auto"
    """DataLoader worker processes per Ray Train worker: "auto" chooses from the node's cores and
    the device (`hephaestus.train.data.loader.plan_loader`); 0 loads in the training process."""
    prefetch_factor: int = Field(PREFETCH_BATCHES, ge=1)
    """Batches each loader worker keeps ready. Workers x prefetch_factor batches sit in shared memory
    (/dev/shm) at once: a run whose batches cannot fit there is refused before its workers start."""
    channels_last: bool = False
    """Model and input batches in channels-last memory order (NHWC). Off by default: it only pays where
    the convolution kernels prefer it (tensor cores under bf16), which a GPU measurement decides
    (tests/benchmarks/gpu_checks.py); on CPU it changes the kernels and their rounding."""
    cudnn_benchmark: bool = True
    """CUDA: let cuDNN time its convolution algorithms on the first batch of each shape and keep the
    fastest; the crops have one fixed size, so it times once (no effect on CPU)."""
    max_train_batches: int | None = Field(None, ge=1)
    """Cap on training batches per epoch and worker (smoke runs); None trains on the whole epoch."""
    max_eval_batches: int | None = Field(None, ge=1)
    alert_rate: float | None = Field(0.5, ge=0)
    """Classifiers: after training, the score threshold is calibrated on the validation pairs scored
    whole-frame (as the monitor scores) for this many false alerts per volcano-year, and stored in the
    checkpoint (`input.json`: threshold, threshold_false_alerts_per_volcano_year); None: not calibrated."""
    select_by: Literal["auto", "val_loss", "val_frame_auroc"] = "auto"
    """Which epoch's weights the run keeps: "val_loss" (the lowest validation loss, the paper's),
    "val_frame_auroc" (the highest AUROC of validation pairs scored whole-frame, as the monitor scores
    them), "auto": the latter for classifiers trained on frame windows (monitoring), else the former."""
    frame_val_pairs: int = Field(48, ge=2)
    """val_frame_auroc: the most validation pairs scored whole-frame (an evenly spaced subset)."""
    frame_val_every: int = Field(1, ge=1)
    """val_frame_auroc: score them every this many epochs (and after the last); only those epochs can be
    kept. Whole-frame scoring of large frames costs more than a training epoch on a CPU."""
    ray_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    """Ray Train's own console logs (per-report lines at INFO); the run's epoch lines always print."""
    mlflow_tracking_uri: str | None = None
    """MLflow tracking (train/tracking.py): None logs to RESULTS/mlruns when the results are local
    (nothing for object-store results), "off" (or false) logs nothing, any other value is the tracking URI
    (http://HOST:5000, sqlite:///mlflow.db, ...). Credentials go in MLflow's environment variables
    (MLFLOW_TRACKING_TOKEN, ...), never in the URI: a run given a URI with user info or a query
    refuses to start (train/tracking.py), so no record or parameter ever holds them."""

    @field_validator("mlflow_tracking_uri", mode="before")
    @classmethod
    def _mlflow_off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` (or `false`) as False

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        if isinstance(value, tuple):
            lo, hi = value
            if not 1 <= lo <= hi:
                raise ValueError(f"elastic workers need 1 <= min <= max, got {value}")
        elif value < 1:
            raise ValueError(f"workers must be >= 1, got {value}")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        known = CLASSIFICATION_MODELS + EXTRA_MODELS + SEGMENTATION_MODELS
        if value not in known:
            raise ValueError(f"unknown model {value!r}; known: {', '.join(known)}")
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value == "auto":
            raise ValueError(
                "weights 'auto' is gone (it fell back to random weights silently): "
                "give 'imagenet' (fails when the file is missing) or 'random'"
            )
        return value

    @property
    def task(self) -> Task:
        return task_of(self.model)

    @property
    def resolved_recipe(self) -> Literal["paper", "from-scratch"]:
        """The recipe the run follows: "auto" is from-scratch for random weights, else the paper's."""
        if self.recipe != "auto":
            return self.recipe
        return "from-scratch" if self.weights == "random" else "paper"

    @property
    def selection(self) -> Literal["val_loss", "val_frame_auroc"]:
        """How the run chooses its epoch: `select_by` with "auto" resolved."""
        if self.select_by != "auto":
            return self.select_by
        monitoring = self.task == "classification" and self.windows == "frame"
        return "val_frame_auroc" if monitoring else "val_loss"

    @property
    def learning_rate(self) -> float:
        """The AdamW learning rate the run uses: the one given, else its recipe's."""
        return self.lr if self.lr is not None else RECIPE_LR[self.resolved_recipe]

    def recorded(self) -> dict[str, Any]:
        """The settings as the run uses them (JSON values), for results, MLflow and plans: the learning
        rate and recipe resolved, so a record never says "auto" or leaves the rate out."""
        values = self.model_dump(mode="json")
        values["lr"] = self.learning_rate
        values["recipe"] = self.resolved_recipe
        values["select_by"] = self.selection
        return values

    @property
    def loss_name(self) -> Literal["ce", "focal"]:
        if self.loss != "auto":
            return self.loss
        if self.task == "segmentation" or self.model.startswith("vit"):
            return "focal"
        return "ce"

    @property
    def setup(self) -> str:
        return "series" if self.series else "single"

    @property
    def run_id(self) -> str:
        """Stable id, e.g. resnet50-single-atm-s0 (the grid's skip key).

        Runs that do not start from ImageNet weights say so (`-random`, `-file`), and so do runs trained on
        frame windows (`-frame`), with synthetic positives (`-synth50` for a share of 0.5) or split by
        volcano (`-volcano`), so a grid re-run with other settings never takes their results for its own.
        """
        atm = "atm" if self.atmosphere else "noatm"
        kind = "" if self.weights == "imagenet" else ("-random" if self.weights == "random" else "-file")
        # runs that differ from the paper's protocol in what they train on or are split by say so too
        scheme = "" if self.split_scheme == "paper" else f"-{self.split_scheme}"
        windows = "" if self.windows == "centred" else f"-{self.windows}"
        synth = f"-synth{round(100 * self.synthetic_positives)}" if self.synthetic_positives else ""
        return f"{self.model}-{self.setup}-{atm}-s{self.seed}{kind}{windows}{synth}{scheme}"


class GridConfig(Config):
    """A benchmark grid: models x setups x atmosphere x seeds, every run sharing `base`."""

    name: str = "paper"
    models: tuple[str, ...] = PAPER_MODELS
    series: tuple[bool, ...] = (False, True)
    atmosphere: tuple[bool, ...] = (True, False)
    seeds: tuple[int, ...] = (0, 1, 2)
    base: RunConfig = RunConfig()
    weights_by_model: dict[str, str] = {}
    """Per-model initial weights that differ from `base.weights` (the paper grid: EfficientNetV2 random)."""

    def runs(self) -> list[RunConfig]:
        """Every run of the grid in a stable order (the paper's row order)."""
        base = self.base.model_dump()
        out = []
        for model in self.models:
            weights = self.weights_by_model.get(model, self.base.weights)
            for series in self.series:
                for atm in self.atmosphere:
                    for seed in self.seeds:
                        values = {"model": model, "series": series, "atmosphere": atm, "seed": seed}
                        out.append(RunConfig(**{**base, **values, "weights": weights}))
        return out

    def with_models(self, models: tuple[str, ...] | None) -> GridConfig:
        """The same grid over other models (e.g. `convnext_base` instead of `convnext_small`), validated."""
        if not models:
            return self
        for model in models:
            RunConfig(**{**self.base.model_dump(), "model": model})
        return self.model_copy(update={"models": tuple(models)})

    def with_base(self, **changes: object) -> GridConfig:
        """The same grid with some run settings changed (CLI flags: epochs, workers, weights).

        A `weights` change applies to every run, per-model choices included.
        """
        values = {k: v for k, v in changes.items() if v is not None}
        update: dict[str, object] = {"base": RunConfig(**{**self.base.model_dump(), **values})}
        if "weights" in values:
            update["weights_by_model"] = {}
        return self.model_copy(update=update)


def paper_grid() -> GridConfig:
    """The paper's grid: 8 models x {single, series} x {with, without atmosphere} x 3 seeds, 90 epochs.

    ImageNet weights as the paper says, except EfficientNetV2, which the authors' code trains from scratch.
    """
    return GridConfig(
        name="paper",
        base=RunConfig(
            epochs=90, crop_size=512, max_offset=128, batch_size=16, weights="imagenet", recipe="paper"
        ),
        weights_by_model={m: "random" for m in AUTHORS_SCRATCH_MODELS},
    )


def smoke_grid() -> GridConfig:
    """A few-minute grid on 2 CPU cores that still runs both tasks, both setups and both channel sets."""
    base = RunConfig(
        epochs=2,
        crop_size=64,
        max_offset=16,
        batch_size=8,
        encoder="resnet18",
        augment=False,
        lr=3e-4,
        max_train_batches=6,
        max_eval_batches=4,
        workers=1,
        weights="random",
        num_to_keep=1,
    )
    return GridConfig(
        name="smoke",
        models=("mobilenetv3_large_100", "unet"),
        series=(False, True),
        atmosphere=(True, False),
        seeds=(0,),
        base=base,
    )


def demo_grid() -> GridConfig:
    """The embedded demo: one classifier and one segmenter from scratch, long enough to learn on 2 cores.

    Why these settings: random-init MobileNetV3 and a ResNet-18 UNet need a from-scratch learning rate
    (2e-3; the paper's 1e-5 fine-tunes ImageNet weights) and a few hundred optimizer steps (20 epochs of
    ~14 undersampled batches); 64 px crops keep a step near a quarter second per core. Single timesteps,
    with and without the atmospheric channels.
    """
    base = RunConfig(
        epochs=20,
        crop_size=64,
        max_offset=16,
        batch_size=16,
        encoder="resnet18",
        augment=False,
        lr=2e-3,
        workers=1,
        weights="random",
        num_to_keep=1,
    )
    return GridConfig(
        name="demo",
        models=("mobilenetv3_large_100", "unet"),
        series=(False,),
        atmosphere=(False, True),
        seeds=(0,),
        base=base,
    )


def replay_grid() -> GridConfig:
    """The replay demo's monitor: one classifier trained for what the monitor scores (issue 23).

    The demo grid's classifier settings with training windows anywhere in the frame (`windows: frame`,
    labels from what a window holds), no atmosphere (the monitor's default input), and at most 14
    batches an epoch so that the demo stays within minutes on 2 cores whatever the twin's split holds.
    """
    base = demo_grid().base.model_copy(update={"windows": "frame", "max_train_batches": 14})
    return GridConfig(
        name="replay",
        models=("mobilenetv3_large_100",),
        series=(False,),
        atmosphere=(False,),
        seeds=(0,),
        base=base,
    )


GRIDS = {"paper": paper_grid, "smoke": smoke_grid, "demo": demo_grid, "replay": replay_grid}


def grid_preset(name: str) -> GridConfig:
    try:
        return GRIDS[name]()
    except KeyError:
        raise ValueError(f"unknown grid {name!r}; known: {sorted(GRIDS)}") from None
