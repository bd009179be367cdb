"""One error hierarchy: every exception class the package defines derives from HephaestusError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from hephaestus.platform import errors
from hephaestus.platform.errors import HephaestusError, InputError, InputNotFoundError, PlatformRuntimeError

PACKAGES = ("platform", "ingest", "catalog", "train", "infra")


def _modules() -> list[str]:
    names = []
    for top in PACKAGES:
        pkg = importlib.import_module(f"hephaestus.{top}")
        names.append(pkg.__name__)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}.")]
    return sorted(set(names))


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_walk_finds_the_stage_errors() -> None:
    names = {cls.__name__ for cls in _exception_classes()}
    # an independent list, read off `grep '^class .*Error'` of the tree: the walk must see them
    assert {
        "AnnotationError",
        "CubeUnreadableError",
        "CatalogBuildError",
        "CatalogNotFoundError",
        "ConfigError",
        "ProductError",
        "Era5Error",
        "SourceNotFoundError",
        "ConversionError",
        "PredictError",
        "WeightsError",
        "IndexRowsError",
        "UnsafePathComponentError",
        "StacValidationError",
        "ClusterStartError",
        "RehearsalError",
    } <= names


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_exception_class_derives_from_the_base(cls: type[BaseException]) -> None:
    assert issubclass(cls, HephaestusError), f"{cls.__module__}.{cls.__name__} bypasses platform/errors.py"
    if cls not in (HephaestusError,):
        assert issubclass(cls, InputError | PlatformRuntimeError), cls


def test_one_cube_unreadable_error() -> None:
    """The loader, the catalog scan and the cube checks raise the same class (no three spellings)."""
    from hephaestus.platform.cube import CubeUnreadableError
    from hephaestus.train.data import cubes

    assert cubes.CubeUnreadableError is CubeUnreadableError
    unreadable = [c for c in _exception_classes() if "Unreadable" in c.__name__ or "CubeS" in c.__name__]
    assert unreadable == [CubeUnreadableError]


def test_exit_codes_and_standard_bases() -> None:
    assert InputError.exit_code == errors.EXIT_INPUT == 2
    assert PlatformRuntimeError.exit_code == errors.EXIT_RUNTIME == 1
    assert issubclass(InputError, ValueError) and issubclass(InputNotFoundError, FileNotFoundError)
    assert issubclass(PlatformRuntimeError, RuntimeError)
