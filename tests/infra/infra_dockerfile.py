"""A small Dockerfile reader and the rules the platform image must follow (no Docker engine needed).

`problems(text, repo, pyproject)` lists every broken rule as a sentence; tests assert it is empty
for infra/docker/Dockerfile and that planted mistakes are reported.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
FORBIDDEN_SOURCES = (".git", ".venv", ".work", ".env", ".ci", "demo", "tests")
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1].rstrip() + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = ""
    if buffer:
        raise ValueError(f"line {start}: instruction continues past the end of the file")
    return out


def substitute(text: str, values: dict[str, str]) -> str:
    """Expand $VAR, ${VAR} and ${VAR:-default} the way Docker does for FROM lines."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        return values.get(name, default if default is not None else "")

    return _VAR.sub(repl, text)


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the only ones a FROM line can use)."""
    values: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            values[name.strip()] = default.strip().strip('"')
    return values


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    out: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def copy_parts(ins: Instruction) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY/ADD in shell or JSON form."""
    words = json.loads(ins.args) if ins.args.startswith("[") else shlex.split(ins.args)
    flags = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words[:-1], words[-1]


def ray_pin(pyproject: dict[str, Any]) -> str:
    for dep in pyproject["project"]["dependencies"]:
        req = Requirement(dep)
        if req.name == "ray":
            (spec,) = list(req.specifier)
            if spec.operator != "==":
                raise ValueError(f"ray must be pinned with == in pyproject.toml, found {dep!r}")
            return spec.version
    raise ValueError("pyproject.toml does not depend on ray")


def problems(
    text: str, repo: Path, pyproject: dict[str, Any], variants: tuple[str, ...] = ("cpu", "gpu")
) -> list[str]:
    """Every rule of the platform image that `text` breaks."""
    found: list[str] = []
    instructions = parse(text)
    all_stages = stages(instructions)
    if not all_stages:
        return ["no FROM instruction"]
    args = global_args(instructions)
    names = {s[0].args.split()[-1] for s in all_stages if " AS " in s[0].args.upper()}

    # Base images: Ray's own image at exactly the Ray version the package pins, for each variant.
    pin = ray_pin(pyproject)
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    if "VARIANT" not in args:
        found.append("no ARG VARIANT selecting the cpu/gpu base image")
    for variant in variants:
        values = {**args, "VARIANT": variant}
        for stage in all_stages:
            image = substitute(stage[0].args.split()[0], values)
            if image in names:
                continue
            match = re.fullmatch(
                r"rayproject/ray:(?P<ver>[\d.]+)-py(?P<py>\d)(?P<minor>\d+)-(?P<var>\w+)", image
            )
            if not match:
                found.append(
                    f"line {stage[0].line}: base image {image!r} is not rayproject/ray:<ver>-py3XX-<variant>"
                )
                continue
            if match["ver"] != pin:
                found.append(
                    f"line {stage[0].line}: base image Ray {match['ver']} != ray=={pin} in pyproject.toml"
                )
            if f"{match['py']}.{match['minor']}" not in requires:
                found.append(
                    f"line {stage[0].line}: Python {match['py']}.{match['minor']} outside {requires}"
                )
            if match["var"] != variant:
                found.append(f"line {stage[0].line}: VARIANT={variant} gives image variant {match['var']!r}")

    # Sources: exist, and are exactly what the package build needs (no secrets, no junk).
    copied: set[str] = set()
    for ins in instructions:
        if ins.keyword == "ADD":
            found.append(f"line {ins.line}: use COPY, not ADD (no remote URLs or archive magic)")
        if ins.keyword not in ("COPY", "ADD"):
            continue
        flags, sources, _ = copy_parts(ins)
        if "from" in flags:
            continue
        for src in sources:
            clean = src.rstrip("/")
            if clean in (".", "") or any(ch in clean for ch in "*?["):
                found.append(
                    f"line {ins.line}: COPY {src!r} copies more than named files (the context is the repo)"
                )
                continue
            if clean.split("/")[0] in FORBIDDEN_SOURCES:
                found.append(f"line {ins.line}: COPY {src!r} must not enter the image")
            if not (repo / clean).exists():
                found.append(f"line {ins.line}: COPY source {src!r} does not exist in the repository")
            copied.add(clean)
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= set(pyproject["tool"]["setuptools"]["package-dir"].values())
    for path in sorted(needed - copied):
        found.append(f"the package build needs {path!r} but the Dockerfile does not copy it")

    # Final stage: non-editable install, entry point runs, gcsfs probe off, Ray's ENTRYPOINT kept.
    final = all_stages[-1]
    runs = " && ".join(i.args for i in final if i.keyword == "RUN")
    if "pip install" not in runs:
        found.append("the final stage does not pip install the package")
    if re.search(r"pip install[^&;]*\s(-e|--editable)\b", runs):
        found.append("the package is installed editable; the image needs a regular install")
    scripts = pyproject["project"]["scripts"]
    if not any(re.search(rf"(^|[\s;&]){re.escape(name)}\s", runs) for name in scripts):
        found.append(f"the final stage never runs an entry point of the package ({sorted(scripts)})")
    env_text = " ".join(i.args for i in final if i.keyword == "ENV")
    if not re.search(r"\bGCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false\b", env_text):
        found.append("ENV GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false is missing from the final stage")
    for ins in final:
        if ins.keyword in ("ENTRYPOINT", "CMD"):
            found.append(f"line {ins.line}: {ins.keyword} overrides Ray's; KubeRay and the launcher need it")
    for ins in instructions:
        if ins.keyword in ("ARG", "ENV"):
            for name in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", ins.args):
                if SECRET_NAME.search(name):
                    found.append(
                        f"line {ins.line}: {ins.keyword} {name} looks like a credential baked into the image"
                    )
    return found
