"""perf_table.py: the README's performance table rebuilt from saved benchmark lines (a hand-written fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from perf_table import END, START, TableError, collect_rows, last_json, main, replace_block

FIXTURE = Path(__file__).parent / "fixtures" / "perf_table"


def test_table_from_saved_lines_matches_hand_written_readme(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(FIXTURE / "readme_before.md", readme)
    assert main(["--from", str(FIXTURE), "--readme", str(readme)]) == 0
    assert readme.read_text() == (FIXTURE / "readme_expected.md").read_text()
    # idempotent: a second run leaves the same text
    assert main(["--from", str(FIXTURE), "--readme", str(readme)]) == 0
    assert readme.read_text() == (FIXTURE / "readme_expected.md").read_text()


def test_named_benchmarks_only_and_check_leaves_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copy(FIXTURE / "readme_before.md", readme)
    assert main(["--from", str(FIXTURE), "train", "--readme", str(readme), "--check"]) == 0
    out = capsys.readouterr().out
    assert "`bench_train.py`" in out and "`bench_loader.py`" not in out
    assert readme.read_text() == (FIXTURE / "readme_before.md").read_text()


def test_missing_saved_result_fails_without_touching_readme(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(FIXTURE / "readme_before.md", readme)
    assert main(["--from", str(FIXTURE), "ingest", "--readme", str(readme)]) == 1
    assert readme.read_text() == (FIXTURE / "readme_before.md").read_text()


def test_last_line_must_be_a_json_object():
    assert last_json('progress\n{"a": 1}\n\n', "x") == {"a": 1}
    with pytest.raises(TableError, match="x: the last line is not JSON"):
        last_json('{"a": 1}\ndone\n', "x")
    with pytest.raises(TableError, match="x: no output"):
        last_json("\n", "x")


def test_rows_need_figure_and_value_and_a_boolean_met():
    assert collect_rows({"b": {"table": [{"figure": "f", "value": "1"}]}}) == [
        {"bench": "b", "figure": "f", "value": "1", "goal": None, "met": None}
    ]
    with pytest.raises(TableError, match="row 0"):
        collect_rows({"b": {"table": [{"figure": "f"}]}})
    with pytest.raises(TableError, match="met"):
        collect_rows({"b": {"table": [{"figure": "f", "value": "1", "met": "yes"}]}})


def test_markers_must_appear_once_in_order():
    assert replace_block(f"a\n{START}\nold\n{END}\nb", "new") == f"a\n{START}\nnew\n{END}\nb"
    for text in ("no markers", f"{END}\n{START}", f"{START}{START}{END}"):
        with pytest.raises(TableError, match="exactly one"):
            replace_block(text, "new")


def test_pipes_in_values_are_escaped(tmp_path):
    (tmp_path / "x.json").write_text(
        json.dumps({"table": [{"figure": "a|b", "value": "1", "goal": None, "met": None}]})
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    assert main(["--from", str(tmp_path), "--readme", str(readme), "--machine", "m", "--date", "d"]) == 0
    assert "| `bench_x.py` | a\\|b | 1 |  |  |" in readme.read_text()
