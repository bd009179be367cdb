"""How easy the codebase is to live in, counted rather than estimated (issue "One house").

Counts: imports that run against the layers (tests/test_layers.py), the largest module and the longest
function of the package, the README's lines, and the package files a contributor must touch for four
common changes, found by grep (in code, not comments or docstrings) for a name that each such change repeats:

- add an ERA5 field: files that spell an existing one (``vertical_integral_of_temperature``, or the short
  name ``tcwv`` of the ERA5 files);
- add a model to the grid: files that name an existing one (``mobilenetv3_large_100``);
- add an alert rule: files that name an existing rule's setting (``min_area_km2``);
- add an object-store backend: files that name an existing scheme ("s3", "gs", "gcs"), its environment
  (AWS_*, GOOGLE_*, STORAGE_EMULATOR_HOST) or its client (s3fs, gcsfs, obstore).

Usage: ``python tests/benchmarks/codebase_metrics.py [--root DIR]``; last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_layers import LAYERS, violations  # noqa: E402

CHANGES = {
    "add_era5_field": r"vertical_integral_of_temperature|[\"']tcwv[\"']",
    "add_grid_model": r"mobilenetv3_large_100",
    "add_alert_rule": r"min_area_km2",
    "add_storage_backend": r"[\"'](s3|gs|gcs)[\"']|AWS_[A-Z]|GOOGLE_|STORAGE_EMULATOR_HOST|s3fs|gcsfs|obstore",
}


def code_text(path: Path) -> str:
    """The code of a module without its comments and docstrings: what a change has to edit, not what
    merely mentions a name."""
    source = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    comments: dict[int, int] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.start[1]
    lines = []
    for number, line in enumerate(source.splitlines(), start=1):
        if number in docstrings:
            continue
        lines.append(line[: comments[number]] if number in comments else line)
    return "\n".join(lines)


def package_files(root: Path) -> list[Path]:
    folders = [root / name for name in LAYERS if (root / name).is_dir()]
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def longest_function(paths: list[Path], root: Path) -> tuple[str, int]:
    best = ("", 0)
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > best[1]:
                    best = (f"{path.relative_to(root)}:{node.name}", lines)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parents[1])
    args = parser.parse_args()
    root = args.root.resolve()
    paths = package_files(root)
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in paths}
    largest = max(sizes.items(), key=lambda kv: kv[1])
    function, function_lines = longest_function(paths, root)
    touch = {}
    for change, pattern in CHANGES.items():
        files = [str(p.relative_to(root)) for p in paths if re.search(pattern, code_text(p))]
        touch[change] = {"files": len(files), "which": files}
    result = {
        "layer_violations": len(violations(root)),
        "largest_module": largest[0],
        "largest_module_lines": largest[1],
        "longest_function": function,
        "longest_function_lines": function_lines,
        "readme_lines": len((root / "README.md").read_text().splitlines()),
        "files_to_touch": touch,
    }
    for change, info in touch.items():
        print(f"{change}: {info['files']} files: {', '.join(info['which'])}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
