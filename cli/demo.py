"""`hmc demo`: the main job end to end on the embedded synthetic default, as the commands a user would type."""

from __future__ import annotations

import datetime as dt
import shlex
import time
from pathlib import Path

import typer
from pydantic import Field

from hephaestus.cli.common import config_option, maybe_print, print_config_option
from hephaestus.platform.annotation import iter_raw, parse_file
from hephaestus.platform.config import Config, resolve
from hephaestus.platform.schema import NEGATIVE_LABEL


class DemoConfig(Config):
    """Sizes of the demo: minutes on 2 CPU cores, yet a test split large enough to measure (>= 50 pairs).

    2 frames x 300 pairs give ~300 usable training pairs and ~150 test pairs; at 128 px a frame still
    holds a 64 px crop with the deformation and its surroundings.
    """

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


def synth_argv(sources: Path, cfg: DemoConfig) -> list[str]:
    return ["synth", str(sources), "--frames", str(cfg.frames), "--pairs", str(cfg.pairs),
            "--positive-fraction", str(cfg.positive_fraction),
            "--size", str(cfg.height), str(cfg.width), "--seed", str(cfg.seed)]  # fmt: skip


def feed_dates(cfg: DemoConfig) -> tuple[dt.date, dt.date] | None:
    """(the date the training sources are released up to, the feed's last date), None without monitoring.

    The demo's sources are a simulated feed (`hmc synth --until`): products acquired after the first
    date arrive later, for the monitoring cycle at the end.
    """
    from hephaestus.ingest.synthetic import SynthConfig
    from hephaestus.ingest.synthetic.release import release_dates

    synth = SynthConfig(
        frames=cfg.frames, pairs=cfg.pairs, height=cfg.height, width=cfg.width, seed=cfg.seed,
        positive_fraction=cfg.positive_fraction,
    )  # fmt: skip
    dates = release_dates(synth)
    if cfg.monitor_dates == 0 or len(dates) <= cfg.monitor_dates:
        return None
    return dates[-cfg.monitor_dates - 1], dates[-1]


def demo_steps(root: Path, cfg: DemoConfig) -> list[list[str]]:
    """The `hmc` command lines of the demo, in order (the pair figure is added once sources exist)."""
    sources, store, results = root / "sources", root / "store", root / "results"
    steps: list[list[str]] = []
    if not (sources / "annotations").is_dir():
        feed = feed_dates(cfg)
        steps.append(synth_argv(sources, cfg) + (["--until", feed[0].isoformat()] if feed else []))
    steps += [
        ["ingest", str(sources), "--out", str(store)],
        ["catalog", "build", str(store)],
        ["benchmark", str(store), "--grid", cfg.grid, "--out", str(results)],
    ]
    return steps


def monitor_steps(root: Path, cfg: DemoConfig, checkpoints: list[str]) -> list[list[str]]:
    """The monitoring end of the demo: release the held-back dates, one `hmc monitor` cycle with the
    demo's best checkpoints, then the dashboard of the store."""
    from hephaestus.platform.volcanoes import DEFAULT_GVP

    feed = feed_dates(cfg)
    if feed is None or not checkpoints:
        return []
    from hephaestus.ingest.synthetic.release import RECORD

    sources, store = root / "sources", root / "store"
    gvp = ["--volcanoes", str(DEFAULT_GVP)] if DEFAULT_GVP.exists() else []
    # sources an older demo wrote at once (no release record) hold every date already
    feed_step = [synth_argv(sources, cfg) + ["--until", feed[1].isoformat()]]
    if (sources / "annotations").is_dir() and not (sources / RECORD).exists():
        feed_step = []
    return [
        *feed_step,
        ["monitor", str(sources), str(store), *(a for c in checkpoints for a in ("--checkpoint", c))],
        ["dashboard", str(store), "--out", str(root / "site"), *gvp],
    ]


def first_positive(annotations: Path) -> int | None:
    """uniqueID of the first annotated deformation (in uniqueID order), for the figure of one pair.

    The files are read by the platform's annotation model: a bad file fails here with the same
    AnnotationError (and message) as in ingest and the catalog.
    """
    parsed = [a for raw in iter_raw(str(annotations)) for a in parse_file(raw)]
    positives = [a.unique_id for a in parsed if any(label != NEGATIVE_LABEL for label in a.labels)]
    return min(positives, default=None)


def demo(
    ctx: typer.Context,
    out: Path = typer.Argument(Path("demo"), help="folder for sources/, store/, results/ and figures/"),
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
    print_config: bool = print_config_option(),
) -> None:
    """Synthesize sources, ingest, catalog, train a classifier and a segmenter; tables, baselines, figures."""
    from hephaestus.cli.app import app
    from hephaestus.cli.demo_report import report
    from hephaestus.platform.ray_session import ray_session, send_logs_to

    cfg = resolve(
        DemoConfig, config, frames=frames, pairs=pairs, seed=seed, grid=grid, height=size, width=size
    )
    maybe_print(cfg, print_config)
    out = out.resolve()
    t0 = time.perf_counter()

    debug = ["--debug"] if ctx.find_root().params.get("debug") else []

    def step(argv: list[str]) -> None:
        typer.secho(f"hmc {shlex.join(argv)}", bold=True)
        code = app([*debug, *argv], standalone_mode=False)  # a failed step printed its own error line
        if code:
            raise typer.Exit(code=code)

    log_file = send_logs_to(out)
    if log_file:
        typer.echo(f"Ray's logs go to {log_file}")
    with ray_session():
        steps = demo_steps(out, cfg)
        for i, argv in enumerate(steps, 1):
            typer.secho(f"\n[{i}/{len(steps)}] ", bold=True, nl=False)
            step(argv)
            if argv[0] == "synth":
                uid = first_positive(out / "sources" / "annotations")
                if uid is not None:
                    (out / "figures").mkdir(parents=True, exist_ok=True)
                    typer.echo("      ", nl=False)
                    step(
                        [
                            "plot-pair",
                            str(out / "sources"),
                            str(uid),
                            "--out",
                            str(out / "figures" / "pair.png"),
                        ]
                    )
    typer.echo("")
    best = report(out / "store", out / "results", out / "figures")
    checkpoints = [str(run["checkpoint"]) for run in best.values() if run.get("checkpoint")]
    steps = monitor_steps(out, cfg, checkpoints)
    if steps:
        typer.secho("\nmonitoring: the feed's later products arrive", bold=True)
        with ray_session():
            for i, argv in enumerate(steps, 1):
                typer.secho(f"\n[{i}/{len(steps)}] ", bold=True, nl=False)
                step(argv)
        typer.secho(f"\ndashboard: {out / 'site' / 'index.html'}", fg="green")
    typer.secho(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; outputs under {out}", fg="green")
    if log_file:
        typer.echo(f"Ray's logs: {log_file}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
