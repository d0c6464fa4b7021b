"""Checks across stack files: config keys and types, regions against replicas, artifacts.

* Every `<project>:<key>` set in a stack file is declared in the program, and its value
  has the declared type.
* Every `regions/Pulumi.<r>.yaml` sets `aws:region: <r>`, names an existing home stack,
  and is not that stack's home region; no home stack keeps inline replicas; each home
  stack's `webmon:probeRegions` lists exactly the regions of its region stack files.
* No committed stack file holds an account id or a key ARN.
* `webmon:storeStack` names a store project of stores/ and one of its stack files.
* Lambda code is `target/lambda/<binary>/bootstrap.zip` at the repository root. When
  `WEBMON_REQUIRE_ARTIFACTS=1` (set after `cargo lambda build --release --arm64
  --output-format zip`) each zip must exist; otherwise only a crate directory that
  exists is checked, so a tree that was never built still passes the structural checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

BINARIES = {"probe-lambda", "writer-lambda", "config-lambda", "notifier-lambda", "sweeper-lambda"}
_KMS_REGION_RE = re.compile(r"^arn:aws[\w-]*:kms:([a-z0-9-]+):")
_ACCOUNT_RE = re.compile(r"(?<![\w.-])\d{12}(?![\w.-])")
_KEY_ARN_RE = re.compile(r"arn:aws[\w-]*:kms:[^\s'\"]+")


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


def check_placeholders(label: str, text: str) -> list[str]:
    """A committed stack file names no account: no 12-digit account id, no key ARN."""
    found: list[str] = []
    for m in _ACCOUNT_RE.finditer(text):
        found.append(f"{label}: holds account id {m.group(0)} (a placeholder or a real "
                     "account): stack files are committed, keep accounts out of them")
    for m in _KEY_ARN_RE.finditer(text):
        found.append(f"{label}: holds key ARN {m.group(0)!r}: region stacks create their "
                     "replica keys, so no stack file names one")
    return found


def check_regions(home: dict[str, dict], regions: dict[str, dict]) -> list[str]:
    """Region stack files against the home stacks they reference.

    Every region other than the home region is one stack of regions/ (its replica key,
    table replica and Lambdas); the home region's Lambdas are in the home stack, so no
    region stack may be the home region. Inline replicas (`webmon:replicas`, the layout
    before region stacks owned them) must be migrated: a region cannot have both."""
    found: list[str] = []
    for region, config in regions.items():
        label = f"regions/Pulumi.{region}.yaml"
        if "aws:region" not in config:
            found.append(f"{label}: does not set aws:region")
        elif config["aws:region"] != region:
            found.append(f"{label}: sets aws:region {config['aws:region']!r}, not {region!r}")
        ref = str(config.get("webmon-regions:homeStack", ""))
        home_name = ref.rsplit("/", 1)[-1]
        if ref.count("/") != 2 or ref.split("/")[1] != "webmon":
            found.append(f"{label}: homeStack {ref!r} is not <organization>/webmon/<stack>")
        if home_name not in home:
            found.append(f"{label}: homeStack {ref!r} names no home stack file Pulumi.{home_name}.yaml")
            continue
        if region == home[home_name].get("aws:region"):
            found.append(f"{label}: region {region} is the home region of Pulumi.{home_name}.yaml; "
                         "its probe and config Lambdas are in the home stack")
    for name, hc in home.items():
        label = f"Pulumi.{name}.yaml"
        if "aws:region" not in hc:
            found.append(f"{label}: does not set aws:region")
        # Alerting expects results from the home region and webmon:probeRegions: a region
        # stack left out is never expected, a listed region without a stack is reported
        # silent by the sweeper.
        listed = hc.get("webmon:probeRegions") or []
        stacked = {r for r, c in regions.items()
                   if str(c.get("webmon-regions:homeStack", "")).rsplit("/", 1)[-1] == name}
        for region in sorted(stacked - set(listed)):
            found.append(f"regions/Pulumi.{region}.yaml: region {region} is not in webmon:probeRegions "
                         f"of {label}: alerting would not expect its results; add it there")
        for region in sorted(set(listed) - stacked):
            what = ("is the home region" if region == hc.get("aws:region")
                    else f"has no regions/Pulumi.{region}.yaml naming this home stack")
            found.append(f"{label}: webmon:probeRegions lists {region}, which {what}: the sweeper "
                         "would report it silent")
        for entry in hc.get("webmon:replicas") or []:
            r = entry.get("regionName") if isinstance(entry, dict) else entry
            found.append(f"{label}: webmon:replicas lists {r}: region stacks own their table "
                         "replicas now; migrate it (docs/deploy.md, Migrating from inline replicas)")
    return found


def check_store_reference(home: dict[str, dict], stores: dict[str, tuple[str, dict[str, dict]]]) -> list[str]:
    """`webmon:storeStack` of each home stack names a store project and one of its stacks.

    `stores`: directory name -> (project name, {stack: config})."""
    found: list[str] = []
    by_project = {project: (directory, stacks) for directory, (project, stacks) in stores.items()}
    for name, hc in home.items():
        label = f"Pulumi.{name}.yaml"
        ref = hc.get("webmon:storeStack")
        if ref is None:
            continue  # reported as a required key that is not set
        parts = str(ref).split("/")
        if len(parts) != 3:
            found.append(f"{label}: webmon:storeStack {ref!r} is not <organization>/<project>/<stack>")
            continue
        project, stack = parts[1], parts[2]
        if project not in by_project:
            found.append(f"{label}: webmon:storeStack {ref!r} names no store project "
                         f"(one of {', '.join(sorted(by_project))})")
            continue
        directory, stacks = by_project[project]
        if stack not in stacks:
            found.append(f"{label}: webmon:storeStack {ref!r}: no stores/{directory}/Pulumi.{stack}.yaml")
        elif stacks[stack].get("aws:region") != hc.get("aws:region"):
            found.append(f"{label}: the store stack stores/{directory}/Pulumi.{stack}.yaml is in "
                         f"{stacks[stack].get('aws:region')}, not in the home region {hc.get('aws:region')}")
    return found


def check_artifacts(root: Path, file: str, project_dir: Path, resources: dict,
                    variables: dict | None = None) -> list[str]:
    """Lambda code: the zip `cargo lambda build --output-format zip` writes, never a
    directory (a directory archive can lose the executable bit of `bootstrap`)."""
    found: list[str] = []
    require = os.environ.get("WEBMON_REQUIRE_ARTIFACTS") == "1"
    variables = variables or {}
    for name, res in resources.items():
        code = (res.get("properties") or {}).get("code")
        if not isinstance(code, dict) or "fn::fileArchive" not in code:
            continue
        raw = str(code["fn::fileArchive"])
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: str(variables.get(m.group(1), m.group(0))), raw)
        path = (project_dir / resolved).resolve()
        at = f"{file}: resources.{name}.properties.code"
        crate_dir = path.parent
        if (path.name != "bootstrap.zip" or crate_dir.parent != (root / "target" / "lambda").resolve()
                or crate_dir.name not in BINARIES):
            found.append(f"{at}: fileArchive {raw!r} does not resolve to target/lambda/<"
                         f"{'|'.join(sorted(BINARIES))}>/bootstrap.zip at the repository root")
            continue
        if (require or crate_dir.exists()) and not path.is_file():
            found.append(f"{at}: {resolved} is missing: run cargo lambda build --release --arm64 "
                         "--output-format zip")
    return found
