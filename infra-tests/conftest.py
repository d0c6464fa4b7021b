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
    """Copies both Pulumi projects and their stack files (nothing else) into `dest`."""
    for path in REPO.glob("Pulumi*.yaml"):
        shutil.copy(path, dest / path.name)
    (dest / "regions").mkdir()
    for path in (REPO / "regions").glob("Pulumi*.yaml"):
        shutil.copy(path, dest / "regions" / path.name)
    return dest
