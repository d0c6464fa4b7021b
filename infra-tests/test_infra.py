"""The real programs pass the checker, and every planted mistake is caught by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from checker import check_repo
from conftest import HERE, REPO, copy_infra
from schema import AWS_VERSION

FIXTURES = sorted(p for p in (HERE / "fixtures").iterdir() if p.name.startswith("bad-"))


def test_schema_has_what_the_programs_use(schema):
    assert schema["version"] == AWS_VERSION
    assert "aws:dynamodb/table:Table" in schema["resources"]
    assert "aws:dynamodb/getTable:getTable" in schema["functions"]
    assert schema["types"]["dynamodb.TableReplica"]["regionName"]["required"]


def test_real_programs_pass(schema):
    assert check_repo(REPO, schema) == []


def test_copy_of_real_programs_passes(schema, tmp_path):
    assert check_repo(copy_infra(tmp_path), schema) == []


def test_at_least_six_distinct_mistakes_are_planted():
    expects = {yaml.safe_load((f / "mutation.yaml").read_text())["expect"] for f in FIXTURES}
    assert len(FIXTURES) >= 6 and len(expects) == len(FIXTURES)


def apply(fixture: Path, root: Path) -> None:
    spec = yaml.safe_load((fixture / "mutation.yaml").read_text())
    for edit in spec.get("edits", []):
        target = root / edit["file"]
        text = target.read_text()
        assert text.count(edit["find"]) == 1, f"{fixture.name}: edit target not found once in {edit['file']}"
        target.write_text(text.replace(edit["find"], edit["replace"]))
    for rel, content in (spec.get("add") or {}).items():
        (root / rel).write_text(content)
    for rel in spec.get("remove", []):
        (root / rel).unlink()


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_planted_mistake_is_caught(schema, tmp_path, fixture):
    root = copy_infra(tmp_path)
    apply(fixture, root)
    expect = yaml.safe_load((fixture / "mutation.yaml").read_text())["expect"]
    findings = check_repo(root, schema)
    assert any(expect in f for f in findings), f"{fixture.name}: expected {expect!r} in {findings}"


def test_missing_npm_fails_with_an_install_hint(tmp_path, monkeypatch):
    import schema as schema_module

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(schema_module.SchemaError, match=r"npm not found: apt-get install -y nodejs npm"):
        schema_module.load_schema(tmp_path / "cache")


def test_lambda_environment_names_are_read_by_the_code():
    """Every WEBMON_ variable the programs set is one the Rust code reads: a renamed
    variable on either side would leave a Lambda without its setting."""
    import re

    from policy import PENDING_ENV

    read = set()
    for crate in ("aws", "probe-lambda", "writer-lambda", "config-lambda", "notifier-lambda",
                  "sweeper-lambda"):
        for source in (REPO / crate / "src").rglob("*.rs"):
            read.update(re.findall(r'"(WEBMON_[A-Z_]+)"', source.read_text()))
    for program in (REPO / "Pulumi.yaml", REPO / "regions" / "Pulumi.yaml"):
        set_here = set(re.findall(r"^\s+(WEBMON_[A-Z_]+):", program.read_text(), re.M))
        assert set_here, f"{program} sets no WEBMON_ variables"
        unread = set_here - read - set(PENDING_ENV)
        assert not unread, f"{program} sets variables no code reads: {sorted(unread)}"


def test_influx_settings_use_the_names_the_writer_reads():
    """The writer's InfluxDB settings come from the store stack under the names
    aws/src/influx.rs reads."""
    import re

    read = set()
    for source in (REPO / "aws" / "src").rglob("*.rs"):
        read.update(re.findall(r'"(WEBMON_INFLUX_[A-Z_]+)"', source.read_text()))
    home = (REPO / "Pulumi.yaml").read_text()
    assert read and read <= set(re.findall(r"^\s+(WEBMON_INFLUX_[A-Z_]+):", home, re.M))


def test_iam_check_sees_the_calls_of_each_lambda():
    """The scanner finds the calls the roles are checked against (a scanner that finds
    nothing would pass every role)."""
    from rust_calls import lambda_calls

    calls, problems = lambda_calls(REPO)
    assert problems == []
    assert "dynamodb:UpdateItem" in calls["config-lambda"]
    assert "events:PutRule" in calls["config-lambda"]
    assert "dynamodb:Query" in calls["probe-lambda"] and "sqs:SendMessage" in calls["probe-lambda"]
    assert "timestream:WriteRecords" in calls["writer-lambda"]
    assert "secretsmanager:GetSecretValue" in calls["writer-lambda"]
    # setup helpers used by tests and the CLI are no Lambda's calls
    assert "dynamodb:CreateTable" not in calls["config-lambda"]
    assert "sqs:SendMessage" not in calls["writer-lambda"]
    # a service reaches only the adapters its Lambda builds: the probe neither manages
    # rules nor writes items; the writer evaluates alerts (the alert table, a Scan of the
    # checks) but neither manages rules nor delivers notifications
    assert not [a for a in calls["probe-lambda"] if a.startswith("events:")]
    assert "dynamodb:UpdateItem" not in calls["probe-lambda"]
    assert not [a for a in calls["writer-lambda"] if a.startswith("events:")]
    assert {a for a in calls["writer-lambda"] if a.startswith("dynamodb:")} <= {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan", "dynamodb:Query"}
    assert not [a for a in calls["writer-lambda"] if a.startswith(("sns:", "ses:"))]
    assert not [w for w in calls["writer-lambda"]["secretsmanager:GetSecretValue"] if "alerting/" in w]


def test_iam_check_sees_the_calls_of_the_alerting_lambdas():
    """The notifier and the sweeper, through the feature-gated modules of
    aws/src/alerting/: what each calls, and what neither reaches."""
    from rust_calls import lambda_calls

    calls, problems = lambda_calls(REPO)
    assert problems == []
    notifier, sweeper, writer = calls["notifier-lambda"], calls["sweeper-lambda"], calls["writer-lambda"]
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue",
                   "sns:Publish", "ses:SendEmail"):
        assert action in notifier, action
        assert action in sweeper, action
    assert any("alerting/sns.rs" in w for w in notifier["sns:Publish"])
    assert any("alerting/ses.rs" in w for w in notifier["ses:SendEmail"])
    assert any("alerting/channels.rs" in w for w in notifier["secretsmanager:GetSecretValue"])
    # the outcome is recorded by a request finished after a `match` (`request.send()`)
    assert len([w for w in notifier["dynamodb:UpdateItem"] if "alerting/outbox.rs" in w]) == 2
    # the notifier delivers what its stream names: no index, no checks, no evaluation
    assert not {"dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"} & set(notifier)
    # the sweeper: the `active` and `due` indexes, liveness, the checks (a Scan)
    assert {"dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"} <= set(sweeper)
    assert any("(active_checks)" in w for w in sweeper["dynamodb:Query"])
    assert any("(due)" in w for w in sweeper["dynamodb:Query"])
    # TransactWriteItems is authorized per item action: Puts in commit, an Update and
    # Puts in the liveness sweep; there is no IAM action of its own
    assert any("alerting/table.rs" in w and "TransactWriteItems" in w for w in writer["dynamodb:PutItem"])
    assert any("alerting/liveness.rs" in w and "TransactWriteItems" in w for w in sweeper["dynamodb:UpdateItem"])
    assert not [w for w in writer.get("dynamodb:UpdateItem", []) if "TransactWriteItems" in w]
    for crate, actions in calls.items():
        assert "dynamodb:TransactWriteItems" not in actions, crate
        # ensure_table (tests, `webmon alerts create-table`) and put_document (the CLI)
        for setup in ("dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTable"):
            assert setup not in actions, (crate, setup)
        assert not [w for w in actions.get("dynamodb:PutItem", []) if "(put_document)" in w], crate


def test_a_transaction_counts_as_the_item_actions_it_builds(tmp_path):
    """A ConditionCheck added to the commit transaction needs dynamodb:ConditionCheckItem."""
    from rust_calls import lambda_calls

    root = copy_infra(tmp_path)
    table = root / "aws" / "src" / "alerting" / "table.rs"
    text = table.read_text()
    anchor = "        let mut actions = vec![TransactWriteItem::builder()"
    assert text.count(anchor) == 1
    table.write_text(text.replace(anchor, "        let _guard = ConditionCheck::builder();\n" + anchor))
    calls, problems = lambda_calls(root)
    assert problems == []
    assert any("TransactWriteItems" in w for w in calls["writer-lambda"]["dynamodb:ConditionCheckItem"])


def test_iam_check_follows_modules_at_any_depth(tmp_path):
    """An adapter moved two levels down (`queue/sqs/mod.rs`) keeps its calls, reached
    through the port method the probe service calls (`queue.send(..)`)."""
    from rust_calls import lambda_calls

    root = copy_infra(tmp_path)
    src = root / "aws" / "src"
    (src / "queue" / "sqs").mkdir(parents=True)
    (src / "sqs.rs").rename(src / "queue" / "sqs" / "mod.rs")
    (src / "queue" / "mod.rs").write_text("pub mod sqs;\n")
    lib = src / "lib.rs"
    lib.write_text(lib.read_text().replace("pub mod sqs;", "pub mod queue;"))
    for path in [*src.rglob("*.rs"), root / "probe-lambda" / "src" / "main.rs"]:
        text = path.read_text()
        path.write_text(text.replace("crate::sqs", "crate::queue::sqs").replace("webmon_aws::sqs", "webmon_aws::queue::sqs"))
    calls, problems = lambda_calls(root)
    assert problems == []
    assert any("aws/src/queue/sqs/mod.rs" in w for w in calls["probe-lambda"]["sqs:SendMessage"])


def test_every_store_exports_the_same_interface():
    from checker import store_dirs

    outputs = {d.name: set((yaml.safe_load((d / "Pulumi.yaml").read_text()) or {}).get("outputs", {}))
               for d in store_dirs(REPO)}
    assert {"timestream", "influxdb", "influxdb-external"} <= set(outputs)
    common = set.intersection(*outputs.values())
    for name in ("sink", "writerPolicy", "readerPolicy", "writerSubnetIds", "writerSecurityGroupIds",
                 "influxUrl", "influxToken", "timestreamDatabase", "timestreamTable", "kind"):
        assert name in common, name


def test_default_home_stack_does_not_touch_timestream():
    """A new account (no Timestream for LiveAnalytics) deploys the committed home stack:
    its store is InfluxDB, and neither the home nor the region program names Timestream."""
    home_stack = yaml.safe_load((REPO / "Pulumi.home.yaml").read_text())["config"]
    assert "/webmon-store-influxdb/" in home_stack["webmon:storeStack"]
    for program in (REPO / "Pulumi.yaml", REPO / "regions" / "Pulumi.yaml"):
        doc = yaml.safe_load(program.read_text())
        text = yaml.safe_dump(doc.get("resources"))
        assert "timestream" not in text.replace("WEBMON_TIMESTREAM", "").replace(
            "timestreamDatabase", "").replace("timestreamTable", "").lower()
