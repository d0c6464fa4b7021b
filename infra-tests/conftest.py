"""Shared set-up: the provider schema (packed once with npm) and a copy of the real files."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from schema import load_schema  # noqa: E402


@pytest.fixture(scope="session")
def schema() -> dict:
    """The compact `@pulumi/aws` schema; fails with an install hint when npm is missing."""
    return load_schema()


def copy_infra(dest: Path) -> Path:
    """Copies the Pulumi projects and their stack files, and the Rust sources the IAM
    check scans (`aws/` and the Lambda crates' `src/`), into `dest`."""
    for path in REPO.glob("Pulumi*.yaml"):
        shutil.copy(path, dest / path.name)
    for project in [Path("regions")] + [p.parent.relative_to(REPO) for p in REPO.glob("stores/*/Pulumi.yaml")]:
        (dest / project).mkdir(parents=True)
        for path in (REPO / project).glob("Pulumi*.yaml"):
            shutil.copy(path, dest / project / path.name)
    for crate in ("aws", "probe-lambda", "writer-lambda", "config-lambda", "notifier-lambda",
                  "sweeper-lambda"):
        shutil.copytree(REPO / crate / "src", dest / crate / "src")
    return dest
