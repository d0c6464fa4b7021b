#!/usr/bin/env bash
# Runs the five real Lambda binaries under `cargo lambda watch` (the local Lambda
# runtime API emulator) against a moto server, and invokes each once with the event
# fixtures of the Lambda crates:
#
#   config-lambda  the DynamoDB stream fixture (no batch item failure), then a resync
#                  payload: the one rule of the local checks (webmon-every-1m-0, its
#                  groups bin-packed) must exist in EventBridge
#   probe-lambda   that rule's own input with a minute in the past (so every execution is
#                  due at once): the 16 local checks' results reach the queue; then the
#                  scheduled-event fixture (groups 1m-3 and 1m-4)
#   writer-lambda  the SQS fixture (one good message, one undecodable): only the bad
#                  message is reported failed and the good result is in Timestream
#                  (alerting on: the alert table gets the region's liveness)
#   notifier-lambda the stream fixture: its NOTIFY# item (a test notification put in
#                  the alert table) is delivered to a local webhook receiver and
#                  recorded sent; the other record is ignored
#   sweeper-lambda the scheduled-event fixture: one sweep without an error
#
# Everything listens on 127.0.0.1 and is stopped on exit (by process group of what this
# script started). The only probed URLs are a local HTTP server's: the items named in
# the stream fixture are stored with a region this run does not probe. Every wait has
# a timeout (the build, each moto call and each invocation included). Usage: scripts/lambda-watch-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REGION=eu-west-1
TIMEOUT_BUILD=${TIMEOUT_BUILD:-1200}
# A command against moto (table, items): seconds, never minutes.
TIMEOUT_CALL=${TIMEOUT_CALL:-120}

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "error: $1 not found: $2" >&2
    exit 1
  }
}
need cargo-lambda "pip install cargo-lambda"
need moto_server "pip install 'moto[server]'"
need curl "apt-get install curl"
need python3 "install python3"

work=$(mktemp -d)
pgids=()
cleanup() {
  local pgid
  for pgid in "${pgids[@]}"; do
    kill -TERM -- "-$pgid" 2>/dev/null || true
  done
  sleep 0.5
  for pgid in "${pgids[@]}"; do
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a command in its own process group (so it and its children can be stopped).
start() {
  local log="$1"
  shift
  setsid "$@" >"$work/$log" 2>&1 &
  pgids+=("$!")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: $what not ready within ${seconds} s" >&2
      return 1
    fi
    sleep 0.2
  done
}

fail() {
  echo "error: $*" >&2
  echo "--- cargo lambda watch log (tail)" >&2
  tail -40 "$work/watch.log" >&2 || true
  exit 1
}

# A JSON-protocol call to moto (it reads the region from the credential scope).
aws_call() {
  local service="$1" target="$2" body="$3"
  curl -sS --max-time 10 -X POST "$endpoint/" \
    -H "Content-Type: application/x-amz-json-1.0" \
    -H "X-Amz-Target: $target" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/$REGION/$service/aws4_request, SignedHeaders=host, Signature=0" \
    -d "$body"
}

echo "building the Lambda binaries and the CLI (debug, workspace target dir)"
timeout "$TIMEOUT_BUILD" cargo build -q -p probe-lambda -p writer-lambda -p config-lambda -p notifier-lambda -p sweeper-lambda -p webmon
webmon="${CARGO_TARGET_DIR:-target}/debug/webmon"

# moto and a local target site.
moto_port=$(free_port)
endpoint="http://127.0.0.1:$moto_port"
start moto.log moto_server -H 127.0.0.1 -p "$moto_port"
site_port=$(free_port)
mkdir -p "$work/site"
echo ok >"$work/site/index.html"
start site.log python3 -m http.server --bind 127.0.0.1 --directory "$work/site" "$site_port"
wait_for 30 "moto_server" curl -sf "$endpoint/moto-api/"
wait_for 10 "local site" curl -sf "http://127.0.0.1:$site_port/"
# A webhook receiver: answers 204 to every POST and logs the request line.
hook_port=$(free_port)
cat >"$work/hook.py" <<'HOOK'
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        print("POST", self.path, self.headers.get("webhook-id"), flush=True)
        self.send_response(204)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
HOOK
start hook.log python3 "$work/hook.py" "$hook_port"

# Resources: check table, queue, Timestream database and table.
export AWS_REGION=$REGION AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export WEBMON_AWS_ENDPOINT_URL=$endpoint
timeout "$TIMEOUT_CALL" "$webmon" checks create-table --region "$REGION"
queue_url=$(aws_call sqs AmazonSQS.CreateQueue '{"QueueName":"webmon-results"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["QueueUrl"])')
aws_call timestream Timestream_20181101.CreateDatabase '{"DatabaseName":"webmon"}' >/dev/null
aws_call timestream Timestream_20181101.CreateTable \
  '{"DatabaseName":"webmon","TableName":"results"}' >/dev/null

# Checks: 16 local ones every minute (all in the one rule webmon-every-1m-0),
# and the stream fixture's items, kept out of this region so they are never probed.
{
  echo "checks:"
  for i in $(seq 0 15); do
    cat <<EOF
  - id: smoke-$i
    url: http://127.0.0.1:$site_port/
    interval: 1m
    requests: 1
    timeout: 2s
    allow_private: true
EOF
  done
  cat <<EOF
  - id: home
    url: https://example.com/
    interval: 1m
    regions: [ap-southeast-1]
  - id: api
    url: https://api.example.com/health
    interval: 30s
    timeout: 5s
    regions: [ap-southeast-1]
channels:
  - {id: hook, type: webhook, url: "http://127.0.0.1:$hook_port/hook", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
EOF
} >"$work/checks.yaml"
timeout "$TIMEOUT_CALL" "$webmon" alerts create-table --home-region "$REGION"
timeout "$TIMEOUT_CALL" "$webmon" checks put "$work/checks.yaml" --region "$REGION" \
  --alert-table webmon-alerts
# The notifier fixture's item: a test notification for channel hook.
notification='{"id":"test:hook:1767261960000","kind":"test","at_ms":1767261960000,"level":"UP","previous_level":"UP","channels":["hook"]}'
item=$(python3 -c 'import json,sys; n=sys.argv[1]; print(json.dumps({"TableName":"webmon-alerts","Item":{
 "pk":{"S":"NOTIFY#test:hook:1767261960000"},"sk":{"S":"CH#hook"},"notification":{"S":n},
 "channel":{"S":"hook"},"status":{"S":"pending"},"attempts":{"N":"0"},"created_at":{"N":"1767261960000"},
 "next_at":{"N":"1767261960000"},"due":{"S":"due"}}}))' "$notification")
