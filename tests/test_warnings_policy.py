"""The warnings policy of pyproject.toml's `[tool.pytest.ini_options] filterwarnings`.

A warning our code causes is fixed in our code; a third-party warning we cannot fix is filtered one by
one: each entry names its message or module (never a whole category, which would also hide the warnings
our own code causes) and carries a comment on the line(s) just above it saying which library raises it
and why we cannot fix it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def filter_entries(text: str) -> list[str]:
    """The `filterwarnings` list of `[tool.pytest.ini_options]`, as tomllib parses it."""
    return list(tomllib.loads(text)["tool"]["pytest"]["ini_options"].get("filterwarnings", []))


def is_blanket_ignore(entry: str) -> bool:
    """An `ignore` of a whole category (or of everything): no message and no module to narrow it."""
    action, message, _category, module, *_ = [*entry.split(":", 4), "", "", "", ""]
    return action.strip() == "ignore" and not message.strip() and not module.strip()


def entries_with_comments(text: str) -> list[tuple[str, list[str]]]:
    """Each entry of the `filterwarnings` array, in file order, with the comment lines just above it.

    Every line of the array is parsed on its own (`[` line `]`), so an entry is matched by its value
    whatever its quoting; a comment line belongs to the entry below it, a blank line or an entry ends it.
    """
    lines = text.splitlines()
    section = lines.index("[tool.pytest.ini_options]")
    start = next(
        i for i in range(section, len(lines)) if lines[i].replace(" ", "").startswith("filterwarnings=[")
    )
    found: list[tuple[str, list[str]]] = []
    comments: list[str] = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("]"):
            break
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        values = tomllib.loads("x = [\n" + line + "\n]")["x"]
        if not values:
            comments = []
            continue
        found.extend((value, comments if k == 0 else []) for k, value in enumerate(values))
        comments = []
    return found


def policy_problems(text: str) -> list[str]:
    """What in this pyproject text breaks the policy (empty when it holds)."""
    entries = filter_entries(text)
    problems = [
        f"blanket category ignore {e!r}: name the message or module" for e in entries if is_blanket_ignore(e)
    ]
    commented = entries_with_comments(text)
    if [value for value, _ in commented] != entries:
        problems.append("could not match the filterwarnings entries in the raw text: one entry a line")
    for value, comments in commented:
        if not any(comments):
            problems.append(f"entry {value!r} has no reason comment on the line(s) above it")
    return problems


def test_pyproject_filters_are_narrow_and_give_their_reasons() -> None:
    assert policy_problems(PYPROJECT.read_text(encoding="utf-8")) == []


_GOOD = """\
[tool.pytest.ini_options]
addopts = "-q"
filterwarnings = [
  # somelib 1.2 warns at import; fixed upstream in 1.3
  'ignore:somelib is deprecated:DeprecationWarning:somelib\\.core',
  # otherlib's own call of a deprecated numpy API
  # (two comment lines are fine)
  "ignore::FutureWarning:otherlib",
]
"""


def _with_last(extra: str) -> str:
    """_GOOD with `extra` lines added at the end of its filterwarnings array."""
    head, _, tail = _GOOD.rpartition("]\n")
    return f"{head}{extra}]\n{tail}"


def test_a_narrow_commented_list_passes() -> None:
    assert filter_entries(_GOOD) == [
        "ignore:somelib is deprecated:DeprecationWarning:somelib\\.core",
        "ignore::FutureWarning:otherlib",
    ]
    assert policy_problems(_GOOD) == []


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('"ignore::DeprecationWarning",', "blanket category ignore 'ignore::DeprecationWarning'"),
        ('"ignore",', "blanket category ignore 'ignore'"),
        ('"ignore:::",', "blanket category ignore 'ignore:::'"),
    ],
)
def test_a_blanket_ignore_fails(entry: str, problem: str) -> None:
    text = _with_last(f"  # a reason does not make a blanket ignore narrow\n  {entry}\n")
    problems = policy_problems(text)
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_an_entry_without_a_reason_fails() -> None:
    text = _with_last("\n  'ignore:some message:UserWarning',\n")
    assert policy_problems(text) == [
        "entry 'ignore:some message:UserWarning' has no reason comment on the line(s) above it"
    ]


def test_a_comment_covers_only_the_entry_below_it() -> None:
    text = _with_last("  'error::ResourceWarning',\n")
    assert policy_problems(text) == [
        "entry 'error::ResourceWarning' has no reason comment on the line(s) above it"
    ]
