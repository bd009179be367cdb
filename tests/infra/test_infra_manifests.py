"""infra/k8s: KubeRay RayCluster/RayJob and the ServiceAccount, validated offline.

Schemas: the KubeRay v1.7.0 CRDs' openAPIV3Schema (tests/infra/schemas, from
tests/infra/extract_crd_schemas.py) and a minimal hand-written core schema (k8s-minimal.json).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import INFRA, load_yaml
from infra_dockerfile import ray_pin
from infra_kube import cel_guarded_paths, errors, mutated

HEAD_CONTAINER = ["spec", "headGroupSpec", "template", "spec", "containers", 0]
MANIFESTS = ["k8s/raycluster.yaml", "k8s/rayjob-benchmark.yaml", "k8s/serviceaccount.yaml"]


def test_every_yaml_under_infra_parses_to_mappings() -> None:
    files = sorted(INFRA.rglob("*.yaml")) + sorted(INFRA.rglob("*.yml"))
    names = {str(p.relative_to(INFRA)) for p in files}
    assert {"ray/gcp.yaml", "ray/aws.yaml", *MANIFESTS} <= names
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path} is empty"
        assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"


@pytest.mark.parametrize("relative", MANIFESTS)
def test_manifest_validates_against_its_schema(relative: str) -> None:
    assert errors(load_yaml(relative)) == []


@pytest.mark.parametrize("relative", ["k8s/raycluster.yaml", "k8s/rayjob-benchmark.yaml"])
def test_no_field_relies_on_cel_rules_we_cannot_check_offline(relative: str) -> None:
    assert cel_guarded_paths(load_yaml(relative)) == []


def test_cel_guarded_fields_are_detected() -> None:
    # managedBy carries CEL rules in the CRD: using it must be noticed.
    rc = mutated(load_yaml("k8s/raycluster.yaml"), ["spec", "managedBy"], "ray.io/kuberay-operator")
    assert cel_guarded_paths(rc) == ["/spec/managedBy"]


@pytest.mark.parametrize(
    ("path", "value", "delete", "expected"),
    [
        (["spec", "headGroupSpec", "rayStartParams", "num-cpus"], 0, False, "is not of type 'string'"),
        (["spec", "workerGroupSpec"], [], False, "'workerGroupSpec' was unexpected"),
        (["spec", "workerGroupSpecs", 0, "groupName"], None, True, "'groupName' is a required property"),
        (["spec", "workerGroupSpecs", 1, "maxReplicas"], "4", False, "is not of type 'integer'"),
        ([*HEAD_CONTAINER, "ports", 0, "containerPort"], "x", False, "is not of type 'integer'"),
        ([*HEAD_CONTAINER, "resources", "limits", "cpu"], [2], False, "is not valid under any"),
        (["metadata", "name"], "Hephaestus_Cluster", False, "does not match"),
        (["metadata", "labels", "app.kubernetes.io/name"], "x" * 64, False, "is too long"),
    ],
)  # fmt: skip
def test_broken_raycluster_is_refused(path: list, value: object, delete: bool, expected: str) -> None:
    found = errors(mutated(load_yaml("k8s/raycluster.yaml"), path, value, delete))
    assert any(expected in e for e in found), found


def test_quantities_accept_int_or_string() -> None:
    rc = load_yaml("k8s/raycluster.yaml")
    limits = ["spec", "workerGroupSpecs", 0, "template", "spec", "containers", 0, "resources", "limits"]
    assert errors(mutated(rc, [*limits, "cpu"], 8)) == []
    assert errors(mutated(rc, [*limits, "cpu"], "8")) == []


def test_unknown_kind_has_no_schema() -> None:
    assert errors({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})[0].startswith(
        "no offline schema"
    )


def _groups(spec: dict) -> dict[str, dict]:
    return {g["groupName"]: g for g in spec["workerGroupSpecs"]}


def _container(group: dict) -> dict:
    (container,) = group["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("relative", ["k8s/raycluster.yaml", "k8s/rayjob-benchmark.yaml"])
def test_cluster_shape_loaders_trainers_autoscaling(relative: str, pyproject: dict) -> None:
    doc = load_yaml(relative)
    spec = doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]
    assert spec["rayVersion"] == ray_pin(pyproject)
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = _groups(spec)
    assert set(groups) == {"cpu-loaders", "gpu-trainers"}
    for group in groups.values():
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"], "autoscaling needs room to grow"
    gpu = _container(groups["gpu-trainers"])["resources"]
    assert int(gpu["limits"]["nvidia.com/gpu"]) >= 1
    assert gpu["limits"]["nvidia.com/gpu"] == gpu["requests"]["nvidia.com/gpu"]
    cpu = _container(groups["cpu-loaders"])["resources"]
    assert "nvidia.com/gpu" not in cpu["limits"] and "nvidia.com/gpu" not in cpu["requests"]
    assert _container(groups["gpu-trainers"])["image"].endswith("-gpu")
    assert _container(groups["cpu-loaders"])["image"].endswith("-cpu")
    assert spec["headGroupSpec"]["template"]["spec"]["containers"][0]["image"].endswith("-cpu")


@pytest.mark.parametrize("relative", ["k8s/raycluster.yaml", "k8s/rayjob-benchmark.yaml"])
def test_every_pod_runs_as_the_workload_identity_account(relative: str) -> None:
    account = load_yaml("k8s/serviceaccount.yaml")["metadata"]
    doc = load_yaml(relative)
    assert doc["metadata"]["namespace"] == account["namespace"]
    spec = doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]
    pods = [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]
    for pod in pods:
        assert pod["spec"]["serviceAccountName"] == account["name"]
        env = {e["name"]: e.get("value") for c in pod["spec"]["containers"] for e in c.get("env", [])}
        assert env.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT") == "false"
        assert not [name for name in env if re.search("SECRET|KEY|TOKEN|PASSWORD", name)]


def test_service_account_maps_to_a_google_service_account() -> None:
    sa = load_yaml("k8s/serviceaccount.yaml")
    email = sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[A-Za-z0-9_-]+\.iam\.gserviceaccount\.com", email)
    assert "secrets" not in sa


def test_broken_service_account_is_refused() -> None:
    sa = load_yaml("k8s/serviceaccount.yaml")
    assert any("'spec' was unexpected" in e for e in errors(mutated(sa, ["spec"], {})))
    assert any("does not match" in e for e in errors(mutated(sa, ["metadata", "namespace"], "Hephaestus")))


def test_rayjob_entrypoint_runs_the_paper_benchmark(pyproject: dict) -> None:
    job = load_yaml("k8s/rayjob-benchmark.yaml")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[0] in pyproject["project"]["scripts"]
    assert argv[1] == "benchmark"
    store = argv[2]
    assert store.startswith("gs://")
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["--grid"] == "paper"
    assert options["--out"].startswith("gs://") and options["--out"] != store
    assert "--address" not in options, "inside a RayJob the job supervisor sets RAY_ADDRESS"
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    runtime_env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    assert runtime_env["env_vars"]["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"


def test_shipped_schemas_are_the_kuberay_v1_crds() -> None:
    from infra_kube import crd_schema

    for kind in ("RayCluster", "RayJob"):
        schema = crd_schema("ray.io/v1", kind)
        assert "KubeRay v1.7.0" in schema["$comment"]
        assert schema["properties"]["kind"]["type"] == "string"
        assert "spec" in schema["properties"]
    assert Path(__file__).with_name("extract_crd_schemas.py").exists()


def test_paper_grid_job_can_obtain_its_imagenet_weights() -> None:
    # The paper grid refuses to start without ImageNet weights (hmc benchmark fails before Ray naming them):
    # the RayJob must either let the hub be reached (HF_HUB_OFFLINE=0 in the job's runtime env, which Ray
    # applies to the entrypoint too) or point at a mounted --weights-dir.
    job = load_yaml("k8s/rayjob-benchmark.yaml")
    entry = shlex.split(job["spec"]["entrypoint"])
    env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"]
    if "--grid" in entry and entry[entry.index("--grid") + 1] == "paper" and "--weights-dir" not in entry:
        assert env.get("HF_HUB_OFFLINE") == "0"