aws_call dynamodb DynamoDB_20120810.PutItem "$item" >/dev/null

# The Lambda runtime emulator, serving every binary of the workspace.
cat >"$work/env" <<EOF
AWS_REGION=$REGION
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
WEBMON_AWS_ENDPOINT_URL=$endpoint
WEBMON_TABLE=webmon-checks
WEBMON_QUEUE_URL=$queue_url
WEBMON_QUEUE_REGION=$REGION
WEBMON_PROBE_ARN=arn:aws:lambda:$REGION:123456789012:function:probe-lambda
WEBMON_TIMESTREAM_DATABASE=webmon
WEBMON_TIMESTREAM_TABLE=results
WEBMON_ALERT_TABLE=webmon-alerts
WEBMON_PROBE_REGIONS=$REGION
WEBMON_CHANNEL_SECRETS_PREFIX=webmon/smoke/channel/
RUST_LOG=info
EOF
watch_port=$(free_port)
start watch.log cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 \
  --invoke-port "$watch_port" --env-file "$work/env"
wait_for 120 "cargo lambda watch" curl -s -o /dev/null "http://127.0.0.1:$watch_port/"

# The first invocation of a binary builds it under `cargo lambda watch`: bounded by the
# build timeout.
invoke() {
  local name="$1" data="$2"
  timeout "$TIMEOUT_BUILD" cargo lambda invoke --invoke-address 127.0.0.1 \
    --invoke-port "$watch_port" "$name" --data-file "$data" ||
    fail "$name invocation failed"
}
# json EXPR: evaluates a Python expression over the JSON document `d` read from stdin.
json() {
  python3 -c "import json,sys; d=json.load(sys.stdin); r=($1); print(r); sys.exit(0 if r else 1)"
}

echo "config-lambda: stream fixture"
out=$(invoke config-lambda aws/tests/fixtures/config-lambda/stream_insert.json)
echo "$out"
echo "$out" | json 'd["batchItemFailures"] == []' >/dev/null ||
  fail "config-lambda reported failed stream records: $out"
echo "config-lambda: resync"
echo '{"resync": true}' >"$work/resync.json"
out=$(invoke config-lambda "$work/resync.json")
echo "$out"
rules=$(aws_call events AWSEvents.ListRules '{"NamePrefix":"webmon-"}')
echo "$rules" | json '[r["Name"] for r in d["Rules"]] == ["webmon-every-1m-0"]' >/dev/null ||
  fail "the 16 one-minute checks should share the one rule webmon-every-1m-0: $rules"
