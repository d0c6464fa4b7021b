"""Security and contract checks on a program's resources.

* IAM: no `*` (or wildcard) action in an Allow statement, no `NotAction`/`NotResource`,
  and no `*` resource unless every action of the statement is on `STAR_RESOURCE_OK`.
* Encryption: the check table, the queues and the Timestream database use the CMK.
* Operations: every log group sets a retention, every taggable resource sets tags.
* Lambdas: provided.al2023 on arm64 with handler `bootstrap`, and the environment
  variables each binary reads (docs/deploy.md lists them).
"""

from __future__ import annotations

import json

# Actions that AWS offers no resource ARN for, so `Resource: "*"` is the only choice.
STAR_RESOURCE_OK = {
    # Timestream endpoint discovery is account-wide; the SDK calls it before WriteRecords.
    "timestream:DescribeEndpoints": "no resource type in IAM",
    # ListRules filters by NamePrefix in the request; IAM has no rule ARN for it.
    "events:ListRules": "no resource type in IAM",
    # Tracing and metric publishing are account-wide.
    "xray:PutTraceSegments": "no resource type in IAM",
    "xray:PutTelemetryRecords": "no resource type in IAM",
    "cloudwatch:PutMetricData": "no resource type in IAM (scope with cloudwatch:namespace)",
    # Timestream readers: cancelling a query and listing databases name no resource.
    "timestream:CancelQuery": "no resource type in IAM",
    "timestream:ListDatabases": "no resource type in IAM",
    # A writer in a VPC: Lambda describes the subnets and interfaces with its role.
    "ec2:DescribeNetworkInterfaces": "no resource type in IAM",
    "ec2:DescribeSubnets": "no resource type in IAM",
    "ec2:DescribeSecurityGroups": "no resource type in IAM",
}

# Variables a Lambda gets although no code reads them yet (none today).
PENDING_ENV: dict[str, str] = {}

LAMBDA_ENV = {
    "probe-lambda": {"WEBMON_TABLE", "WEBMON_QUEUE_URL", "WEBMON_CONCURRENCY",
                     "WEBMON_CHECK_SECRETS_PREFIX", "WEBMON_ALLOW_PRIVATE"},
    "writer-lambda": {"WEBMON_SINK", "WEBMON_TIMESTREAM_DATABASE", "WEBMON_TIMESTREAM_TABLE",
                      "WEBMON_INFLUX_URL", "WEBMON_INFLUX_ORG", "WEBMON_INFLUX_BUCKET",
                      "WEBMON_INFLUX_TOKEN", "WEBMON_TABLE", "WEBMON_ALERT_TABLE",
                      "WEBMON_PROBE_REGIONS"},
    "config-lambda": {"WEBMON_TABLE", "WEBMON_PROBE_ARN", "WEBMON_RULE_PREFIX"},
    "notifier-lambda": {"WEBMON_ALERT_TABLE", "WEBMON_CHANNEL_SECRETS_PREFIX"},
    "sweeper-lambda": {"WEBMON_TABLE", "WEBMON_ALERT_TABLE", "WEBMON_PROBE_REGIONS",
                       "WEBMON_CHANNEL_SECRETS_PREFIX"},
}

# Resource types that must name the CMK, and the property that does.
CMK_PROPERTY = {
    "aws:dynamodb/table:Table": ("serverSideEncryption", "kmsKeyArn"),
    "aws:sqs/queue:Queue": ("kmsMasterKeyId",),
    "aws:timestreamwrite/database:Database": ("kmsKeyId",),
    "aws:dynamodb/tableReplica:TableReplica": ("kmsKeyArn",),
    "aws:sns/topic:Topic": ("kmsMasterKeyId",),
    "aws:secretsmanager/secret:Secret": ("kmsKeyId",),
}


