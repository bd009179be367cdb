"""Fault cases of issue 27 items 1 and 3: damaged bytes and diverging runs never pass silently.

Each case runs `hmc` as a user does (`harness.run_hmc`) and asserts the exit code, the one line that names
what failed, and that nothing good was lost or published (no checkpoint of a diverged run, the undamaged
pairs still predict).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from harness import assert_one_line, run_hmc

TINY = ["--model", "mobilenetv3_large_100", "--weights", "random", "--epochs", "1", "--crop-size", "32"]
TINY += ["--batch-size", "4", "--no-atmosphere", "--statistics", "authors"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A small ingested store (the default layout: phase stored raw in shards) with its catalog."""
    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("integrity")
    generate(SynthConfig(frames=1, pairs=8, height=40, width=40, seed=7), root / "src")
    run_ingest(IngestConfig(sources=str(root / "src"), out=str(root / "store"), workers=1))
    build_catalog(root / "store")
    return root / "store"


def _a_pair(store: Path) -> tuple[str, str]:
    from hephaestus.catalog import read_pairs

    row = next(r for r in read_pairs(store).to_pylist() if r["usable"])
    return row["cube_url"], f"{row['primary_date']:%Y%m%d}_{row['secondary_date']:%Y%m%d}"


def _flip_phase(store: Path, into: Path) -> Path:
    """A copy of `store` (its catalog rebuilt there) whose every stored phase shard has 8 bytes flipped
    inside its first chunk."""
    from hephaestus.catalog import build_catalog

    shutil.copytree(store, into)
    build_catalog(into)
    for cube in (into / "cubes").iterdir():
        for shard in (cube / "insar_difference").rglob("c/*/*/*/*"):
            data = bytearray(shard.read_bytes())
            for k in range(64, 72):
                data[k] ^= 0x5A
            shard.write_bytes(bytes(data))
    return into


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A checkpoint as the training loop writes it (`write_checkpoint`: digests in input.json)."""
    import torch

    from hephaestus.platform.dataspec import DataSpec
    from hephaestus.platform.inputs import InputSpec
    from hephaestus.train.config import RunConfig
    from hephaestus.train.loop import input_record, write_checkpoint
    from hephaestus.train.models import build_model

    folder = tmp_path_factory.mktemp("ckpt") / "checkpoint_000000"
    folder.mkdir()
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, atmosphere=False, weights="random")
    spec = InputSpec.create(DataSpec(atmosphere=False, crop_size=32, statistics="authors"))
    torch.manual_seed(0)
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    write_checkpoint(
        folder,
        {
            "best.pt": model.state_dict(),
            "run_config.json": run.model_dump(mode="json"),
            "input.json": input_record(run, spec, "random"),
        },
    )
    return folder


def _predict(ckpt: Path, cube: str, pair: str, out: Path):  # type: ignore[no-untyped-def]
    return run_hmc(["predict", str(ckpt), cube, "--pair", pair, "--out", str(out)])


def test_flipped_phase_bytes_refused_by_predict(store, tmp_path, checkpoint):  # type: ignore[no-untyped-def]
    damaged = _flip_phase(store, tmp_path / "damaged")
    cube, pair = _a_pair(store)
    cube = cube.replace(str(store), str(damaged))
    line = assert_one_line(_predict(checkpoint, cube, pair, tmp_path / "p.tif"), 2, "insar_difference")
    assert "checksum mismatch" in line and Path(cube).name in line, line
    assert not (tmp_path / "p.tif").exists()
    # the undamaged store still predicts the same pair
    assert _predict(checkpoint, *_a_pair(store), tmp_path / "good.tif").rc == 0


@pytest.mark.slow  # a whole `hmc train` (Ray Train): ~45 s on 2 cores
def test_flipped_phase_bytes_refused_by_train(store, tmp_path):  # type: ignore[no-untyped-def]
    damaged = _flip_phase(store, tmp_path / "damaged")
    out = run_hmc(["train", str(damaged), "--out", str(tmp_path / "r"), *TINY], timeout=600)
    assert_one_line(out, 2, "insar_difference", "checksum mismatch")
    assert not list((tmp_path / "r").rglob("best.pt"))


def test_flipped_checkpoint_bytes_refused(store, checkpoint, tmp_path):  # type: ignore[no-untyped-def]
    cube, pair = _a_pair(store)
    damaged = tmp_path / "ckpt"
    shutil.copytree(checkpoint, damaged)
    data = bytearray((damaged / "best.pt").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    (damaged / "best.pt").write_bytes(bytes(data))
    line = assert_one_line(_predict(damaged, cube, pair, tmp_path / "p.tif"), 2, "best.pt")
    assert "does not match the digest" in line, line
    # without a recorded digest (a checkpoint written before digests): the zip's own CRCs catch it
    record = json.loads((damaged / "input.json").read_text())
    record.pop("sha256")
    (damaged / "input.json").write_text(json.dumps(record))
    line = assert_one_line(_predict(damaged, cube, pair, tmp_path / "p.tif"), 2, "best.pt")
    assert "CRC" in line or "unreadable" in line, line


@pytest.mark.parametrize("size", ["truncated", "empty"])
def test_truncated_or_empty_checkpoint_refused(store, checkpoint, tmp_path, size):  # type: ignore[no-untyped-def]
    cube, pair = _a_pair(store)
    damaged = tmp_path / "ckpt"
    shutil.copytree(checkpoint, damaged)
    data = (damaged / "best.pt").read_bytes()
    (damaged / "best.pt").write_bytes(data[: len(data) // 3] if size == "truncated" else b"")
    for record in (True, False):  # with and without a recorded digest
        if not record:
            info = json.loads((damaged / "input.json").read_text())
            info.pop("sha256", None)
            (damaged / "input.json").write_text(json.dumps(info))
        assert_one_line(_predict(damaged, cube, pair, tmp_path / "p.tif"), 2, "best.pt")


def test_weights_that_do_not_fit_the_input_refused(store, checkpoint, tmp_path):  # type: ignore[no-untyped-def]
    cube, pair = _a_pair(store)
    other = tmp_path / "ckpt"
    shutil.copytree(checkpoint, other)
    info = json.loads((other / "input.json").read_text())
    info["input_spec"]["series_length"] = 2  # 6 channels recorded, 3 in the weights
    info.pop("sha256")
    (other / "input.json").write_text(json.dumps(info))
    line = assert_one_line(_predict(other, cube, pair, tmp_path / "p.tif"), 2, "best.pt")
    assert "do not fit" in line, line


def test_nonfinite_checkpoint_refused(store, checkpoint, tmp_path):  # type: ignore[no-untyped-def]
    import torch

    cube, pair = _a_pair(store)
    folder = tmp_path / "ckpt"
    shutil.copytree(checkpoint, folder)
    state = torch.load(folder / "best.pt", weights_only=True)
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    torch.save(state, folder / "best.pt")
    info = json.loads((folder / "input.json").read_text())
    info.pop("sha256")
    (folder / "input.json").write_text(json.dumps(info))
    line = assert_one_line(_predict(folder, cube, pair, tmp_path / "p.tif"), 2, "best.pt", "non-finite")
    assert first in line


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_nonfinite_setting_refused(tmp_path, value):  # type: ignore[no-untyped-def]
    config = tmp_path / "run.yaml"
    config.write_text(f"lr: {value}\n")
    out = run_hmc(["train", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--config", str(config)])
    assert_one_line(out, 2, "lr", "run.yaml")


@pytest.mark.slow  # a whole `hmc train` that diverges: ~35 s on 2 cores
def test_diverging_run_fails_naming_run_epoch_step(store, tmp_path):  # type: ignore[no-untyped-def]
    out = run_hmc(
        ["train", str(store), "--out", str(tmp_path / "r"), *TINY, "--lr", "1e30"],
        env={"PYTHONHASHSEED": "0", **({"CUDA_VISIBLE_DEVICES": ""} if "CI" in os.environ else {})},
        timeout=600,
    )
    line = assert_one_line(out, 1, "diverged", "epoch 1", "step ")
    assert "run " in line
    assert not list((tmp_path / "r").rglob("best.pt")), "a diverged run published a checkpoint"


def test_flipped_pair_scalar_bytes_skip_the_cube_naming_its_variable(store, tmp_path):  # type: ignore[no-untyped-def]
    """A damaged chunk of a pair variable (read through xarray by the catalog's scan, not the loader):
    the build names the cube and the variable and says the bytes are damaged (its only cube: exit 2)."""
    from hephaestus.catalog import build_catalog

    copy = tmp_path / "scalars"
    shutil.copytree(store, copy)
    build_catalog(copy)
    (cube,) = (copy / "cubes").iterdir()
    (chunk,) = (cube / "confidence" / "c").rglob("*/*")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    shutil.rmtree(copy / "catalog")
    got = run_hmc(["catalog", "build", str(copy)])
    assert_one_line(got, 2, cube.name, "confidence", "checksum mismatch")
    assert not (copy / "catalog").exists() or not any((copy / "catalog").glob("v*/pairs*"))
