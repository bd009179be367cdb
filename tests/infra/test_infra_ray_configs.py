"""infra/ray: cluster launcher configs validated by Ray's own schema and `ray up`'s preparation."""

from __future__ import annotations

import copy
import re
import shlex

import jsonschema
import pytest
from conftest import load_yaml
from infra_kube import mutated
from ray.autoscaler._private.util import prepare_config, validate_config

CONFIGS = ["ray/gcp.yaml", "ray/aws.yaml"]


@pytest.mark.parametrize("relative", CONFIGS)
def test_config_passes_rays_schema_before_and_after_defaults(relative: str) -> None:
    raw = load_yaml(relative)
    validate_config(raw)
    # `ray up` fills in the provider defaults then validates again; do the same offline.
    validate_config(prepare_config(copy.deepcopy(raw)))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["max_worker"], 3),  # typo of max_workers: unknown top-level keys are refused
        (["available_node_types", "gpu_trainer", "resources", "GPU"], "1"),
        (["available_node_types", "gpu_trainer", "min_worker"], 0),
        (["head_node_type"], None),
    ],
)
def test_rays_schema_refuses_broken_configs(path: list, value: object) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_config(mutated(load_yaml("ray/gcp.yaml"), path, value))


@pytest.mark.parametrize("relative", CONFIGS)
def test_node_groups_head_loaders_gpu_trainers(relative: str, pyproject: dict) -> None:
    cfg = load_yaml(relative)
    types = cfg["available_node_types"]
    assert set(types) == {"head", "cpu_loader", "gpu_trainer"}
    assert cfg["head_node_type"] == "head"
    assert types["head"]["resources"]["CPU"] == 0, "the head only schedules"
    gpu = types["gpu_trainer"]
    assert gpu["resources"]["GPU"] >= 1
    assert "GPU" not in types["cpu_loader"]["resources"]
    for name in ("cpu_loader", "gpu_trainer"):
        assert 0 <= types[name]["min_workers"] < types[name]["max_workers"] <= cfg["max_workers"]
    assert cfg["docker"]["image"].endswith("-cpu")
    assert gpu["docker"]["worker_image"].endswith("-gpu")
    # The image holds the package: setup fails early unless its entry point runs.
    first_words = {shlex.split(c)[0] for c in cfg["setup_commands"]}
    assert first_words & set(pyproject["project"]["scripts"])


def test_gcp_nodes_use_an_attached_service_account_and_a_real_gpu() -> None:
    cfg = load_yaml("ray/gcp.yaml")
    assert "gcp_credentials" not in cfg["provider"], "no credential blobs in the config"
    for name, node in cfg["available_node_types"].items():
        (account,) = node["node_config"]["serviceAccounts"]
        assert re.fullmatch(r"[a-z][a-z0-9-]+@[A-Za-z0-9_-]+\.iam\.gserviceaccount\.com", account["email"]), (
            name
        )
        assert account["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    gpu = cfg["available_node_types"]["gpu_trainer"]
    (accelerator,) = gpu["node_config"]["guestAccelerators"]
    assert accelerator["acceleratorType"].startswith("nvidia-")
    assert accelerator["acceleratorCount"] == gpu["resources"]["GPU"]
    # GCE refuses to live-migrate GPU VMs: they must terminate on host maintenance.
    assert {"onHostMaintenance": "TERMINATE"} in gpu["node_config"]["scheduling"]
    assert gpu["node_config"]["machineType"].startswith(("n1-", "a2-", "g2-", "a3-"))


def test_aws_nodes_use_an_instance_profile_and_a_gpu_instance() -> None:
    cfg = load_yaml("ray/aws.yaml")
    for name, node in cfg["available_node_types"].items():
        profile = node["node_config"]["IamInstanceProfile"]
        assert set(profile) <= {"Name", "Arn"} and profile, name
    gpu = cfg["available_node_types"]["gpu_trainer"]["node_config"]["InstanceType"]
    assert re.match(r"(g4dn|g5|g6|g6e|p3|p4d|p5)\.", gpu)
