"""Secret-looking content: the patterns a leaked credential leaves in a text file or a log."""

from __future__ import annotations

import re
from pathlib import Path

PATTERNS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "AWS secret key assignment": re.compile(r"(?i)aws_?secret_?access_?key\s*[:=]\s*['\"]?[A-Za-z0-9/+]{8,}"),
    "private key block": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GCP service account key file": re.compile(r"\"type\"\s*:\s*\"service_account\""),
    "credential field": re.compile(
        r"(?im)^\s*[\"']?(token|password|passwd|client_secret|private_key|private_key_id|"
        r"gcp_credentials|ssh_private_key|aws_session_token)[\"']?\s*:"
    ),
    "key file path": re.compile(r"(?i)GOOGLE_APPLICATION_CREDENTIALS\s*[:=]|\.json\.key\b|\bkey\.json\b"),
    "Kubernetes Secret object": re.compile(r"(?m)^kind:\s*Secret\s*$"),
}


def findings(text: str) -> list[str]:
    """Names of the patterns that match `text`."""
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]


def scan_tree(root: Path) -> dict[str, list[str]]:
    """Every text file under `root` with what looks secret in it (binary files and caches skipped)."""
    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        hits = findings(text)
        if hits:
            out[str(path.relative_to(root))] = hits
    return out
