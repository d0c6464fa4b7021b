"""The AWS operations each Lambda's code calls, found by reading the Rust sources.

How a Lambda is tied to its calls, step by step (every step is plain text scanning, no
Rust toolchain needed):

1. Sources: every `aws/src/**/*.rs` (the `webmon-aws` crate) and every
   `<lambda>/src/**/*.rs` of the three Lambda crates. A missing crate directory, or a
   crate without `src/main.rs`, is a finding: the map below would silently shrink.
2. Import graph, file level: a Lambda crate's files are its roots. A file reaches the
   `webmon-aws` modules it names in `use webmon_aws::a::b` / `webmon_aws::a::b(...)`
   paths (`a.rs`, `a/mod.rs`, and `a/b.rs` when it exists), and a `webmon-aws` file
   reaches the modules it names with `use crate::a`, `crate::a::b`, `super::x`
   and `mod x;` (its own submodules). `use webmon_aws::{a, b::c}` groups are expanded.
   A name that resolves to no file is reported ("expected ... missing"), so a moved
   module fails loudly instead of dropping its calls.
3. Function level, inside the reached files: a function's SDK calls count for a
   Lambda only if the function's name is referenced by the Lambda's own files or by a
   function already counted (a name-based call graph). Setup helpers only the tests,
   the CLI or the benchmark use (`ensure_table`, `create_queue_with_dlq`, ...) thus stay
   out of the Lambda's set. `.send()`, the SDK's own final call, is not a reference.
4. SDK calls: `client.<snake_case_op>()` followed by `.send()` in the same statement;
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
_PATH_RE = re.compile(r"\b(webmon_aws|crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
_MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)


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


def _expand_use(tree: str) -> list[str]:
    """`webmon_aws::{a, b::{c, d}}` -> ['webmon_aws::a', 'webmon_aws::b::c', ...]."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)::\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"::\*$|\bas\w+$", "", tree)]
    head, body = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out: list[str] = []
    for p in parts:
        if p and p != "self":
            out += _expand_use(f"{head}::{p}")
        elif p == "self":
            out.append(head)
    return out


def _module_file(src: Path, segments: list[str]) -> list[Path]:
    """Files for the longest module prefix of `segments` under `src`."""
    found: list[Path] = []
    base = src
    for seg in segments:
        as_file, as_dir = base / f"{seg}.rs", base / seg / "mod.rs"
        if as_file.is_file():
            found.append(as_file)
        elif as_dir.is_file():
            found.append(as_dir)
        else:
            break
        base = base / seg
    return found


