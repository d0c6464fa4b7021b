"""Checks across stack files: config keys and types, regions against replicas, artifacts.

* Every `<project>:<key>` set in a stack file is declared in the program, and its value
  has the declared type.
* Every `regions/Pulumi.<r>.yaml` sets `aws:region: <r>` and names an existing home
  stack; the regions of the stack files are exactly the home stack's replicas plus the
  home region itself; each replica's KMS key lives in the replica's region.
* Lambda code paths resolve to `target/lambda/<binary>` at the repository root. When
  `WEBMON_REQUIRE_ARTIFACTS=1` (set after `cargo lambda build --release --arm64`) each
  must hold a `bootstrap`; otherwise only an artifact directory that exists is checked,
  so a tree that was never built still passes the structural checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

BINARIES = {"probe-lambda", "writer-lambda", "config-lambda"}
_KMS_REGION_RE = re.compile(r"^arn:aws[\w-]*:kms:([a-z0-9-]+):")


def stack_files(project_dir: Path) -> dict[str, dict]:
    """Stack name -> parsed `Pulumi.<stack>.yaml` in a project directory."""
    out: dict[str, dict] = {}
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out[path.name[len("Pulumi."):-len(".yaml")]] = doc.get("config") or {}
    return out


def _type_ok(decl: dict, value) -> bool:
    typ = str(decl.get("type", "")).lower()
    if typ in ("string",):
        return isinstance(value, str)
    if typ in ("integer", "number"):
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ in ("array",) or typ.startswith("list<"):
        if not isinstance(value, list):
            return False
        item = str((decl.get("items") or {}).get("type", "")).lower()
        kinds = {"string": str, "integer": int, "boolean": bool, "object": dict}
        return all(isinstance(v, kinds[item]) for v in value) if item in kinds else True
    return True


def check_stack_config(label: str, project: str, declared: dict, config: dict) -> list[str]:
    """Keys of one stack file against the program's declarations."""
    found: list[str] = []
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns != project:
            continue
        decl = declared.get(name)
        if decl is None:
            found.append(f"{label}: config {key!r} is not declared in the program")
        elif isinstance(decl, dict) and "type" in decl and not _type_ok(decl, value):
            found.append(f"{label}: config {key!r} is not of declared type {decl['type']!r}")
    for name, decl in declared.items():
        if isinstance(decl, dict) and "default" not in decl and f"{project}:{name}" not in config:
            found.append(f"{label}: required config {project}:{name} is not set")
    return found


def check_regions(home: dict[str, dict], regions: dict[str, dict]) -> list[str]:
    """Region stack files against the replicas of the home stack they reference."""
    found: list[str] = []
    covered: dict[str, set[str]] = {name: set() for name in home}
    for region, config in regions.items():
        label = f"regions/Pulumi.{region}.yaml"
        if "aws:region" not in config:
            found.append(f"{label}: does not set aws:region")
        elif config["aws:region"] != region:
            found.append(f"{label}: sets aws:region {config['aws:region']!r}, not {region!r}")
        ref = str(config.get("webmon-regions:homeStack", ""))
        home_name = ref.rsplit("/", 1)[-1]
        if home_name not in home:
            found.append(f"{label}: homeStack {ref!r} names no home stack file Pulumi.{home_name}.yaml")
            continue
        hc = home[home_name]
        replicas = {r.get("regionName") for r in hc.get("webmon:replicas") or [] if isinstance(r, dict)}
        if region != hc.get("aws:region") and region not in replicas:
            found.append(f"{label}: region {region} is neither the home region nor a replica "
                         f"in Pulumi.{home_name}.yaml")
        covered[home_name].add(region)
    for name, hc in home.items():
        label = f"Pulumi.{name}.yaml"
        if "aws:region" not in hc:
            found.append(f"{label}: does not set aws:region")
        wanted = [r for r in hc.get("webmon:replicas") or []]
        seen: set[str] = set()
        for entry in wanted:
            if not isinstance(entry, dict) or "regionName" not in entry:
                found.append(f"{label}: replica entry {entry!r} has no regionName")
                continue
            r = entry["regionName"]
            if r in seen or r == hc.get("aws:region"):
                found.append(f"{label}: replica {r} is listed twice or is the home region")
            seen.add(r)
            key_region = _KMS_REGION_RE.match(str(entry.get("kmsKeyArn", "")))
            if not key_region or key_region.group(1) != r:
                found.append(f"{label}: replica {r} needs kmsKeyArn of a KMS key in {r}")
            if entry.get("pointInTimeRecovery") is not True:
                found.append(f"{label}: replica {r} does not enable pointInTimeRecovery")
            if r not in covered[name]:
                found.append(f"{label}: replica {r} has no regions/Pulumi.{r}.yaml")
        home_region = hc.get("aws:region")
        if home_region and home_region not in covered[name]:
            found.append(f"{label}: home region {home_region} has no regions/Pulumi.{home_region}.yaml")
    return found


def check_artifacts(root: Path, file: str, project_dir: Path, resources: dict) -> list[str]:
    """Lambda code paths: structure always, existence after a build."""
    found: list[str] = []
    require = os.environ.get("WEBMON_REQUIRE_ARTIFACTS") == "1"
    for name, res in resources.items():
        code = (res.get("properties") or {}).get("code")
        if not isinstance(code, dict) or "fn::fileArchive" not in code:
            continue
        raw = str(code["fn::fileArchive"])
        path = (project_dir / raw).resolve()
        at = f"{file}: resources.{name}.properties.code"
        if path.parent != (root / "target" / "lambda").resolve() or path.name not in BINARIES:
            found.append(f"{at}: fileArchive {raw!r} does not resolve to target/lambda/<"
                         f"{'|'.join(sorted(BINARIES))}> at the repository root")
            continue
        if (require or path.exists()) and not (path / "bootstrap").is_file():
            found.append(f"{at}: {raw} has no bootstrap: run cargo lambda build --release --arm64")
    return found
