"""The layers of docs/design.md, enforced: every import inside the package (lazy ones in functions
included) points at its own sub-package or at a layer below it.

Ground (contracts and adapters): `platform`. Stages: `ingest`, `catalog` and `infra` side by side, then
`train` (reads the catalog), then `monitor` (ingests, catalogues, scores with trained models). Commands:
`cli` at the top. Stages of the same rank never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: dict[str, int] = {
    "platform": 0,
    "ingest": 1,
    "catalog": 1,
    "infra": 1,
    "train": 2,
    "monitor": 3,
    "cli": 4,
}
"""Each top-level folder of the package and its rank: a module may import its own folder or a lower rank."""


def imported_layers(path: Path) -> list[tuple[int, str]]:
    """(line, top-level sub-package) of every `hephaestus.X` import in `path`, wherever it stands."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "hephaestus":  # from hephaestus import catalog, ingest
                names = [f"hephaestus.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hephaestus" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def violations(root: Path = ROOT) -> list[str]:
    """`file:line imports X` for every import that runs against the layers."""
    bad: list[str] = []
    for layer, rank in LAYERS.items():
        folder = root / layer
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            for line, target in imported_layers(path):
                if target == layer:
                    continue
                if target not in LAYERS or LAYERS[target] >= rank:
                    bad.append(f"{path.relative_to(root)}:{line} imports hephaestus.{target}")
    return bad


def test_every_import_points_down() -> None:
    bad = violations()
    assert not bad, "imports against the layers (docs/design.md):\n" + "\n".join(bad)


def test_the_check_sees_lazy_and_from_package_imports(tmp_path: Path) -> None:
    """The check fails on a lazy import upwards and on `from hephaestus import <stage>`."""
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "x.py").write_text(
        "def f():\n    from hephaestus.train import loop\n\ndef g():\n    from hephaestus import cli\n"
    )
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "y.py").write_text("import hephaestus.catalog.read\n")
    assert violations(tmp_path) == [
        "platform/x.py:2 imports hephaestus.train",
        "platform/x.py:5 imports hephaestus.cli",
        "ingest/y.py:1 imports hephaestus.catalog",
    ]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_is_a_folder_of_the_package(layer: str) -> None:
    assert (ROOT / layer).is_dir()
