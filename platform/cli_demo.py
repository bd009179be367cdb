"""`hmc demo`: the main job end to end on the embedded synthetic default, as the commands a user would type."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer
from pydantic import Field

from hephaestus.platform.annotation import iter_raw, parse_file
from hephaestus.platform.config import Config
from hephaestus.platform.schema import NEGATIVE_LABEL


class DemoConfig(Config):
    """Sizes of the demo: small enough for 2 CPU cores, large enough for every split and both tasks."""

    frames: int = Field(2, ge=1)
    pairs: int = Field(30, ge=4, description="pairs per frame")
    height: int = Field(192, ge=64)
    width: int = Field(192, ge=64)
    seed: int = 0
    positive_fraction: float = Field(
        0.3, gt=0, le=1, description="above the real 9% so that a smoke run sees positives in every split"
    )
    grid: str = "smoke"


def demo_steps(root: Path, cfg: DemoConfig) -> list[list[str]]:
    """The `hmc` command lines of the demo, in order (the pair figure is added once sources exist)."""
    sources, store, results = root / "sources", root / "store", root / "results"
    steps: list[list[str]] = []
    if not (sources / "annotations").is_dir():
        steps.append(
            ["synth", str(sources), "--frames", str(cfg.frames), "--pairs", str(cfg.pairs),
             "--positive-fraction", str(cfg.positive_fraction),
             "--size", str(cfg.height), str(cfg.width), "--seed", str(cfg.seed)]
        )  # fmt: skip
    steps += [
        ["ingest", str(sources), "--out", str(store)],
        ["catalog", "build", str(store)],
        ["benchmark", str(store), "--grid", cfg.grid, "--out", str(results)],
    ]
    return steps


def first_positive(annotations: Path) -> int | None:
    """uniqueID of the first annotated deformation (in uniqueID order), for the figure of one pair.

    The files are read by the platform's annotation model: a bad file fails here with the same
    AnnotationError (and message) as in ingest and the catalog.
    """
    parsed = [a for raw in iter_raw(str(annotations)) for a in parse_file(raw)]
    positives = [a.unique_id for a in parsed if any(label != NEGATIVE_LABEL for label in a.labels)]
    return min(positives, default=None)


def demo(
    out: Path = typer.Argument(Path("demo"), help="folder for sources/, store/, results/ and figures/"),
    frames: int = typer.Option(DemoConfig().frames, "--frames", min=1),
    pairs: int = typer.Option(DemoConfig().pairs, "--pairs", min=4),
    seed: int = typer.Option(DemoConfig().seed, "--seed", min=0),
    grid: str = typer.Option(DemoConfig().grid, "--grid", help="smoke (minutes on 2 cores) or paper"),
) -> None:
    """Synthesize sources, ingest, catalog, train the smoke grid and print the results tables."""
    from hephaestus.platform.cli import app
    from hephaestus.platform.ray_session import ray_session

    cfg = DemoConfig.build(frames=frames, pairs=pairs, seed=seed, grid=grid)
    out = out.resolve()
    t0 = time.perf_counter()
    with ray_session():
        steps = demo_steps(out, cfg)
        for i, argv in enumerate(steps, 1):
            typer.secho(f"\n[{i}/{len(steps)}] hmc {shlex.join(argv)}", bold=True)
            app(argv, standalone_mode=False)
            if argv[0] == "synth":
                uid = first_positive(out / "sources" / "annotations")
                if uid is not None:
                    figure = [
                        "plot-pair",
                        str(out / "sources"),
                        str(uid),
                        "--out",
                        str(out / "figures" / "pair.png"),
                    ]
                    (out / "figures").mkdir(parents=True, exist_ok=True)
                    typer.secho(f"      hmc {shlex.join(figure)}", bold=True)
                    app(figure, standalone_mode=False)
    typer.secho(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; outputs under {out}", fg="green")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
