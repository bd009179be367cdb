"""`hmc demo`: the main job end to end on the embedded synthetic default.

The demo is composed from the stage functions the commands run (`write_sources`, `build_cubes`,
`publish_catalog`, `train_grid`, `watch`, `write_dashboard`), called with typed configurations; each step
prints the `hmc` command line a user would type for the same step.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from pydantic import Field

from hephaestus.cli.common import (
    config_option,
    maybe_print,
    print_config_option,
    resolve_config,
    set_option,
)
from hephaestus.cli.demo_steps import Step
from hephaestus.platform.annotation import iter_raw, parse_file
from hephaestus.platform.config import Config
from hephaestus.platform.errors import InputError
from hephaestus.platform.schema import NEGATIVE_LABEL
from hephaestus.platform.shared_data import DEFAULT_ANNOTATIONS

if TYPE_CHECKING:
    from hephaestus.ingest.synthetic import SynthConfig


class DemoConfig(Config):
    """What the demo runs, in minutes on 2 CPU cores.

    `story: replay` (default): the twin of real frames replays their later years through the monitor
    (cli/demo_replay.py). Sierra Negra's frame 106A_09090_000404 (with Cerro Azul: unrest 2017-2021) and
    Piton de la Fournaise's 144A_SM_REUN_S6 (eruptions every year), pairs of at most 24 days (what a
    monitor sees first), at a tenth of the real grid: ~720 pairs, ~420 of them before 2020 to train on.

    `story: generator`: the embedded physics generator's frames (2 frames x 300 pairs: ~300 usable
    training pairs and ~150 test pairs; at 128 px a frame still holds a 64 px crop with the deformation
    and its surroundings), the demo grid, and one monitoring cycle over the feed's last dates.
    """

    story: Literal["replay", "generator"] = "replay"
    annotations: Path = Field(DEFAULT_ANNOTATIONS, description="the real annotations the twin replays")
    twin_frames: tuple[str, ...] = ("106A_09090_000404", "144A_SM_REUN_S6")
    scale: float = Field(0.1, gt=0, le=1, description="the twin's grid: this share of the real frame")
    max_baseline_days: int = Field(24, ge=1, description="the twin's pairs: temporal baseline at most")
    replay_from: dt.date = Field(
        dt.date(2020, 1, 1), description="trained on the pairs before (the paper's train and val years)"
    )
    replay_until: dt.date = dt.date(2021, 12, 31)
    cycle_months: int = Field(3, ge=1, le=24, description="one monitoring cycle per this many months")

    frames: int = Field(2, ge=1)
    pairs: int = Field(300, ge=4, description="pairs per frame")
    height: int = Field(128, ge=64)
    width: int = Field(128, ge=64)
    seed: int = 0
    positive_fraction: float = Field(
        0.3, gt=0, le=1, description="above the real 9% so that every split holds enough positives"
    )
    grid: str = "demo"
    monitor_dates: int = Field(
        4,
        ge=0,
        description="the feed's last acquisition dates: held back while training, then released and "
        "scored by one monitoring cycle (0: no monitoring)",
    )


def synth_config(cfg: DemoConfig) -> SynthConfig:
    """The generator settings of the demo's sources."""
    from hephaestus.ingest.synthetic import SynthConfig

    return SynthConfig(
        frames=cfg.frames, pairs=cfg.pairs, height=cfg.height, width=cfg.width, seed=cfg.seed,
        positive_fraction=cfg.positive_fraction,
    )  # fmt: skip


def synth_step(sources: Path, cfg: DemoConfig, until: dt.date | None) -> Step:
    """`hmc synth` of the demo's sources, all dates or released up to `until`."""
    from hephaestus.cli.synth import write_sources

    argv = ["synth", str(sources), "--frames", str(cfg.frames), "--pairs", str(cfg.pairs),
            "--positive-fraction", str(cfg.positive_fraction),
            "--size", str(cfg.height), str(cfg.width), "--seed", str(cfg.seed)]  # fmt: skip
    if until is not None:
        argv += ["--until", until.isoformat()]
    synth = synth_config(cfg)
    return Step(argv, lambda: write_sources(synth, sources, until), synth)


