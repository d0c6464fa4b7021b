"""The Pulumi commands of docs/deploy.md against the programs, offline: every
`pulumi config set KEY` names a key the program in that directory declares (or the AWS
provider's `aws:` settings), and every `pulumi stack output NAME` an output it has. The
guide says each command block starts at the repository's root: a `cd` stays in force to
the end of its block, and `--cwd DIR` applies to its own command only."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import yaml

from conftest import REPO

DEPLOY = REPO / "docs" / "deploy.md"


def _programs() -> dict[str, dict]:
    """Each program directory (relative to the repository) and its Pulumi.yaml."""
    found = {}
    for file in sorted(REPO.glob("**/Pulumi.yaml")):
        rel = file.parent.relative_to(REPO).as_posix()
        if rel.startswith(("target", "infra-tests")):
            continue
        found["." if rel == "." else rel] = yaml.safe_load(file.read_text())
    return found


def _shell_lines(text: str):
    """(line number, command) of every line in a fenced shell block; `None` as the
    command at the start of each block."""
    fence = shell = False
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = not fence
            shell = fence and stripped[3:].strip() in ("sh", "bash", "shell", "")
            if shell:
                yield n, None
            continue
        if shell and stripped and not stripped.startswith("#"):
            yield n, stripped


def _commands(line: str) -> list[str]:
    """The line and the commands inside its `$(...)` substitutions."""
    inner = re.findall(r"\$\(([^()]*)\)", line)
    return [line, *inner]


def _positional(words: list[str]) -> list[str]:
    """The arguments among `words`, without flags and the values of `--cwd`/`--stack`."""
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("--cwd", "-C", "--stack", "-s"):
            skip = True
        elif not word.startswith("-"):
            out.append(word)
    return out


def _check(text: str, programs: dict[str, dict]) -> list[str]:
    problems = []
    cwd = "."
    for n, line in _shell_lines(text):
        if line is None:
            cwd = "."
            continue
        moved = re.match(r"^cd\s+(\S+)", line)
        if moved:
            cwd = posixpath.normpath(posixpath.join(cwd, moved.group(1)))
            continue
        for command in _commands(line):
            words = command.split()
            if words[:1] != ["pulumi"]:
                continue
            where = cwd
            if "--cwd" in words:
                where = posixpath.normpath(posixpath.join(cwd, words[words.index("--cwd") + 1]))
            prog = programs.get(where)
            if prog is None:
                problems.append(f"deploy.md:{n}: `{command}` runs in {where}/, which has no Pulumi.yaml")
                continue
            name = prog.get("name")
            args = _positional(words[3:])
            if words[1:3] == ["config", "set"]:
                key = args[0]
                namespace, _, bare = key.rpartition(":")
                if namespace == "aws":
                    continue
                if namespace and namespace != name:
                    problems.append(f"deploy.md:{n}: `{key}` is not project {name}'s config (in {where}/)")
                elif bare not in (prog.get("config") or {}):
                    problems.append(f"deploy.md:{n}: {where}/Pulumi.yaml declares no config `{bare}`")
            if words[1:3] == ["stack", "output"]:
                output = args[0]
                if output not in (prog.get("outputs") or {}):
                    problems.append(f"deploy.md:{n}: {where}/Pulumi.yaml has no output `{output}`")
    return problems


def test_deploy_guide_pulumi_commands_match_the_programs():
    text = DEPLOY.read_text()
    programs = _programs()
    assert {".", "regions", "stores/timestream", "stores/influxdb"} <= set(programs)
    checked = sum(1 for _, line in _shell_lines(text) if line
                  for c in _commands(line) if c.startswith("pulumi "))
    assert checked >= 20, f"only {checked} pulumi commands found in docs/deploy.md"
    assert _check(text, programs) == []


def test_a_wrong_output_or_config_key_is_caught():
    programs = _programs()
    planted = "```sh\ncd stores/influxdb\nX=$(pulumi stack output influxEndpont --stack home)\n" \
              "pulumi config set instanceTyp db.influx.medium\ncd ../..\n```\n" \
              "```sh\npulumi config set webmon:storeStak x\n" \
              "pulumi stack output probeFunctionArn --cwd regions --stack eu-west-1\n```\n"
    problems = _check(planted, programs)
    assert any("no output `influxEndpont`" in p for p in problems), problems
    assert any("no config `instanceTyp`" in p for p in problems), problems
    # After `cd ../..` the home program's config is checked.
    assert any("no config `storeStak`" in p for p in problems), problems
    assert not any("probeFunctionArn" in p for p in problems), problems
