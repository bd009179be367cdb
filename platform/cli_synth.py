"""`hmc synth` and `hmc plot-pair`: write physics-based synthetic source products, and draw one pair."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hephaestus.platform.cli_common import config_option, maybe_print, print_config_option
from hephaestus.platform.config import resolve


def synth(
    out: Path = typer.Argument(..., help="output folder (new or empty)"),
    frames: int | None = typer.Option(None, "--frames", min=1, help="number of LiCSAR frames (default 2)"),
    pairs: int | None = typer.Option(
        None, "--pairs", min=1, help="interferogram pairs per frame (default 12)"
    ),
    size: tuple[int, int] | None = typer.Option(
        None, "--size", help="frame height and width in pixels (default 256 256)"
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="random seed (same seed, same bytes) (default 0)"
    ),
    positive_fraction: float | None = typer.Option(
        None,
        "--positive-fraction",
        min=0.0,
        max=1.0,
        help="share of pairs showing deformation (default 0.09, the real balance; ~0.3 for a smoke run)",
    ),
    config: Path | None = config_option("SynthConfig (every physics knob)"),
    print_config: bool = print_config_option(),
) -> None:
    """Write LiCSAR interferograms, ERA5 NetCDF and Hephaestus annotations in the real formats."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hephaestus.ingest.synthetic import SynthConfig, generate

    height, width = size if size is not None else (None, None)
    cfg = resolve(
        SynthConfig,
        config,
        frames=frames,
        pairs=pairs,
        seed=seed,
        positive_fraction=positive_fraction,
        height=height,
        width=width,
    )
    maybe_print(cfg, print_config)
    start = time.perf_counter()
    with Progress(
        TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("pairs", total=cfg.total_pairs)
        manifest = generate(cfg, out, progress=lambda done, total: bar.update(task, completed=done))
    seconds = time.perf_counter() - start
    typer.echo(
        f"wrote {len(manifest.frames)} frames, {manifest.pairs} pairs ({manifest.positives} positive, "
        f"{len(manifest.missing_products)} without product), {len(manifest.paths)} files to {out} "
        f"in {seconds:.1f} s"
    )


def plot_pair(
    sources: Path = typer.Argument(..., help="an `hmc synth` output folder"),
    unique_id: int = typer.Argument(..., help="uniqueID of the pair"),
    out: Path = typer.Option(Path("pair.png"), "--out", help="figure file (png, pdf, svg)"),
) -> None:
    """Draw a pair's phase, coherence and masks (paper Fig. 2 style)."""
    from hephaestus.ingest.synthetic.plot import SyntheticSources

    fig = SyntheticSources(sources).plot(unique_id)
    fig.savefig(out, dpi=120)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
    app.command("plot-pair")(plot_pair)
