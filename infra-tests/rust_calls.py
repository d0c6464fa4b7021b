"""The AWS operations each Lambda's code calls, found by reading the Rust sources.

How a Lambda is tied to its calls, step by step (every step is plain text scanning, no
Rust toolchain needed):

1. Sources: the `webmon-aws` crate (`aws/src/`) and the three Lambda crates
   (`<lambda>/src/`). A missing crate directory, or a crate without its root file
   (`lib.rs`, `main.rs`), is a finding: the map below would silently shrink.
2. Module tree: each crate's modules are read from its root's `mod x;` declarations
   down, at any depth (`x.rs` or `x/mod.rs` next to the declaring file, or under its
   folder for `a/b.rs`; `#[path = ".."]` is followed). A declared module without its
   file is a finding; `#[cfg(test)]` modules are left out (tests run in no Lambda).
3. Import graph, file level: a file reaches the module whose items its paths name:
   `webmon_aws::a::b::C` from anywhere, and inside `webmon-aws` also `crate::..`,
   `self::..`, `super::..` (repeated), its own submodules (`line::to_line`) and
   modules a `use` brought in under a name. A path reaches the deepest module it
   names, not the modules on the way (`webmon_aws::service::probe::handle` reaches
   `service/probe.rs`, not `service/mod.rs` and its other submodules). `use` groups
   (`{a, b::{c, d}}`) are expanded. A path whose first name after its deepest module is
   neither a module with a file nor an item of that module is a finding ("expected ...
   missing"), so a moved module or function fails loudly instead of dropping its calls.
4. Function level, inside the reached files, a name-based call graph: a function's SDK
   calls count for a Lambda only if the function is reached. The Lambda's own files
   reach the functions they name in the files they import (and in what those re-export
   with `pub use`); a reached function reaches the functions it names in its own file
   and in the files its file imports. Port calls from the services are trait-method
   calls on generic types (`repo.group(..)`, `queue.send(..)`, `store.write_detailed(..)`):
   a method a reached function calls (`.m(..)`, `Trait::m`) also reaches the `fn m` of
   every trait impl (`impl T for X`) and trait default body in the files the Lambda
   reaches. `.send()` with no arguments, the SDK's own final call, is not a reference;
   `.send(results)`, a port method, is. Setup helpers only the tests, the CLI or the
   benchmark use (`ensure_table`, `create_queue_with_dlq`, ...) thus stay out of the
   Lambda's set.
5. SDK calls: `client.<snake_case_op>()` followed by `.send()` in the same statement;
   the service is the `aws_sdk_<service>` crate whose `Client` the file uses. A file
   with calls but no (or several) SDK clients is a finding.

The result maps each Lambda crate to {IAM action: [where called]}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LAMBDA_CRATES = ("probe-lambda", "writer-lambda", "config-lambda")
AWS_CRATE = "aws"

# aws_sdk_<crate> -> IAM service prefix.
IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "dynamodbstreams": "dynamodb",
    "sqs": "sqs",
    "eventbridge": "events",
    "timestreamwrite": "timestream",
    "timestreamquery": "timestream",
    "secretsmanager": "secretsmanager",
    "kms": "kms",
    "sts": "sts",
    "sns": "sns",
    "cloudwatch": "cloudwatch",
    "lambda": "lambda",
    "s3": "s3",
}
# SDK operations whose IAM action has another name.
ACTION_NAME = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "timestream:Query": "timestream:Select",
}
# Client set-ups that make calls of their own.
IMPLIED_BY_SETUP = {
    "with_endpoint_discovery_enabled": "DescribeEndpoints",
}

_STRING_RE = re.compile(r'r(#*)"[\s\S]*?"\1|"(?:\\[\s\S]|[^"\\])*"|\'(?:\\.|[^\'\\])\'')
_LINE_COMMENT_RE = re.compile(r"//[^\n]*")
_BLOCK_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
_FN_RE = re.compile(r"\bfn\s+([a-z_][a-z0-9_]*)\s*(?:<[^>{]*>)?\s*\(")
_CALL_RE = re.compile(r"\bclient\s*\.\s*([a-z_][a-z0-9_]*)\s*\(\s*\)")
_IDENT_RE = re.compile(r"\b([a-z_][a-z0-9_]*)\b")
_SDK_CLIENT_RE = re.compile(r"\baws_sdk_([a-z0-9]+)::(?:client::)?Client\b")
_SDK_ANY_RE = re.compile(r"\baws_sdk_([a-z0-9]+)::")
_USE_RE = re.compile(r"\buse\s+([^;]+);")
# A path whose head may name a module: `webmon_aws::a::B`, `crate::a`, `super::super::x`.
_PATH_RE = re.compile(r"(?<![\w:])([a-z_][a-z0-9_]*)((?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+)")
_MOD_DECL_RE = re.compile(r"(?<![\w:])(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;")
_ITEM_RE = r"\b(?:fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+{name}\b|\bmod\s+{name}\s*\{{"
# A method call or a path call: the name a trait method is reached by.
_METHOD_RE = re.compile(r"(?:\.|::)\s*([a-z_][a-z0-9_]*)\s*(?:::\s*<[^;{}]*?>\s*)?\(")
_IMPL_FOR_RE = re.compile(r"\bimpl\b[^;{}]*?\bfor\b[^;{}]*\{")
_TRAIT_RE = re.compile(r"\btrait\s+[A-Za-z_]\w*[^;{}]*\{")
_MODULE_SEG = re.compile(r"^[a-z_][a-z0-9_]*$")

class SourceError(Exception):
    """The Rust layout is not what the scanner can map."""


@dataclass
class RustFile:
    path: Path
    rel: str
    text: str  # comments and string literals blanked
    raw: str = ""
    functions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def strip(text: str) -> str:
    """Blanks comments and string/char literals, keeping offsets and line breaks."""

    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    text = _BLOCK_COMMENT_RE.sub(blank, text)
    text = _STRING_RE.sub(lambda m: '"' + blank(m)[1:-1] + '"' if len(m.group(0)) > 1 else blank(m), text)
    return _LINE_COMMENT_RE.sub(blank, text)


def _function_spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """name -> [(body start, body end)] for every `fn` with a body."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for m in _FN_RE.finditer(text):
        open_at = text.find("{", m.end())
        semi = text.find(";", m.end())
        if open_at < 0 or (0 <= semi < open_at):
            continue  # a declaration without a body (trait item)
        depth, i = 0, open_at
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        spans.setdefault(m.group(1), []).append((open_at, i))
    return spans


