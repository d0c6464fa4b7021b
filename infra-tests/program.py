"""Checks one Pulumi YAML program against the provider schema.

What is checked, each finding naming the file, the place and the reason:
resource and function tokens; property names, nested ones included; required properties
and arguments; every `${name...}` names a resource, variable, config key or `pulumi`,
and its first property is an output of that resource or function; every config key is
declared with a type; the `fn::` built-ins exist; resource options are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BUILTIN_FNS = {
    "fn::invoke", "fn::join", "fn::split", "fn::select", "fn::toJSON", "fn::toBase64",
    "fn::fromBase64", "fn::secret", "fn::readFile", "fn::fileArchive", "fn::fileAsset",
    "fn::stringAsset", "fn::remoteAsset", "fn::remoteArchive", "fn::assetArchive",
    "fn::stackReference", "fn::method",
}
RESOURCE_OPTIONS = {
    "additionalSecretOutputs", "aliases", "customTimeouts", "deleteBeforeReplace",
    "dependsOn", "ignoreChanges", "import", "parent", "protect", "provider", "providers",
    "version", "pluginDownloadURL", "replaceOnChanges", "retainOnDelete", "deletedWith",
    "replaceWith", "hideDiffs",
}
CONFIG_TYPES = {"string", "integer", "boolean", "array", "String", "Number", "Boolean",
                "Integer", "List<String>", "List<Number>", "List<Boolean>", "List<Integer>"}
PULUMI_BUILTINS = {"stack", "project", "organization", "cwd", "rootDirectory"}
# Resources that are not in the AWS provider: type -> (inputs, required, outputs).
BUILTIN_RESOURCES = {
    "pulumi:pulumi:StackReference": ({"name"}, {"name"}, {"outputs", "name", "id", "urn", "secretOutputNames"}),
    # The explicit AWS provider (its schema is not a resource of the package itself).
    "pulumi:providers:aws": ({"region", "profile", "defaultTags", "allowedAccountIds",
                             "assumeRoles", "skipMetadataApiCheck", "retryMode", "maxRetries"},
                            set(), {"id", "urn", "region"}),
}
# `${aws:region}`: a stack setting of another namespace, read as is.
_NAMESPACED_RE = re.compile(r"^[a-z][\w-]*:[A-Za-z_][\w-]*$")

_EXPR_RE = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_ACCESS_RE = re.compile(r'\.([A-Za-z_][\w-]*)|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]')


@dataclass
class Program:
    """One parsed program and the names it defines."""

    file: str
    doc: dict
    config: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)


def canonical(token: str, known: dict) -> str | None:
    """Resolves `aws:dynamodb:Table` / `aws:getRegion` to the schema's full token."""
    if token in known:
        return token
    parts = token.split(":")
    if len(parts) == 2:
        parts = [parts[0], "index", parts[1]]
    if len(parts) != 3:
        return None
    pkg, mod, name = parts
    mod = mod.split("/")[0]
    for candidate in known:
        cpkg, cmod, cname = candidate.split(":")
        if cpkg == pkg and cname == name and cmod.split("/")[0] == mod:
            return candidate
    return None


def parse_expr(text: str) -> tuple[str, list[str]]:
    """Splits `a.b["c"][0]` into `a` and its accessors `['b', 'c', '0']`."""
    m = re.match(r"[A-Za-z_][\w-]*", text.strip())
    if not m:
        return text.strip(), []
    rest = text.strip()[m.end():]
    return m.group(0), ["".join(g) for g in _ACCESS_RE.findall(rest)]