class SourceMap:
    """The import graph of the four crates and the SDK calls in each file."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.problems: list[str] = []
        self.files: dict[Path, RustFile] = {}
        self._targets: dict[Path, set[Path]] = {}
        aws_src = repo / AWS_CRATE / "src"
        if not (aws_src / "lib.rs").is_file():
            raise SourceError(f"{AWS_CRATE}/src/lib.rs: expected the webmon-aws crate, missing")
        for crate in LAMBDA_CRATES:
            if not (repo / crate / "src" / "main.rs").is_file():
                raise SourceError(f"{crate}/src/main.rs: expected the Lambda crate, missing")
        for crate in (AWS_CRATE, *LAMBDA_CRATES):
            for path in sorted((repo / crate / "src").rglob("*.rs")):
                self.files[path] = load_file(path, repo)
        self.aws_src = aws_src

    def _aws_targets(self, file: RustFile) -> set[Path]:
        """webmon-aws files a file names."""
        if file.path in self._targets:
            return self._targets[file.path]
        out: set[Path] = set()
        self._targets[file.path] = out
        in_aws = file.path.is_relative_to(self.aws_src)
        paths: list[str] = []
        for use in _USE_RE.finditer(file.text):
            paths += _expand_use(use.group(1))
        paths += [m.group(1) + m.group(2) for m in _PATH_RE.finditer(file.text)]
        for p in paths:
            segs = [s for s in p.split("::") if s]
            if not segs:
                continue
            head, rest = segs[0], segs[1:]
            if head == "webmon_aws" or (head == "crate" and in_aws):
                base = self.aws_src
            elif head == "super" and in_aws:
                base = file.path.parent if file.path.name in ("mod.rs", "lib.rs") else file.path.parent
                if file.path.name == "mod.rs":
                    base = file.path.parent.parent
                rest = rest
            else:
                continue
            if not rest:
                continue
            # lowercase segments are modules; the first capitalised one ends the path
            mods = []
            for s in rest:
                if not re.match(r"^[a-z_][a-z0-9_]*$", s):
                    break
                mods.append(s)
            hits = _module_file(base, mods) if mods else []
            if mods and not hits and head == "webmon_aws":
                # `webmon_aws::AwsError`-style items re-exported from lib.rs need no file
                if (self.aws_src / "lib.rs") and re.search(
                        rf"\bpub\s+(?:async\s+)?(?:fn|use|const|static|struct|enum|type)\b[^;{{]*\b{mods[0]}\b",
                        self.files[self.aws_src / "lib.rs"].text):
                    hits = [self.aws_src / "lib.rs"]
                else:
                    self.problems.append(
                        f"{file.rel}: uses webmon_aws::{'::'.join(mods)}: expected "
                        f"{AWS_CRATE}/src/{'/'.join(mods)}.rs (or mod.rs), missing")
            out.update(hits)
        if in_aws:
            own_dir = file.path.parent if file.path.name in ("mod.rs", "lib.rs") else file.path.with_suffix("")
            for m in _MOD_RE.finditer(file.text):
                attrs = re.search(r"((?:#\[[^\]]*\]\s*)*)$", file.raw[: m.start() + len(m.group(0)) - len(m.group(0).lstrip())])
                attrs = attrs.group(1) if attrs else ""
                if "cfg(test)" in attrs:
                    continue  # test modules run in no Lambda
                at_path = re.search(r'#\[path\s*=\s*"([^"]+)"\]', attrs)
                if at_path:
                    hits = [p for p in [(file.path.parent / at_path.group(1)).resolve()] if p.is_file()]
                else:
                    hits = _module_file(own_dir, [m.group(1)])
                if not hits:
                    self.problems.append(f"{file.rel}: declares mod {m.group(1)}: expected "
                                         f"{(own_dir / m.group(1)).relative_to(self.repo).as_posix()}.rs, missing")
                out.update(hits)
        return out

    def reached_files(self, crate: str) -> list[RustFile]:
        """The crate's own files and every webmon-aws file they reach."""
        roots = [f for p, f in self.files.items() if p.is_relative_to(self.repo / crate / "src")]
        seen: dict[Path, RustFile] = {f.path: f for f in roots}
        todo = list(roots)
        while todo:
            f = todo.pop()
            for target in self._aws_targets(f):
                if target not in seen and target in self.files:
                    seen[target] = self.files[target]
                    todo.append(self.files[target])
        return list(seen.values())

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
        own = [f for f in files if f.path.is_relative_to(self.repo / crate / "src")]
        # Names the Lambda's own files use reach functions of any reached webmon-aws file
        # (trait methods are called on generic types, so the file is not known); names
        # inside a counted function reach only its own file and the files it imports.
        aws_files = [f for f in files if f not in own]
        wanted: dict[Path, set[str]] = {f.path: set() for f in aws_files}
        lambda_names: set[str] = set()
        for f in own:
            lambda_names |= set(_IDENT_RE.findall(_no_send(f.text)))
        for f in aws_files:
            wanted[f.path] |= lambda_names
        counted: set[tuple[Path, str]] = set()
        changed = True
        while changed:
            changed = False
            for f in aws_files:
                for name, spans in f.functions.items():
                    if (f.path, name) in counted or name not in wanted[f.path]:
                        continue
                    counted.add((f.path, name))
                    changed = True
                    names: set[str] = set()
                    for start, end in spans:
                        names |= set(_IDENT_RE.findall(_no_send(f.text[start:end])))
                    for target in {f.path} | self._aws_targets(f):
                        if target in wanted:
                            wanted[target] |= names
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
