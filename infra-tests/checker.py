"""Offline checker for webmon's two Pulumi YAML projects.

The Pulumi CLI cannot run here, so this reads `Pulumi.yaml` (home), `regions/Pulumi.yaml`
(probe regions) and their stack files, and checks them against the pinned `@pulumi/aws`
schema (see schema.py). Usage: `python3 infra-tests/checker.py [REPO_ROOT]`; exit status 1
when anything is found. Modules: program.py (tokens, properties, references), policy.py
(IAM, encryption, tags, Lambda contract), stacks.py (stack files, regions, artifacts).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy import check_iam, check_resources  # noqa: E402
from program import ProgramChecker, load  # noqa: E402
from schema import load_schema  # noqa: E402
from stacks import check_artifacts, check_regions, check_stack_config, stack_files  # noqa: E402


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def check_repo(root: Path, schema: dict | None = None) -> list[str]:
    """Every finding for the repository at `root`, as `file: place: reason` lines."""
    schema = schema or load_schema()
    root = root.resolve()
    found: list[str] = [f"{rel}: missing" for rel in ("Pulumi.yaml", "regions/Pulumi.yaml")
                        if not (root / rel).is_file()]
    if found:
        return found
    home_doc = _read(root / "Pulumi.yaml")
    region_doc = _read(root / "regions" / "Pulumi.yaml")
    home = load("Pulumi.yaml", home_doc)
    region = load("regions/Pulumi.yaml", region_doc)
    for prog, directory, home_outputs in (
        (home, root, None),
        (region, root / "regions", set(home.outputs)),
    ):
        checker = ProgramChecker(prog, schema, home_outputs)
        found += checker.run()
        found += check_iam(prog.file, prog.doc)
        found += check_resources(prog.file, prog.resources, checker.types, schema)
        found += check_artifacts(root, prog.file, directory, prog.resources)
    home_stacks = stack_files(root)
    region_stacks = stack_files(root / "regions")
    if not home_stacks:
        found.append("Pulumi.yaml: no home stack file Pulumi.<stack>.yaml")
    for name, config in home_stacks.items():
        found += check_stack_config(f"Pulumi.{name}.yaml", home_doc.get("name", ""), home.config, config)
    for name, config in region_stacks.items():
        found += check_stack_config(f"regions/Pulumi.{name}.yaml", region_doc.get("name", ""),
                                    region.config, config)
    replica_props = schema["types"]["dynamodb.TableReplica"]
    for name, config in home_stacks.items():
        for entry in config.get("webmon:replicas") or []:
            for key in entry if isinstance(entry, dict) else []:
                if key not in replica_props:
                    found.append(f"Pulumi.{name}.yaml: webmon:replicas: unknown property {key!r} "
                                 "of dynamodb.TableReplica")
    found += check_regions(home_stacks, region_stacks)
    return found


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    findings = check_repo(root)
    for line in findings:
        print(line)
    print(f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
