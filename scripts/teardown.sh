#!/usr/bin/env bash
# Removes a webmon deployment in the order its pieces allow:
#
#   1. the EventBridge rules the config Lambdas created (not Pulumi resources), in every
#      probe region, after stopping the config Lambdas' stream so none come back;
#   2. each region stack of regions/: deletion protection of its table replica turned
#      off, then `pulumi destroy` (Lambdas, table replica, and its replica key, which
#      enters its deletion window);
#   3. the home stack: deletion protection of the table turned off, then destroyed (the
#      home key enters its deletion window);
#   4. the result store stack named by webmon:storeStack.
#
# Usage: scripts/teardown.sh [--stack home] [--dry-run] [--yes]
#   --stack NAME  home stack (Pulumi.NAME.yaml at the repository root), default home
#   --dry-run     print the ordered plan, run nothing
#   --yes         do not ask before running
# Needs pulumi and the AWS CLI (not for --dry-run). Run from anywhere in the repository.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack=home
dry_run=0
yes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --yes) yes=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "teardown: unknown argument $1" >&2; exit 2 ;;
  esac
done

home_file="$root/Pulumi.$stack.yaml"
[ -f "$home_file" ] || { echo "teardown: no home stack file $home_file" >&2; exit 2; }

# Reads `  key: value` from a stack file (the files are flat YAML maps).
setting() {
  sed -n "s/^  $2: *//p" "$1" | head -n1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}

home_region="$(setting "$home_file" 'aws:region')"
prefix="$(setting "$home_file" 'webmon:namePrefix')"
prefix="${prefix:-webmon}"
store_ref="$(setting "$home_file" 'webmon:storeStack')"
store_project="$(echo "$store_ref" | cut -d/ -f2)"
store_stack="$(echo "$store_ref" | cut -d/ -f3)"
store_dir="${store_project#webmon-store-}"
[ -n "$home_region" ] || { echo "teardown: $home_file sets no aws:region" >&2; exit 2; }

# Region stacks of this home stack (their homeStack ends with /webmon/<stack>).
regions=()
for f in "$root"/regions/Pulumi.*.yaml; do
  [ -e "$f" ] || continue
  ref="$(setting "$f" 'webmon-regions:homeStack')"
  [ "${ref##*/}" = "$stack" ] || continue
  name="$(basename "$f" .yaml)"
  regions+=("${name#Pulumi.}")
done

plan=()
phases=()
add() { phases+=("$1"); shift; plan+=("$*"); }

# 1. Rules, in every region (home first), once their config Lambda stops following the stream.
for r in "$home_region" "${regions[@]}"; do
  add "rules $r" "aws lambda list-event-source-mappings --region $r --function-name $prefix-config --query 'EventSourceMappings[].UUID' --output text | xargs -r -n1 aws lambda delete-event-source-mapping --region $r --uuid"
  add "rules $r" "aws events list-rules --region $r --name-prefix $prefix- --query 'Rules[].Name' --output text | tr '\\t' '\\n' | xargs -r -I{} sh -c 'aws events remove-targets --region $r --rule {} --ids \$(aws events list-targets-by-rule --region $r --rule {} --query \"Targets[].Id\" --output text) && aws events delete-rule --region $r --name {}'"
done
# 2. Region stacks: protection off, then destroy (the replica key is scheduled for deletion).
for r in "${regions[@]}"; do
  add "region $r" "pulumi config set --cwd $root/regions --stack $r webmon-regions:deletionProtection false"
  add "region $r" "pulumi up --cwd $root/regions --stack $r --yes --skip-preview"
  add "region $r" "pulumi destroy --cwd $root/regions --stack $r --yes"
  add "region $r" "# replica key of $r: scheduled for deletion by the destroy above (aws kms list-keys --region $r shows it PendingDeletion)"
done
# 3. Home: protection off, then destroy.
add "protection home" "pulumi config set --cwd $root --stack $stack webmon:deletionProtection false"
add "protection home" "pulumi up --cwd $root --stack $stack --yes --skip-preview"
add "home" "pulumi destroy --cwd $root --stack $stack --yes"
# 4. The store.
if [ -n "$store_dir" ] && [ -d "$root/stores/$store_dir" ]; then
  add "store" "pulumi destroy --cwd $root/stores/$store_dir --stack $store_stack --yes"
fi

echo "webmon teardown of home stack '$stack' ($home_region), region stacks: ${regions[*]:-none}, store: ${store_ref:-none}"
for i in "${!plan[@]}"; do
  printf '%2d. [%s] %s\n' "$((i + 1))" "${phases[$i]}" "${plan[$i]}"
done
echo "Keys (home, replicas, store) enter their deletion window (30 days by default) and can be cancelled with aws kms cancel-key-deletion until then."
[ "$dry_run" = 1 ] && exit 0

if [ "$yes" != 1 ]; then
  read -r -p "Run these ${#plan[@]} steps? Type the home stack name to confirm: " answer
  [ "$answer" = "$stack" ] || { echo "teardown: not confirmed" >&2; exit 1; }
fi
for step in "${plan[@]}"; do
  case "$step" in "#"*) echo "$step"; continue ;; esac
  echo "+ $step"
  bash -c "$step"
done