def expressions(value, path: str):
    """Yields (path, expression text) for every `${...}` inside a value."""
    if isinstance(value, str):
        for m in _EXPR_RE.finditer(value):
            yield path, m.group(1)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from expressions(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from expressions(v, f"{path}[{i}]")


def load(file: str, doc: dict) -> Program:
    """Wraps a loaded Pulumi.yaml document; config names lose their `project:` prefix."""
    prog = Program(file=file, doc=doc)
    project = doc.get("name", "")
    for key, decl in (doc.get("config") or {}).items():
        prog.config[key.removeprefix(f"{project}:")] = decl
    prog.variables = doc.get("variables") or {}
    prog.resources = doc.get("resources") or {}
    prog.outputs = doc.get("outputs") or {}
    return prog


class ProgramChecker:
    """Collects findings for one program."""

    def __init__(self, prog: Program, schema: dict,
                 ref_outputs: dict[str, dict[str, set[str]]] | None = None):
        """`ref_outputs`: stack reference resource name -> {project: its output names}."""
        self.p = prog
        self.schema = schema
        self.ref_outputs = ref_outputs or {}
        self.findings: list[str] = []
        self.types: dict[str, str] = {}  # resource name -> canonical token

    def err(self, where: str, msg: str) -> None:
        self.findings.append(f"{self.p.file}: {where}: {msg}")

    def run(self) -> list[str]:
        self.check_config()
        names = list(self.p.config) + list(self.p.variables) + list(self.p.resources)
        for dup in sorted({n for n in names if names.count(n) > 1}):
            self.err(dup, "name defined more than once (config, variables, resources)")
        for name, res in self.p.resources.items():
            self.check_resource(name, res)
        for name, var in self.p.variables.items():
            self.check_value(var, f"variables.{name}", None)
        for name, out in self.p.outputs.items():
            self.check_value(out, f"outputs.{name}", None)
        for where, expr in expressions(self.p.doc.get("variables"), "variables"):
            self.check_ref(where, expr)
        for where, expr in expressions(self.p.resources, "resources"):
            self.check_ref(where, expr)
        for where, expr in expressions(self.p.outputs, "outputs"):
            self.check_ref(where, expr)
        return self.findings

    def check_config(self) -> None:
        for key, decl in self.p.config.items():
            if not isinstance(decl, dict) or "type" not in decl:
                self.err(f"config.{key}", "config key declared without a type")
            elif decl["type"] not in CONFIG_TYPES:
                self.err(f"config.{key}", f"unknown config type {decl['type']!r}")

    def check_resource(self, name: str, res: dict) -> None:
        where = f"resources.{name}"
        token = res.get("type", "")
        if token in BUILTIN_RESOURCES:
            inputs, required, _ = BUILTIN_RESOURCES[token]
            self.types[name] = token
            props = res.get("properties") or {}
            for k in props:
                if k not in inputs:
                    self.err(where, f"unknown property {k!r} of {token}")
            for k in sorted(required - set(props)):
                self.err(where, f"missing required property {k!r} of {token}")
            return
        full = canonical(token, self.schema["resources"])
        if not full:
            self.err(where, f"unknown resource type {token!r}")
            return
        self.types[name] = full
        for opt in res.get("options") or {}:
            if opt not in RESOURCE_OPTIONS:
                self.err(f"{where}.options", f"unknown resource option {opt!r}")
        for k in res:
            if k not in {"type", "properties", "options", "get", "defaultProvider"}:
                self.err(where, f"unknown resource key {k!r}")
        self.check_props(res.get("properties") or {}, self.schema["resources"][full]["inputs"],
                         f"{where}.properties", token)

    def check_props(self, props: dict, inputs: dict, where: str, owner: str) -> None:
        if not isinstance(props, dict) or self.is_fn(props):
            self.check_value(props, where, None)
            return
        for key, value in props.items():
            spec = inputs.get(key)
            if spec is None:
                self.err(where, f"unknown property {key!r} of {owner}")
                continue
            self.check_value(value, f"{where}.{key}", spec)
        for key, spec in sorted(inputs.items()):
            if spec["required"] and key not in props:
                self.err(where, f"missing required property {key!r} of {owner}")

    def check_value(self, value, where: str, spec: dict | None) -> None:
        if isinstance(value, dict) and self.is_fn(value):
            fn = next(iter(value))
            if fn not in BUILTIN_FNS:
                self.err(where, f"unknown built-in function {fn!r}")
            elif fn == "fn::invoke":
                self.check_invoke(value[fn], where)
            return
        if spec is None or spec.get("map"):
            return
        nested = self.schema["types"].get(spec["ref"]) if spec.get("ref") else None
        if isinstance(value, list):
            if not spec["list"]:
                self.err(where, "expects a single value, not a list")
            for i, item in enumerate(value):
                if nested is not None and isinstance(item, dict):
                    self.check_props(item, nested, f"{where}[{i}]", spec["ref"])
        elif isinstance(value, dict) and nested is not None:
            if spec["list"]:
                self.err(where, f"expects a list of {spec['ref']}")
            self.check_props(value, nested, where, spec["ref"])

    @staticmethod
    def is_fn(value: dict) -> bool:
        return len(value) == 1 and next(iter(value)).startswith("fn::")

    def check_invoke(self, call: dict, where: str) -> None:
        token = call.get("function", "")
        full = canonical(token, self.schema["functions"])
        if not full:
            self.err(where, f"unknown function {token!r}")
            return
        fn = self.schema["functions"][full]
        self.check_props(call.get("arguments") or {}, fn["inputs"], f"{where}.arguments", token)
        ret = call.get("return")
        if ret and ret not in fn["outputs"]:
            self.err(where, f"function {token} returns no {ret!r}")

    def invoke_of(self, name: str) -> str | None:
        var = self.p.variables.get(name)
        if isinstance(var, dict) and "fn::invoke" in var and not var["fn::invoke"].get("return"):
            return canonical(var["fn::invoke"].get("function", ""), self.schema["functions"])
        return None

    def check_ref(self, where: str, expr: str) -> None:
        show = "${" + expr + "}"
        if _NAMESPACED_RE.match(expr.strip()):
            if expr.strip().split(":")[0] == self.p.doc.get("name"):
                self.err(where, f"{show}: read the project's own keys by their short name")
            return
        root, access = parse_expr(expr)
        if root == "pulumi":
            if not access or access[0] not in PULUMI_BUILTINS:
                self.err(where, f"{show}: unknown pulumi built-in")
            return
        if root in self.p.config or root in self.p.variables:
            fn = self.invoke_of(root)
            if fn and access and access[0] not in self.schema["functions"][fn]["outputs"]:
                self.err(where, f"{show}: function {fn} returns no {access[0]!r}")
            return
        if root not in self.p.resources:
            self.err(where, f"{show}: {root!r} is not a resource, variable or config key")
            return
        token = self.types.get(root)
        if not token or not access:
            return
        if token in BUILTIN_RESOURCES:
            outputs = BUILTIN_RESOURCES[token][2]
            if access[0] not in outputs:
                self.err(where, f"{show}: {token} has no output {access[0]!r}")
            elif access[0] == "outputs" and len(access) > 1 and root in self.ref_outputs:
                for project, outputs in sorted(self.ref_outputs[root].items()):
                    if access[1] not in outputs:
                        self.err(where, f"{show}: the {project} stack exports no output {access[1]!r}")
            return
        if access[0] not in self.schema["resources"][token]["outputs"]:
            self.err(where, f"{show}: {self.p.resources[root]['type']} has no output {access[0]!r}")
