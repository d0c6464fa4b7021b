"""Operational checks on the programs.

* Provider: every program pins the AWS provider with one default provider resource
  (`pulumi:providers:aws`, `defaultProvider: true`, `options.version` = the schema's).
* The home region's Lambdas (Pulumi.yaml) and every other region's (regions/Pulumi.yaml)
  are one block: the same resources, property for property, and the same settings.
* Alarms: every alarm notifies an SNS topic of its program.
* Streams: a stream event source mapping sends batches it gives up on to a destination.
* Probe: asynchronous invocations are not retried, expire, go to an on-failure
  destination, and that destination has an alarm.
* Concurrency: SQS event sources bound concurrency with `scalingConfig.maximumConcurrency`.
* Deletion protection: the table and every table replica enable it (or follow a
  setting whose default enables it).
* Secrets: the probe may read only secrets under its `webmon/<tenant>/check/` prefix,
  the notifier and the sweeper only channel secrets, under `webmon/<tenant>/channel/`.
* EventBridge rules the program declares are not named with the rule prefix: the config
  Lambda owns every `<namePrefix>-` rule, and its resync deletes those it does not know.
"""

from __future__ import annotations

import re

from program import Program

SHARED_RESOURCES = (
    "alarmTopic", "alarmEmailSubscription",
    "probeLogs", "probeFailures", "probeRole", "probePolicy", "probe", "probeInvokeConfig",
    "probeFromRules",
    "configLogs", "configFailures", "configRole", "configPolicy", "configFunction", "configSource",
    "probeErrorsAlarm", "probeThrottlesAlarm", "probeFailuresAlarm",
    "configErrorsAlarm", "configThrottlesAlarm", "configIteratorAgeAlarm", "configFailuresAlarm",
)
SHARED_CONFIG = (
    "probeMemoryMb", "probeTimeoutSeconds", "probeConcurrency", "probeMaxEventAgeSeconds",
    "configMemoryMb", "configTimeoutSeconds", "streamBatchSize", "streamMaxRetries",
    "iteratorAgeAlarmMs", "alarmEmail", "logRetentionDays",
)
MAX_PROBE_EVENT_AGE = 300

_REF_RE = re.compile(r"^\$\{([A-Za-z_][\w-]*)(?:\.([\w-]+))?\}$")


def _ref(value) -> tuple[str, str | None] | None:
    m = _REF_RE.match(value) if isinstance(value, str) else None
    return (m.group(1), m.group(2)) if m else None


def _of_type(prog: Program, token: str) -> dict[str, dict]:
    short = token.split(":")
    return {n: r for n, r in prog.resources.items()
            if r.get("type") == token or (len(short) == 3 and r.get("type", "").split(":")[-1] == short[2]
                                          and r.get("type", "").split(":")[1].split("/")[0] == short[1])}


def check_provider(prog: Program, version: str) -> list[str]:
    providers = {n: r for n, r in prog.resources.items() if r.get("type") == "pulumi:providers:aws"}
    defaults = {n: r for n, r in providers.items() if r.get("defaultProvider") is True}
    if len(defaults) != 1:
        return [f"{prog.file}: needs exactly one pulumi:providers:aws resource with "
                f"defaultProvider: true (found {len(defaults)})"]
    name, res = next(iter(defaults.items()))
    found = []
    pinned = (res.get("options") or {}).get("version")
    if str(pinned) != version:
        found.append(f"{prog.file}: resources.{name}: the AWS provider is not pinned to {version} "
                     f"(options.version is {pinned!r})")
    if (res.get("properties") or {}).get("region") != "${aws:region}":
        found.append(f"{prog.file}: resources.{name}: an explicit provider reads no stack "
                     "setting: set region: ${aws:region}")
    return found


def check_shared_block(home: Program, region: Program) -> list[str]:
    found: list[str] = []
    for name in SHARED_RESOURCES:
        a, b = home.resources.get(name), region.resources.get(name)
        if a is None or b is None:
            missing = [p.file for p, r in ((home, a), (region, b)) if r is None]
            found.append(f"{', '.join(missing)}: resources.{name}: missing from the region "
                         "Lambda block shared by the home and region programs")
        elif a != b:
            found.append(f"resources.{name}: differs between {home.file} and {region.file}; the "
                         "home region and the other regions must run the same Lambdas")
    for key in SHARED_CONFIG:
        a, b = home.config.get(key), region.config.get(key)
        if a != b:
            found.append(f"config.{key}: declared differently in {home.file} and {region.file}")
    return found


def _config_default(prog: Program, value):
    ref = _ref(value)
    if ref and ref[1] is None and ref[0] in prog.config:
        return (prog.config[ref[0]] or {}).get("default")
    return value


