"""The fixed layout: one `hephaestus` package mapped from the top-level folders, platform/ a namespace."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_platform_folder_has_no_init() -> None:
    assert (ROOT / "platform").is_dir()
    assert not (ROOT / "platform" / "__init__.py").exists()


@pytest.mark.parametrize("folder", ["ingest", "catalog", "train", "infra"])
def test_stage_folders_are_regular_packages(folder: str) -> None:
    assert (ROOT / folder / "__init__.py").is_file()


def test_import_platform_from_repo_root_is_the_standard_library() -> None:
    code = "import platform, sys; print(platform.__file__); print(platform.python_version())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    path, version = out.stdout.split()
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(path).resolve().parent == stdlib
    assert version == ".".join(map(str, sys.version_info[:3]))


def test_python_m_from_root_sees_both_platforms() -> None:
    code = (
        "import platform, hephaestus.platform.schema as s; "
        "assert hasattr(platform, 'system'); print(s.__file__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).resolve() == (ROOT / "platform" / "schema.py").resolve()


@pytest.mark.parametrize(
    ("module", "folder"),
    [
        ("hephaestus.platform.cube", "platform"),
        ("hephaestus.ingest", "ingest"),
        ("hephaestus.catalog", "catalog"),
        ("hephaestus.train", "train"),
        ("hephaestus.infra", "infra"),
    ],
)
def test_packages_map_to_top_level_folders(module: str, folder: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert Path(mod.__file__).resolve().is_relative_to(ROOT / folder)


def test_hmc_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("hmc")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout and "hmc" in out.stdout


def test_stages_do_not_import_each_other() -> None:
    """Dependencies point one way: stages use platform; train may read the catalog and draw the generator's
    deformation sources (ingest.synthetic, for synthetic positives); only the CLI reaches stages."""
    allowed = {"ingest": set(), "catalog": set(), "train": {"catalog", "ingest"}, "infra": set()}
    offenders = []
    for stage, ok in allowed.items():
        for path in (ROOT / stage).rglob("*.py"):
            text = path.read_text()
            for other in allowed:
                if other == stage or other in ok:
                    continue
                if f"hephaestus.{other}" in text:
                    offenders.append(f"{path.relative_to(ROOT)} -> hephaestus.{other}")
    for path in (ROOT / "platform").glob("*.py"):
        if path.name.startswith("cli"):
            continue
        text = path.read_text()
        offenders += [f"{path.name} -> {s}" for s in allowed if f"hephaestus.{s}" in text]
    assert offenders == []
