#!/usr/bin/env python3
"""Checks the workspace's rooms and the one-way arrows between them (docs/architecture.md).

1. Crate arrows, from `cargo metadata` (normal dependencies, what ships):
   - `webmon-core` depends on no AWS SDK, no database driver, no HTTP server, and on no
     other webmon crate;
   - `webmon` (the CLI) depends on no Lambda crate, and on `webmon-testkit` only
     through its optional `bench` feature;
   - no production crate depends on `webmon-testkit` outside dev-dependencies;
   - a Lambda crate is one `src/main.rs` and depends on no other Lambda crate.
2. `hyper` is built for `webmon-core` without its `server` feature (`cargo tree`).
3. No import cycle between the top-level modules of any crate: a module's
   `crate::other` references (comments and strings left out) form a graph that must
   have no cycle.

Prints every finding and exits 1 if there is any.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = {"probe-lambda", "writer-lambda", "config-lambda", "notifier-lambda", "sweeper-lambda"}
FORBIDDEN_IN_CORE = re.compile(r"^(aws-|aws_|rusqlite|lambda_runtime|axum|warp|actix|webmon-)")

findings: list[str] = []


def metadata() -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def check_crates(meta: dict) -> None:
    packages = {p["name"]: p for p in meta["packages"]}
    for name, package in packages.items():
        normal = [d for d in package["dependencies"] if d.get("kind") is None]
        if name == "webmon-core":
            for dep in normal:
                if FORBIDDEN_IN_CORE.match(dep["name"]):
                    findings.append(f"webmon-core depends on {dep['name']}")
        if name == "webmon":
            for dep in normal:
                if dep["name"] in LAMBDAS:
                    findings.append(f"webmon (the CLI) depends on the Lambda crate {dep['name']}")
                if dep["name"] == "webmon-testkit" and not dep.get("optional"):
                    findings.append("webmon depends on webmon-testkit outside its bench feature")
        elif name != "webmon-testkit":
            for dep in normal:
                if dep["name"] == "webmon-testkit":
                    findings.append(f"{name} ships webmon-testkit (only dev-dependencies may use it)")
        if name in LAMBDAS:
            for dep in normal:
                if dep["name"] in LAMBDAS:
                    findings.append(f"{name} depends on the Lambda crate {dep['name']}")
            sources = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / name / "src").rglob("*.rs"))
            if sources != [f"{name}/src/main.rs"]:
                findings.append(f"{name} is more than its main.rs: {sources}")


def check_core_hyper() -> None:
    out = subprocess.run(
        ["cargo", "tree", "-p", "webmon-core", "-e", "normal", "-f", "{p} [{f}]",
         "--prefix", "none", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith(("hyper ", "hyper-util ")) and "server" in line:
            findings.append(f"webmon-core builds an HTTP server: {line}")
        if line.startswith(("aws-sdk-", "rusqlite ", "lambda_runtime ")):
            findings.append(f"webmon-core pulls in {line}")


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r'r(#*)".*?"\1|"(?:\\.|[^"\\])*"', re.S)
_CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_module(src: Path, file: Path) -> str:
    rel = file.relative_to(src)
    if rel.parts[0] in ("lib.rs", "main.rs"):
        return "<root>"
    return rel.parts[0].removesuffix(".rs")


def cycles_in(crate_dir: Path) -> list[list[str]]:
    src = crate_dir / "src"
    graph: dict[str, set[str]] = {}
    for file in src.rglob("*.rs"):
        module = top_module(src, file)
        text = _STRING.sub('""', _COMMENT.sub("", file.read_text()))
        for target in _CRATE_PATH.findall(text):
            if target != module:
                graph.setdefault(module, set()).add(target)
        graph.setdefault(module, set())
    graph.pop("<root>", None)
    for edges in graph.values():
        edges.discard("<root>")
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def check_module_cycles(meta: dict) -> None:
    for package in meta["packages"]:
        crate_dir = Path(package["manifest_path"]).parent
        for component in cycles_in(crate_dir):
            findings.append(f"{package['name']}: import cycle between modules {component}")


def main() -> int:
    meta = metadata()
    check_crates(meta)
    check_core_hyper()
    check_module_cycles(meta)
    for finding in findings:
        print(f"layout: {finding}")
    crates = len(meta["packages"])
    print(f"layout: {crates} crates checked, {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
