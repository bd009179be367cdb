"""Regenerate tests/infra/schemas/*.json from KubeRay's CRD YAML files (run by hand, offline).

The CRDs (KubeRay v1.7.0 release, ray.io_rayclusters.yaml and ray.io_rayjobs.yaml) are ~2 MB of
YAML; the tests need only the served storage version's openAPIV3Schema, kept verbatim as JSON.

    .venv/bin/python tests/infra/extract_crd_schemas.py /work/shared/data/kuberay-crds
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent / "schemas"
CRDS = {"ray.io_rayclusters.yaml": "raycluster", "ray.io_rayjobs.yaml": "rayjob"}


def extract(crd_path: Path) -> tuple[str, dict]:
    """(version name, openAPIV3Schema) of the CRD's storage version."""
    crd = yaml.safe_load(crd_path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage") and v.get("served")]
    return version["name"], version["schema"]["openAPIV3Schema"]


def main(source: str) -> None:
    for file_name, kind in CRDS.items():
        version, schema = extract(Path(source) / file_name)
        schema = {"$comment": f"openAPIV3Schema of {file_name} ({version}), KubeRay v1.7.0", **schema}
        out = HERE / f"{kind}.ray.io_{version}.json"
        out.write_text(json.dumps(schema, indent=None, separators=(",", ":"), sort_keys=True) + "\n")
        print(out, out.stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/kuberay-crds")