def _is_account_key_admin(st: dict) -> bool:
    """A key policy's first statement: the account's root administers the key through
    IAM (AWS's default key policy). The only place `kms:*` is accepted."""
    principal = st.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    return (isinstance(aws, str) and aws.endswith(":root") and ":iam::" in aws
            and _as_list(st.get("Action")) == ["kms:*"] and st.get("Resource") == "*")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _policy_docs(value, where: str):
    """Yields (where, policy document) for every IAM document inside a value."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield where, value
            return
        for k, v in value.items():
            yield from _policy_docs(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _policy_docs(v, f"{where}[{i}]")
    elif isinstance(value, str) and value.lstrip().startswith("{") and "Statement" in value:
        try:
            yield where, json.loads(value)
        except json.JSONDecodeError:
            yield where, {"Statement": [{"Sid": "<unparsable JSON policy>"}]}


def check_iam(file: str, doc: dict) -> list[str]:
    """IAM findings over every policy document in variables and resources."""
    found: list[str] = []
    for section in ("variables", "resources", "outputs"):
        for where, pol in _policy_docs(doc.get(section) or {}, section):
            for i, st in enumerate(_as_list(pol.get("Statement", []))):
                sid = st.get("Sid", f"#{i}") if isinstance(st, dict) else f"#{i}"
                at = f"{file}: {where}: statement {sid!r}"
                if not isinstance(st, dict) or st.get("Effect") != "Allow":
                    continue
                for key in ("NotAction", "NotResource"):
                    if key in st:
                        found.append(f"{at}: {key} in an Allow statement")
                actions = [str(a) for a in _as_list(st.get("Action", []))]
                if _is_account_key_admin(st):
                    continue
                for a in actions:
                    if "*" in a:
                        found.append(f"{at}: wildcard action {a!r}")
                if "Principal" in st:
                    continue  # trust and resource policies name principals, not resources
                resources = [str(r) for r in _as_list(st.get("Resource", []))]
                if "*" in resources:
                    bad = [a for a in actions if a not in STAR_RESOURCE_OK]
                    if bad:
                        found.append(
                            f"{at}: Resource '*' for actions not on the allow-list: {', '.join(bad)}")
    return found


def _get(props: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(props, dict) or key not in props:
            return None
        props = props[key]
    return props


def _artifact(props: dict) -> str | None:
    """The Lambda crate a function is built from: `.../target/lambda/<crate>/bootstrap.zip`."""
    code = props.get("code")
    if isinstance(code, dict) and "fn::fileArchive" in code:
        parts = str(code["fn::fileArchive"]).rstrip("/").split("/")
        return parts[-2] if parts[-1] == "bootstrap.zip" and len(parts) > 1 else parts[-1]
    return None


def check_resources(file: str, resources: dict, types: dict, schema: dict) -> list[str]:
    """Encryption, retention, tags and Lambda contract findings."""
    found: list[str] = []
    for name, res in resources.items():
        token = types.get(name)
        if not token or token not in schema["resources"]:
            continue
        props = res.get("properties") or {}
        at = f"{file}: resources.{name}"
        if "tags" in schema["resources"][token]["inputs"] and "tags" not in props:
            found.append(f"{at}: {res['type']} sets no tags")
        if token in CMK_PROPERTY and not _get(props, CMK_PROPERTY[token]):
            found.append(f"{at}: {res['type']} is not encrypted with the CMK "
                         f"({'.'.join(CMK_PROPERTY[token])} unset)")
        if token == "aws:cloudwatch/logGroup:LogGroup" and "retentionInDays" not in props:
            found.append(f"{at}: log group sets no retentionInDays")
        if token == "aws:lambda/function:Function":
            found += _check_lambda(at, props)
    return found


def _check_lambda(at: str, props: dict) -> list[str]:
    found: list[str] = []
    expected = {"runtime": "provided.al2023", "handler": "bootstrap"}
    for key, want in expected.items():
        if props.get(key) != want:
            found.append(f"{at}: {key} must be {want!r}, not {props.get(key)!r}")
    if props.get("architectures") != ["arm64"]:
        found.append(f"{at}: architectures must be ['arm64']")
    binary = _artifact(props)
    if binary in LAMBDA_ENV:
        env = set((_get(props, ("environment", "variables")) or {}).keys())
        for var in sorted(LAMBDA_ENV[binary] - env):
            found.append(f"{at}: {binary} reads {var} but the function does not set it")
    if "reservedConcurrentExecutions" in props:
        found.append(f"{at}: reservedConcurrentExecutions set: bound concurrency with the event "
                     "source's scalingConfig.maximumConcurrency instead")
    return found
