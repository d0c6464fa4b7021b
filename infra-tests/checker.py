"""Offline checker for webmon's Pulumi YAML projects.

The Pulumi CLI cannot run here, so this reads the programs and their stack files and
checks them against the pinned `@pulumi/aws` schema (see schema.py):

* `Pulumi.yaml` (home), `regions/Pulumi.yaml` (every other probe region) and
  `stores/<kind>/Pulumi.yaml` (the result stores the home stack chooses from).

Usage: `python3 infra-tests/checker.py [REPO_ROOT]`; exit status 1 when anything is
found. Modules: program.py (tokens, properties, references), policy.py (IAM,
encryption, tags, Lambda contract), stacks.py (stack files, regions, stores,
artifacts), ops.py (provider pin, shared region block, alarms, failure destinations,
deletion protection), lambda_iam.py with rust_calls.py (roles against the code's calls).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lambda_iam import check_lambda_iam  # noqa: E402
from ops import check_operations, check_provider, check_shared_block  # noqa: E402
from policy import check_iam, check_resources  # noqa: E402
from program import ProgramChecker, load  # noqa: E402
from schema import AWS_VERSION, load_schema  # noqa: E402
from stacks import (check_artifacts, check_placeholders, check_regions,  # noqa: E402
                    check_stack_config, check_store_reference, stack_files)


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def store_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "stores").glob("*/Pulumi.yaml"))


def check_repo(root: Path, schema: dict | None = None) -> list[str]:
    """Every finding for the repository at `root`, as `file: place: reason` lines."""
    schema = schema or load_schema()
    root = root.resolve()
    found: list[str] = [f"{rel}: missing" for rel in ("Pulumi.yaml", "regions/Pulumi.yaml")
                        if not (root / rel).is_file()]
    stores = store_dirs(root)
    if not stores:
        found.append("stores/<kind>/Pulumi.yaml: missing (no result store project)")
    if found:
        return found
    home = load("Pulumi.yaml", _read(root / "Pulumi.yaml"))
    region = load("regions/Pulumi.yaml", _read(root / "regions" / "Pulumi.yaml"))
    store_progs = {d.name: load(f"stores/{d.name}/Pulumi.yaml", _read(d / "Pulumi.yaml")) for d in stores}
    store_outputs = {p.doc.get("name", d): set(p.outputs) for d, p in store_progs.items()}

    programs = [(home, root, {"store": store_outputs}),
                (region, root / "regions", {"home": {"home": set(home.outputs)}})]
    programs += [(p, root / "stores" / d, {}) for d, p in store_progs.items()]
    for prog, directory, refs in programs:
        checker = ProgramChecker(prog, schema, refs)
        found += checker.run()
        found += check_iam(prog.file, prog.doc)
        found += check_resources(prog.file, prog.resources, checker.types, schema)
        found += check_artifacts(root, prog.file, directory, prog.resources, prog.variables)
        found += check_provider(prog, AWS_VERSION)
        found += check_operations(prog)
        for name, config in stack_files(directory).items():
            label = (directory / f"Pulumi.{name}.yaml").relative_to(root).as_posix()
            found += check_stack_config(label, prog.doc.get("name", ""), prog.config, config)
            found += check_placeholders(label, (root / label).read_text(encoding="utf-8"))
    found += check_shared_block(home, region)
    found += check_lambda_iam(root, [home, region], store_progs)

    home_stacks = stack_files(root)
    if not home_stacks:
        found.append("Pulumi.yaml: no home stack file Pulumi.<stack>.yaml")
    found += check_regions(home_stacks, stack_files(root / "regions"))
    found += check_store_reference(
        home_stacks, {d: (p.doc.get("name", ""), stack_files(root / "stores" / d)) for d, p in store_progs.items()})
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
