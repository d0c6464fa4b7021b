"""Each Lambda's role allows what its code calls, and nothing else.

The calls come from the Rust sources (rust_calls.py); the grants from the programs: a
function's `role: ${R.arn}`, every `aws:iam:RolePolicy` on `${R.id}`, and for the
writer the `writerPolicy` output of each store project (the home stack attaches it).
Both directions are checked, action by action:

* missing: an action the code calls that the role does not allow (the config Lambda's
  `dynamodb:UpdateItem` was one);
* unused: an allowed action that neither the code calls, nor the Lambda service uses
  with the function's role (SERVICE_SIDE), nor a called action needs (IMPLIED: KMS on
  encrypted queues, tables and secrets), nor is waiting for code (PENDING).

The writer is checked once per store: the calls of the sink a store does not select
are left out (STORE_UNUSED).
"""

from __future__ import annotations

import re

from program import Program
from rust_calls import lambda_calls

# What the Lambda service does with the function's role, per crate.
SERVICE_SIDE: dict[str, dict[str, str]] = {
    "*": {
        "logs:CreateLogStream": "Lambda writes the function's logs",
        "logs:PutLogEvents": "Lambda writes the function's logs",
    },
    "writer-lambda": {
        "sqs:ReceiveMessage": "the SQS event source mapping polls the results queue",
        "sqs:DeleteMessage": "the event source mapping deletes processed messages",
        "sqs:GetQueueAttributes": "the event source mapping reads the queue",
        "kms:Decrypt": "messages of the SSE-KMS queue are decrypted on receive",
    },
    "config-lambda": {
        "dynamodb:DescribeStream": "the stream event source mapping",
        "dynamodb:GetRecords": "the stream event source mapping",
        "dynamodb:GetShardIterator": "the stream event source mapping",
        "dynamodb:ListStreams": "the stream event source mapping",
        "kms:Decrypt": "stream records of the CMK-encrypted replica",
        "sqs:SendMessage": "the on-failure destination of the stream event source",
        "kms:GenerateDataKey": "the SSE-KMS on-failure queue",
    },
    "probe-lambda": {
        "sqs:SendMessage": "the on-failure destination of asynchronous invocations",
        "kms:GenerateDataKey": "the SSE-KMS on-failure queue",
    },
    "notifier-lambda": {
        "dynamodb:DescribeStream": "the alert table's stream event source mapping",
        "dynamodb:GetRecords": "the alert table's stream event source mapping",
        "dynamodb:GetShardIterator": "the alert table's stream event source mapping",
        "dynamodb:ListStreams": "the alert table's stream event source mapping",
        "kms:Decrypt": "stream records of the CMK-encrypted alert table",
        "sqs:SendMessage": "the on-failure destination of the stream event source",
        "kms:GenerateDataKey": "the SSE-KMS on-failure queue",
    },
}
# A writer inside a VPC (a store with subnets): Lambda manages its network interfaces.
VPC_SERVICE_SIDE = {
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
# Actions a called action needs on a CMK-encrypted resource.
IMPLIED: dict[str, set[str]] = {
    "sqs:SendMessage": {"kms:GenerateDataKey", "kms:Decrypt"},
    "sqs:ReceiveMessage": {"kms:Decrypt"},
    "secretsmanager:GetSecretValue": {"kms:Decrypt"},
    "timestream:WriteRecords": {"kms:GenerateDataKey", "kms:Decrypt"},
    "dynamodb:Query": {"kms:Decrypt"},
    "dynamodb:Scan": {"kms:Decrypt"},
    "dynamodb:GetItem": {"kms:Decrypt"},
    "dynamodb:PutItem": {"kms:Decrypt", "kms:GenerateDataKey"},
    "dynamodb:UpdateItem": {"kms:Decrypt", "kms:GenerateDataKey"},
    "sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"},
}
# Calls the scanner finds in a reached function but the Lambda never makes, with why.
NOT_RUN: dict[tuple[str, str], str] = {
    ("probe-lambda", "dynamodb:Scan"):
        "DynamoCheckRepository::collect scans only without a group (all()); the probe "
        "reads its groups (group()), a Query on by_group",
    ("writer-lambda", "dynamodb:Query"):
        "DynamoCheckRepository::collect queries by_group only for a group (group()); the "
        "writer's alert evaluator reads every check (all()), a Scan, and queries nothing",
}
# Grants for calls the code is about to make (none today).
PENDING: dict[tuple[str, str], str] = {}
# Calls of the sink a store does not select.
STORE_UNUSED: dict[str, set[str]] = {
    "timestream": {"secretsmanager:GetSecretValue"},
    "influxdb": {"timestream:WriteRecords", "timestream:DescribeEndpoints"},
    "influxdb-external": {"timestream:WriteRecords", "timestream:DescribeEndpoints"},
}

