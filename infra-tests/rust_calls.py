"""The AWS operations each Lambda's code calls, found by reading the Rust sources.

How a Lambda is tied to its calls, step by step (every step is plain text scanning, no
Rust toolchain needed):

1. Sources: the `webmon-aws` crate (`aws/src/`) and the Lambda crates of LAMBDA_CRATES
   (`<lambda>/src/`). A missing crate directory, or a crate without its root file
   (`lib.rs`, `main.rs`), is a finding: the map below would silently shrink.
2. Module tree: each crate's modules are read from its root's `mod x;` declarations
   down, at any depth (`x.rs` or `x/mod.rs` next to the declaring file, or under its
   folder for `a/b.rs`; `#[path = ".."]` is followed). A declared module without its
   file is a finding; `#[cfg(test)]` modules are left out (tests run in no Lambda).
   Feature-gated modules (`#[cfg(feature = "notify")] pub mod sns;`) are followed like
   plain ones: whether a Lambda runs their code is decided by step 4, not by features.
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
   calls count for a Lambda only if the function is reached. Each `fn` is free (module
   level) or a method: of the type of its `impl X` / `impl T for X` block, or a default
   body of its `trait T`. From the Lambda's own files, and then from each reached
   function (its signature and body):
   * a free name (`handle(..)`, `probe::handle(..)`, `.map(parse)`; not `x.name`, not a
     path segment `name::..`, not a macro `name!`) reaches the free functions of that
     name in its own file and in the files it imports (and what those re-export with
     `pub use`);
   * `Type::m` reaches the methods `m` of `Type` (inherent, or a trait's impl for it),
     and `Trait::m` the methods `m` of that trait's impls; `Self::m` those of its own
     type;
   * a method call `.m(..)` reaches the methods `m` of the *live* types (and the trait
     default bodies `m`) in the files the Lambda reaches. A type is live once reached
     code names it (a constructor `X::new`, a signature `-> X`, a field, `Self` of a
     reached method) or a live type's `struct`/`enum` definition names it. Port calls
     from the services are method calls on generic types (`repo.group(..)`,
     `queue.send(..)`, `store.write_detailed(..)`): they reach the impls of the adapters
     the Lambda builds, not those of every adapter in the crate (the writer calls
     `.send(..)` on its store; the SNS channel's `send` stays the notifier's).
   `.send()` with no arguments, the SDK's own final call, is not a reference;
   `.send(results)`, a port method, is. Setup helpers only the tests, the CLI or the
   benchmark use (`ensure_table`, `create_queue_with_dlq`, ...) thus stay out of the
   Lambda's set.
5. SDK calls: `client.<snake_case_op>()` followed by `.send()` in the same statement
   (or bound with `let x = client.<op>()..;` and `x.send()` later in the function);
   the service is the `aws_sdk_<service>` crate whose `Client` the file uses. A file
   with calls but no (or several) SDK clients is a finding. DynamoDB transactions have
   no IAM action of their own: IAM authorizes each action inside them, so a
   `transact_write_items()` call counts as the item actions the function that sends it
   builds (`Put::builder()` -> `dynamodb:PutItem`, `Update::builder()` ->
   `dynamodb:UpdateItem`, `Delete::builder()` -> `dynamodb:DeleteItem`,
   `ConditionCheck::builder()` -> `dynamodb:ConditionCheckItem`; the file's when the
   function builds none), and `transact_get_items()` as `dynamodb:GetItem`.

The result maps each Lambda crate to {IAM action: [where called]}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LAMBDA_CRATES = ("probe-lambda", "writer-lambda", "config-lambda", "notifier-lambda", "sweeper-lambda")
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
    "ses": "ses",
    "sesv2": "ses",  # SES v2 API: its SendEmail is the IAM action ses:SendEmail
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
# Transactions: IAM authorizes the actions inside them, one IAM action per item action.
TRANSACT_ITEM_ACTIONS = {
    "dynamodb:TransactWriteItems": {
        "Put": "dynamodb:PutItem",
        "Update": "dynamodb:UpdateItem",
        "Delete": "dynamodb:DeleteItem",
        "ConditionCheck": "dynamodb:ConditionCheckItem",
    },
    "dynamodb:TransactGetItems": {"Get": "dynamodb:GetItem"},
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
_MODULE_SEG = re.compile(r"^[a-z_][a-z0-9_]*$")
# `impl` starting an item (not `-> impl Trait` nor `x: impl Trait`).
_IMPL_ITEM_RE = re.compile(r"(?:(?<=[;{}\]])|^)\s*((?:unsafe\s+)?impl\b)([^;{}]*)\{", re.M)
_TRAIT_NAME_RE = re.compile(r"\btrait\s+([A-Za-z_]\w*)[^;{}]*\{")
_TYPE_DEF_RE = re.compile(r"\b(?:struct|enum|union)\s+([A-Z]\w*)")
_TYPE_NAME_RE = re.compile(r"\b([A-Z][A-Za-z0-9_]*)\b")
# `Type::m`, `Type::<T>::m`, `Self::m`: the type and the method.
_QUALIFIED_RE = re.compile(r"\b([A-Z]\w*)\s*(?:::\s*<[^;{}()]*?>\s*)?::\s*([a-z_][a-z0-9_]*)\b(?!\s*::\s*[A-Za-z_])")
# `.m(..)`, `.m::<T>(..)`: a method call.
_METHOD_CALL_RE = re.compile(r"\.\s*([a-z_][a-z0-9_]*)\s*(?:::\s*<[^;{}]*?>\s*)?\(")
# Where an SDK request or builder chain starts: its methods are the SDK's, not ours
# (`TransactWriteItem::builder().put(..)` calls no `fn put` of webmon-aws).
_SDK_CHAIN_RE = re.compile(r"\b[A-Z]\w*\s*::\s*builder\s*\(\s*\)|\bclient\s*\.\s*[a-z_]\w*\s*\(\s*\)")
_CHAIN_LINK_RE = re.compile(r"\s*\.\s*([a-z_]\w*)\s*\(")
# Local bindings: `let` and `for` patterns, closure parameters, match arm patterns.
_LET_RE = re.compile(r"\blet\s+([^=;]*?)\s*(?:=|;|\belse\b)")
_FOR_RE = re.compile(r"\bfor\s+([^{};]*?)\s+in\b")
_CLOSURE_RE = re.compile(r"\|([^|;{}]*)\|")
_ARM_RE = re.compile(r"(?:^|[{,])\s*([^{},;]*?)\s*=>")
_PARAM_RE = re.compile(r"\b([a-z_][a-z0-9_]*)\s*:(?!:)")

class SourceError(Exception):
    """The Rust layout is not what the scanner can map."""


@dataclass(frozen=True)
class Fn:
    """One `fn` with a body: its name, where it starts (`fn`), its body, and the type of
    its `impl` block (`owner`; the trait's name for a trait default body) and the trait
    that block implements (`trait`). Free functions have neither."""

    name: str
    start: int
    open: int
    end: int
    owner: str | None = None
    trait: str | None = None


@dataclass
class RustFile:
    path: Path
    rel: str
    text: str  # comments and string literals blanked
    raw: str = ""
    functions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    fns: list[Fn] = field(default_factory=list)
    type_defs: dict[str, list[str]] = field(default_factory=dict)  # type -> types its definition names


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


def _block_end(text: str, open_at: int) -> int:
    depth, i = 0, open_at
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    return i


def _type_ident(text: str) -> str | None:
    """The type a path names: its last identifier outside `<..>` (`crate::a::X<T>` -> X)."""
    depth, last = 0, None
    for m in re.finditer(r"->|[<>]|[A-Za-z_]\w*", text):
        tok = m.group(0)
        if tok == "<":
            depth += 1
        elif tok == ">":
            depth = max(0, depth - 1)
        elif tok != "->" and depth == 0 and tok not in ("dyn", "mut", "impl", "const"):
            last = tok
    return last


def _impl_header(header: str) -> tuple[str | None, str | None]:
    """(self type, trait) of an `impl` header (the text between `impl` and `{`)."""
    h = header.strip()
    if h.startswith("<"):
        depth = 0
        for i, ch in enumerate(h):
            depth += (ch == "<") - (ch == ">")
            if depth == 0:
                h = h[i + 1:]
                break
    h = re.split(r"\bwhere\b", h)[0]
    depth, split = 0, None
    for m in re.finditer(r"[<>]|\bfor\b", h):
        if m.group(0) == "<":
            depth += 1
        elif m.group(0) == ">":
            depth = max(0, depth - 1)
        elif depth == 0 and not h[m.end():].lstrip().startswith("<"):  # not `for<'a>`
            split = m
    if split is None:
        return _type_ident(h), None
    return _type_ident(h[split.end():]), _type_ident(h[:split.start()])


def _fns(text: str, functions: dict[str, list[tuple[int, int]]]) -> list[Fn]:
    """Every function with a body, with the `impl` or `trait` block it is in."""
    blocks: list[tuple[int, int, str | None, str | None]] = []
    for m in _IMPL_ITEM_RE.finditer(text):
        owner, trait = _impl_header(m.group(2))
        open_at = m.end() - 1
        blocks.append((open_at, _block_end(text, open_at), owner, trait))
    for m in _TRAIT_NAME_RE.finditer(text):
        open_at = m.end() - 1
        blocks.append((open_at, _block_end(text, open_at), m.group(1), m.group(1)))
    out = []
    for m in _FN_RE.finditer(text):
        for open_at, end in functions.get(m.group(1), []):
            if open_at < m.end() or text.find("{", m.end()) != open_at:
                continue
            inner = [b for b in blocks if b[0] < m.start() and end <= b[1]]
            owner, trait = (None, None)
            if inner:
                _, _, owner, trait = max(inner, key=lambda b: b[0])
            out.append(Fn(m.group(1), m.start(), open_at, end, owner, trait))
    return out


def _type_defs(text: str) -> dict[str, list[str]]:
    """The types each `struct`/`enum` definition of the file names (its fields)."""
    out: dict[str, list[str]] = {}
    for m in _TYPE_DEF_RE.finditer(text):
        rest = re.search(r"[;{(]", text[m.end():])
        if not rest:
            continue
        at = m.end() + rest.start()
        if text[at] == ";":
            end = at
        elif text[at] == "{":
            end = _block_end(text, at)
        else:
            depth, end = 0, at
            while end < len(text):
                depth += (text[end] == "(") - (text[end] == ")")
                if depth == 0:
                    break
                end += 1
        out.setdefault(m.group(1), []).extend(_TYPE_NAME_RE.findall(text[m.end():end]))
    return out


def _enclosing_fn(file: RustFile, offset: int) -> Fn | None:
    """The innermost function whose body holds `offset`."""
    best: Fn | None = None
    for fn in file.fns:
        if fn.open <= offset <= fn.end and (best is None or fn.open > best.open):
            best = fn
    return best


def _enclosing(file: RustFile, offset: int) -> str | None:
    fn = _enclosing_fn(file, offset)
    return fn.name if fn else None


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
    f.fns = _fns(text, f.functions)
    f.type_defs = _type_defs(text)
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
    """The module trees and import graph of the crates and the SDK calls in each file."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.problems: list[str] = []
        self.files: dict[Path, RustFile] = {}
        self._targets: dict[Path, set[Path]] = {}
        self._exports: dict[Path, set[Path]] = {}
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

    def _item_actions(self, file: RustFile, offset: int, action: str, where: str) -> list[str]:
        """The item actions a transaction sent at `offset` is authorized by: those its
        function builds, else those its file builds."""
        kinds = TRANSACT_ITEM_ACTIONS[action]
        pattern = re.compile(r"\b(" + "|".join(kinds) + r")\s*::\s*builder\s*\(")
        fn = _enclosing_fn(file, offset)
        scopes = ([file.text[fn.open:fn.end]] if fn else []) + [file.text]
        for scope in scopes:
            found = sorted({kinds[k] for k in pattern.findall(scope)})
            if found:
                return found
        self.problems.append(f"{where}: {action} but no {'/'.join(f'{k}::builder()' for k in kinds)} "
                             "in its function or file: cannot tell the item actions IAM checks")
        return []

    @staticmethod
    def _sent_later(file: RustFile, m: re.Match, end: int) -> bool:
        """`let request = client.op()..;` and, later in its function, `request.send()`
        (a request finished by a `match` on what to set)."""
        head = file.text[max(0, m.start() - 200):m.start()]
        bound = re.search(r"\blet\s+(?:mut\s+)?([a-z_]\w*)\s*(?::[^=;{}]*)?=\s*$", head)
        fn = _enclosing_fn(file, m.start())
        if not bound or fn is None or end < 0:
            return False
        var = re.escape(bound.group(1))
        return bool(re.search(rf"\b{var}\s*\.\s*send\s*\(\s*\)", file.text[end:fn.end]))

    def calls(self, file: RustFile) -> list[tuple[Fn | None, str, str]]:
        """(enclosing fn, IAM action, where) for every SDK call in a file."""
        out = []
        service = None
        found = list(_CALL_RE.finditer(file.text))
        setups = [m for m in re.finditer(r"\.\s*(" + "|".join(IMPLIED_BY_SETUP) + r")\s*\(", file.text)]
        for m in found:
            end = file.text.find(";", m.end())
            stmt = file.text[m.end(): end if end >= 0 else len(file.text)]
            if not re.search(r"\.\s*send\s*\(\s*\)", stmt) and not self._sent_later(file, m, end):
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
            fn = _enclosing_fn(file, m.start())
            if action in TRANSACT_ITEM_ACTIONS:
                for item_action in self._item_actions(file, m.start(), action, where):
                    out.append((fn, item_action, f"{where} in {op}"))
            else:
                out.append((fn, action, where))
        for m in setups:
            service = service or self._sdk_service(file)
            prefix = IAM_PREFIX.get(service or "", None)
            if prefix:
                line = file.text.count("\n", 0, m.start()) + 1
                out.append((_enclosing_fn(file, m.start()), f"{prefix}:{IMPLIED_BY_SETUP[m.group(1)]}",
                            f"{file.rel}:{line}"))
        return out

    def lambda_actions(self, crate: str) -> dict[str, list[str]]:
        """IAM action -> places, for every SDK call the Lambda crate can reach."""
        return self._actions(crate, self.reached_fns(crate))

    def reached_fns(self, crate: str) -> set[tuple[Path, int]]:
        """(file, fn start) of every webmon-aws function the Lambda crate can reach."""
        files = self.reached_files(crate)
        own = [f for f in files if f.path in self.lambdas[crate].module_of]
        aws_files = {f.path: f for f in files if f not in own}
        methods_of: dict[str, list[tuple[Path, Fn]]] = {}  # name -> methods and default bodies
        for path, f in aws_files.items():
            for fn in f.fns:
                if fn.owner is not None:
                    methods_of.setdefault(fn.name, []).append((path, fn))
        type_defs: dict[str, set[str]] = {}
        for f in aws_files.values():
            for name, named in f.type_defs.items():
                type_defs.setdefault(name, set()).update(named)

        counted: set[tuple[Path, int]] = set()
        live: set[str] = set()
        called: set[str] = set()  # method names called (`.m(..)`)
        qualified: set[tuple[str, str]] = set()  # (type or trait, method)
        todo: list[tuple[RustFile, str, Fn | None]] = [(f, f.text, None) for f in own]

        def make_live(names) -> None:
            stack = [n for n in names if n not in live]
            while stack:
                t = stack.pop()
                if t not in live:
                    live.add(t)
                    stack += [n for n in type_defs.get(t, ()) if n not in live]

        def count(path: Path, fn: Fn) -> None:
            if (path, fn.start) not in counted:
                counted.add((path, fn.start))
                f = aws_files[path]
                todo.append((f, f.text[fn.start:fn.end + 1], fn))

        while True:
            while todo:
                file, text, at = todo.pop()
                body = _no_send(text)
                if at is not None and at.owner:
                    make_live([at.owner])
                make_live(_TYPE_NAME_RE.findall(body))
                called.update(_method_calls(body))
                for m in _QUALIFIED_RE.finditer(body):
                    owner = m.group(1)
                    if owner == "Self":
                        if at is None or at.owner is None:
                            continue
                        owner = at.owner
                    qualified.add((owner, m.group(2)))
                # free names: in its own file and the files it imports
                names = _free_names(body, at is not None and body[:at.open - at.start])
                for target in {file.path}.union(*(self.exports(t) for t in self.targets(file))):
                    f = aws_files.get(target)
                    if f is None:
                        continue
                    for fn in f.fns:
                        if fn.owner is None and fn.name in names:
                            count(target, fn)
            # methods: of a live type (or a trait default body) called by name, or named
            # with their type or trait
            for name, candidates in methods_of.items():
                for path, fn in candidates:
                    if (path, fn.start) in counted:
                        continue
                    default_body = fn.owner == fn.trait
                    by_type = (fn.owner, name) in qualified
                    by_trait = fn.trait is not None and (fn.trait, name) in qualified and (
                        default_body or fn.owner in live)
                    by_call = name in called and (default_body or fn.owner in live)
                    if by_type or by_trait or by_call:
                        count(path, fn)
            if not todo:
                return counted

    def _actions(self, crate: str, counted: set[tuple[Path, int]]) -> dict[str, list[str]]:
        files = self.reached_files(crate)
        own = {f.path for f in files if f.path in self.lambdas[crate].module_of}
        actions: dict[str, list[str]] = {}
        for f in sorted(files, key=lambda f: f.rel):
            for fn, action, where in self.calls(f):
                if f.path in own or fn is None or (f.path, fn.start) in counted:
                    actions.setdefault(action, []).append(f"{where} ({fn.name if fn else 'top level'})")
        return actions


def _method_calls(text: str) -> set[str]:
    """Names of the methods a text calls, less those of SDK request and builder chains."""
    sdk: set[int] = set()
    for m in _SDK_CHAIN_RE.finditer(text):
        i = m.end()
        while True:
            link = _CHAIN_LINK_RE.match(text, i)
            if not link:
                break
            sdk.add(link.start(1))
            depth, j = 0, link.end() - 1
            while j < len(text):
                depth += (text[j] == "(") - (text[j] == ")")
                if depth == 0:
                    break
                j += 1
            i = j + 1
    return {m.group(1) for m in _METHOD_CALL_RE.finditer(text) if m.start(1) not in sdk}


def _bindings(text: str, signature: str | bool) -> set[str]:
    """Names the text binds locally (parameters, `let`, `for`, closures, match arms): a
    bare use of one names the local, not a function."""
    heads = [*_LET_RE.findall(text), *_FOR_RE.findall(text), *_CLOSURE_RE.findall(text),
             *_ARM_RE.findall(text)]
    out = {n for h in heads for n in _IDENT_RE.findall(h)} - {"mut", "ref"}
    if isinstance(signature, str):
        out |= set(_PARAM_RE.findall(signature))
    return out


def _free_names(text: str, signature: str | bool = False) -> set[str]:
    """Names a text may call or pass as free functions: not a method or field (`x.name`),
    not a path segment (`name::x`; a turbofish `name::<T>` is a call), not a macro
    (`name!`), not a method named with its type (`Type::name`), not a field or parameter
    name (`name: ..`); and, unless called (`name(..)`), not a name bound locally."""
    out = set()
    bound = _bindings(text, signature)
    for m in _IDENT_RE.finditer(text):
        before = text[max(0, m.start() - 200):m.start()].rstrip()
        after = text[m.end():m.end() + 200].lstrip()
        if before.endswith("."):
            continue
        if after.startswith("!") and not after.startswith("!="):
            continue
        if after.startswith("::") and not after[2:].lstrip().startswith("<"):
            continue
        if after.startswith(":") and not after.startswith("::"):
            continue
        if before.endswith("::"):
            head = re.search(r"([A-Za-z_]\w*)\s*(?:::\s*<[^;{}()]*?>\s*)?::$", before)
            if head and head.group(1)[0].isupper():
                continue
        called = after.startswith("(") or re.match(r"::\s*<[^;{}()]*?>\s*\(", after)
        if not called and m.group(1) in bound:
            continue
        out.add(m.group(1))
    return out


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
