"""perf_table.py: the performance table of docs/performance.md rebuilt from saved benchmark lines (a hand-written fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from perf_table import DOC, END, START, TableError, collect_rows, last_json, main, replace_block

FIXTURE = Path(__file__).parent / "fixtures" / "perf_table"
ROOT = Path(__file__).resolve().parents[2]


def test_table_from_saved_lines_matches_hand_written_doc(tmp_path):
    doc = tmp_path / "performance.md"
    shutil.copy(FIXTURE / "doc_before.md", doc)
    assert main(["--from", str(FIXTURE), "--doc", str(doc)]) == 0
    assert doc.read_text() == (FIXTURE / "doc_expected.md").read_text()
    # idempotent: a second run leaves the same text
    assert main(["--from", str(FIXTURE), "--doc", str(doc)]) == 0
    assert doc.read_text() == (FIXTURE / "doc_expected.md").read_text()


def test_named_benchmarks_only_and_check_leaves_doc(tmp_path, capsys):
    doc = tmp_path / "performance.md"
    shutil.copy(FIXTURE / "doc_before.md", doc)
    assert main(["--from", str(FIXTURE), "train", "--doc", str(doc), "--check"]) == 0
    out = capsys.readouterr().out
    assert "`bench_train.py`" in out and "`bench_loader.py`" not in out
    assert doc.read_text() == (FIXTURE / "doc_before.md").read_text()


def test_missing_saved_result_fails_without_touching_doc(tmp_path):
    doc = tmp_path / "performance.md"
    shutil.copy(FIXTURE / "doc_before.md", doc)
    assert main(["--from", str(FIXTURE), "ingest", "--doc", str(doc)]) == 1
    assert doc.read_text() == (FIXTURE / "doc_before.md").read_text()


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
    doc = tmp_path / "performance.md"
    doc.write_text(f"{START}\n{END}\n")
    assert main(["--from", str(tmp_path), "--doc", str(doc), "--machine", "m", "--date", "d"]) == 0
    assert "| `bench_x.py` | a\\|b | 1 |  |  |" in doc.read_text()


def test_default_target_is_docs_performance_and_the_readme_only_links_it():
    """`make perf-table` rewrites docs/performance.md (one marker pair there); the README holds no table."""
    assert DOC == ROOT / "docs" / "performance.md"
    assert replace_block(DOC.read_text(), "new").count(START) == 1
    readme = (ROOT / "README.md").read_text()
    assert START not in readme and END not in readme
    assert "(docs/performance.md)" in readme