_REF_RE = re.compile(r"^\$\{([A-Za-z_][\w-]*)\.(\w+)\}$")
_OUTPUT_RE = re.compile(r'^\$\{(\w+)\.outputs\["(\w+)"\]\}$')


def _as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def _allowed(doc) -> set[str]:
    if isinstance(doc, dict) and "fn::toJSON" in doc:
        doc = doc["fn::toJSON"]
    out: set[str] = set()
    for st in _as_list((doc or {}).get("Statement", [])) if isinstance(doc, dict) else []:
        if isinstance(st, dict) and st.get("Effect") == "Allow":
            out.update(str(a) for a in _as_list(st.get("Action", [])))
    return out


def _crate(props: dict) -> str | None:
    raw = str((props.get("code") or {}).get("fn::fileArchive", "")) if isinstance(props.get("code"), dict) else ""
    m = re.search(r"/([\w-]+-lambda)/bootstrap\.zip$", raw)
    return m.group(1) if m else None


def _grants(prog: Program, fn_props: dict, stores: dict[str, Program]) -> dict[str, set[str]]:
    """Allowed actions of the function's role: {'': actions} or, with a store policy,
    {store kind: actions} (one set per store project)."""
    m = _REF_RE.match(str(fn_props.get("role", "")))
    if not m:
        return {"": set()}
    role = m.group(1)
    own: set[str] = set()
    store_outputs: list[str] = []
    for res in prog.resources.values():
        if res.get("type") not in ("aws:iam:RolePolicy", "aws:iam/rolePolicy:RolePolicy"):
            continue
        props = res.get("properties") or {}
        rm = _REF_RE.match(str(props.get("role", "")))
        if not rm or rm.group(1) != role:
            continue
        policy = props.get("policy")
        out = _OUTPUT_RE.match(policy) if isinstance(policy, str) else None
        if out:
            store_outputs.append(out.group(2))
        else:
            own |= _allowed(policy)
    if not store_outputs:
        return {"": own}
    return {kind: own | set().union(*(_allowed(sp.outputs.get(o)) for o in store_outputs))
            for kind, sp in stores.items()}


def _in_vpc(store: Program | None) -> bool:
    return bool(store and isinstance(store.outputs.get("writerSubnetIds"), list)
                and store.outputs["writerSubnetIds"])


def check_lambda_iam(repo, programs: list[Program], stores: dict[str, Program]) -> list[str]:
    """Findings for every Lambda function of `programs`; `stores`: kind -> store program."""
    calls, problems = lambda_calls(repo)
    found = [f"rust sources: {p}" for p in problems]
    if not calls:
        return found
    for prog in programs:
        for name, res in prog.resources.items():
            if res.get("type") not in ("aws:lambda:Function", "aws:lambda/function:Function"):
                continue
            props = res.get("properties") or {}
            crate = _crate(props)
            if crate not in calls:
                continue
            called = {a: w for a, w in calls[crate].items() if (crate, a) not in NOT_RUN}
            for kind, granted in _grants(prog, props, stores).items():
                at = f"{prog.file}: resources.{name} ({crate}{', store ' + kind if kind else ''})"
                needed = {a: w for a, w in called.items() if a not in STORE_UNUSED.get(kind, set())}
                for action, where in sorted(needed.items()):
                    if action not in granted:
                        found.append(f"{at}: calls {action} ({', '.join(where)}) but its role "
                                     "does not allow it")
                service = set(SERVICE_SIDE["*"]) | set(SERVICE_SIDE.get(crate, {}))
                if _in_vpc(stores.get(kind)):
                    service |= VPC_SERVICE_SIDE
                pending = {a for (c, a) in PENDING if c == crate}
                basis = set(needed) | service | pending
                implied = set().union(*(IMPLIED.get(a, set()) for a in basis)) if basis else set()
                for action in sorted(granted - basis - implied):
                    found.append(f"{at}: its role allows {action}, which neither its code nor "
                                 "the Lambda service uses")
    return found
