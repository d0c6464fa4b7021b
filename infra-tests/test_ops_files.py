"""The teardown plan's order and the AWS verification checks, both offline."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from conftest import REPO

TEARDOWN = REPO / "scripts" / "teardown.sh"


def _plan(root: Path, *args: str) -> list[tuple[str, str]]:
    done = subprocess.run(["bash", str(root / "scripts" / "teardown.sh"), "--dry-run", *args],
                          capture_output=True, text=True, timeout=60, check=True)
    steps = []
    for line in done.stdout.splitlines():
        m = re.match(r"^\s*\d+\. \[([^\]]+)\] (.*)$", line)
        if m:
            steps.append((m.group(1), m.group(2)))
    return steps


def _tree(tmp: Path, regions: dict[str, str]) -> Path:
    (tmp / "scripts").mkdir()
    shutil.copy(TEARDOWN, tmp / "scripts" / "teardown.sh")
    shutil.copy(REPO / "Pulumi.home.yaml", tmp / "Pulumi.home.yaml")
    (tmp / "regions").mkdir()
    (tmp / "stores" / "influxdb").mkdir(parents=True)
    for region, home in regions.items():
        (tmp / "regions" / f"Pulumi.{region}.yaml").write_text(
            f"config:\n  aws:region: {region}\n  webmon-regions:homeStack: organization/webmon/{home}\n")
    return tmp


def test_teardown_dry_run_orders_rules_regions_protection_home_store(tmp_path):
    root = _tree(tmp_path, {"eu-west-1": "home", "ap-southeast-1": "home", "eu-central-1": "other"})
    steps = _plan(root)
    phases = [p for p, _ in steps]
    index = {p: [i for i, q in enumerate(phases) if q == p] for p in set(phases)}
    rules = [i for p, ids in index.items() if p.startswith("rules ") for i in ids]
    regions = [i for p, ids in index.items() if p.startswith("region ") for i in ids]
    # every region's rules go first, the home region included; other homes' regions are left alone
    assert {p for p in phases if p.startswith("rules ")} == {
        "rules us-east-1", "rules eu-west-1", "rules ap-southeast-1"}
    assert not any("eu-central-1" in cmd for _, cmd in steps)
    assert max(rules) < min(regions)
    # per region: protection off, up, destroy, then its replica key is pending deletion
    for region in ("eu-west-1", "ap-southeast-1"):
        cmds = [cmd for p, cmd in steps if p == f"region {region}"]
        assert "deletionProtection false" in cmds[0]
        assert cmds[1].startswith("pulumi up") and cmds[2].startswith("pulumi destroy")
        assert "replica key" in cmds[3]
    # then the home table's protection, then home, then the store
    assert max(regions) < min(index["protection home"]) < max(index["protection home"]) < index["home"][0]
    assert index["home"][0] < index["store"][0] == len(steps) - 1
    assert "webmon:deletionProtection false" in steps[index["protection home"][0]][1]
    assert "stores/influxdb" in steps[index["store"][0]][1]


def test_teardown_dry_run_without_region_stacks(tmp_path):
    steps = _plan(_tree(tmp_path, {}))
    assert [p for p, _ in steps][-4:] == ["protection home", "protection home", "home", "store"]


def test_aws_verification_checks_are_valid_and_public():
    doc = yaml.safe_load((REPO / "examples" / "checks-aws.yaml").read_text())
    checks = doc["checks"]
    ids = [c["id"] for c in checks]
    assert len(ids) == len(set(ids)) >= 3
    for c in checks:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", c["id"])
        url = urlsplit(c["url"])
        assert url.scheme == "https", c["id"]
        host = url.hostname or ""
        assert "." in host and not host.endswith((".local", ".internal", "localhost"))
        try:
            assert ipaddress.ip_address(host).is_global
        except ValueError:
            pass  # a name, not an address
        assert not c.get("allow_private"), c["id"]
        assert "regions" not in c, "verification checks run in every region"
        interval = c.get("interval", "1m")
        assert re.fullmatch(r"(10|15|20|30)s|\d+m", interval)
