#!/usr/bin/env bash
# The one entry of every composite action (`run: bash "$GITHUB_ACTION_PATH/../lib/actions-io/entry.sh"`):
# runs the step's main.ts (on Node's own type stripping, else tsx: actions/lib/util/typescript.mjs) from this repository, and fails early and clearly
# when there are none. That happens when an action is used from another repository
# (`uses: owner/repo/actions/<step>@ref`: the runner downloads the repository without
# node_modules), or when the job forgot `npm ci` before the step. Without this check node dies with
# "Cannot find package 'tsx'", which says nothing about why.
set -euo pipefail
action_dir="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run this as a step of a composite action}"
step="$(basename "$action_dir")"
root="$(cd "$action_dir/../.." && pwd)"
workspace="${GITHUB_WORKSPACE:-$PWD}"
if [ ! -f "$root/node_modules/tsx/package.json" ] || [ ! -f "$workspace/node_modules/tsx/package.json" ]; then
  case "$root/" in
    "$(cd "$workspace" && pwd)"/*) why="this repository's node_modules are missing: run \`npm ci\` in the job before this step (after actions/checkout and actions/setup-node)" ;;
    *) why="it is used from another repository (${root}), which the runner downloads without node_modules. The MLOps actions run from this repository's own checkout only: use \`uses: ./actions/${step}\` in a workflow of this repository (or of a copy of it) after \`npm ci\`; see docs/operations.md, 'The actions are for this repository only'" ;;
  esac
  echo "::error title=MLOps action ${step} cannot run::actions/${step} cannot run: ${why}."
  echo "actions/${step} cannot run: ${why}." >&2
  exit 1
fi
exec node "$root/actions/lib/actions-io/run-step.mjs" "$action_dir/main.ts"