def feed_dates(cfg: DemoConfig) -> tuple[dt.date, dt.date] | None:
    """(the date the training sources are released up to, the feed's last date), None without monitoring.

    The demo's sources are a simulated feed (`hmc synth --until`): products acquired after the first
    date arrive later, for the monitoring cycle at the end.
    """
    from hephaestus.ingest.synthetic.release import release_dates

    dates = release_dates(synth_config(cfg))
    if cfg.monitor_dates == 0 or len(dates) <= cfg.monitor_dates:
        return None
    return dates[-cfg.monitor_dates - 1], dates[-1]


def demo_steps(root: Path, cfg: DemoConfig) -> list[Step]:
    """The demo's steps up to training, in order (the pair figure is added once sources exist)."""
    from hephaestus.catalog import CatalogConfig
    from hephaestus.cli.catalog import publish_catalog
    from hephaestus.cli.ingest import build_cubes
    from hephaestus.cli.train import train_grid
    from hephaestus.ingest import IngestConfig
    from hephaestus.train.config import GRIDS, grid_preset

    if cfg.grid not in GRIDS:
        raise InputError(f"grid: unknown grid {cfg.grid!r}; known: {sorted(GRIDS)}")
    sources, store, results = root / "sources", str(root / "store"), str(root / "results")
    steps: list[Step] = []
    if not (sources / "annotations").is_dir():
        feed = feed_dates(cfg)
        steps.append(synth_step(sources, cfg, feed[0] if feed else None))
    ingest, catalog, grid = (
        IngestConfig(sources=str(sources), out=store),
        CatalogConfig(),
        grid_preset(cfg.grid),
    )
    steps += [
        Step(["ingest", str(sources), "--out", store], lambda: build_cubes(ingest), ingest),
        Step(["catalog", "build", store], lambda: publish_catalog(store, catalog), catalog),
        Step(
            ["benchmark", store, "--grid", cfg.grid, "--out", results],
            lambda: train_grid(store, grid, results),
            grid,
        ),
    ]
    return steps


def pair_figure_step(root: Path) -> Step | None:
    """`hmc plot-pair` of the first annotated deformation of the demo's sources (None if there is none)."""
    from hephaestus.cli.synth import draw_pair

    sources, figure = root / "sources", root / "figures" / "pair.png"
    uid = first_positive(sources / "annotations")
    if uid is None:
        return None

    def draw() -> None:
        figure.parent.mkdir(parents=True, exist_ok=True)
        draw_pair(sources, uid, figure)

    return Step(["plot-pair", str(sources), str(uid), "--out", str(figure)], draw)


def monitor_steps(root: Path, cfg: DemoConfig, checkpoints: list[str]) -> list[Step]:
    """The monitoring end of the demo: release the held-back dates, one monitoring cycle with the
    demo's best checkpoints, then the dashboard of the store."""
    from hephaestus.cli.monitor import watch
    from hephaestus.ingest.synthetic.release import RECORD
    from hephaestus.monitor.config import MonitorConfig

    feed = feed_dates(cfg)
    if feed is None or not checkpoints:
        return []
    sources, store = root / "sources", str(root / "store")
    # sources an older demo wrote at once (no release record) hold every date already
    steps = [synth_step(sources, cfg, feed[1])]
    if (sources / "annotations").is_dir() and not (sources / RECORD).exists():
        steps = []
    watch_cfg = MonitorConfig(sources=str(sources), store=store, checkpoints=tuple(checkpoints))
    steps.append(
        Step(
            ["monitor", str(sources), store, *(a for c in checkpoints for a in ("--checkpoint", c))],
            lambda: watch(watch_cfg),
            watch_cfg,
        )
    )
    steps.append(dashboard_step(root))
    return steps


