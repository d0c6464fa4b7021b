"""Every Timestream query the project sends is parsed by a real SQL parser.

Timestream's query language is Trino's with a few additions; sqlglot (pinned in
requirements.txt) parses it with its Trino dialect, extended here with Timestream's
duration literals (`bin(time, 60000ms)`). Parsed are:

- every query `webmon report` and `webmon dashboard --source timestream` build, for
  several tables, windows, column sets and check ids (quotes and SQL fragments among
  them), as dumped by the Rust test `aws/tests/timestream_sql_dump.rs`;
- every query of `grafana/webmon-timestream.json`, expanded the way Grafana and the
  Timestream plugin expand it (template variables in the browser, then the plugin's
  `$__` macros on the server), with the same check ids.

How the dump is produced: this test runs the Rust test itself, with `WEBMON_SQL_DUMP`
naming a fresh file, instead of reading a file an earlier step may have left. A stale
dump would hide a query changed since, and a missing one would depend on the order of
the steps in scripts/test-all.sh. The cargo arguments are those of the test command's
nextest step (`--workspace --features webmon/bench`), so there the test binary is
already built and only runs; run alone, cargo builds it first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

try:
    import sqlglot
    from sqlglot import exp
    from sqlglot.dialects.trino import Trino
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.tokens import Token, TokenType
except ImportError as e:  # pragma: no cover - the hint is the point
    raise ImportError(
        "sqlglot is needed: python3 -m pip install -r infra-tests/requirements.txt "
        "(scripts/install-test-deps.sh does it)"
    ) from e

GRAFANA = REPO / "grafana" / "webmon-timestream.json"

# The Rust test that writes every generated query (see the module docstring).
DUMP_COMMAND = [
    "cargo", "test", "--quiet", "--workspace", "--features", "webmon/bench",
    "--test", "timestream_sql_dump",
]

# Timestream's duration literals (`1ms`, `5m`, `1d`): a number glued to a unit.
UNITS = {"ns": "NANOSECOND", "us": "MICROSECOND", "ms": "MILLISECOND", "s": "SECOND",
         "m": "MINUTE", "h": "HOUR", "d": "DAY"}

# Check ids as in the Rust dump: plain ones, quotes, SQL fragments.
CHECK_IDS = ["api", "home-page_v2.eu", "it's", "'; DROP TABLE results; --", "a''b",
             "back\\slash'", 'ünï\'cödé "quoted"']


class Timestream(Trino):
    """Trino's SQL plus Timestream's duration literals, read as intervals."""

    class Tokenizer(Trino.Tokenizer):
        def tokenize(self, sql: str) -> list[Token]:
            tokens = super().tokenize(sql)
            out: list[Token] = []
            i = 0
            while i < len(tokens):
                t = tokens[i]
                u = tokens[i + 1] if i + 1 < len(tokens) else None
                if (t.token_type == TokenType.NUMBER and u is not None and u.start == t.end + 1
                        and u.token_type == TokenType.VAR and u.text.lower() in UNITS):
                    out.append(Token(TokenType.INTERVAL, "INTERVAL", t.line, t.col, t.start, t.end))
                    out.append(Token(TokenType.STRING, t.text, t.line, t.col, t.start, t.end))
                    out.append(Token(TokenType.VAR, UNITS[u.text.lower()], u.line, u.col, u.start, u.end))
                    i += 2
                    continue
                out.append(t)
                i += 1
            return out


def parse(sql: str) -> exp.Expression:
    """One statement, or a ParseError/TokenError naming what is wrong."""
    statements = [s for s in sqlglot.parse(sql, read=Timestream) if s is not None]
    if len(statements) != 1:
        raise ParseError(f"{len(statements)} statements, not 1")
    return statements[0]


def check_id_literals(tree: exp.Expression) -> list[str]:
    """The values compared with `check_id` (`check_id = '...'`)."""
    return [eq.expression.this for eq in tree.find_all(exp.EQ)
            if isinstance(eq.this, exp.Column) and eq.this.name == "check_id"
            and isinstance(eq.expression, exp.Literal) and eq.expression.is_string]


# --------------------------------------------------------------------------------------
# The queries the Rust code generates
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[dict]:
    cargo = shutil.which("cargo")
    assert cargo, "cargo is needed to dump the generated queries (install the Rust toolchain)"
    dump = tmp_path_factory.mktemp("sql") / "timestream-sql.json"
    env = dict(os.environ, WEBMON_SQL_DUMP=str(dump))
    done = subprocess.run(DUMP_COMMAND, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, f"{' '.join(DUMP_COMMAND)} failed:\n{done.stdout}\n{done.stderr}"
    assert dump.is_file(), f"the Rust test wrote no {dump}"
    return json.loads(dump.read_text())


def test_every_generated_query_parses(generated):
    # 2 tables x (2 DESCRIBEs + 6 windows x 3 column sets x (3 + 7 check ids x 5)).
    assert len(generated) >= 1948, f"only {len(generated)} queries dumped"
    failures = []
    for q in generated:
        try:
            tree = parse(q["sql"])
        except (ParseError, TokenError) as e:
            failures.append(f"{q['where']}: {e}\n  {q['sql']}")
            continue
        if q["check_id"] is not None:
            # The check id is one literal holding exactly the id, not SQL.
            values = check_id_literals(tree)
            if values != [q["check_id"]]:
                failures.append(f"{q['where']}: check_id literals {values}\n  {q['sql']}")
    assert not failures, f"{len(failures)} queries do not parse:\n" + "\n".join(failures[:20])


def test_every_query_kind_and_check_id_is_dumped(generated):
    kinds = {" ".join(q["where"].split()[:2]) for q in generated}
    assert kinds == {"report describe", "dashboard describe", "report samples",
                     "dashboard samples", "dashboard overview", "dashboard series",
                     "dashboard phases", "dashboard failures", "report stats",
                     "dashboard uptime", "badge stats"}
    assert {q["check_id"] for q in generated} == set(CHECK_IDS) | {None}
    assert any(re.search(r"bin\(time, \d+ms\)", q["sql"]) for q in generated), \
        "the series query's duration literal is dumped"


# --------------------------------------------------------------------------------------
# The Grafana dashboard, expanded as Grafana and the Timestream plugin expand it
# --------------------------------------------------------------------------------------

VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")


def sql_literals(values: list[str]) -> str:
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


def grafana_replace(text: str, values: dict, panel: bool) -> str:
    """Grafana's template service: `${name:format}` uses that format; without one, a
    panel query goes through the Timestream plugin's `interpolateVariable` (a single
    value as it is, several values quoted and joined) and a variable query through
    Grafana's default (a single value as it is, several as a glob). Names that are no
    variable (the plugin's `$__` macros) are left for the server."""

    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(3) or m.group(5)
        fmt = m.group(2) or m.group(4)
        if name not in values:
            return m.group(0)
        value = values[name]
        many = value if isinstance(value, list) else [value]
        if fmt == "sqlstring":
            return sql_literals(many)
        if fmt == "raw":
            return ",".join(many)
        assert fmt is None, f"format {fmt!r} is not emulated here"
        if isinstance(value, str):
            return value
        return sql_literals(value) if panel else "{" + ",".join(value) + "}"

    return VARIABLE.sub(one, text)


def plugin_macros(text: str, database: str, table: str, measure: str,
                  from_ms: int, to_ms: int, interval_ms: int) -> str:
    """The Timestream plugin's server-side macros (its `Interpolate`)."""
    for key, value in (("$__database", database), ("$__table", table), ("$__measure", measure)):
        if value:
            text = text.replace(key, value)
    text = text.replace("$__timeFilter",
                        f"time BETWEEN from_milliseconds({from_ms}) AND from_milliseconds({to_ms})")
    return text.replace("$__interval_ms", f"{interval_ms}ms")


def grafana_queries(check_id: str, regions: list[str]) -> list[tuple[str, str]]:
    """Every query of the dashboard as the plugin would send it."""
    board = json.loads(GRAFANA.read_text())
    values = {"database": "webmon", "table": "results", "check": check_id, "region": regions}
    window = dict(from_ms=1_750_000_000_000, to_ms=1_750_003_600_000, interval_ms=60_000)
    out = []
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            raw = grafana_replace(t["rawQuery"], values, panel=True)
            out.append((f"panel {panel['title']!r}", plugin_macros(
                raw, grafana_replace(t.get("database", ""), values, panel=False),
                grafana_replace(t.get("table", ""), values, panel=False),
                t.get("measure", ""), **window)))
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            raw = grafana_replace(v["query"], values, panel=False)
            out.append((f"variable {v['name']!r}", plugin_macros(raw, "", "", "", **window)))
    return out


@pytest.mark.parametrize("check_id", CHECK_IDS)
@pytest.mark.parametrize("regions", [["eu-west-1"], ["eu-west-1", "us-east-1", "ap-south-1"]])
def test_grafana_queries_parse_for_every_check_id(check_id, regions):
    queries = grafana_queries(check_id, regions)
    assert len(queries) >= 8, "6 panels and 2 variable queries"
    for where, sql in queries:
        assert "$" not in sql, f"{where}: unexpanded {sql}"
        try:
            tree = parse(sql)
        except (ParseError, TokenError) as e:
            pytest.fail(f"{where} with check {check_id!r}: {e}\n{sql}")
        if "check_id = " in sql:
            assert check_id_literals(tree) == [check_id], f"{where}: {sql}"


# --------------------------------------------------------------------------------------
# The parser rejects what Timestream would: planted slips
# --------------------------------------------------------------------------------------

GOOD = ("SELECT region, to_milliseconds(bin(time, 60000ms)) AS t_ms, avg(latency_avg_ms) AS l "
        "FROM \"webmon\".\"results\" WHERE measure_name = 'probe' AND time BETWEEN "
        "from_milliseconds(1) AND from_milliseconds(2) AND check_id = 'it''s' "
        "GROUP BY region, bin(time, 60000ms) ORDER BY region, t_ms")


@pytest.mark.parametrize("slip", [
    GOOD.replace("'it''s'", "'it's'"),                      # a quote left undoubled
    GOOD.replace("bin(time, 60000ms))", "bin(time, 60000ms)", 1),  # a parenthesis dropped
    GOOD.replace("60000ms", "60000mss", 1),                   # no duration unit
    GOOD.replace(" FROM ", " FORM "),                          # a misspelt keyword
    GOOD.replace("GROUP BY", "GROUP"),                         # a clause cut short
    GOOD + "; DROP TABLE results",                             # a second statement
    GOOD.replace("avg(latency_avg_ms)", "CASE WHEN available THEN latency_avg_ms"),  # no END
])
def test_planted_slips_are_rejected(slip):
    assert parse(GOOD) is not None
    with pytest.raises((ParseError, TokenError)):
        parse(slip)


def test_a_raw_grafana_variable_with_a_quote_is_rejected():
    # How the dashboard quoted the check before: the plugin puts a single value in as
    # it is, so an id with a quote broke the query.
    sql = grafana_replace("SELECT 1 FROM t WHERE check_id = '${check}'", {"check": "it's"},
                          panel=True)
    with pytest.raises((ParseError, TokenError)):
        parse(sql)