def _enclosing(file: RustFile, offset: int) -> str | None:
    best: tuple[int, str] | None = None
    for name, spans in file.functions.items():
        for start, end in spans:
            if start <= offset <= end and (best is None or start > best[0]):
                best = (start, name)
    return best[1] if best else None


def _tests_cut(text: str) -> str:
    """Drops `#[cfg(test)] mod tests { ... }` blocks: test code runs in no Lambda."""
    out = text
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub\s+)?mod\s+\w+\s*\{", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += text[i] == "{"
            depth -= text[i] == "}"
            if depth == 0:
                break
            i += 1
        out = out[: m.start()] + re.sub(r"[^\n]", " ", out[m.start() : i + 1]) + out[i + 1 :]
    return out


def load_file(path: Path, root: Path) -> RustFile:
    text = _tests_cut(strip(path.read_text(encoding="utf-8")))
    raw = path.read_text(encoding="utf-8")
    f = RustFile(path=path, rel=path.relative_to(root).as_posix(), text=text, raw=raw)
    f.functions = _function_spans(text)
    return f


def _expand_use(tree: str) -> list[tuple[str, str | None]]:
    """`webmon_aws::{a, b::{c as d, e::*}}` -> [('webmon_aws::a', 'a'), ('webmon_aws::b::c', 'd'),
    ('webmon_aws::b::e', None)]: each path and the name it brings in (None for a glob)."""
    tree = re.sub(r"\s*::\s*", "::", tree.strip())
    m = re.match(r"^(.*?)::\{(.*)\}$", tree, re.S)
    if not m:
        if tree.endswith("::*"):
            return [(tree[:-3], None)]
        alias = re.match(r"^(.*?)\s+as\s+([A-Za-z_]\w*)$", tree, re.S)
        if alias:
            return [(alias.group(1), alias.group(2))]
        return [(tree, tree.rsplit("::", 1)[-1])]
    head, body = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur.strip())
    out: list[tuple[str, str | None]] = []
    for p in parts:
        if p == "self":
            out.append((head, head.rsplit("::", 1)[-1]))
        elif p.startswith("self as "):
            out.append((head, p.split()[-1]))
        elif p:
            out += _expand_use(f"{head}::{p}")
    return out


Module = tuple[str, ...]


def _uses(text: str) -> list[tuple[str, str | None, int]]:
    """(path, local name or None for a glob, offset) of every `use` in the text."""
    out = []
    for m in _USE_RE.finditer(text):
        for path, local in _expand_use(m.group(1)):
            out.append((path, local, m.start()))
    return out


def _segments(path: str) -> list[str]:
    return [s for s in re.sub(r"\s+", "", path).split("::") if s]


@dataclass
class Crate:
    """One crate's module tree: module path -> file, and back."""

    name: str
    modules: dict[Module, Path] = field(default_factory=dict)
    module_of: dict[Path, Module] = field(default_factory=dict)


class SourceMap:
    """The module trees and import graph of the four crates and the SDK calls in each file."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.problems: list[str] = []
        self.files: dict[Path, RustFile] = {}
        self._targets: dict[Path, set[Path]] = {}
        self._exports: dict[Path, set[Path]] = {}
        self._trait_fns: dict[Path, set[str]] = {}
        if not (repo / AWS_CRATE / "src" / "lib.rs").is_file():
            raise SourceError(f"{AWS_CRATE}/src/lib.rs: expected the webmon-aws crate, missing")
        for crate in LAMBDA_CRATES:
            if not (repo / crate / "src" / "main.rs").is_file():
                raise SourceError(f"{crate}/src/main.rs: expected the Lambda crate, missing")
        self.aws = self._module_tree(AWS_CRATE, "lib.rs")
        self.lambdas = {crate: self._module_tree(crate, "main.rs") for crate in LAMBDA_CRATES}
        # Every path of every file is resolved now, so a broken one is reported whether
        # or not a Lambda reaches it today.
        for crate in (self.aws, *self.lambdas.values()):
            for path in crate.module_of:
                self.targets(self.files[path])

    # -- module trees ---------------------------------------------------------------

    def _load(self, path: Path) -> RustFile:
        if path not in self.files:
            self.files[path] = load_file(path, self.repo)
        return self.files[path]

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.repo).as_posix()
        except ValueError:
            return path.as_posix()

    @staticmethod
    def _declared(file: RustFile) -> list[tuple[str, str]]:
        """(name, attributes) of every `mod name;` of a file."""
        out = []
        for m in _MOD_DECL_RE.finditer(file.text):
            line_start = file.raw.rfind("\n", 0, m.start()) + 1
            attrs = [file.raw[line_start:m.start()]]
            lines = file.raw[:line_start].split("\n")[:-1]
            for line in reversed(lines):
                s = line.strip()
                if s.startswith("#[") or s.startswith("//"):
                    attrs.append(s)
                else:
                    break
            out.append((m.group(1), " ".join(a for a in attrs if not a.startswith("//"))))
        return out

    def _module_tree(self, name: str, root: str) -> Crate:
        """The crate's modules from its root's `mod` declarations down, at any depth."""
        crate = Crate(name)
        src = self.repo / name / "src"
        crate.modules[()] = src / root
        todo: list[Module] = [()]
        while todo:
            mod = todo.pop()
            file = self._load(crate.modules[mod])
            crate.module_of[file.path] = mod
            own_dir = (file.path.parent if not mod or file.path.name == "mod.rs"
                       else file.path.with_suffix(""))
            for child, attrs in self._declared(file):
                if re.search(r"cfg\s*\(\s*test\s*\)", attrs):
                    continue  # test modules run in no Lambda
                at_path = re.search(r'#\[\s*path\s*=\s*"([^"]+)"\s*\]', attrs)
                candidates = ([file.path.parent / at_path.group(1)] if at_path
                              else [own_dir / f"{child}.rs", own_dir / child / "mod.rs"])
                hit = next((c for c in candidates if c.is_file()), None)
                if hit is None:
                    self.problems.append(
                        f"{file.rel}: declares mod {child}: expected {self._rel(candidates[0])}"
                        f"{'' if at_path else f' (or {child}/mod.rs)'}, missing")
                    continue
                crate.modules[mod + (child,)] = hit
                todo.append(mod + (child,))
        return crate

    # -- import graph ---------------------------------------------------------------

    def _crate_of(self, file: RustFile) -> Crate | None:
        for crate in (self.aws, *self.lambdas.values()):
            if file.path in crate.module_of:
                return crate
        return None

    def _resolve(self, start: Module, segs: list[str]) -> tuple[Module, list[str]]:
        """The deepest webmon-aws module `segs` names from `start`, and what follows it."""
        cur = start
        for i, s in enumerate(segs):
            if s == "super" and cur:
                cur = cur[:-1]
            elif s == "self":
                continue
            elif cur + (s,) in self.aws.modules:
                cur = cur + (s,)
            else:
                return cur, segs[i:]
        return cur, []

    def _heads(self, file: RustFile) -> dict[str, Module]:
        """Names a path of the file may start with, and the webmon-aws module each names."""
        heads: dict[str, Module] = {"webmon_aws": ()}
        own = self.aws.module_of.get(file.path)
        if own is not None:
            heads.update({"crate": (), "self": own})
            if own:
                heads["super"] = own[:-1]
            for child, _ in self._declared(file):
                if own + (child,) in self.aws.modules:
                    heads[child] = own + (child,)
        # `use webmon_aws::service::probe;` then `probe::handle(..)`
        for path, local, _ in _uses(file.text):
            segs = _segments(path)
            if local and segs and segs[0] in heads and local not in heads:
                mod, rest = self._resolve(heads[segs[0]], segs[1:])
                if not rest and len(segs) > 1:
                    heads[local] = mod
        return heads

    def _defines(self, path: Path, name: str) -> bool:
        """Whether a module file defines or re-exports `name` (a glob `use` may)."""
        text = self.files[path].text
        if re.search(_ITEM_RE.format(name=re.escape(name)), text):
            return True
        return any(local is None or local == name for _, local, _ in _uses(text))

    def _paths(self, file: RustFile) -> list[tuple[str, list[str], bool]]:
        """(head, rest, from a pub use) of every path of the file."""
        out = []
        for path, _, at in _uses(file.text):
            segs = _segments(path)
            if segs:
                public = bool(re.search(r"\bpub(?:\s*\([^)]*\))?\s*$", file.text[max(0, at - 30):at]))
                out.append((segs[0], segs[1:], public))
        for m in _PATH_RE.finditer(file.text):
            out.append((m.group(1), _segments(m.group(2)), False))
        return out

    def _follow(self, file: RustFile, public_only: bool) -> set[Path]:
        heads = self._heads(file)
        crate = self._crate_of(file)
        in_aws = crate is self.aws
        out: set[Path] = set()
        for head, rest, public in self._paths(file):
            if head not in heads or (public_only and not public):
                continue
            if head == "webmon_aws" and in_aws:
                continue  # the crate's own name is not a path inside it
            mod, left = self._resolve(heads[head], rest)
            target = self.aws.modules[mod]
            out.add(target)
            if left and not public_only and not self._defines(target, left[0]):
                shown = "::".join(("webmon_aws" if not in_aws else "crate",) + mod + (left[0],))
                module_like = _MODULE_SEG.match(left[0]) and (
                    len(left) > 1 or any(c == left[0] for c, _ in self._declared(self.files[target])))
                if module_like:
                    self.problems.append(
                        f"{file.rel}: uses {shown}: expected "
                        f"{AWS_CRATE}/src/{'/'.join(mod + (left[0],))}.rs (or mod.rs), missing")
                else:
                    self.problems.append(
                        f"{file.rel}: uses {shown}: expected {left[0]} in {self.files[target].rel}, missing")
        out.discard(file.path)
        return out

    def targets(self, file: RustFile) -> set[Path]:
        """webmon-aws files whose items the file's paths name."""
        if file.path not in self._targets:
            self._targets[file.path] = self._follow(file, public_only=False)
        return self._targets[file.path]

    def exports(self, path: Path) -> set[Path]:
        """The file and the files it re-exports from (`pub use`), transitively."""
        if path in self._exports:
            return self._exports[path]
        out = {path}
        self._exports[path] = out
        todo = [path]
        while todo:
            for t in self._follow(self.files[todo.pop()], public_only=True):
                if t not in out:
                    out.add(t)
                    todo.append(t)
        return out

    def reached_files(self, crate: str) -> list[RustFile]:
        """The Lambda crate's own files and every webmon-aws file they reach."""
        roots = [self.files[p] for p in self.lambdas[crate].module_of]
        seen: dict[Path, RustFile] = {f.path: f for f in roots}
        todo = list(roots)
        while todo:
            for target in self.targets(todo.pop()):
                if target not in seen:
                    seen[target] = self.files[target]
                    todo.append(self.files[target])
        return list(seen.values())

    def trait_fns(self, file: RustFile) -> set[str]:
        """Names of the functions of a file that are trait methods: in `impl T for X`
        blocks, or default bodies in `trait T` blocks."""
        if file.path in self._trait_fns:
            return self._trait_fns[file.path]
        blocks = []
        for m in [*_IMPL_FOR_RE.finditer(file.text), *_TRAIT_RE.finditer(file.text)]:
            depth, i = 0, m.end() - 1
            while i < len(file.text):
                depth += file.text[i] == "{"
                depth -= file.text[i] == "}"
                if depth == 0:
                    break
                i += 1
            blocks.append((m.end() - 1, i))
        out = {name for name, spans in file.functions.items()
               if any(b0 < s0 and s1 <= b1 for s0, s1 in spans for b0, b1 in blocks)}
        self._trait_fns[file.path] = out
        return out

    # -- calls ----------------------------------------------------------------------

    @staticmethod
    def _sdk_service(file: RustFile) -> str | None:
        clients = set(_SDK_CLIENT_RE.findall(file.text))
        if len(clients) == 1:
            return clients.pop()
        if not clients:
            anys = set(_SDK_ANY_RE.findall(file.text))
            return anys.pop() if len(anys) == 1 else None
        return None

    def calls(self, file: RustFile) -> list[tuple[str | None, str, str]]:
        """(enclosing fn, IAM action, where) for every SDK call in a file."""
        out = []
        service = None
        found = list(_CALL_RE.finditer(file.text))
        setups = [m for m in re.finditer(r"\.\s*(" + "|".join(IMPLIED_BY_SETUP) + r")\s*\(", file.text)]
        for m in found:
            end = file.text.find(";", m.end())
            stmt = file.text[m.end(): end if end >= 0 else len(file.text)]
            if not re.search(r"\.\s*send\s*\(\s*\)", stmt):
                continue  # not an SDK request chain
            service = service or self._sdk_service(file)
            line = file.text.count("\n", 0, m.start()) + 1
            where = f"{file.rel}:{line}"
            if service is None:
                self.problems.append(f"{where}: client.{m.group(1)}() but no single aws_sdk_* client "
                                     "in the file: cannot tell the service")
                continue
            prefix = IAM_PREFIX.get(service)
            if prefix is None:
                self.problems.append(f"{where}: aws_sdk_{service} has no IAM prefix in rust_calls.IAM_PREFIX")
                continue
            op = "".join(w.capitalize() for w in m.group(1).split("_"))
            action = ACTION_NAME.get(f"{prefix}:{op}", f"{prefix}:{op}")
            out.append((_enclosing(file, m.start()), action, where))
        for m in setups:
            service = service or self._sdk_service(file)
            prefix = IAM_PREFIX.get(service or "", None)
            if prefix:
                line = file.text.count("\n", 0, m.start()) + 1
                out.append((_enclosing(file, m.start()), f"{prefix}:{IMPLIED_BY_SETUP[m.group(1)]}",
                            f"{file.rel}:{line}"))
        return out

    def lambda_actions(self, crate: str) -> dict[str, list[str]]:
        """IAM action -> places, for every SDK call the Lambda crate can reach."""
        files = self.reached_files(crate)
        own = [f for f in files if f.path in self.lambdas[crate].module_of]
        aws_files = {f.path: f for f in files if f not in own}
        counted: set[tuple[Path, str]] = set()
        todo: list[tuple[RustFile, str]] = [(f, f.text) for f in own]
        while todo:
            file, body = todo.pop()
            body = _no_send(body)
            names = set(_IDENT_RE.findall(body))
            methods = set(_METHOD_RE.findall(body))
            reach: list[tuple[Path, set[str]]] = []
            # the functions it names in its own file and in the files it imports
            for target in {file.path}.union(*(self.exports(t) for t in self.targets(file))):
                if target in aws_files:
                    reach.append((target, names & set(aws_files[target].functions)))
            # trait methods it calls, in every file the Lambda reaches (the port's impls)
            for path, f in aws_files.items():
                reach.append((path, methods & self.trait_fns(f)))
            for path, hits in reach:
                for name in hits:
                    if (path, name) not in counted:
                        counted.add((path, name))
                        f = aws_files[path]
                        todo += [(f, f.text[start:end]) for start, end in f.functions[name]]
        actions: dict[str, list[str]] = {}
        for f in files:
            for fn, action, where in self.calls(f):
                if f in own or fn is None or (f.path, fn) in counted:
                    actions.setdefault(action, []).append(f"{where} ({fn or 'top level'})")
        return actions


def _no_send(text: str) -> str:
    return re.sub(r"\.\s*send\s*\(\s*\)", " ", text)


def lambda_calls(repo: Path) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """{crate: {IAM action: [places]}} and the problems met on the way."""
    try:
        smap = SourceMap(repo)
    except SourceError as e:
        return {}, [str(e)]
    result = {crate: smap.lambda_actions(crate) for crate in LAMBDA_CRATES}
    return result, sorted(set(smap.problems))


if __name__ == "__main__":
    import sys

    calls, problems = lambda_calls(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    for crate, actions in calls.items():
        print(crate)
        for action, places in sorted(actions.items()):
            print(f"  {action}: {', '.join(places)}")
    for p in problems:
        print("problem:", p)
