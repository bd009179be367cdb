"""`hmc` starts without the heavy libraries: a command imports torch, Ray or torchmetrics only when it runs
something that needs them (`hmc --help` took 9 s on a loaded machine when the app imported torch)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "ray", "torchmetrics", "timm", "segmentation_models_pytorch")


def test_the_cli_app_imports_no_heavy_library() -> None:
    code = "import sys, json, hephaestus.cli.app; print(json.dumps(sorted(m for m in sys.modules)))"
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
