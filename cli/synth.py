"""`hmc synth` and `hmc plot-pair`: write physics-based synthetic source products, and draw one pair."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hephaestus.cli.common import (
    config_option,
    maybe_print,
    normalise_url,
    print_config_option,
    resolve_config,
    set_option,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hephaestus.ingest.synthetic import SynthConfig
    from hephaestus.platform.annotation import Annotation


def synth(
    out: Path = typer.Argument(..., help="output folder (new or empty)", callback=normalise_url),
    frames: str | None = typer.Option(
        None, "--frames", help="number of LiCSAR frames (default 2); with --twin: F1,F2,... or all"
    ),
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
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
    twin: Path | None = typer.Option(
        None,
        "--twin",
        help="real annotations (annotations.tar.gz): write the twin of the real frames, one pair per "
        "annotation (quality_timeseries.json and frame_names.json beside it, ../volcanoes/gvp_holocene.csv)",
        callback=normalise_url,
    ),
    scale: float = typer.Option(
        0.1, "--scale", min=0.001, max=1.0, help="with --twin: grid and polygons shrink by this factor"
    ),
    max_baseline: int | None = typer.Option(
        None, "--max-baseline", min=1, help="with --twin: only pairs of at most this many days"
    ),
    until: datetime | None = typer.Option(
        None,
        "--until",
        formats=["%Y-%m-%d"],
        help="a simulated feed: write only the products acquired up to this date (YYYY-MM-DD); run again "
        "with a later date (same settings) to release the products acquired since",
    ),
) -> None:
    """Write LiCSAR interferograms, ERA5 NetCDF and Hephaestus annotations in the real formats."""
    from hephaestus.ingest.synthetic import SynthConfig
    from hephaestus.platform.errors import InputError

    if twin is not None:
        write_twin(out, twin, frames, scale, seed or 0, max_baseline, until.date() if until else None)
        return
    if max_baseline is not None:
        raise InputError("--max-baseline selects the twin's pairs; it goes with --twin")
    if frames is not None and not frames.isdigit():
        raise InputError(f"--frames {frames!r}: a number of frames (frame ids go with --twin)")

    height, width = size if size is not None else (None, None)
    cfg = resolve_config(
        SynthConfig,
        config,
        sets,
        frames=int(frames) if frames is not None else None,
        pairs=pairs,
        seed=seed,
        positive_fraction=positive_fraction,
        height=height,
        width=width,
    )
    maybe_print(cfg, print_config)
    write_sources(cfg, out, until.date() if until is not None else None)


def write_sources(cfg: SynthConfig, out: Path, until: date | None = None) -> None:
    """Generate `cfg`'s sources into `out` (all dates, or a feed released up to `until`) with a progress bar
    and a one-line summary: what `hmc synth` runs once its configuration is resolved."""
    from hephaestus.cli.progress import progress_bar
    from hephaestus.ingest.synthetic import generate

    start = time.perf_counter()
    with progress_bar(transient=True) as bar:
        task = bar.add_task("synth pairs", total=cfg.total_pairs)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if until is not None:
            from hephaestus.ingest.synthetic.release import release

            manifest = release(cfg, out, until, progress=progress)
        else:
            manifest = generate(cfg, out, progress=progress)
    seconds = time.perf_counter() - start
    if until is not None:
        typer.echo(
            f"released {manifest.pairs} pairs acquired up to {until} ({manifest.positives} positive), "
            f"{len(manifest.paths)} new files in {out} in {seconds:.1f} s"
        )
        return
    typer.echo(
        f"wrote {len(manifest.frames)} frames, {manifest.pairs} pairs ({manifest.positives} positive, "
        f"{len(manifest.missing_products)} without product), {len(manifest.paths)} files to {out} "
        f"in {seconds:.1f} s"
    )


def write_twin(
    out: Path,
    annotations: Path,
    frames: str | None,
    scale: float,
    seed: int,
    max_baseline: int | None = None,
    until: date | None = None,
    records: Sequence[Annotation] | None = None,
) -> None:
    """Write (or release up to `until`) the twin of `frames` (F1,F2,... or all) with a one-line summary:
    what `hmc synth --twin` runs (`records`: the annotations already parsed, for a caller that releases
    many times)."""
    from hephaestus.ingest.synthetic.twin import generate_twin

    wanted = None if frames in (None, "all") else [f.strip() for f in frames.split(",") if f.strip()]
    start = time.perf_counter()
    manifest = generate_twin(
        annotations, out, frames_wanted=wanted, scale=scale, seed=seed, max_baseline_days=max_baseline,
        until=until, records=records,
    )  # fmt: skip
    done = f"released the pairs acquired up to {until}: " if until else "wrote the twin of "
    typer.echo(
        f"{done}{len(manifest.frames)} frames, {manifest.pairs} pairs ({manifest.positives} "
        f"positive, {len(manifest.missing_products)} without product), {len(manifest.paths)} files to {out} "
        f"in {time.perf_counter() - start:.1f} s"
    )


def plot_pair(
    sources: Path = typer.Argument(..., help="an `hmc synth` output folder", callback=normalise_url),
    unique_id: int = typer.Argument(..., help="uniqueID of the pair"),
    out: Path = typer.Option(
        Path("pair.png"), "--out", help="figure file (png, pdf, svg)", callback=normalise_url
    ),
    real: Path | None = typer.Option(
        None,
        "--real",
        help="real annotations (a twin's source): draw the pair beside its real polygons",
        callback=normalise_url,
    ),
) -> None:
    """Draw a pair's phase, coherence and masks (paper Fig. 2 style), or a twin pair beside its real
    annotation (--real)."""
    draw_pair(sources, unique_id, out, real)


def draw_pair(sources: Path, unique_id: int, out: Path, real: Path | None = None) -> None:
    """Draw pair `unique_id` of `sources` (beside its real annotation with `real`) into the figure `out`."""
    from hephaestus.ingest.synthetic.plot import SyntheticSources, plot_twin

    if real is not None:
        from hephaestus.ingest.synthetic.twin import real_record

        fig = plot_twin(sources, unique_id, real_record(real, unique_id))
    else:
        fig = SyntheticSources(sources).plot(unique_id)
    fig.savefig(out, dpi=120)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
    app.command("plot-pair")(plot_pair)
