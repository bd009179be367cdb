"""Offline validation of Kubernetes manifests: KubeRay CRD schemas + a minimal core schema.

The CRD schemas are OpenAPI v3 (structural) schemas. jsonschema evaluates their standard keywords;
the Kubernetes-only ones are handled here:
- unknown fields: the API server prunes them and `kubectl apply` (strict field validation) refuses
  them, so every object schema with `properties` gets `additionalProperties: false`;
- `x-kubernetes-int-or-string`: an integer or a string (the CRDs spell it as anyOf as well);
- `x-kubernetes-validations` (CEL rules) cannot be evaluated offline: `cel_guarded_paths` lists the
  manifest fields that carry them so tests can insist that none is used unchecked;
- `x-kubernetes-list-type` / `-map-keys` / `-map-type` only affect merging, not validity.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMA_FILES = {
    ("ray.io/v1", "RayCluster"): "raycluster.ray.io_v1.json",
    ("ray.io/v1", "RayJob"): "rayjob.ray.io_v1.json",
}
CORE_KINDS = {("v1", "ServiceAccount"): "ServiceAccount", ("v1", "ConfigMap"): "ConfigMap"}
INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI schema where unknown fields are errors and int-or-string is explicit."""
    node = {k: v for k, v in schema.items()}
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node:
        node["anyOf"] = INT_OR_STRING
    if "properties" in node:
        node["properties"] = {name: strict(sub) for name, sub in node["properties"].items()}
        if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = strict(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        node["items"] = strict(node["items"])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node:
            node[key] = [strict(sub) for sub in node[key]]
    return node


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The shipped openAPIV3Schema of a KubeRay kind, as published (not made strict)."""
    return json.loads((SCHEMAS / CRD_SCHEMA_FILES[(api_version, kind)]).read_text())


@cache
def _core() -> dict[str, Any]:
    return json.loads((SCHEMAS / "k8s-minimal.json").read_text())


def core_validator(definition: str) -> jsonschema.Draft7Validator:
    core = _core()
    schema = {"$ref": f"#/definitions/{definition}", "definitions": core["definitions"]}
    return jsonschema.Draft7Validator(schema)


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(strict(crd_schema(api_version, kind)))


def errors(manifest: dict[str, Any]) -> list[str]:
    """Every schema violation of one manifest, as 'path: message' lines (empty when valid)."""
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    found: list[tuple[str, jsonschema.ValidationError]] = []
    if key in CRD_SCHEMA_FILES:
        found += [("", e) for e in _crd_validator(*key).iter_errors(manifest)]
        meta = core_validator("ObjectMeta").iter_errors(manifest.get("metadata", {}))
        found += [("metadata/", e) for e in meta]
    elif key in CORE_KINDS:
        found += [("", e) for e in core_validator(CORE_KINDS[key]).iter_errors(manifest)]
    else:
        return [f"no offline schema for apiVersion={key[0]!r} kind={key[1]!r}"]
    return [
        f"{(prefix + '/'.join(map(str, e.absolute_path))) or '<root>'}: {e.message}" for prefix, e in found
    ]


def cel_guarded_paths(manifest: dict[str, Any]) -> list[str]:
    """Manifest fields whose CRD schema carries CEL rules (x-kubernetes-validations)."""
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    out: list[str] = []

    def walk(schema: dict[str, Any], value: Any, path: str) -> None:
        if "x-kubernetes-validations" in schema:
            out.append(path or "<root>")
        if isinstance(value, dict):
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for name, sub in value.items():
                if name in props:
                    walk(props[name], sub, f"{path}/{name}")
                elif isinstance(extra, dict):
                    walk(extra, sub, f"{path}/{name}")
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, sub in enumerate(value):
                walk(schema["items"], sub, f"{path}[{i}]")

    walk(crd_schema(*key), manifest, "")
    return out


def mutated(manifest: dict[str, Any], path: list[str | int], value: Any = None, delete: bool = False) -> dict:
    """A deep copy with one field set (or deleted): to show that validation can fail."""
    out = copy.deepcopy(manifest)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out