targets=$(aws_call events AWSEvents.ListTargetsByRule '{"Rule":"webmon-every-1m-0"}')
# The target's input is a transformer template: the groups, and the event's time.
echo "$targets" | json 'len(json.loads(d["Targets"][0]["InputTransformer"]["InputTemplate"].replace("<time>", "2026-01-01T00:00:00Z"))["groups"]) > 0 and d["Targets"][0]["InputTransformer"]["InputPathsMap"] == {"time": "$.time"}' >/dev/null ||
  fail "rule webmon-every-1m-0 has no probe target naming its groups and the event time: $targets"

echo "probe-lambda: the rule's own input, as EventBridge fills it for the current minute"
echo "$targets" | python3 -c '
import datetime, json, sys
d = json.load(sys.stdin)
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
template = d["Targets"][0]["InputTransformer"]["InputTemplate"]
print(template.replace("<time>", now.strftime("%Y-%m-%dT%H:%M:%SZ")))' >"$work/rule_input.json"
out=$(invoke probe-lambda "$work/rule_input.json")
echo "$out"
echo "$out" | json 'len(d["groups"]) > 0 and d["results_sent"] == d["executions"] == 16' >/dev/null ||
  fail "probe-lambda should have probed the 16 smoke checks once each: $out"
echo "probe-lambda: scheduled-event fixture"
out=$(invoke probe-lambda aws/tests/fixtures/probe-lambda/eventbridge_scheduled.json)
echo "$out"
echo "$out" | json 'd["groups"] == ["1m-3", "1m-4"] and d["results_sent"] == d["executions"]' >/dev/null ||
  fail "probe-lambda failed on the scheduled-event fixture: $out"
attrs=$(aws_call sqs AmazonSQS.GetQueueAttributes \
  "{\"QueueUrl\":\"$queue_url\",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]}")
echo "$attrs" | json 'int(d["Attributes"]["ApproximateNumberOfMessages"]) >= 1' >/dev/null ||
  fail "no result message in the queue: $attrs"

echo "writer-lambda: SQS fixture"
out=$(invoke writer-lambda aws/tests/fixtures/writer-lambda/sqs_event.json)
echo "$out"
echo "$out" | json '[f["itemIdentifier"] for f in d["batchItemFailures"]] == ["2e1424d4-f796-459a-8184-9c92662be6da"]' >/dev/null ||
  fail "writer-lambda should fail only the undecodable message: $out"
curl -sS --max-time 10 "$endpoint/moto-api/data.json" | json \
  'any(dim["Value"] == "fixture-home" for t in d["timestreamwrite"]["TimestreamTable"] for r in t["records"] for dim in r["Dimensions"])' \
  >/dev/null || fail "the fixture's result is not in Timestream"

liveness=$(aws_call dynamodb DynamoDB_20120810.GetItem \
  '{"TableName":"webmon-alerts","Key":{"pk":{"S":"LIVENESS"},"sk":{"S":"'"$REGION"'"}},"ConsistentRead":true}')
echo "$liveness" | json '"last_ms" in d.get("Item", {})' >/dev/null ||
  fail "the writer recorded no liveness for $REGION in the alert table: $liveness"

echo "notifier-lambda: stream fixture"
out=$(invoke notifier-lambda aws/tests/fixtures/notifier-lambda/stream_insert.json)
echo "$out"
echo "$out" | json 'd["batchItemFailures"] == []' >/dev/null ||
  fail "notifier-lambda reported failed stream records: $out"
delivery=$(aws_call dynamodb DynamoDB_20120810.GetItem \
  '{"TableName":"webmon-alerts","Key":{"pk":{"S":"NOTIFY#test:hook:1767261960000"},"sk":{"S":"CH#hook"}},"ConsistentRead":true}')
echo "$delivery" | json 'd["Item"]["status"]["S"] == "sent"' >/dev/null ||
  fail "the notification was not recorded sent: $delivery"
grep -q "POST /hook test:hook:1767261960000" "$work/hook.log" ||
  fail "the webhook receiver got no signed test notification: $(cat "$work/hook.log")"

echo "sweeper-lambda: scheduled-event fixture"
out=$(invoke sweeper-lambda aws/tests/fixtures/sweeper-lambda/eventbridge_scheduled.json)
echo "$out"

echo "lambda-watch-smoke: ok (config, probe, writer, notifier and sweeper binaries invoked under cargo lambda watch)"