def dashboard_step(root: Path) -> Step:
    """`hmc dashboard` of the demo's store into ROOT/site (volcanoes named from the GVP list)."""
    from hephaestus.cli.dashboard import write_dashboard
    from hephaestus.platform.volcanoes import DEFAULT_GVP

    store, site = str(root / "store"), str(root / "site")
    gvp = str(DEFAULT_GVP) if DEFAULT_GVP.exists() else None
    return Step(
        ["dashboard", store, "--out", site, *(["--volcanoes", gvp] if gvp else [])],
        lambda: write_dashboard(store, site, gvp),
    )


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
    story: str | None = typer.Option(
        None,
        "--story",
        help="replay (default: the twin of real frames replays 2020-2021 through the monitor) or generator "
        "(the physics generator's frames, the demo grid, one monitoring cycle)",
    ),
    frames: int | None = typer.Option(None, "--frames", min=1, help=f"default {DemoConfig().frames}"),
    pairs: int | None = typer.Option(None, "--pairs", min=4, help=f"default {DemoConfig().pairs}"),
    seed: int | None = typer.Option(None, "--seed", min=0, help=f"default {DemoConfig().seed}"),
    grid: str | None = typer.Option(
        None, "--grid", help="demo (default: learns in minutes on 2 cores), smoke (plumbing only) or paper"
    ),
    size: int | None = typer.Option(
        None, "--size", min=64, help=f"frame side, px (default {DemoConfig().height})"
    ),
    config: Path | None = config_option("DemoConfig"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """The main job: replay 2020-2021 of real frames through the monitor (default), or the generator's demo."""
    from hephaestus.cli.demo_report import report
    from hephaestus.platform.ray_session import ray_session, send_logs_to

    cfg = resolve_config(
        DemoConfig,
        config,
        sets,
        story=story,
        frames=frames,
        pairs=pairs,
        seed=seed,
        grid=grid,
        height=size,
        width=size,
    )
    maybe_print(cfg, print_config)
    out = out.resolve()
    t0 = time.perf_counter()

    def run(steps: list[Step]) -> None:
        for i, step in enumerate(steps, 1):
            typer.secho(f"\n[{i}/{len(steps)}] ", bold=True, nl=False)
            typer.secho(f"hmc {shlex.join(step.argv)}", bold=True)
            step.run()
            if step.argv[0] == "synth" and (figure := pair_figure_step(out)) is not None:
                typer.echo("      ", nl=False)
                typer.secho(f"hmc {shlex.join(figure.argv)}", bold=True)
                figure.run()

    log_file = send_logs_to(out)
    if log_file:
        typer.echo(f"Ray's logs go to {log_file}")
    if cfg.story == "replay":
        _replay_story(out, cfg, run)
    else:
        with ray_session():
            run(demo_steps(out, cfg))
        typer.echo("")
        best = report(out / "store", out / "results", out / "figures")
        checkpoints = [str(run["checkpoint"]) for run in best.values() if run.get("checkpoint")]
        steps = monitor_steps(out, cfg, checkpoints)
        if steps:
            typer.secho("\nmonitoring: the feed's later products arrive", bold=True)
            with ray_session():
                run(steps)
            typer.secho(f"\ndashboard: {out / 'site' / 'index.html'}", fg="green")
    typer.secho(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; outputs under {out}", fg="green")
    if log_file:
        typer.echo(f"Ray's logs: {log_file}")


def _replay_story(out: Path, cfg: DemoConfig, run: Callable[[list[Step]], None]) -> None:
    """Train on the twin's early years, replay the later ones through the monitor, show the board and
    the replay table (cli/demo_replay.py)."""
    from hephaestus.cli.demo_replay import history_steps, print_replay, replay
    from hephaestus.cli.demo_report import report
    from hephaestus.monitor.replay import replay_report
    from hephaestus.platform.ray_session import ray_session

    with ray_session():
        run(history_steps(out, cfg))
        typer.echo("")
        best = report(out / "store", out / "results", out / "figures")
        checkpoints = [str(r["checkpoint"]) for r in best.values() if r.get("checkpoint")]
        if not checkpoints:
            return
        typer.secho(
            f"\nreplay: the pairs acquired from {cfg.replay_from} arrive, {cfg.cycle_months} months a cycle",
            bold=True,
        )
        replay(out, cfg, checkpoints)
    run([dashboard_step(out)])
    typer.echo("")
    table = replay_report(str(out / "store"), cfg.replay_from)
    print_replay(table)
    (out / "replay.json").write_text(json.dumps(table.record(), indent=1))
    typer.echo(f"replay table: {out / 'replay.json'}")
    typer.secho(f"\ndashboard: {out / 'site' / 'index.html'}", fg="green")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
