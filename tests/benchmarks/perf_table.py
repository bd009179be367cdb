"""The performance table of docs/performance.md, regenerated from the benchmarks' last JSON lines.

Every `tests/benchmarks/bench_*.py` prints one JSON object as its last stdout line, and that object
carries `"table"`: rows `{"figure": str, "value": str, "goal": str | None, "met": bool | None}`. This
script runs the benchmarks (or reads their saved lines), collects the rows in order and rewrites
docs/performance.md between the markers `<!-- perf-table:start -->` and `<!-- perf-table:end -->`, with one line
saying on which machine and on which date the figures were measured. Hand-typed figures drift from
the scripts that made them; a table rebuilt from the scripts' own output cannot.

Usage:
  .venv/bin/python tests/benchmarks/perf_table.py [--quick] [--save DIR] [BENCH ...]
      run the benchmarks (default: every bench_*.py here; BENCH is a name such as `train` or a path),
      optionally keeping each last line as DIR/<bench>.json and the machine as DIR/machine.json;
  .venv/bin/python tests/benchmarks/perf_table.py --from DIR [BENCH ...]
      read DIR/<bench>.json (a saved last line, or a whole saved stdout) instead of running anything.
  --doc FILE: the markdown file to rewrite (default: docs/performance.md).
  --check: print the table, leave the file alone.
Exit status 1 when a benchmark failed or printed no JSON (the file is then left as it was).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "performance.md"
"""Where the table lives: the README links it; measurements and their history are kept out of the README."""
START = "<!-- perf-table:start -->"
END = "<!-- perf-table:end -->"
MACHINE_FILE = "machine.json"
ROW_KEYS = ("figure", "value", "goal", "met")


class TableError(ValueError):
    """A benchmark's output or the performance document does not have the shape this script needs."""


def table_row(figure: str, value: str, goal: str | None = None, met: bool | None = None) -> dict[str, Any]:
    """One row of a benchmark's `"table"`: the figure, its value for people, the goal and whether it is met."""
    return {"figure": figure, "value": value, "goal": goal, "met": met}


def bench_name(script: str | Path) -> str:
    """`tests/benchmarks/bench_train.py`, `bench_train` or `train` -> `train`."""
    stem = Path(str(script)).stem
    return stem[len("bench_") :] if stem.startswith("bench_") else stem


def bench_scripts(names: Sequence[str]) -> list[Path]:
    """The scripts to run: the named ones (name or path), or every bench_*.py beside this file."""
    if not names:
        return sorted(HERE.glob("bench_*.py"))
    scripts = []
    for name in names:
        path = Path(name) if name.endswith(".py") else HERE / f"bench_{bench_name(name)}.py"
        if not path.is_file():
            raise TableError(f"{path}: no such benchmark script")
        scripts.append(path)
    return scripts


def last_json(text: str, source: str) -> dict[str, Any]:
    """The JSON object on the last non-empty line of a benchmark's stdout."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise TableError(f"{source}: no output")
    try:
        obj = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise TableError(f"{source}: the last line is not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise TableError(f"{source}: the last line is not a JSON object")
    return obj


def check_rows(rows: Any, source: str) -> list[dict[str, Any]]:
    """The `"table"` rows of one result, checked: a list of objects with at least figure and value
    (goal and met may be left out: no goal; other keys are ignored)."""
    if not isinstance(rows, list):
        raise TableError(f'{source}: "table" must be a list of rows')
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not {"figure", "value"} <= set(row):
            raise TableError(f"{source}: row {i} must have keys figure, value, goal, met; got {row!r}")
        if row.get("met") not in (True, False, None):
            raise TableError(f"{source}: row {i}: met must be true, false or null")
    return rows


def collect_rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every benchmark's rows in the given order, each with its benchmark's name; results without
    `"table"` contribute none (reported on stderr)."""
    out = []
    for name, result in results.items():
        if "table" not in result:
            print(f'perf_table: {name}: no "table" in its JSON line, left out', file=sys.stderr)
            continue
        for row in check_rows(result["table"], name):
            out.append({"bench": name, **{k: row.get(k) for k in ROW_KEYS}})
    return out


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: ""}[value]


