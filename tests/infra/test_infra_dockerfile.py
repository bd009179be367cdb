"""infra/docker/Dockerfile: read without a Docker engine and checked against the repository."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import INFRA
from infra_dockerfile import parse, problems, substitute

DOCKERFILE = INFRA / "docker" / "Dockerfile"


def test_the_platform_image_follows_every_rule(repo_root: Path, pyproject: dict) -> None:
    assert problems(DOCKERFILE.read_text(), repo_root, pyproject) == []


def test_both_variants_are_rays_images_at_the_pinned_version() -> None:
    text = DOCKERFILE.read_text()
    froms = [i.args.split()[0] for i in parse(text) if i.keyword == "FROM"]
    # Hand-written expectation for ray==2.60.0 in pyproject.toml and Python 3.11.
    assert {
        substitute(f, {"RAY_VERSION": "2.60.0", "PYTHON_TAG": "py311", "VARIANT": "gpu"}) for f in froms
    } == {"rayproject/ray:2.60.0-py311-gpu"}


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = "# c\nARG A=1\nRUN echo a \\\n    # inner comment\n    && echo b\nENV X=1 \\\n    Y=2\n"
    got = [(i.keyword, i.args, i.line) for i in parse(text)]
    assert got == [("ARG", "A=1", 2), ("RUN", "echo a && echo b", 3), ("ENV", "X=1 Y=2", 6)]
    assert substitute("r:${V:-9}-$W", {"W": "w"}) == "r:9-w"


BROKEN = [
    ("users platform ./platform", "users no_such_dir ./x", "'no_such_dir' does not exist"),
    ("users ingest ./ingest", "users . ./", "copies more than named files"),
    ("users catalog ./catalog", "users catalog ./catalog\nCOPY .venv ./venv", "must not enter the image"),
    ("COPY --chown=ray:users train ./train", "", "needs 'train'"),
    ("ARG RAY_VERSION=2.60.0", "ARG RAY_VERSION=2.59.0", "!= ray==2.60.0"),
    ("ARG VARIANT=cpu", "ARG FLAVOUR=cpu", "no ARG VARIANT"),
    ("pip install --no-cache-dir", "pip install -e", "installed editable"),
    ("&& hmc --help > /dev/null", "", "never runs an entry point"),
    (
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=true",
        "GCSFS_EXPERIMENTAL",
    ),
    (
        "RAY_USAGE_STATS_ENABLED=0",
        "RAY_USAGE_STATS_ENABLED=0 \\\n    AWS_SECRET_ACCESS_KEY=x",
        "credential baked",
    ),
    ("ARG PYTHON_TAG=py311", "ARG PYTHON_TAG=py310", "Python 3.10 outside"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN)
def test_planted_mistakes_are_reported(
    old: str, new: str, expected: str, repo_root: Path, pyproject: dict
) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    found = problems(text.replace(old, new, 1), repo_root, pyproject)
    assert any(expected in p for p in found), found


def test_entrypoint_override_is_reported(repo_root: Path, pyproject: dict) -> None:
    found = problems(DOCKERFILE.read_text() + 'ENTRYPOINT ["hmc"]\n', repo_root, pyproject)
    assert any("ENTRYPOINT overrides Ray's" in p for p in found), found


def _images(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in ("image", "worker_image", "head_image")]
        return own + [i for v in node.values() for i in _images(v)]
    if isinstance(node, list):
        return [i for v in node for i in _images(v)]
    return []


def test_clusters_run_the_image_this_dockerfile_builds_at_the_package_version(pyproject: dict) -> None:
    version = pyproject["project"]["version"]
    for relative in ("ray/gcp.yaml", "ray/aws.yaml", "k8s/raycluster.yaml", "k8s/rayjob-benchmark.yaml"):
        images = _images(yaml.safe_load((INFRA / relative).read_text()))
        assert images, relative
        for image in images:
            repository, _, tag = image.rpartition(":")
            assert repository.rsplit("/", 1)[-1] == "hephaestus", (relative, image)
            assert tag in (f"{version}-cpu", f"{version}-gpu"), (relative, image)
