"""Credentials: none in infra files or images, none in logs; identities instead of keys."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import INFRA
from infra_secrets import PATTERNS, findings, scan_tree

from hephaestus.platform import storage
from hephaestus.platform.ray_session import worker_env


def test_nothing_under_infra_looks_secret() -> None:
    assert scan_tree(INFRA) == {}


# Planted samples, assembled at run time so that no file holds a real-looking credential.
_ID = "AKIA" + "Q" * 16
_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "b" * 18
SAMPLES = {
    "AWS access key id": f"aws_access_key_id = {_ID}\n",
    "AWS secret key assignment": f"AWS_SECRET_ACCESS_KEY={_SECRET}\n",
    "private key block": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...\n",
    "GCP service account key file": '{"type": "service_' + 'account", "project_id": "p"}',
    "credential field": "provider:\n  token: abc\n",
    "key file path": "env:\n  GOOGLE_APPLICATION_CREDENTIALS=/secrets/sa.json\n",
    "Kubernetes Secret object": "apiVersion: v1\nkind: Secret\n",
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_scanner_catches_each_kind_of_leak(name: str, tmp_path: Path) -> None:
    assert name in findings(SAMPLES[name])
    (tmp_path / "leak.yaml").write_text(SAMPLES[name])
    assert name in scan_tree(tmp_path)["leak.yaml"]


def test_identity_references_are_not_mistaken_for_secrets() -> None:
    ok = "serviceAccounts:\n  - email: a@p.iam.gserviceaccount.com\nIamInstanceProfile:\n  Name: node\n"
    assert findings(ok) == []


def _env_with_canaries() -> tuple[dict[str, str], list[str]]:
    canaries = [f"canary{secrets.token_hex(12)}" for _ in range(3)]
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=canaries[0],
        AWS_SECRET_ACCESS_KEY=canaries[1],
        AWS_SESSION_TOKEN=canaries[2],
        RAY_AUTH_MODE="disabled",
        GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
    )
    return env, canaries


def test_cli_logs_and_outputs_hold_no_credentials(tmp_path: Path) -> None:
    env, canaries = _env_with_canaries()
    hmc = [sys.executable, "-m", "hephaestus.cli.app"]
    runs = [
        subprocess.run([*hmc, "--help"], env=env, capture_output=True, text=True, timeout=120),
        subprocess.run(
            [
                *hmc,
                "-v",
                "synth",
                str(tmp_path / "src"),
                "--frames",
                "1",
                "--pairs",
                "2",
                "--size",
                "32",
                "32",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        ),
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr[-2000:]
        for canary in canaries:
            assert canary not in done.stdout + done.stderr
    written = [p for p in (tmp_path / "src").rglob("*") if p.is_file()]
    assert written
    for path in written:
        data = path.read_bytes()
        assert not any(c.encode() in data for c in canaries), path


def test_remote_workers_get_no_credentials_from_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a real cluster workers use their own identity; the driver's keys must not travel.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "driver-secret-value")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "driver-key-id")
    env = worker_env()
    assert "driver-secret-value" not in env.values() and "driver-key-id" not in env.values()
    assert env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"


def test_urls_are_redacted_before_logging() -> None:
    url = "s3://AKIDEXAMPLE:topsecret@bucket/store/cubes?X-Amz-Signature=abc123&X-Amz-Credential=k"
    redacted = storage.redact(url)
    assert redacted == "s3://bucket/store/cubes"