def check_operations(prog: Program) -> list[str]:
    found: list[str] = []
    res = prog.resources
    topics = set(_of_type(prog, "aws:sns:Topic"))
    for name, r in _of_type(prog, "aws:cloudwatch:MetricAlarm").items():
        actions = (r.get("properties") or {}).get("alarmActions") or []
        if not any((_ref(a) or ("", ""))[0] in topics for a in actions):
            found.append(f"{prog.file}: resources.{name}: alarm notifies no SNS topic of the "
                         "program (alarmActions)")
    for name, r in _of_type(prog, "aws:lambda:EventSourceMapping").items():
        props = r.get("properties") or {}
        if "startingPosition" in props:  # a stream
            dest = ((props.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
            if not dest:
                found.append(f"{prog.file}: resources.{name}: stream event source without an "
                             "on-failure destination (destinationConfig.onFailure.destinationArn)")
        else:  # a queue
            if not (props.get("scalingConfig") or {}).get("maximumConcurrency"):
                found.append(f"{prog.file}: resources.{name}: queue event source without "
                             "scalingConfig.maximumConcurrency")
    alarmed_queues = set()
    for r in _of_type(prog, "aws:cloudwatch:MetricAlarm").values():
        q = ((r.get("properties") or {}).get("dimensions") or {}).get("QueueName")
        if _ref(q):
            alarmed_queues.add(_ref(q)[0])
    invoke_configs = _of_type(prog, "aws:lambda:FunctionEventInvokeConfig")
    for name, r in _of_type(prog, "aws:lambda:Function").items():
        code = str(((r.get("properties") or {}).get("code") or {}).get("fn::fileArchive", ""))
        if "/probe-lambda/" not in code:
            continue
        configs = {n: c for n, c in invoke_configs.items()
                   if (_ref((c.get("properties") or {}).get("functionName")) or ("",))[0] == name}
        if not configs:
            found.append(f"{prog.file}: resources.{name}: the probe has no "
                         "aws:lambda:FunctionEventInvokeConfig")
        for cname, c in configs.items():
            props = c.get("properties") or {}
            at = f"{prog.file}: resources.{cname}"
            if props.get("maximumRetryAttempts") != 0:
                found.append(f"{at}: maximumRetryAttempts must be 0 (a retried probe measures late)")
            age = _config_default(prog, props.get("maximumEventAgeInSeconds"))
            if not isinstance(age, int) or age > MAX_PROBE_EVENT_AGE:
                found.append(f"{at}: maximumEventAgeInSeconds must be set, at most {MAX_PROBE_EVENT_AGE}")
            dest = ((props.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
            if not _ref(dest):
                found.append(f"{at}: no on-failure destination (destinationConfig.onFailure.destination)")
            elif _ref(dest)[0] not in alarmed_queues:
                found.append(f"{at}: no alarm on the on-failure destination {dest}")
    for name, r in {**_of_type(prog, "aws:dynamodb:TableReplica"), **_of_type(prog, "aws:dynamodb:Table")}.items():
        value = _config_default(prog, (r.get("properties") or {}).get("deletionProtectionEnabled"))
        if value is not True:
            found.append(f"{prog.file}: resources.{name}: deletion protection is not on "
                         "(deletionProtectionEnabled, or a setting defaulting to true)")
    # Probe secrets: the probe role reads only `webmon/<tenant>/check/*` secrets; the
    # notifier and sweeper roles only `webmon/<tenant>/channel/*` ones.
    found += _secret_scope(prog, ("probePolicy",), "secretArns", "secretPrefix", "check")
    found += _secret_scope(prog, ("notifierPolicy", "sweeperPolicy"), "channelSecretArns",
                           "channelSecretPrefix", "channel")
    # Rules outside the config Lambda's prefix.
    rule_prefix = _resolve(prog, str(prog.variables.get("rulePrefix", "")))
    for name, r in _of_type(prog, "aws:cloudwatch:EventRule").items():
        rule_name = _resolve(prog, str((r.get("properties") or {}).get("name", "")))
        if rule_prefix and rule_name.startswith(rule_prefix):
            found.append(f"{prog.file}: resources.{name}: rule name {rule_name!r} starts with the "
                         f"rule prefix {rule_prefix!r}: the config Lambda deletes it on resync")
    return found


def _resolve(prog: Program, value: str) -> str:
    """`${variable}` references replaced by the variables' text, a few levels deep."""
    for _ in range(5):
        new = re.sub(r"\$\{(\w+)\}", lambda m: str(prog.variables[m.group(1)])
                     if isinstance(prog.variables.get(m.group(1)), str) else m.group(0), value)
        if new == value:
            break
        value = new
    return value


def _secret_scope(prog: Program, policies: tuple[str, ...], arns_var: str, prefix_var: str,
                  kind: str) -> list[str]:
    """GetSecretValue in `policies` only on `${arns_var}`, which is scoped to
    `...:secret:${prefix_var}*`, which is `webmon/<tenant>/<kind>/`."""
    found: list[str] = []
    res = prog.resources
    present = [p for p in policies if p in res]
    for policy in present:
        stmts = (((res[policy].get("properties") or {}).get("policy") or {}).get("fn::toJSON") or {}).get("Statement", [])
        for st in stmts if isinstance(stmts, list) else []:
            actions = st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action")]
            if "secretsmanager:GetSecretValue" in actions and st.get("Resource") != f"${{{arns_var}}}":
                found.append(f"{prog.file}: resources.{policy}: statement {st.get('Sid')!r}: "
                             f"GetSecretValue must be on ${{{arns_var}}} only")
    if present:
        arns = str(prog.variables.get(arns_var, ""))
        prefix = str(prog.variables.get(prefix_var, ""))
        if not arns.endswith(f":secret:${{{prefix_var}}}*"):
            found.append(f"{prog.file}: variables.{arns_var}: {arns!r} is not scoped to "
                         f"`...:secret:${{{prefix_var}}}*`")
        if not re.fullmatch(rf"webmon/\$\{{[^}}]+\}}/{kind}/", prefix):
            found.append(f"{prog.file}: variables.{prefix_var}: {prefix!r} is not "
                         f"`webmon/<tenant>/{kind}/`")
    return found
