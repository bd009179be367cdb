"""`hmc synth` / `hmc plot-pair` and the Source reader's figure."""

from __future__ import annotations

import json

import pytest
import rasterio
from matplotlib.figure import Figure
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.ingest.synthetic import SynthConfig, generate
from hephaestus.ingest.synthetic.generator import plan
from hephaestus.ingest.synthetic.plot import Source, SyntheticSources


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "src"
    m = generate(SynthConfig(frames=1, pairs=12, height=64, width=64, seed=3, positive_fraction=0.25), out)
    return out, m


def test_synth_command_writes_and_summarises(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(
        app, ["synth", str(out), "--frames", "1", "--pairs", "5", "--size", "48", "64", "--seed", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "wrote 1 frames, 5 pairs" in res.output
    anns = list((out / "annotations").glob("*.json"))
    assert len(anns) == 5
    fid = json.loads(anns[0].read_text())["frameID"]
    with rasterio.open(out / "licsar" / fid / "metadata" / f"{fid}.geo.hgt.tif") as src:
        assert (src.height, src.width) == (48, 64)
    again = runner.invoke(app, ["synth", str(out), "--frames", "1", "--pairs", "5"])
    assert again.exit_code == 2 and "not empty" in again.output and "Traceback" not in again.output
    bad = runner.invoke(app, ["synth", str(tmp_path / "x"), "--size", "8", "8"])
    assert bad.exit_code == 2 and "height" in bad.output


def test_plot_returns_a_figure_with_phase_coherence_and_mask(sources_dir):
    out, m = sources_dir
    src = SyntheticSources(out)
    assert src.unique_ids() == sorted(m.unique_ids)
    positive = next(
        u
        for u in m.unique_ids
        if src.annotation(u)["label"] != ["Non_Deformation"] and u not in m.missing_products
    )
    fig = src.plot(positive)
    assert isinstance(fig, Figure) and len(fig.axes) >= 3
    pair = src.read(positive)
    assert pair.mask().any() and pair.phase.shape == pair.mask().shape
    assert isinstance(Source(out).plot(m.missing_products[0]), Figure)  # "no product" still draws


def test_plot_pair_command(sources_dir, tmp_path):
    out, m = sources_dir
    runner = CliRunner()
    png = tmp_path / "fig.png"
    res = runner.invoke(app, ["plot-pair", str(out), str(m.unique_ids[0]), "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(app, ["plot-pair", str(out), "999999", "--out", str(png)])
    assert res.exit_code == 2 and "999999" in res.output


def test_plot_pair_names_a_broken_file(tmp_path):
    out = tmp_path / "src"
    m = generate(
        SynthConfig(frames=1, pairs=2, height=40, width=40, seed=1, missing_product_fraction=0.0), out
    )
    uid = m.unique_ids[0]
    ann = json.loads((out / "annotations" / f"{uid}.json").read_text())
    name = f"{ann['primary_date']}_{ann['secondary_date']}"
    pha = out / "licsar" / ann["frameID"] / "interferograms" / name / f"{name}.geo.diff_pha.tif"
    pha.write_bytes(b"not a tiff")
    (out / "annotations" / f"{m.unique_ids[1]}.json").write_text("{broken")
    runner = CliRunner()
    for bad, where in ((uid, pha.name), (m.unique_ids[1], f"{m.unique_ids[1]}.json")):
        res = runner.invoke(app, ["plot-pair", str(out), str(bad), "--out", str(tmp_path / "f.png")])
        assert res.exit_code == 2 and where in res.output and "Traceback" not in res.output


def test_synth_reads_physics_knobs_from_yaml_and_flags_win(tmp_path):
    cfg = tmp_path / "synth.yaml"
    cfg.write_text("frames: 3\npairs: 2\nheight: 40\nwidth: 40\nvolcanoes: [Etna]\nturbulence_mm: 0.0\n")
    runner = CliRunner()
    res = runner.invoke(app, ["synth", str(tmp_path / "y"), "--config", str(cfg), "--frames", "1"])
    assert res.exit_code == 0, res.output
    assert "wrote 1 frames, 2 pairs" in res.output
    meta = next((tmp_path / "y" / "licsar").glob("*/metadata/metadata.txt")).read_text()
    assert "volcano=Etna" in meta
    cfg.write_text("frames: 1\nwobble: 3\n")
    res = runner.invoke(app, ["synth", str(tmp_path / "z"), "--config", str(cfg)])
    assert res.exit_code == 2 and "synth.yaml" in res.output and "wobble" in res.output


def _positives(out) -> int:
    anns = [json.loads(p.read_text()) for p in (out / "annotations").glob("*.json")]
    return sum(a["label"] != ["Non_Deformation"] for a in anns)


def test_synth_positive_fraction_option(tmp_path):
    """--positive-fraction sets the share of pairs allocated an unrest episode: round(F * pairs) of
    them (a drawn episode can still hide under decorrelated ground, so the written labels count at
    most that, rarely one fewer). Without it the real balance (0.09) stays; out of [0, 1] is refused."""
    runner = CliRunner()
    args = ["--frames", "2", "--pairs", "10", "--size", "40", "40", "--seed", "4"]
    assert (
        sum(
            p.positive
            for _, p in plan(
                SynthConfig(frames=2, pairs=10, height=40, width=40, positive_fraction=0.3)
            ).pairs
        )
        == 6
    )
    res = runner.invoke(app, ["synth", str(tmp_path / "demo"), *args, "--positive-fraction", "0.3"])
    assert res.exit_code == 0, res.output
    demo = _positives(tmp_path / "demo")
    assert 5 <= demo <= 6 and f"({demo} positive" in res.output  # round(0.3 * 20) = 6 allocated
    res = runner.invoke(app, ["synth", str(tmp_path / "default"), *args])
    assert res.exit_code == 0, res.output
    assert 1 <= _positives(tmp_path / "default") <= 2  # round(0.09 * 20) = 2 allocated
    cfg = tmp_path / "synth.yaml"
    cfg.write_text("positive_fraction: 0.5\n")
    res = runner.invoke(app, ["synth", str(tmp_path / "yaml"), *args, "--config", str(cfg)])
    assert res.exit_code == 0 and 8 <= _positives(tmp_path / "yaml") <= 10  # the file's 0.5: 10 allocated
    res = runner.invoke(app, ["synth", str(tmp_path / "bad"), *args, "--positive-fraction", "1.5"])
    assert res.exit_code != 0 and "positive-fraction" in res.output and not (tmp_path / "bad").exists()
