"""`hmc demo` holds the feed's last dates back while it trains, then releases them for one monitoring cycle."""

from __future__ import annotations

from pathlib import Path

from hephaestus.cli.demo import DemoConfig, demo_steps, monitor_steps
from hephaestus.ingest.synthetic import SynthConfig
from hephaestus.ingest.synthetic.release import release_dates


def test_demo_trains_on_the_early_feed_and_monitors_the_rest(tmp_path: Path) -> None:
    cfg = DemoConfig(frames=1, pairs=12, height=64, width=64, monitor_dates=3)
    dates = release_dates(SynthConfig(frames=1, pairs=12, height=64, width=64, positive_fraction=0.3))
    synth = demo_steps(tmp_path, cfg)[0].argv
    assert synth[0] == "synth" and synth[-2:] == ["--until", dates[-4].isoformat()]
    release, monitor, dashboard = (s.argv for s in monitor_steps(tmp_path, cfg, ["ckpt/cls", "ckpt/seg"]))
    assert release[:-2] == synth[:-2] and release[-2:] == ["--until", dates[-1].isoformat()]
    assert monitor == ["monitor", str(tmp_path / "sources"), str(tmp_path / "store"),
                       "--checkpoint", "ckpt/cls", "--checkpoint", "ckpt/seg"]  # fmt: skip
    assert dashboard[:4] == ["dashboard", str(tmp_path / "store"), "--out", str(tmp_path / "site")]
    assert monitor_steps(tmp_path, cfg.model_copy(update={"monitor_dates": 0}), ["c"]) == []
    assert monitor_steps(tmp_path, cfg, []) == []  # no trained run: nothing to monitor with


def test_each_demo_step_runs_the_configuration_its_printed_command_would(tmp_path: Path) -> None:
    """The demo calls stage functions, not the CLI; the command line it prints for a step must resolve, through
    the real `hmc` parser, to the very configuration the step runs with (`--print-config`)."""
    import yaml
    from typer.testing import CliRunner

    from hephaestus.cli.app import app

    cfg = DemoConfig(frames=1, pairs=12, height=64, width=64, monitor_dates=3)
    checkpoints = [str(tmp_path / "ckpt" / "cls"), str(tmp_path / "ckpt" / "seg")]  # the demo's are absolute
    steps = demo_steps(tmp_path, cfg) + monitor_steps(tmp_path, cfg, checkpoints)
    configured = [s for s in steps if s.config is not None]
    assert [s.argv[0] for s in configured] == ["synth", "ingest", "catalog", "benchmark", "synth", "monitor"]
    for step in configured:
        result = CliRunner().invoke(app, [*step.argv, "--print-config"])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(result.output) == step.config.model_dump(mode="json"), step.argv
