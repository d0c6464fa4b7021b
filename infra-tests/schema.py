"""Compact schema of the Pulumi AWS provider, extracted from its npm package.

The Pulumi CLI and its AWS plugin cannot run here, but the `@pulumi/aws` npm package
carries everything needed to check a Pulumi YAML program offline:

* resource tokens: `static __pulumiType = '...'` in `<module>/<name>.js`;
* resource inputs: `export interface <Class>Args {...}` in `<module>/<name>.d.ts`
  (a member without `?` is required);
* resource outputs: `readonly x: pulumi.Output<...>` in the class declaration;
* nested input types: `types/input.d.ts`, one namespace per module;
* function tokens: `pulumi.runtime.invoke("...")` in the `.js`, their arguments in
  `<Fn>Args` and their results in `<Fn>Result`.

`load_schema()` packs the pinned version into `infra-tests/.cache` once (with `npm
pack`, no install) and caches the compact JSON next to it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

AWS_VERSION = "7.48.0"
CACHE = Path(__file__).resolve().parent / ".cache"

_TOKEN_RE = re.compile(r"static __pulumiType = '([^']+)'")
_INVOKE_RE = re.compile(r'pulumi\.runtime\.invoke\("([^"]+)"')
_CLASS_RE = re.compile(r"export declare class (\w+) extends pulumi\.CustomResource \{(.*?)\n\}", re.S)
_OUTPUT_RE = re.compile(r"^    readonly (\w+): pulumi\.Output<", re.M)
_MEMBER_RE = re.compile(r"^(\s+)(?:readonly )?(\w+)(\??): (.*)$")
_TYPE_REF_RE = re.compile(r"inputs\.(\w+)\.(\w+)")


class SchemaError(Exception):
    """The provider package could not be fetched or read."""


def _members(body: str, indent: int) -> dict[str, dict]:
    """Members of an interface body at one indentation: name -> {required, ref, list}."""
    out: dict[str, dict] = {}
    for line in body.splitlines():
        m = _MEMBER_RE.match(line)
        if not m or len(m.group(1)) != indent:
            continue
        name, optional, typ = m.group(2), m.group(3), m.group(4)
        ref = _TYPE_REF_RE.search(typ)
        out[name] = {
            "required": optional != "?",
            "ref": f"{ref.group(1)}.{ref.group(2)}" if ref else None,
            "list": "[]" in typ,
            "map": "[key: string]" in typ or typ.rstrip().endswith("{"),
        }
    return out


def _interface(text: str, name: str, indent: int = 0) -> dict[str, dict] | None:
    pad = " " * indent
    start = re.search(rf"^{pad}(?:export )?interface {name} \{{\n", text, re.M)
    if not start:
        return None
    end = text.find(f"\n{pad}}}", start.end() - 1)
    return _members(text[start.end() : end], indent + 4)


def _input_types(text: str) -> dict[str, dict]:
    types: dict[str, dict] = {}
    for ns in re.finditer(r"^export declare namespace (\w+) \{\n(.*?)^\}", text, re.M | re.S):
        module, body = ns.group(1), ns.group(2)
        for itf in re.finditer(r"^    interface (\w+) \{\n(.*?)^    \}", body, re.M | re.S):
            types[f"{module}.{itf.group(1)}"] = _members(itf.group(2), 8)
    return types


def extract(package: Path) -> dict:
    """Builds the compact schema from an unpacked `@pulumi/aws` package directory."""
    resources: dict[str, dict] = {}
    functions: dict[str, dict] = {}
    for js in sorted(package.glob("**/*.js")):
        if "node_modules" in js.parts or js.parent.name == "types":
            continue
        text = js.read_text(encoding="utf-8")
        dts_path = js.with_suffix(".d.ts")
        dts = dts_path.read_text(encoding="utf-8") if dts_path.exists() else ""
        token = _TOKEN_RE.search(text)
        if token and token.group(1) != "aws":
            cls = _CLASS_RE.search(dts)
            if not cls:
                continue
            args = _interface(dts, f"{cls.group(1)}Args") or {}
            outputs = sorted(set(_OUTPUT_RE.findall(cls.group(2))) | {"id", "urn"})
            resources[token.group(1)] = {"inputs": args, "outputs": outputs}
            continue
        invoke = _INVOKE_RE.search(text)
        if invoke:
            fn = invoke.group(1).split(":")[-1]
            cap = fn[0].upper() + fn[1:]
            functions[invoke.group(1)] = {
                "inputs": _interface(dts, f"{cap}Args") or {},
                "outputs": sorted((_interface(dts, f"{cap}Result") or {}).keys()),
            }
    types = _input_types((package / "types" / "input.d.ts").read_text(encoding="utf-8"))
    return {"version": AWS_VERSION, "resources": resources, "functions": functions, "types": types}


def _npm_pack(dest: Path) -> Path:
    npm = shutil.which("npm")
    if not npm:
        raise SchemaError("npm not found: apt-get install -y nodejs npm")
    dest.mkdir(parents=True, exist_ok=True)
    tgz = dest / f"pulumi-aws-{AWS_VERSION}.tgz"
    if not tgz.exists():
        done = subprocess.run(
            [npm, "pack", f"@pulumi/aws@{AWS_VERSION}", "--silent"],
            cwd=dest, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0 or not tgz.exists():
            raise SchemaError(f"failed to pack @pulumi/aws@{AWS_VERSION}: {done.stderr.strip()}")
    unpacked = dest / f"pulumi-aws-{AWS_VERSION}"
    if not (unpacked / "package" / "types" / "input.d.ts").exists():
        with tarfile.open(tgz) as tar:
            tar.extractall(unpacked, filter="data")
    return unpacked / "package"


def load_schema(cache: Path = CACHE) -> dict:
    """Returns the compact schema for the pinned provider version, building it once."""
    compact = cache / f"aws-{AWS_VERSION}-schema.json"
    if compact.exists():
        return json.loads(compact.read_text(encoding="utf-8"))
    schema = extract(_npm_pack(cache))
    if len(schema["resources"]) < 500 or len(schema["functions"]) < 200:
        raise SchemaError(
            f"failed to extract the provider schema: only {len(schema['resources'])} resources "
            f"and {len(schema['functions'])} functions found"
        )
    compact.write_text(json.dumps(schema, sort_keys=True), encoding="utf-8")
    return schema


if __name__ == "__main__":
    s = load_schema()
    print(f"{len(s['resources'])} resources, {len(s['functions'])} functions, {len(s['types'])} types")
