#!/usr/bin/env bash
# Runs every suite (lint, unit, integration in a real VS Code, end-to-end in the VS Code UI) and totals them.
# Each suite prints "<suite>: N passed, N failed"; the last line is the total, and any failure exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
status=0

run_suite() { # name, command...
  local name=$1; shift
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log_dir/$name.log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$log_dir/$name.log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$name: 0 passed, 1 failed" > "$log_dir/$name.total"   # the suite died before counting
    echo "!!! $name exited $rc without a totals line"
    status=1
  else
    echo "$line" > "$log_dir/$name.total"
    [ "$rc" -eq 0 ] || status=1
  fi
}

# ESLint (typescript-eslint and the layer rules) counts as one check, so a broken layer fails the total.
lint_check() {
  if npm run --silent lint; then echo "lint: 1 passed, 0 failed"; else echo "lint: 0 passed, 1 failed"; return 1; fi
}

set -e
bash scripts/setup-vscode.sh
npm run --silent build
npx vsce package --no-dependencies --allow-missing-repository --no-rewrite-relative-links --out p2p-share.vsix >/dev/null
set +e

run_suite lint lint_check
run_suite unit npx mocha 'out/test/unit/**/*.test.js'
run_suite integration node scripts/vscode/run-integration.js
run_suite e2e node scripts/vscode/run-e2e.js p2p-share.vsix

cat "$log_dir"/*.total
awk '{ p += $2; f += $4 } END { printf "%d passed, %d failed\n", p, f }' "$log_dir"/*.total
total_failed=$(awk '{ f += $4 } END { print f }' "$log_dir"/*.total)
[ "$total_failed" -eq 0 ] || status=1
exit $status