def render(rows: Iterable[Mapping[str, Any]], note: str) -> str:
    """The markdown between the markers: the measurement note and the table."""
    lines = [
        note,
        "",
        "| benchmark | figure | value | goal | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"`bench_{row['bench']}.py`", _cell(row["figure"]), _cell(row["value"]), _cell(row["goal"])]
        lines.append("| " + " | ".join([*cells, _met(row["met"])]) + " |")
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with everything between the perf-table markers replaced by `block` (markers kept)."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise TableError(f"the document needs exactly one {START} ... {END} pair")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def describe_machine() -> str:
    """CPU model, the cores this process may use, memory, and the GPU if torch sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"{cpu}, {cores} cores"]
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        parts.append(f"{mem:.0f} GiB RAM")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch

        parts.append(f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU")
    except ImportError:
        pass
    return ", ".join(parts)


def note_line(machine: str, date: str, quick: bool) -> str:
    mode = " (`--quick` runs)" if quick else ""
    return (
        f"Measured on {machine}, {date}{mode}; regenerated by `make perf-table` "
        "(`tests/benchmarks/perf_table.py`) from each script's last JSON line."
    )


def run_bench(script: Path, quick: bool, timeout: float | None) -> dict[str, Any]:
    """Run one benchmark in its own process; its stderr passes through, its last stdout line is parsed."""
    cmd = [sys.executable, str(script), *(["--quick"] if quick else [])]
    print(f"perf_table: running {' '.join(cmd[1:])}", file=sys.stderr)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)
    print(f"perf_table: {script.name} took {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if proc.returncode != 0:
        raise TableError(f"{script.name}: exit status {proc.returncode}")
    return last_json(proc.stdout, script.name)


def read_saved(folder: Path, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Saved results `folder/<bench>.json`: the named ones, or every one there (machine.json aside)."""
    if names:
        paths = [folder / f"{bench_name(n)}.json" for n in names]
    else:
        paths = sorted(p for p in folder.glob("*.json") if p.name != MACHINE_FILE)
    results = {}
    for path in paths:
        if not path.is_file():
            raise TableError(f"{path}: no saved result")
        results[bench_name(path)] = last_json(path.read_text(), str(path))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benches", nargs="*", help="benchmark names (train) or scripts; default: all")
    ap.add_argument("--quick", action="store_true", help="run each benchmark with --quick")
    ap.add_argument("--from", dest="saved", type=Path, help="read DIR/<bench>.json instead of running")
    ap.add_argument("--save", type=Path, help="keep each last line as DIR/<bench>.json")
    ap.add_argument(
        "--doc", type=Path, default=DOC, help="markdown file holding the table (default: %(default)s)"
    )
    ap.add_argument("--machine", help="the machine line (default: this machine, or DIR/machine.json)")
    ap.add_argument("--date", help="the date line (default: today, or DIR/machine.json)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per benchmark")
    ap.add_argument("--check", action="store_true", help="print the table only")
    args = ap.parse_args(argv)

    meta: dict[str, Any] = {
        "machine": describe_machine(),
        "date": dt.date.today().isoformat(),
        "quick": args.quick,
    }
    failed = []
    try:
        if args.saved is not None:
            results = read_saved(args.saved, args.benches)
            saved_meta = args.saved / MACHINE_FILE
            if saved_meta.is_file():
                meta.update(json.loads(saved_meta.read_text()))
            else:
                meta["machine"] = "a machine not recorded"
        else:
            results = {}
            for script in bench_scripts(args.benches):
                try:
                    results[bench_name(script)] = run_bench(script, args.quick, args.timeout)
                except (TableError, subprocess.TimeoutExpired) as exc:
                    print(f"perf_table: {exc}", file=sys.stderr)
                    failed.append(script.name)
                    continue
                if args.save is not None:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"{bench_name(script)}.json").write_text(
                        json.dumps(results[bench_name(script)]) + "\n"
                    )
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / MACHINE_FILE).write_text(json.dumps(meta) + "\n")
        meta["machine"] = args.machine or meta["machine"]
        meta["date"] = args.date or meta["date"]
        block = render(collect_rows(results), note_line(meta["machine"], meta["date"], bool(meta["quick"])))
        print(block)
        if failed:
            print(f"perf_table: failed: {', '.join(failed)}; {args.doc} left as it was", file=sys.stderr)
            return 1
        if not args.check:
            args.doc.write_text(replace_block(args.doc.read_text(), block))
            print(f"perf_table: {args.doc} updated", file=sys.stderr)
    except TableError as exc:
        print(f"perf_table: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
