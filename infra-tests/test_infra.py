"""The real programs pass the checker, and every planted mistake is caught by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from checker import check_repo
from conftest import HERE, REPO, copy_infra
from schema import AWS_VERSION

FIXTURES = sorted(p for p in (HERE / "fixtures").iterdir() if p.name.startswith("bad-"))


def test_schema_has_what_the_programs_use(schema):
    assert schema["version"] == AWS_VERSION
    assert "aws:dynamodb/table:Table" in schema["resources"]
    assert "aws:dynamodb/getTable:getTable" in schema["functions"]
    assert schema["types"]["dynamodb.TableReplica"]["regionName"]["required"]


def test_real_programs_pass(schema):
    assert check_repo(REPO, schema) == []


def test_copy_of_real_programs_passes(schema, tmp_path):
    assert check_repo(copy_infra(tmp_path), schema) == []


def test_at_least_six_distinct_mistakes_are_planted():
    expects = {yaml.safe_load((f / "mutation.yaml").read_text())["expect"] for f in FIXTURES}
    assert len(FIXTURES) >= 6 and len(expects) == len(FIXTURES)


def apply(fixture: Path, root: Path) -> None:
    spec = yaml.safe_load((fixture / "mutation.yaml").read_text())
    for edit in spec.get("edits", []):
        target = root / edit["file"]
        text = target.read_text()
        assert text.count(edit["find"]) == 1, f"{fixture.name}: edit target not found once in {edit['file']}"
        target.write_text(text.replace(edit["find"], edit["replace"]))
    for rel, content in (spec.get("add") or {}).items():
        (root / rel).write_text(content)
    for rel in spec.get("remove", []):
        (root / rel).unlink()


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_planted_mistake_is_caught(schema, tmp_path, fixture):
    root = copy_infra(tmp_path)
    apply(fixture, root)
    expect = yaml.safe_load((fixture / "mutation.yaml").read_text())["expect"]
    findings = check_repo(root, schema)
    assert any(expect in f for f in findings), f"{fixture.name}: expected {expect!r} in {findings}"


def test_missing_npm_fails_with_an_install_hint(tmp_path, monkeypatch):
    import schema as schema_module

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(schema_module.SchemaError, match=r"npm not found: apt-get install -y nodejs npm"):
        schema_module.load_schema(tmp_path / "cache")


def test_lambda_environment_names_are_read_by_the_code():
    """Every WEBMON_ variable the programs set is one the Rust code reads: a renamed
    variable on either side would leave a Lambda without its setting."""
    import re

    read = set()
    for crate in ("aws", "probe-lambda", "writer-lambda", "config-lambda"):
        for source in (REPO / crate / "src").rglob("*.rs"):
            read.update(re.findall(r'"(WEBMON_[A-Z_]+)"', source.read_text()))
    for program in (REPO / "Pulumi.yaml", REPO / "regions" / "Pulumi.yaml"):
        set_here = set(re.findall(r"^\s+(WEBMON_[A-Z_]+):", program.read_text(), re.M))
        assert set_here, f"{program} sets no WEBMON_ variables"
        assert set_here <= read, f"{program} sets variables no code reads: {sorted(set_here - read)}"
